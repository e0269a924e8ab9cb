from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
from conftest import join_or_split_ops

from {{ cookiecutter.module_name }}.config import DataConfig, ModelSpec, PriorOverrides, custom_model_names
from {{ cookiecutter.module_name }}.data.grouped import prepare
from {{ cookiecutter.module_name }}.data.simulate import simulate_grouped
from {{ cookiecutter.module_name }}.families import FAMILIES, family_record
from {{ cookiecutter.module_name }}.model.build import (
    SUFFICIENT_STATISTICS_MIN_ROWS,
    build_model,
    uses_sufficient_statistics,
)
from {{ cookiecutter.module_name }}.model.likelihoods import sufficient_statistics_data
from {{ cookiecutter.module_name }}.model.priors import model_priors
from {{ cookiecutter.module_name }}.models import correlated_slopes, varying_slopes
from {{ cookiecutter.module_name }}.names import CENTRED_SUFFIX

FREE_VARIABLES = {
    (varying_slopes, False): {"intercept_at_means", "tau_alpha", "z_alpha", "mu_beta", "tau_beta", "z_beta", "sigma"},
    (varying_slopes, True): {"intercept_at_means", "tau_alpha", "alpha", "mu_beta", "tau_beta", "beta", "sigma"},
    (correlated_slopes, False): {"intercept_at_means", "mu_beta", "chol", "z_effects", "sigma"},
    (correlated_slopes, True): {"intercept_at_means", "mu_beta", "chol", "effects", "sigma"},
}


FAMILY_VARIABLES = {
    "normal": {"sigma"},
    "student_t": {"sigma", "nu"},
    "negative_binomial": {"phi"},
    "gamma": {"shape"},
    "lognormal": {"sigma"},
    "beta_binomial": {"phi"},
    "beta": {"phi"},
    "zero_inflated_poisson": {"zi"},
    "zero_inflated_negativebinomial": {"zi", "phi"},
    "hurdle_poisson": {"hu"},
    "hurdle_negativebinomial": {"hu", "phi"},
    "cumulative": {"cutpoint_gaps"},
    "weibull": {"shape"},
}


def test_custom_models_are_discovered():
    assert custom_model_names() == ["varying_slopes", "correlated_slopes", "spatial_intercepts", "trend_intercepts",
                                    "autocorrelated_intercepts", "varying_curves", "corrected_intercepts",
                                    "item_response"]


def test_a_custom_model_s_options_are_its_own_arguments():
    assert ModelSpec(name="m", custom="item_response", options={"item": "question"}).options == {"item": "question"}
    with pytest.raises(ValueError, match=r"options \['column'\] are not arguments of item_response; it takes item"):
        ModelSpec(name="m", custom="item_response", options={"column": "question"})
    with pytest.raises(ValueError, match=r"options \['centered'\] are not arguments"):  # the pipeline's own
        ModelSpec(name="m", custom="item_response", options={"centered": True})
    with pytest.raises(ValueError, match="options are a custom model's arguments"):
        ModelSpec(name="m", formula="y ~ 1 + (1 | g)", options={"item": "question"})


@pytest.mark.parametrize(("function", "centered"), list(FREE_VARIABLES))
def test_custom_model_has_named_coords_and_finite_logp(function, centered, example_priors, example_data):
    model = function(example_data, example_priors, family="normal", centered=centered)
    assert {variable.name for variable in model.free_RVs} == FREE_VARIABLES[(function, centered)]
    assert model.coords["school"] == tuple(example_data.groups)
    assert model.named_vars_to_dims[example_data.outcome_name] == ("obs",)
    assert np.isfinite(model.compile_logp()(model.initial_point()))


def test_varying_slopes_shapes_follow_groups_and_predictors(example_priors, example_data):
    model = varying_slopes(example_data, example_priors)
    n_groups, n_predictors = len(example_data.groups), len(example_data.predictor_names)
    assert model.named_vars_to_dims["alpha"] == ("school",)
    assert model.named_vars_to_dims["beta"] == ("school", "predictor")
    shapes = {name: value.shape for name, value in model.initial_point().items()}
    assert shapes["z_alpha"] == (n_groups,)
    assert shapes["z_beta"] == (n_groups, n_predictors)


def test_correlated_slopes_names_each_correlation(example_priors, example_data):
    model = correlated_slopes(example_data, example_priors)
    assert model.coords["effect"] == ("intercept", "ses")
    assert model.coords["effect_pair"] == ("intercept:ses",)
    assert model.named_vars_to_dims["effects"] == ("school", "effect")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_builds_with_its_own_parameters(family, example_data):
    # Non-negative integers are valid outcomes for every family; trials and exposure as needed.
    counts = np.round(np.abs(example_data.outcome) * 3)
    outcome = (counts > 2) * 1.0 if family == "bernoulli" else counts
    if "positive" in family_record(family).outcome_checks:
        outcome = counts + 1.0
    if "open_unit" in family_record(family).outcome_checks:
        outcome = (counts + 0.5) / (counts.max() + 1.0)
    data = replace(example_data, outcome=outcome, trials=counts + 5, exposure=np.full(counts.size, 30.0))
    model = varying_slopes(data, model_priors(data, family), family=family)
    expected = FAMILY_VARIABLES.get(family, set())
    group_variables = FREE_VARIABLES[(varying_slopes, False)] - {"sigma"}
    assert {variable.name for variable in model.free_RVs} - group_variables == expected
    assert np.isfinite(model.compile_logp()(model.initial_point()))


def test_config_priors_replace_the_defaults_in_data_units(config, example_data):
    overrides = PriorOverrides(intercept={"mu": 1.0, "sigma": 7.5}, slopes={"ses": {"sigma": 0.25} }, group_sd={"ses": 0.1})
    priors = model_priors(example_data, "normal", overrides)
    model = varying_slopes(example_data, priors)
    assert [float(value.eval()) for value in model["intercept_at_means"].owner.inputs[-2:]] == [1.0, 7.5]
    assert float(model["mu_beta"].owner.inputs[-1].eval()[0]) == 0.25
    assert float(model["tau_beta"].owner.inputs[-1].eval()[0]) == 0.1
    assert priors.sources["intercept"] == "config" and priors.sources["group_sd:intercept"] == "default"


def test_formula_priors_come_from_the_config(config, example_data):
    model = build_model(config, "complete_pooling", example_data).model
    assert float(model["ses"].owner.inputs[-1].eval()) == config.model("complete_pooling").priors["ses"].model_dump()["sigma"]
    assert model.named_vars_to_dims[model.observed_RVs[0].name] == ("__obs__",)


def test_every_prior_is_recorded_with_the_model_in_the_data_s_units(config, example_data):
    """What the report's Priors section lists: a custom model's ModelPriors, a formula's terms as Bambi
    scaled them, each with its source."""
    from {{ cookiecutter.module_name }}.report import words

    custom = build_model(config, "varying_slopes", example_data).describe()["priors"]
    assert custom == build_model(config, "varying_slopes", example_data).priors.table(
        example_data.predictor_names, example_data.group_predictor_names).reset_index().to_numpy().tolist()
    formula = {parameter: (prior, source) for parameter, prior, source in
               build_model(config, "complete_pooling", example_data).describe()["priors"]}
    sigma = config.model("complete_pooling").priors["ses"].model_dump()["sigma"]
    assert formula["ses"][1] == "config" and f"sigma: {sigma}" in formula["ses"][0]
    assert formula["Intercept"][1] == "default" and formula["sigma"][0].startswith("HalfStudentT")
    varying = dict((row[0], row[1]) for row in build_model(config, "varying_intercepts", example_data).describe()["priors"])
    assert "1|school" in varying
    section = words.priors_section({"priors": [["1|school", "Normal(mu: 0, sigma: HalfNormal(sigma: 2))", "default"]]}, "m")
    assert "| 1\\|school | Normal(mu: 0, sigma: HalfNormal(sigma: 2)) | default |" in section


@pytest.fixture(scope="module")
def two_predictors(config, example_data):
    """The example with a second predictor in other units (mean 50, sd 10), and its priors."""
    frame = example_data.frame.assign(x2=np.random.default_rng(3).normal(50, 10, len(example_data.frame)))
    config = config.model_copy(update={"data": config.data.model_copy(update={"predictors": ["ses", "x2"]})})
    data = prepare(frame, config)
    return data, model_priors(data, config.family, config.priors)


@pytest.mark.parametrize("predictors", ["one", "two"])
@pytest.mark.parametrize(("function", "centered"), list(FREE_VARIABLES))
def test_sufficient_statistics_give_the_row_by_row_log_density(
    function, centered, predictors, example_priors, example_data, two_predictors
):
    data, priors = (example_data, example_priors) if predictors == "one" else two_predictors
    rows = function(data, priors, centered=centered)
    sums = function(data, priors, centered=centered, sufficient_statistics=True)
    assert {variable.name for variable in sums.free_RVs} == {variable.name for variable in rows.free_RVs}
    assert not sums.observed_RVs
    rng = np.random.default_rng(1)
    for _ in range(3):
        point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in rows.initial_point().items()}
        np.testing.assert_allclose(sums.compile_logp()(point), rows.compile_logp()(point), rtol=1e-10)
    if function is varying_slopes:
        # Joining intercepts and slopes into one vector made the 100k-row compile 2.4x slower.
        assert not join_or_split_ops(sums)


def test_sums_over_the_rows_kept_give_the_log_density_without_the_others(example_priors, example_data):
    """A refit without some rows (cross-validation) swaps in the sums over the other rows: the
    log density is then the row-by-row one less the left-out rows' log-likelihood."""
    rows = varying_slopes(example_data, example_priors)
    sums = varying_slopes(example_data, example_priors, sufficient_statistics=True)
    left_out = (example_data.group_codes < 5).astype(float)
    with sums:
        pm.set_data(sufficient_statistics_data(example_data, 1 - left_out))
    left_out_logp = rows.compile_fn((left_out * rows.logp(vars=rows.observed_RVs, sum=False)[0]).sum(),
                                    inputs=rows.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(2)
    for _ in range(3):
        point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in rows.initial_point().items()}
        np.testing.assert_allclose(sums.compile_logp()(point), rows.compile_logp()(point) - left_out_logp(point),
                                   rtol=1e-10)


def with_sums(config, setting):
    return config.model_copy(update={"sampler": config.sampler.model_copy(update={"sufficient_statistics": setting})})


def test_normal_models_are_sampled_from_sufficient_statistics(config, example_data):
    config = with_sums(config.model_copy(update={"family": "normal"}), True)  # whatever this project's outcome type
    built = build_model(config, "varying_slopes", example_data)
    assert built.sampling_model is not None
    assert built.describe()["likelihood"] == "sufficient statistics"
    assert built.model.observed_RVs  # checks and LOO use the row-by-row model
    assert build_model(config, "complete_pooling", example_data).sampling_model is not None  # a formula model
    student_t = config.model_copy(update={"family": "student_t"})
    assert build_model(student_t, "varying_slopes", example_data).sampling_model is None
    assert build_model(with_sums(config, False), "varying_slopes", example_data).sampling_model is None


def test_sufficient_statistics_by_default_for_custom_models_and_from_a_number_of_rows_for_formulas(config, example_data):
    """``auto`` (the default): custom models from sums whatever the rows (their sums compile
    faster and sample faster); formulas row by row on few rows, where Bambi's model compiles a
    little faster, from sums on more; ``true`` and ``false`` whatever the rows."""
    assert config.sampler.sufficient_statistics == "auto"
    rows = (1, 1999, 2000, 10**6)
    assert [uses_sufficient_statistics("auto", n, "formula") for n in rows] == [False, False, True, True]
    assert [uses_sufficient_statistics("auto", n, "custom") for n in rows] == [True, True, True, True]
    assert uses_sufficient_statistics(True, 10, "formula") and not uses_sufficient_statistics(False, 10**6, "custom")
    # Factors centred differently: only the sums' model can (see test_real_data's Penicillin).
    assert uses_sufficient_statistics("auto", 10, "formula", mixed_centring=True)
    assert not uses_sufficient_statistics(False, 10, "formula", mixed_centring=True)
    normal = config.model_copy(update={"family": "normal"})
    assert len(example_data.outcome) < SUFFICIENT_STATISTICS_MIN_ROWS["formula"]
    built = build_model(normal, "varying_slopes", example_data)
    assert built.sampling_model is not None and built.describe()["likelihood"] == "sufficient statistics"
    formula = build_model(normal, "complete_pooling", example_data)
    assert formula.sampling_model is None and formula.describe()["likelihood"] == "row by row"
    doubled = example_data.rows(np.tile(np.arange(len(example_data.outcome)), 2))
    doubled = replace(doubled, coords={**doubled.coords, "obs": list(range(len(doubled.outcome)))},
                      frame=doubled.frame.reset_index(drop=True))
    assert len(doubled.outcome) >= SUFFICIENT_STATISTICS_MIN_ROWS["formula"]
    assert build_model(normal, "complete_pooling", doubled).sampling_model is not None


def test_formula_intercepts_are_drawn_around_the_population_value_where_their_data_say_so(config):
    """Poisson counts, 40 rows per group: the groups' intercepts are informed (ratio about 10),
    their slopes less. The formula model is sampled row by row with the intercepts drawn
    around the population intercept and the slopes non-centred; the record says so."""
    hyperparameters = {"mu_alpha": -4.4, "tau_alpha": 0.5, "mu_beta": 0.2, "tau_beta": 0.1}  # about 1.3 per row
    frame, _ = simulate_grouped("poisson", hyperparameters, n_groups=60, min_size=40, max_size=40, seed=5)
    counts = config.model_copy(update={
        "data": DataConfig(path="counts.csv", outcome="y", group="group", predictors=["x"]), "family": "poisson",
        "parameterization": "auto", "models": [ModelSpec(name="m", formula="y ~ x + (x | group)")]})
    built = build_model(counts, "m", prepare(frame, counts))
    [choice] = built.parameterization
    assert not choice.centered and choice.intercepts_centered, choice.reason
    assert built.describe()["likelihood"] == "row by row"
    assert built.describe()["parameterization"][0]["label"] == "non-centred, intercepts centred"
    sampled = {variable.name for variable in built.sampled_model.free_RVs}
    assert {f"1|group{CENTRED_SUFFIX}", "x|group_offset"} <= sampled and "1|group_offset" not in sampled
    assert "1|group_offset" in {variable.name for variable in built.model.free_RVs}  # Bambi's, for checks and LOO
    forced = counts.model_copy(update={"parameterization": "non_centered"})
    assert build_model(forced, "m", prepare(frame, forced)).sampling_model is None


def test_varying_slopes_is_the_plain_pymc_model_on_raw_data(example_data):
    """The same model written out in plain PyMC, on a predictor far from 0 (mean 50): group
    intercepts and slopes independent at x = 0 (lme4's ``(x || g)``), the intercept's prior
    at the predictor's mean. Equal log densities at random points mean the same posterior."""
    data = replace(example_data, predictors=50 + 10 * example_data.predictors)
    priors = model_priors(data, "normal")
    ours = varying_slopes(data, priors, family="normal", centered=False)

    y, x, g = data.outcome, data.predictors[:, 0], data.group_codes
    n_groups = len(data.groups)
    with pm.Model() as plain:
        at_means = pm.Normal("at_means", y.mean(), 2.5 * y.std())
        slope = pm.Normal("slope", 0, 2.5 * y.std() / x.std())
        sd_intercepts = pm.HalfNormal("sd_intercepts", np.sqrt((2.5 * y.std()) ** 2 + (2.5 * y.std() / x.std() * x.mean()) ** 2))
        sd_slopes = pm.HalfNormal("sd_slopes", 2.5 * y.std() / x.std())
        z_intercepts = pm.Normal("z_intercepts", 0, 1, shape=n_groups)
        z_slopes = pm.Normal("z_slopes", 0, 1, shape=n_groups)
        sigma = pm.HalfStudentT("residual", nu=4, sigma=y.std())
        intercepts = at_means - slope * x.mean() + sd_intercepts * z_intercepts  # at x = 0
        slopes = slope + sd_slopes * z_slopes
        pm.Normal("y", intercepts[g] + slopes[g] * x, sigma, observed=y)

    names = {"intercept_at_means": "at_means", "mu_beta": "slope", "tau_alpha": "sd_intercepts",
             "tau_beta": "sd_slopes", "z_alpha": "z_intercepts", "z_beta": "z_slopes", "sigma": "residual"}
    rng = np.random.default_rng(5)
    ours_logp, plain_logp = ours.compile_logp(), plain.compile_logp()
    for _ in range(3):
        point = {name: value + rng.normal(0, 0.3, np.shape(value)) for name, value in ours.initial_point().items()}
        shapes = {name: np.shape(value) for name, value in plain.initial_point().items()}
        mapped = {}
        for name, value in point.items():
            base = name.removesuffix("_log__")  # HalfNormal values are sampled on the log scale
            target = names[base] + name[len(base):]
            mapped[target] = np.reshape(value, shapes[target])
        np.testing.assert_allclose(ours_logp(point), plain_logp(mapped), rtol=1e-10)


@pytest.mark.parametrize("function", [varying_slopes, correlated_slopes])
@pytest.mark.parametrize("centered", [False, True])
def test_every_name_a_model_creates_is_reserved(function, centered, example_data, example_priors):
    """The config refuses data columns named like the models' own names: the list must be complete."""
    from {{ cookiecutter.module_name }}.names import RESERVED_NAMES

    model = function(example_data, example_priors, centered=centered)
    created = set(model.named_vars) | set(model.coords) | {dim for dims in model.named_vars_to_dims.values() for dim in dims}
    created -= {example_data.group_dim, example_data.outcome_name}
    assert created <= set(RESERVED_NAMES), sorted(created - set(RESERVED_NAMES))
