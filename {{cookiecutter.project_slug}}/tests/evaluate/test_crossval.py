"""Leave-groups-out cross-validation: the folds, the left-out likelihood, and what it prefers."""

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.evaluate.crossval import group_folds, leave_groups_out, leave_groups_out_table
from {{ cookiecutter.module_name }}.fit.sampling import refittable_model, without_rows
from {{ cookiecutter.module_name }}.model.build import build_model


def test_every_group_is_in_one_fold_of_even_size():
    fold = group_folds(40, 6, seed=1)
    sizes = np.bincount(fold)
    assert fold.shape == (40,) and len(sizes) == 6 and sizes.max() - sizes.min() <= 1
    assert (group_folds(40, 6, seed=1) == fold).all() and not (group_folds(40, 6, seed=2) == fold).all()
    assert sorted(group_folds(3, 10, seed=1)) == [0, 1, 2], "at most one fold per group"


@pytest.mark.parametrize("name", ["varying_slopes", "complete_pooling"])
def test_left_out_rows_leave_the_joint_density(config, example_data, name):
    """The copy's log density is the model's minus the left-out rows' log-likelihood, at any point."""
    model = build_model(config, name, example_data).model
    rows = np.flatnonzero(example_data.group_codes < 5)
    copy = without_rows(model, rows)
    assert without_rows(model).compile_logp()(model.initial_point()) == pytest.approx(
        model.compile_logp()(model.initial_point()), rel=1e-12), "no row left out: the model's own density"
    rows_logp = model.compile_fn(model.logp(vars=model.observed_RVs, sum=False)[0][rows].sum(),
                                 inputs=model.value_vars, on_unused_input="ignore")
    full, reduced = model.compile_logp(), copy.compile_logp()
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {key: value + rng.normal(0, 0.3, np.shape(value)) for key, value in model.initial_point().items()}
        assert reduced(point) == pytest.approx(full(point) - rows_logp(point), rel=1e-10)


def test_a_row_by_row_fit_and_its_refits_compile_once(config, example_data, monkeypatch):
    """A model sampled row by row is fitted as the copy its folds refit (no row left out): one
    compile for the fit and every fold, and the fit's draws are the sampled model's own (up to
    rounding: Bambi's, or its copy with the intercepts drawn around the population value)."""
    from {{ cookiecutter.module_name }}.fit import compiling
    from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler, fit

    built = build_model(config, "varying_intercepts", example_data)
    assert built.weighted_data is None  # the example's rows: below the sums' threshold
    copy = refittable_model(built)
    assert [variable.name for variable in copy.free_RVs] == [variable.name for variable in built.sampled_model.free_RVs]
    compiles = []
    monkeypatch.setattr(compiling, "compile_model", lambda *args, __compile=compiling.compile_model, **kwargs: (
        compiles.append(args) or __compile(*args, **kwargs)))
    settings = config.sampler_settings(fast=True)
    sampler = ModelSampler(copy, settings.engine)
    fitted = fit(built, settings, sampler=sampler)
    scores = leave_groups_out(built, example_data, settings, folds=2, sampler=sampler)
    assert len(compiles) == 1 and np.isfinite(scores["elpd"]).all()
    own = fit(built, settings, sampler=ModelSampler(built.sampled_model, settings.engine))  # the model itself
    for name in fitted.posterior.data_vars:
        np.testing.assert_allclose(fitted.posterior[name].values, own.posterior[name].values, rtol=1e-6, atol=1e-8)
    assert "constant_data" not in fitted.children or "left_out" not in fitted.constant_data
    summed = build_model(config.model_copy(update={"family": "normal", "sampler": config.sampler.model_copy(
        update={"sufficient_statistics": True})}), "varying_intercepts", example_data)
    assert refittable_model(summed) is summed.sampled_model


def test_a_multilevel_model_predicts_new_groups_better_than_complete_pooling(config, example_data):
    """The example's groups differ (sd 0.6 against a residual sd of 1): for a new school, a model
    with group intercepts predicts its observations jointly far better than one without."""
    settings = config.sampler_settings(fast=True)
    fits = {}
    for name in ("varying_intercepts", "complete_pooling"):
        scores = leave_groups_out(build_model(config, name, example_data), example_data, settings, folds=4)
        assert scores["elpd"].shape == (len(example_data.groups),) and np.isfinite(scores["elpd"]).all()
        assert sorted(np.unique(scores["fold"])) == [0, 1, 2, 3] and scores.attrs["folds"] == 4
        fits[name] = xr.DataTree.from_dict({"leave_groups_out": scores})
    table = leave_groups_out_table(fits)
    assert list(table.index) == ["varying_intercepts", "complete_pooling"]
    difference = table.loc["complete_pooling"]
    assert difference["elpd_diff"] < -2 * difference["dse"], table


def test_both_engines_give_the_same_scores(config, example_data):
    """nutpie (compiled once, the fold swapped in as data) and PyMC's NUTS (the fold set with
    pm.set_data) sample the same left-out posteriors: the groups' scores agree within Monte Carlo error."""
    built = build_model(config, "complete_pooling", example_data)
    settings = config.sampler_settings(fast=True)
    scores = {engine: leave_groups_out(built, example_data, settings.model_copy(update={"engine": engine}), folds=2)
              for engine in ("nutpie", "pymc")}
    assert (scores["nutpie"]["fold"] == scores["pymc"]["fold"]).all()
    # 600 draws per fold: a group's joint score carries Monte Carlo error of a few tenths to a
    # few units (more for large groups with outlying rows); the pattern and the total agree.
    nutpie_scores, pymc_scores = scores["nutpie"]["elpd"].values, scores["pymc"]["elpd"].values
    assert np.corrcoef(nutpie_scores, pymc_scores)[0, 1] > 0.999
    assert abs(nutpie_scores.sum() - pymc_scores.sum()) < 0.01 * abs(pymc_scores.sum())


def test_refitted_observations_get_their_exact_leave_one_out_score():
    """Normal outcome with known sd and a normal prior on the mean: p(y_i | y_-i) is known in
    closed form. The rows refitted (here the 3 of highest Pareto-k, k_max forced to -1) score
    it within Monte Carlo error, and PSIS-LOO then uses these scores."""
    from scipy import stats

    from {{ cookiecutter.module_name }}.config import SamplerSettings
    from {{ cookiecutter.module_name }}.evaluate.crossval import refit_high_pareto_k
    from {{ cookiecutter.module_name }}.evaluate.loo import loo, psis_loo
    from {{ cookiecutter.module_name }}.model.build import BuiltModel

    y = np.append(np.random.default_rng(5).normal(0, 1, 30), 4.0)  # one outlying row
    with pm.Model(coords={"obs": np.arange(y.size)}) as model:
        mu = pm.Normal("mu", 0, 10)
        pm.Normal("y", mu, 1, observed=y, dims="obs")
        fitted = pm.sample(1000, tune=500, chains=2, random_seed=1, progressbar=False)
        pm.compute_log_likelihood(fitted, progressbar=False)
    built = BuiltModel("known_sd", "custom", "normal", "y", model, list(range(y.size)))
    settings = SamplerSettings(draws=1000, tune=500, chains=2, seed=3, pointwise_draws=None)

    exact = refit_high_pareto_k(built, fitted, settings, k_max=-1.0, max_refits=3)
    estimate = psis_loo(fitted)
    assert list(exact["obs"].values) == list(estimate.pareto_k.to_series().sort_values(ascending=False).index[:3])
    for row, score in zip(exact["obs"].values, exact["elpd"].values):
        precision = 1 / 10**2 + (y.size - 1)
        mean = (y.sum() - y[row]) / precision
        assert score == pytest.approx(stats.norm.logpdf(y[row], mean, np.sqrt(1 + 1 / precision)), abs=0.05)

    fitted["exact_loo"] = xr.DataTree(exact)
    patched = loo(fitted)
    assert (patched.pareto_k.sel(obs=exact["obs"].values) == 0).all()
    assert np.allclose(patched.elpd_i.sel(obs=exact["obs"].values), exact["elpd"].values)
    assert patched.elpd == pytest.approx(float(patched.elpd_i.sum()))
