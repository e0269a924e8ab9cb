"""Formula models built with group codes instead of dense indicator matrices are Bambi's
models: same variables, same coordinates, same log density at random points."""

import tracemalloc
from contextlib import nullcontext

import bambi as bmb
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from conftest import join_or_split_ops

from {{ cookiecutter.module_name }}.families import FAMILIES, family_record
from {{ cookiecutter.module_name }}.model.formulas import (
    CENTRED_SUFFIX,
    around_population_model,
    indexed_group_terms,
    level_pairs,
    normal_sufficient_model,
)

ROWS = 240
FAMILY_OUTCOMES = {
    "normal": "y", "student_t": "y", "bernoulli": "success", "binomial": "p(successes, trials)",
    "poisson": "count", "negative_binomial": "count", "gamma": "positive", "lognormal": "positive",
    "beta_binomial": "p(successes, trials)", "beta": "proportion", "zero_inflated_poisson": "count",
    "zero_inflated_negativebinomial": "count", "hurdle_poisson": "count", "hurdle_negativebinomial": "count",
    "cumulative": "rating", "weibull": "positive",
}


def bambi_family(family):
    """Bambi's family and link of one of ours."""
    return {"family": family_record(family).bambi, "link": family_record(family).link}


@pytest.fixture(scope="module")
def frame():
    """Two factors with labels that sort differently as text and as numbers, unbalanced."""
    rng = np.random.default_rng(7)
    school = rng.choice([f"s{i}" for i in range(1, 13)], ROWS)  # "s10" sorts before "s2"
    rater = rng.choice([3, 1, 20, 4, 5], ROWS)
    x = rng.normal(50, 10, ROWS)
    effect = pd.Series(school).map({f"s{i}": 0.3 * np.sin(i) for i in range(1, 13)}).to_numpy()
    eta = -0.5 + 0.02 * (x - 50) + effect + 0.1 * rater
    trials = rng.integers(5, 15, ROWS)
    return pd.DataFrame({
        "school": school, "rater": rater, "classroom": rng.choice(["a", "b", "c"], ROWS), "x": x,
        "y": 10 + 2 * eta + rng.normal(0, 1, ROWS), "success": rng.binomial(1, 1 / (1 + np.exp(-eta))),
        "successes": rng.binomial(trials, 1 / (1 + np.exp(-eta))), "trials": trials,
        "count": rng.poisson(np.exp(eta + 1)), "positive": rng.gamma(4.0, np.exp(eta) / 4.0),
        "proportion": rng.beta(10 / (1 + np.exp(-eta)), 10 / (1 + np.exp(eta))),
        "rating": pd.Categorical(np.digitize(eta + rng.logistic(size=ROWS), [-1.5, -0.5, 0.5]), ordered=True),
    })


def both_ways(formula, frame, family="normal"):
    """Bambi's own build, then ours (group codes), with Bambi's default priors."""
    models = []
    for building in (nullcontext, indexed_group_terms):
        with building():
            model = bmb.Model(formula, frame, **bambi_family(family))
            model.build()
        models.append(model)
    return models


def assert_same_log_density(bambi, ours, points=3):
    """Same free variables and coordinates; log density and gradient equal at random points."""
    plain = bambi.backend.model
    indexed = ours if isinstance(ours, type(plain)) else ours.backend.model
    names = [v.name for v in plain.free_RVs]
    assert sorted(names) == sorted(v.name for v in indexed.free_RVs)
    assert {k: tuple(v) for k, v in plain.coords.items()} == {k: tuple(v) for k, v in indexed.coords.items()}
    logp_plain, logp_indexed = plain.compile_logp(), indexed.compile_logp()
    dlogp_plain, dlogp_indexed = plain.compile_dlogp(), indexed.compile_dlogp([indexed[name] for name in names])
    rng = np.random.default_rng(1)
    start = plain.initial_point()
    for _ in range(points):
        point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in start.items()}
        assert logp_indexed(point) == pytest.approx(logp_plain(point), rel=1e-12)
        np.testing.assert_allclose(dlogp_indexed(point), dlogp_plain(point), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_with_slopes_and_crossed_factors(frame, family):
    formula = f"{FAMILY_OUTCOMES[family]} ~ x + (x | school) + (1 | rater)"
    assert_same_log_density(*both_ways(formula, frame, family))


@pytest.mark.parametrize("formula", [
    "y ~ x + (1 | school/classroom)",                    # nested: every school:classroom combination
    "y ~ 0 + x + (0 + x | school) + (1 | school:rater)",  # no intercepts, an interaction factor
    "y ~ x + (1 + classroom | school)",                 # a categorical predictor varying by group
])
def test_nested_interaction_and_categorical_terms(frame, formula):
    assert_same_log_density(*both_ways(formula, frame))


def test_ordered_categorical_factor_keeps_its_order(frame):
    ordered = frame.assign(school=pd.Categorical(frame["school"], categories=[f"s{i}" for i in range(12, 0, -1)],
                                                 ordered=True))
    bambi, ours = both_ways("y ~ x + (1 | school)", ordered)
    assert ours.backend.model.coords["school__factor_dim"][0] == "s12"
    assert_same_log_density(bambi, ours)


def test_group_codes_stand_in_for_the_indicator_matrix_in_predictions(frame):
    """Bambi's predictions on new rows (known groups and a new one) are unchanged."""
    bambi, ours = both_ways("y ~ x + (x | school)", frame)
    fitted = bambi.prior_predictive(draws=50, random_seed=3)
    fitted["posterior"] = fitted["prior"].copy()  # prior draws as a stand-in posterior
    new = frame.head(5).assign(school=["s1", "s12", "s3", "s7", "s2"])
    expected = bambi.predict(fitted, data=new, kind="response_params", inplace=False).posterior["mu"]
    predicted = ours.predict(fitted, data=new, kind="response_params", inplace=False).posterior["mu"]
    np.testing.assert_allclose(predicted.values, expected.values)


def test_a_million_row_size_factor_costs_rows_not_rows_x_groups():
    """200k rows x 20k groups: formulae's indicator matrix alone would be 32 GB."""
    rng = np.random.default_rng(0)
    rows, groups = 200_000, 20_000
    big = pd.DataFrame({"g": rng.integers(0, groups, rows).astype(str), "x": rng.normal(size=rows)})
    big["y"] = big["x"] + rng.normal(size=rows)
    tracemalloc.start()
    with indexed_group_terms():
        model = bmb.Model("y ~ x + (x | g)", big)
        model.build()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert model.backend.model["1|g"].shape.eval()[0] == groups
    assert peak < 1e9, f"peak {peak / 1e9:.1f} GB"


@pytest.mark.parametrize("formula", [
    "y ~ x + (x | school)",
    "y ~ 0 + x + (1 + classroom | school)",
    "y ~ x + classroom + (1 | school) + (0 + x | school)",
    "y ~ x + classroom",                                   # no group term
    "y ~ x + (1 | school) + (1 | rater)",                  # crossed: dense sums over level pairs
    "y ~ x + (x | school) + (x | rater) + (1 | classroom)",  # three crossed factors with slopes
    "y ~ x + (1 | school/classroom)",                      # nested: the level pairs that occur
    "y ~ 0 + x + (x | school) + (0 + x | school:rater)",   # an interaction factor, no intercept
])
def test_normal_sufficient_statistics_give_bambi_s_log_density(frame, formula):
    """Far from zero (outcome near 1000, predictor near 50), where sums of squares lose digits."""
    shifted = frame.assign(y=frame["y"] + 1000)
    model = bmb.Model(formula, shifted, noncentered=True)
    model.build()
    sums, weighted_data = normal_sufficient_model(model)
    assert not sums.observed_RVs and [p.name for p in sums.potentials] == ["log_likelihood"]
    assert "mu" not in sums.named_vars  # nothing per row is left in the graph
    # One vector of coefficients per factor, joined, made a 100k-row model compile in 1.6x the time.
    assert not join_or_split_ops(sums)
    assert_same_log_density(model, sums)

    # Rows left out (weight 0), as a cross-validation refit does: the sums over the other rows
    # give Bambi's log density less those rows' log-likelihood.
    plain = model.backend.model
    left_out = np.zeros(len(shifted))
    left_out[shifted.index[shifted["school"].isin(["s1", "s3"])]] = 1
    with sums:
        pm.set_data(weighted_data(1 - left_out))
    rows_logp = plain.compile_fn((left_out * plain.logp(vars=plain.observed_RVs, sum=False)[0]).sum(),
                                 inputs=plain.value_vars, on_unused_input="ignore")
    logp_plain, logp_sums = plain.compile_logp(), sums.compile_logp()
    rng = np.random.default_rng(3)
    for _ in range(3):
        point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in plain.initial_point().items()}
        assert logp_sums(point) == pytest.approx(logp_plain(point) - rows_logp(point), rel=1e-12)


def assert_moved_log_density(model, sums, move, correction=lambda point: 0.0, kept=None, seed=2):
    """At random points of Bambi's model, the sums model's log density at the point with
    ``move(point)``'s values equals Bambi's plus ``correction(point)`` (a Jacobian), and its
    deterministic ``kept`` equals Bambi's variable of that name."""
    logp_bambi, logp_sums = model.backend.model.compile_logp(), sums.compile_logp()
    if kept:
        [value] = sums.replace_rvs_by_values([sums[kept]])
        kept_value = sums.compile_fn(value, inputs=sums.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(seed)
    start = model.backend.model.initial_point()
    for _ in range(3):
        point = {name: value + rng.normal(0, 0.5, np.shape(value)) for name, value in start.items()}
        moved = {**point, **move(point)}
        moved = {name: moved[name] for name in sums.initial_point()}
        assert logp_sums(moved) == pytest.approx(logp_bambi(point) + correction(point), rel=1e-12)
        if kept:
            np.testing.assert_allclose(kept_value(moved), point[kept])


def test_centred_group_effects_are_sampled_around_the_population_value(frame):
    """``a_j = Intercept + u_j`` is sampled instead of ``u_j`` (unit Jacobian): at every point the
    sampled model's log density equals Bambi's at the matching ``u_j = a_j - Intercept``, and
    ``1|school`` is still Bambi's ``u_j``."""
    model = bmb.Model("y ~ x + (x | school)", frame.assign(y=frame["y"] + 1000), noncentered=False)
    model.build()
    sums, _ = normal_sufficient_model(model)
    sampled = {variable.name for variable in sums.free_RVs}
    assert {f"1|school{CENTRED_SUFFIX}", f"x|school{CENTRED_SUFFIX}"} <= sampled
    assert {"1|school", "x|school"} <= {variable.name for variable in sums.deterministics}
    assert_moved_log_density(model, sums, lambda point: {
        f"1|school{CENTRED_SUFFIX}": point["1|school"] + point["Intercept"],
        f"x|school{CENTRED_SUFFIX}": point["x|school"] + point["x"]}, kept="1|school")


@pytest.mark.parametrize("formula", ["y ~ x + (1 | school) + (1 | rater)", "y ~ x + (1 | rater) + (1 | school)"])
def test_of_crossed_factors_only_the_one_with_fewest_groups_is_centred_at_the_population_value(frame, formula):
    """Raters (5) carry the ``Intercept``, schools (12) stay centred at zero, in either order;
    the log density is Bambi's at the matching point."""
    model = bmb.Model(formula, frame.assign(y=frame["y"] + 1000), noncentered=False)
    model.build()
    sums, _ = normal_sufficient_model(model)
    sampled = {variable.name for variable in sums.free_RVs}
    assert f"1|rater{CENTRED_SUFFIX}" in sampled and "1|school" in sampled
    assert f"1|school{CENTRED_SUFFIX}" not in sampled and "1|rater" not in sampled
    assert_moved_log_density(model, sums, lambda point: {
        f"1|rater{CENTRED_SUFFIX}": point["1|rater"] + point["Intercept"]}, kept="1|rater", seed=4)


def test_a_factor_that_chose_centring_is_sampled_centred_in_a_model_built_non_centred(frame):
    """Bambi builds every factor non-centred when one chose it; the raters, whose data chose
    centring, are sampled as ``a_j = Intercept + s z_j`` (Bambi's ``z_j`` kept as a
    deterministic): the log density is Bambi's less the Jacobian ``log s`` per rater."""
    model = bmb.Model("y ~ x + (1 | school) + (1 | rater)", frame.assign(y=frame["y"] + 1000), noncentered=True)
    model.build()
    sums, _ = normal_sufficient_model(model, centred_terms={"1|rater"})
    assert {variable.name for variable in sums.free_RVs} >= {f"1|rater{CENTRED_SUFFIX}", "1|school_offset"}
    assert "1|rater_offset" in {variable.name for variable in sums.deterministics}
    assert_moved_log_density(
        model, sums,
        lambda point: {f"1|rater{CENTRED_SUFFIX}": point["Intercept"]
                       + np.exp(point["1|rater_sigma_log__"]) * point["1|rater_offset"]},
        correction=lambda point: -5 * point["1|rater_sigma_log__"], kept="1|rater_offset", seed=5)


@pytest.mark.parametrize("family", ["poisson", "bernoulli"])
def test_a_row_by_row_model_draws_only_the_chosen_intercepts_around_the_population_value(frame, family):
    """Non-normal families are sampled row by row: there too the schools' intercepts (the term
    chosen) are drawn as ``a_j = Intercept + s z_j`` while their slopes stay Bambi's
    non-centred ``x|school_offset``; the log density is Bambi's less the Jacobian ``log s`` per
    school, and the model keeps its observed rows (checks and LOO)."""
    formula = f"{FAMILY_OUTCOMES[family]} ~ x + (x | school)"
    with indexed_group_terms():
        model = bmb.Model(formula, frame, **bambi_family(family), noncentered=True)
        model.build()
    assert around_population_model(model, set()) is None  # nothing chosen: Bambi's model is sampled
    around = around_population_model(model, {"1|school"})
    sampled = {variable.name for variable in around.free_RVs}
    assert {f"1|school{CENTRED_SUFFIX}", "x|school_offset"} <= sampled
    assert not {"1|school_offset", f"x|school{CENTRED_SUFFIX}"} & sampled
    assert [rv.name for rv in around.observed_RVs] == [rv.name for rv in model.backend.model.observed_RVs]
    assert_moved_log_density(
        model, around,
        lambda point: {f"1|school{CENTRED_SUFFIX}": point["Intercept"]
                       + np.exp(point["1|school_sigma_log__"]) * point["1|school_offset"]},
        correction=lambda point: -12 * point["1|school_sigma_log__"], kept="1|school_offset", seed=6)


def test_group_effects_with_a_prior_other_than_normal_are_left_as_bambi_built_them(frame):
    """A StudentT prior on the school effects: nothing to centre at the population value (the
    rewrite is for normal group effects); the sums model is Bambi's as it is."""
    priors = {"1|school": bmb.Prior("StudentT", nu=4, mu=0, sigma=bmb.Prior("HalfNormal", sigma=1))}
    model = bmb.Model("y ~ x + (1 | school)", frame.assign(y=frame["y"] + 1000), priors=priors, noncentered=False)
    model.build()
    sums, _ = normal_sufficient_model(model, centred_terms={"1|school"})
    assert "1|school" in {variable.name for variable in sums.free_RVs}
    assert_same_log_density(model, sums)


def test_level_pairs_are_dense_when_crossed_and_listed_when_nested(frame):
    """Crossed factors (most level pairs occur) keep a groups x groups array, nested ones
    (each classroom label in one school here) only the pairs that occur."""
    school = pd.factorize(frame["school"], sort=True)[0]
    rater = pd.factorize(frame["rater"], sort=True)[0]
    nested = pd.factorize(frame["school"] + ":" + frame["classroom"], sort=True)[0]
    cell, first, second, dense = level_pairs(school, rater, 12, 5)
    assert dense and (first[cell] == school).all() and (second[cell] == rater).all()
    cell, first, second, dense = level_pairs(school, nested, 12, 36)
    assert not dense and len(first) == 36 and (first[cell] == school).all() and (second[cell] == nested).all()


def test_a_sparse_crossed_design_is_sampled_row_by_row(frame):
    """Students x lecturers as in InstEval: most pairs of levels occur once, so summing per pair
    would cost about what the rows do."""
    rng = np.random.default_rng(0)
    sparse = frame.assign(student=rng.integers(0, 60, ROWS), lecturer=rng.integers(0, 60, ROWS))
    model = bmb.Model("y ~ x + (1 | student) + (1 | lecturer)", sparse)
    model.build()
    assert normal_sufficient_model(model) is None


@pytest.mark.parametrize(("formula", "family"), [
    ("count ~ x + (1 | school)", "poisson"),
    ("y ~ x + (1 | school) + offset(x)", "normal"),
])
def test_other_formulas_are_sampled_row_by_row(frame, formula, family):
    model = bmb.Model(formula, frame, **bambi_family(family))
    model.build()
    assert normal_sufficient_model(model) is None


def test_the_functions_formulas_may_call_are_formulaes_and_bambis():
    """formula_syntax writes Bambi's transforms out (checking a config imports no Bambi): they must be Bambi's own."""
    from bambi.transformations import transformations_namespace
    from formulae.transforms import TRANSFORMS

    from {{ cookiecutter.module_name }}.formula_syntax import BAMBI_TRANSFORMS, FUNCTIONS, is_known_function

    assert set(BAMBI_TRANSFORMS) == set(transformations_namespace) | {"hsgp"}
    assert FUNCTIONS == set(TRANSFORMS) | set(transformations_namespace)
    assert is_known_function("np.log1p") and is_known_function("np.sqrt")
    assert not is_known_function("np.loadtxt") and not is_known_function("os.system") and not is_known_function("np.lib")


def test_a_formula_calling_a_literal_and_transforms_builds_in_bambi(config, example_data):
    """What the check lets through, Bambi builds: literals inside calls, numpy's ufuncs, formulae's transforms."""
    from {{ cookiecutter.module_name }}.formula_syntax import formula_columns, unknown_functions
    from {{ cookiecutter.module_name }}.model.formulas import bambi_model

    response = config.model("varying_intercepts").formula.split("~")[0].strip()
    formula = f"{response} ~ I(ses ** 2) + np.abs(ses) + center(ses) + (1 | school)"
    assert unknown_functions(formula) == []
    assert {"ses", "school", config.data.outcome} <= set(formula_columns(formula))
    model = bambi_model(formula, example_data, config.family, {})
    assert {"I(ses ** 2)", "np.abs(ses)", "center(ses)"} <= set(model.parameters[model.family.likelihood.parent].common_terms)


@pytest.mark.parametrize(("formula", "family"), [
    ("y ~ x + rater + C(classroom) + (x | school)", "normal"),
    ("count ~ x + C(classroom) + (1 | school) + (1 | rater)", "poisson"),
])
def test_without_bambi_s_private_clean_results_the_draws_are_the_same_with_a_warning(frame, formula, family,
                                                                                    monkeypatch):
    """What a Bambi release without ``PyMCModel._clean_results`` (``private_apis.py``) does to a
    formula model's results: the public-attribute fallback gives Bambi's own numbers."""
    import bambi.backend.pymc

    from {{ cookiecutter.module_name }} import private_apis
    from {{ cookiecutter.module_name }}.model import formulas

    model = bmb.Model(formula, frame.assign(x=frame["x"] * 100), **bambi_family(family))
    model.build()
    with model.backend.model:
        prior = pm.sample_prior_predictive(draws=60, random_seed=5).prior.to_dataset()
    # Two chains of 30 draws of every free variable, as a posterior sampled from the PyMC model,
    # its dimensions in another order than Bambi's (the fallback restores Bambi's).
    free = [variable.name for variable in model.backend.model.free_RVs]
    draws = prior[free].squeeze("chain", drop=True)
    posterior = xr.concat([draws.isel(draw=slice(0, 30)), draws.isel(draw=slice(30, 60)).assign_coords(draw=range(30))],
                          dim="chain").assign_coords(chain=[0, 1]).transpose("draw", "chain", ...)
    expected = formulas.bambi_results(model, xr.DataTree.from_dict({"posterior": posterior}))
    # Bambi without the method, as private_apis.py sees it when it first looks.
    with monkeypatch.context() as renamed:
        renamed.delattr(bambi.backend.pymc.PyMCModel, "_clean_results")
        missing = private_apis._bambi_internals()
    assert missing["bambi_clean_results"] is None
    monkeypatch.setattr(formulas, "bambi_clean_results", missing["bambi_clean_results"])
    monkeypatch.setattr(formulas, "BAMBI_INTERNALS_MISSING", missing["BAMBI_INTERNALS_MISSING"])
    with pytest.warns(UserWarning, match=r"_clean_results is missing \(written against Bambi 0.21.0\); the Intercept"):
        fallback = formulas.bambi_results(model, xr.DataTree.from_dict({"posterior": posterior}))
    expected, fallback = expected.posterior.to_dataset(), fallback.posterior.to_dataset()
    assert sorted(fallback.data_vars) == sorted(expected.data_vars)
    assert not any(name.endswith("_offset") for name in fallback.data_vars)
    for name in expected.data_vars:
        assert fallback[name].dims == expected[name].dims, name
        np.testing.assert_allclose(fallback[name].values, expected[name].values, rtol=1e-10, atol=1e-10, err_msg=name)
    # The Intercept really moved: x is in hundreds, so the shift is large.
    assert float(np.abs(fallback["Intercept"] - posterior["Intercept"]).mean()) > 1
