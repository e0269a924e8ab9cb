"""Every family and multilevel structure, fitted to small simulated data with known truth.

Each fit is short and seeded; recovery is checked against 99% intervals because every
test checks several parameters at once.
"""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.config import DataConfig, ModelSpec
from {{ cookiecutter.module_name }}.data.grouped import prepare
from {{ cookiecutter.module_name }}.data.simulate import simulate_grouped
from {{ cookiecutter.module_name }}.families import FAMILIES, LINKED, family_record
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.report.figures import predictive_check
from {{ cookiecutter.module_name }}.report.summary import recovery_table

CI = 0.99
SLOPES = {"mu_alpha": 0.3, "tau_alpha": 0.5, "mu_beta": 0.4, "tau_beta": 0.15}
FAMILY_PARAMETERS = {
    "normal": {"sigma": 1.0},
    "student_t": {"sigma": 1.0, "nu": 4.0},
    "bernoulli": {},
    "binomial": {},
    "poisson": {"mu_alpha": -2.0},
    "negative_binomial": {"mu_alpha": -2.0, "phi": 4.0},
    "gamma": {"shape": 4.0},
    "lognormal": {"sigma": 0.5},
    "bernoulli_probit": {},
    "binomial_probit": {},
    "beta_binomial": {"phi": 10.0},
    "beta": {"phi": 20.0},
    # About 3 events per 100 units of exposure: mean counts of 0.6-5.4 over exposures of 20-180
    "zero_inflated_poisson": {"mu_alpha": -3.5, "zi": 0.3},
    "zero_inflated_negativebinomial": {"mu_alpha": -3.5, "zi": 0.3, "phi": 5.0},
    "hurdle_poisson": {"mu_alpha": -3.5, "hu": 0.4},
    "hurdle_negativebinomial": {"mu_alpha": -3.5, "hu": 0.4, "phi": 5.0},
    # Three categories: cut-points 0 and 1.5 on the latent scale
    "cumulative": {"cutpoint_gaps": 1.5},
    "cumulative_probit": {"cutpoint_gaps": 1.0},
    "weibull": {"shape": 2.0},
}


def fit_simulated(config, frame, models, family="normal", **data_roles):
    """Fit ``models`` (ModelSpec keyword dicts) to ``frame`` with the project's own code path."""
    roles = {"path": "simulated.csv", "outcome": "y", "group": "group", "predictors": ["x"], **data_roles}
    link = family_record(family).link if family in LINKED else None  # a key such as bernoulli_probit
    case = config.model_copy(update={
        "data": DataConfig(**roles), "family": family.removesuffix(f"_{link}"), "link": link,
        "models": [ModelSpec(**spec) for spec in models],
    })
    assert case.family_of(case.models[0].name) == family
    data = prepare(frame, case)
    settings = case.sampler_settings(fast=True).model_copy(update={"draws": 500, "tune": 500, "seed": 7})
    return data, {spec.name: fit(build_model(case, spec.name, data), settings) for spec in case.models}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILY_PARAMETERS))
def test_family_recovers_truth_and_draws_its_check(family, config):
    hyperparameters = {**SLOPES, **FAMILY_PARAMETERS[family]}
    frame, truth = simulate_grouped(family, hyperparameters, n_groups=30, min_size=20, max_size=60, seed=11)
    roles = {"trials": "trials"} if family_record(family).trials else {}
    if family_record(family).exposure:
        roles = {"exposure": "exposure"}
    data, fits = fit_simulated(config, frame, [{"name": "vs", "custom": "varying_slopes"}], family, **roles)
    fitted = fits["vs"]

    table = recovery_table(fitted, truth, CI)
    assert set(table.index) == set(hyperparameters)
    assert table["inside"].all(), table
    assert list(fitted.posterior["group"].values) == sorted(frame["group"].unique())
    assert fitted.posterior_predictive["y"].sizes["obs"] == len(frame)
    assert int(fitted.sample_stats["diverging"].sum()) == 0

    ax = predictive_check(fitted, data, family)
    assert ax.patches or ax.lines or ax.collections
    plt.close("all")


def test_formula_families_use_trials_and_offsets(config):
    """Bambi's binomial ``p(successes, trials)`` and a log-exposure offset, recovered through formulas."""
    frame, _ = simulate_grouped("binomial", {**SLOPES, "tau_beta": 0.0}, n_groups=30, min_size=20, max_size=40, seed=3)
    _, fits = fit_simulated(config, frame, [{"name": "f", "formula": "p(y, trials) ~ x + (1 | group)"}],
                            "binomial", trials="trials")
    draws = fits["f"].posterior
    assert np.quantile(draws["x"], 0.005) < SLOPES["mu_beta"] < np.quantile(draws["x"], 0.995)
    assert "y" in fits["f"].posterior_predictive and "y" in fits["f"].log_likelihood

    counts = {**SLOPES, "mu_alpha": -2.0, "tau_beta": 0.0}
    frame, _ = simulate_grouped("poisson", counts, n_groups=30, min_size=20, max_size=40, seed=4)
    _, fits = fit_simulated(config, frame, [{"name": "f", "formula": "y ~ x + (1 | group) + offset(log(exposure))"}],
                            "poisson", exposure="exposure")
    intercept = fits["f"].posterior["Intercept"]
    assert np.quantile(intercept, 0.005) < counts["mu_alpha"] < np.quantile(intercept, 0.995)


def inside(draws, value) -> bool:
    lower, upper = np.quantile(np.asarray(draws).ravel(), [(1 - CI) / 2, (1 + CI) / 2])
    return bool(lower <= value <= upper)


def test_nested_groups(config):
    """Classrooms nested in schools: ``(1 | school/classroom)`` gives both levels' sds."""
    rng = np.random.default_rng(5)
    school_sd, class_sd, sigma = 0.8, 0.4, 1.0
    rows = []
    for school in range(25):
        school_effect = rng.normal(0, school_sd)
        for classroom in range(4):  # classroom labels repeat across schools: only nesting tells them apart
            effect = school_effect + rng.normal(0, class_sd)
            for _ in range(rng.integers(5, 15)):
                x = rng.normal()
                rows.append({"school": f"s{school}", "classroom": f"c{classroom}", "x": x,
                             "y": 1.0 + 0.5 * x + effect + rng.normal(0, sigma)})
    frame = pd.DataFrame(rows)
    _, fits = fit_simulated(config, frame, [{"name": "nested", "formula": "y ~ x + (1 | school/classroom)"}],
                            group="school")
    posterior = fits["nested"].posterior
    assert posterior.sizes["school:classroom__factor_dim"] == 100
    assert inside(posterior["1|school_sigma"], school_sd)
    assert inside(posterior["1|school:classroom_sigma"], class_sd)
    assert inside(posterior["sigma"], sigma)


def test_crossed_groups(config):
    """Every rater scores every item: ``(1 | rater) + (1 | item)``."""
    rng = np.random.default_rng(6)
    rater_sd, item_sd, sigma = 0.7, 0.5, 0.6
    raters, items = rng.normal(0, rater_sd, 30), rng.normal(0, item_sd, 25)
    frame = pd.DataFrame([
        {"rater": rater, "item": item, "x": 0.0, "y": 2.0 + raters[rater] + items[item] + rng.normal(0, sigma)}
        for rater in range(30) for item in range(25)
    ])
    frame["x"] = rng.normal(size=len(frame))
    _, fits = fit_simulated(config, frame, [{"name": "crossed", "formula": "y ~ (1 | rater) + (1 | item)"}],
                            group="rater")
    posterior = fits["crossed"].posterior
    assert posterior.sizes["rater__factor_dim"] == 30 and posterior.sizes["item__factor_dim"] == 25
    assert inside(posterior["1|rater_sigma"], rater_sd)
    assert inside(posterior["1|item_sigma"], item_sd)


def test_group_level_predictor_and_correlated_slopes(config):
    """A county-level predictor shifts the intercepts (gamma); LKJ model finds no correlation."""
    hyperparameters = {**SLOPES, "sigma": 1.0}
    frame, truth = simulate_grouped("normal", hyperparameters, n_groups=40, min_size=10, max_size=40, seed=8,
                                    group_predictor_effect=0.5)
    models = [{"name": "vs", "custom": "varying_slopes"}, {"name": "lkj", "custom": "correlated_slopes"}]
    _, fits = fit_simulated(config, frame, models, group_predictors=["u"])
    table = recovery_table(fits["vs"], truth, CI)
    assert "gamma" in table.index and table["inside"].all(), table
    lkj = fits["lkj"].posterior
    assert list(lkj["effect_pair"].values) == ["intercept:x"]
    assert inside(lkj["rho"], 0.0)
    assert inside(lkj["tau_alpha"], SLOPES["tau_alpha"]) and inside(lkj["gamma"], 0.5)


def test_every_record_names_kinds_the_stages_know():
    """A record's link, outcome checks, check and information kinds are ones the stages read."""
    from {{ cookiecutter.module_name }}.data.validation import CHECKS
    from {{ cookiecutter.module_name }}.families import LINKS

    for family in [*FAMILIES.values(), *LINKED.values()]:
        assert family.link in LINKS and set(family.links) <= set(LINKS), family.name
        assert set(family.outcome_checks) <= set(CHECKS), family.name
        assert family.check in ("density", "share", "proportion", "counts", "survival"), family.name
        assert family.information in ("mean", "logit", "log_rate", "log_mean", "logit_mean"), family.name
        assert set(family.parameter_priors) <= set(family.parameters), family.name
        assert set(family.complements) <= set(family.parameter_priors), family.name
        assert all(prior[0] in ("Gamma", "Beta") for prior in family.parameter_priors.values()), family.name
        assert set(family.example_parameters) == set(family.parameters), family.name
        eta = np.linspace(-2, 2, 5)
        np.testing.assert_allclose(LINKS[family.link].forward(LINKS[family.link].inverse(eta)), eta)


def test_an_unknown_family_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown family 'exponential'; allowed: normal, student_t"):
        family_record("exponential")


@pytest.mark.parametrize("family", [name for name, record in FAMILIES.items() if record.parameter_priors])
def test_a_family_parameter_prior_is_a_config_key(family, config, example_data):
    """``priors.<parameter>`` (``nu``, ``phi``, ``shape``: Gamma; ``zi``, ``hu``: Beta)
    replaces the default: the record's, or for ``zi`` and ``hu`` one centred on the data."""
    from {{ cookiecutter.module_name }}.config import PriorOverrides
    from {{ cookiecutter.module_name }}.model.priors import family_parameter_default, model_priors

    defaults = {name: family_parameter_default(example_data, family, name) for name in FAMILIES[family].parameter_priors}
    assert {name: prior[0] for name, prior in defaults.items()} == {
        name: prior[0] for name, prior in FAMILIES[family].parameter_priors.items()}
    assert model_priors(example_data, family).family_parameters == defaults
    for name, (distribution, *_) in defaults.items():
        priors = model_priors(example_data, family, PriorOverrides(**{name: dict(alpha=3.0, beta=0.5)}))
        assert priors.family_parameters == {**defaults, name: (distribution, 3.0, 0.5)}
        assert priors.sources[name] == "config"
        assert priors.table([], []).loc[name, "prior"] == f"{distribution}(3, 0.5)"


@pytest.mark.parametrize("family", ["zero_inflated_poisson", "zero_inflated_negativebinomial", "hurdle_poisson",
                                    "hurdle_negativebinomial"])
def test_extra_zeros_are_simulated_as_brms_defines_zi_and_hu(family):
    """Zero-inflated: P(0) = zi + (1 - zi) P_count(0); hurdle: P(0) = hu, and the mean of the
    positive counts is the truncated distribution's."""
    from scipy import stats

    rng = np.random.default_rng(1)
    record = FAMILIES[family]
    h = record.example_parameters
    mu = np.exp(1.0)
    y = record.simulate(rng, np.full(400_000, 1.0), h, None, None)
    count = stats.nbinom(h["phi"], h["phi"] / (h["phi"] + mu)) if "phi" in h else stats.poisson(mu)
    if "zi" in h:
        assert np.mean(y == 0) == pytest.approx(h["zi"] + (1 - h["zi"]) * count.pmf(0), abs=0.003)
        assert np.mean(y) == pytest.approx((1 - h["zi"]) * mu, rel=0.01)
    else:
        assert np.mean(y == 0) == pytest.approx(h["hu"], abs=0.003)
        assert np.mean(y[y > 0]) == pytest.approx(mu / (1 - count.pmf(0)), rel=0.01)


@pytest.mark.slow
def test_censored_times_recover_the_truth_custom_and_formula(config):
    """Weibull times censored at 2 (about a third of them): the likelihood of a censored row
    is its survival, so the mean, slope and shape are recovered; the Kaplan-Meier check draws."""
    truth = {"mu_alpha": 0.5, "tau_alpha": 0.3, "mu_beta": 0.3, "tau_beta": 0.15, "shape": 2.0}
    frame, simulated = simulate_grouped("weibull", truth, n_groups=25, min_size=20, max_size=40, seed=4)
    frame["event"] = (frame["y"] < 2.0).astype(int)
    frame["y"] = frame["y"].clip(upper=2.0)
    assert 0.2 < 1 - frame["event"].mean() < 0.5
    data, fits = fit_simulated(config, frame, [{"name": "vs", "custom": "varying_slopes"},
                                               {"name": "f", "formula": "y ~ x + (1 | group)"}], "weibull", event="event")
    table = recovery_table(fits["vs"], simulated, CI)
    assert set(table.index) == set(truth) and table["inside"].all(), table
    formula = fits["f"].posterior
    assert inside(formula["Intercept"], truth["mu_alpha"]) and inside(formula["x"], truth["mu_beta"])
    assert inside(formula["alpha"], truth["shape"])  # Bambi names the shape alpha
    ax = predictive_check(fits["f"], data, "weibull")
    assert len(ax.lines) > 100  # the observed curve and 100 replicated ones
    plt.close("all")


def test_a_link_is_chosen_in_the_config_where_the_family_has_it(config):
    """``link: probit`` makes ``bernoulli_probit``; a link the family lacks is refused by name."""
    from {{ cookiecutter.module_name }}.config import AnalysisConfig

    raw = config.model_dump(exclude={"root"}) | {"family": "bernoulli", "link": "probit"}
    probit = AnalysisConfig(**raw)
    assert {probit.family_of(name) for name in probit.model_names} == {"bernoulli_probit"}
    record = family_record("bernoulli_probit")
    assert (record.bambi, record.link, record.latent_variance) == ("bernoulli", "probit", 1.0)
    assert record.prediction(np.array([0.0, 1.0])) == pytest.approx([0.5, 0.841345], abs=1e-6)
    with pytest.raises(ValueError, match="the poisson family takes the link log, not 'probit'"):
        AnalysisConfig(**{**raw, "family": "poisson"})


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
def test_positive_families_simulate_positive_outcomes_around_their_median(family):
    """``exp(eta)`` is the gamma's mean and the lognormal's median: the simulated outcomes agree."""
    rng = np.random.default_rng(0)
    record = FAMILIES[family]
    eta = np.full(200_000, 1.5)
    y = record.simulate(rng, eta, record.example_parameters, None, None)
    assert (y > 0).all()
    centre = np.mean(y) if family == "gamma" else np.median(y)
    assert centre == pytest.approx(np.exp(1.5), rel=0.01)
    assert record.prediction(np.array([1.5]))[0] == pytest.approx(np.exp(1.5))


def simulate_spread(family: str, seed: int = 5, n_groups: int = 30, rows: int = 40) -> tuple[pd.DataFrame, float]:
    """Rows whose spread varies by group and with ``x``: the normal's ``log sigma = 0 + 0.3 x + u_j``,
    the negative binomial's ``log phi = log 5 + u_j`` (``u_j ~ N(0, 0.4)``); means
    ``0.3 + a_j + 0.4 x`` (``a_j ~ N(0, 0.5)``) on the link scale. Also the sd of the ``u_j``
    drawn: what 30 groups tell of 0.4 (one draw of it was 0.27, 2.6 of its sds below)."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), rows)
    x = rng.normal(size=group.size)
    eta = 0.3 + rng.normal(0, 0.5, n_groups)[group] + 0.4 * x
    effects = rng.normal(0, 0.4, n_groups)
    spread = effects[group]
    if family == "normal":
        y = rng.normal(eta, np.exp(0.3 * x + spread))
    else:
        phi, mu = np.exp(np.log(5) + spread), np.exp(1 + eta)
        y = rng.negative_binomial(phi, phi / (phi + mu))
    return pd.DataFrame({"y": y, "x": x, "group": [f"g{j:02d}" for j in group]}), float(np.std(effects, ddof=1))


# The distributional formula and its truth; None: the sd of the group effects drawn.
SPREAD_CASES = {
    "normal": ("sigma ~ x + (1 | group)", {("sigma_(Intercept)", ""): 0.0, ("sigma_x", ""): 0.3,
                                          ("sd__sigma_(Intercept)", "group"): None, ("x", ""): 0.4}),
    "negative_binomial": ("phi ~ (1 | group)", {("phi_(Intercept)", ""): np.log(5), ("sd__phi_(Intercept)", "group"): None,
                                                ("x", ""): 0.4}),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(SPREAD_CASES))
def test_a_distributional_formula_recovers_the_spread_by_group(family, config):
    """``distributional: ["sigma ~ x + (1 | group)"]`` (Bambi's ``bmb.Formula``, brms's ``bf``):
    its terms recovered on the log scale, named as broom.mixed names brms's; the model is sampled
    row by row (each row its own sd: no per-group sums) and predicts new groups."""
    from {{ cookiecutter.module_name }}.model.predict import predict
    from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

    formula, truth = SPREAD_CASES[family]
    frame, drawn_sd = simulate_spread(family)
    spec = {"name": "spread", "formula": "y ~ x + (1 | group)", "distributional": [formula]}
    data, fits = fit_simulated(config.model_copy(update={"sampler": config.sampler.model_copy(
        update={"sufficient_statistics": True})}), frame, [spec], family)
    fitted = fits["spread"]
    assert json.loads(fitted.attrs["model"])["likelihood"] == "row by row"
    table = estimates(fitted, "spread", "group", ci_prob=CI)
    for (term, group), value in truth.items():
        row, value = lookup(table, term, group), drawn_sd if value is None else value
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    own = formula.split(" ")[0]
    assert table.loc[table["term"].str.startswith(f"{own}_"), "effect"].eq("dist_pars").all()
    assert own not in set(table["term"])  # no single sd or dispersion: the formula models it
    assert int(fitted.sample_stats["diverging"].sum()) == 0
    case = config.model_copy(update={"models": [ModelSpec(**spec)], "family": family,
                                     "data": DataConfig(path="simulated.csv", outcome="y", group="group", predictors=["x"])})
    new = pd.DataFrame({"x": [0.0, 1.0], "group": ["g00", "unseen"]})
    predicted = predict(case, "spread", fitted, data, new, seed=1)
    assert predicted.sizes["row"] == 2 and np.isfinite(predicted.values).all()


def test_a_distributional_formula_must_model_a_parameter_of_the_family(config):
    """Clear refusals: a parameter the family lacks (naming those it has), a complement
    (Bambi's psi = 1 - zi), a custom model, a prior of the modelled parameter, a bad formula."""
    from {{ cookiecutter.module_name }}.config import AnalysisConfig

    raw = config.model_dump(exclude={"root"})
    formula = {"name": "spread", "formula": "score ~ ses + (1 | school)"}
    with pytest.raises(ValueError, match=r"the normal family has no parameter 'phi' a formula can model; it has: sigma"):
        AnalysisConfig(**{**raw, "models": [{**formula, "distributional": ["phi ~ (1 | school)"]}]})
    with pytest.raises(ValueError, match=r"no parameter 'zi' a formula can model; it has: none"):
        AnalysisConfig(**{**raw, "family": "zero_inflated_poisson",
                          "models": [{**formula, "distributional": ["zi ~ (1 | school)"]}]})
    with pytest.raises(ValueError, match="distributional formulas are for formula models"):
        AnalysisConfig(**{**raw, "models": [{"name": "c", "custom": "varying_slopes", "distributional": ["sigma ~ 1"]}]})
    both = {**formula, "distributional": ["sigma ~ (1 | school)"]}
    both["priors"] = {"sigma": dict(dist="HalfNormal", sigma=1)}
    with pytest.raises(ValueError, match=r"priors.sigma: sigma is modelled by 'sigma ~ \(1 \| school\)'"):
        AnalysisConfig(**{**raw, "models": [both]})
    with pytest.raises(ValueError, match="must read 'parameter ~ terms'"):
        AnalysisConfig(**{**raw, "models": [{**formula, "distributional": ["(1 | school)"]}]})
    with pytest.raises(ValueError, match="more than one formula of"):
        AnalysisConfig(**{**raw, "models": [{**formula, "distributional": ["sigma ~ ses", "sigma ~ 1"]}]})


def test_distributional_priors_are_centred_on_the_data_s_scale(example_data):
    """``sigma``'s intercept at log sd(y), its slopes per unit of their predictor; ``phi``'s
    intercept at the log of its default prior's mean."""
    from {{ cookiecutter.module_name }}.model.priors import distributional_priors

    priors = distributional_priors(example_data, "normal", "sigma", "ses + (1 | school)")
    assert priors["Intercept"] == {"dist": "Normal", "mu": pytest.approx(np.log(np.std(example_data.outcome))),
                                   "sigma": 1.5}
    assert priors["ses"]["sigma"] == pytest.approx(1 / np.std(example_data.frame["ses"]))
    _, alpha, beta = family_record("negative_binomial").parameter_priors["phi"]
    assert distributional_priors(example_data, "negative_binomial", "phi", "1")["Intercept"]["mu"] == pytest.approx(
        np.log(alpha / beta))
    assert "Intercept" not in distributional_priors(example_data, "normal", "sigma", "0 + ses")
