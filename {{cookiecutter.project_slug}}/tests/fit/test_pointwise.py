import json

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.evaluate.loo import loo
from {{ cookiecutter.module_name }}.evaluate.predictive import group_mean_check, statistic_pvalues
from {{ cookiecutter.module_name }}.fit.pointwise import log_likelihood_at, pointwise_note, pointwise_rows
from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler, fit, sample_prior_predictive
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.report.summary import shrinkage_table

SUBSAMPLE = 300
DRAWS = 100  # of 2 chains x 300 draws: every 6th draw


def test_every_row_is_kept_up_to_the_cap():
    np.testing.assert_array_equal(pointwise_rows(100, 5000, seed=1), np.arange(100))
    np.testing.assert_array_equal(pointwise_rows(100, None, seed=1), np.arange(100))


def test_subsample_is_sorted_distinct_and_reproducible():
    rows = pointwise_rows(10_000, 500, seed=3)
    assert len(rows) == 500 and len(np.unique(rows)) == 500
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, pointwise_rows(10_000, 500, seed=3))
    assert not np.array_equal(rows, pointwise_rows(10_000, 500, seed=4))


@pytest.fixture(scope="module")
def subsampled(config, example_data):
    """A short fit that keeps pointwise values for 300 of the example's rows, from 100 of its 600 draws."""
    settings = config.sampler_settings(fast=True).model_copy(update={"pointwise_rows": SUBSAMPLE, "pointwise_draws": DRAWS})
    built = build_model(config, config.primary_model, example_data)
    return built, fit(built, settings)


def test_fit_keeps_pointwise_draws_for_the_subsample_only(subsampled, example_data):
    _, fit_data = subsampled
    name = example_data.outcome_name
    labels = fit_data.log_likelihood[name]["obs"].values
    assert len(labels) == SUBSAMPLE
    for group in ("posterior_predictive", "observed_data"):
        np.testing.assert_array_equal(fit_data[group][name]["obs"].values, labels)
    checked = example_data.aligned_with(fit_data)
    np.testing.assert_array_equal(checked.outcome, fit_data.observed_data[name].values)
    assert json.loads(fit_data.attrs["pointwise"]) == {
        "rows": SUBSAMPLE, "of": len(example_data.outcome), "seed": json.loads(fit_data.attrs["sampler_settings"])["seed"],
        "draws": DRAWS, "of_draws": 600,
    }
    note = pointwise_note(fit_data)
    assert f"{SUBSAMPLE:,} of the {len(example_data.outcome):,} rows" in note
    assert f"{DRAWS} of the 600 posterior draws" in note


def test_pointwise_values_use_evenly_thinned_draws(subsampled, example_data):
    _, fit_data = subsampled
    for group in ("log_likelihood", "posterior_predictive"):
        draws = fit_data[group]["draw"].values
        assert fit_data[group].sizes["chain"] == 2 and len(draws) == DRAWS // 2
        np.testing.assert_array_equal(draws, np.arange(0, 300, 6))
    assert fit_data.posterior.sizes["draw"] == 300  # the posterior itself is not thinned
    pareto_k = loo(fit_data).pareto_k
    assert pareto_k.size == SUBSAMPLE and np.isfinite(pareto_k.values).all()


def test_subsampled_log_likelihood_is_pymcs_at_those_rows(subsampled, example_data):
    built, fit_data = subsampled
    name = example_data.outcome_name
    with built.model:
        everything = pm.compute_log_likelihood(fit_data.copy(), extend_inferencedata=False, progressbar=False)
    rows = np.flatnonzero(np.isin(example_data.coords["obs"], fit_data.log_likelihood[name]["obs"].values))
    at_draws = everything[name].sel(draw=fit_data.log_likelihood["draw"]).values
    np.testing.assert_allclose(fit_data.log_likelihood[name].values, at_draws[..., rows], rtol=1e-12)


def test_checks_run_on_the_subsample(subsampled, example_data):
    _, fit_data = subsampled
    checked = example_data.aligned_with(fit_data)
    groups = group_mean_check(fit_data, checked)
    assert groups["n"].sum() == SUBSAMPLE
    assert groups["inside"].mean() > 0.8  # a well-specified model covers most group means
    assert 0.05 < statistic_pvalues(fit_data, checked).loc["mean", "p_value"] < 0.95
    assert shrinkage_table(fit_data, checked)["n"].sum() == SUBSAMPLE


def test_full_example_fit_keeps_every_row(example_fit, example_data):
    assert example_fit.log_likelihood[example_data.outcome_name].sizes["obs"] == len(example_data.outcome)
    assert pointwise_note(example_fit) is None


def test_prior_predictive_on_a_subsample(config, example_data):
    built = build_model(config, config.primary_model, example_data)
    prior = sample_prior_predictive(built, draws=50, seed=1, max_rows=SUBSAMPLE)
    name = example_data.outcome_name
    assert prior.prior_predictive[name].sizes == {"chain": 1, "draw": 50, "obs": SUBSAMPLE}
    assert prior.prior["mu_alpha"].sizes["draw"] == 50
    np.testing.assert_array_equal(example_data.aligned_with(prior).outcome, prior.observed_data[name].values)


def test_log_prior_is_pymcs_over_the_chosen_priors_only(subsampled):
    """The stored log prior of each thinned draw equals PyMC's own, summed over the
    population-level parameters (group effects are part of the model, not priors)."""
    built, fit_data = subsampled
    from {{ cookiecutter.module_name }}.fit.pointwise import prior_parameters

    names = [variable.name for variable in prior_parameters(built.model, built.group_dims)]
    assert names and not any(name.startswith("z_") or name in ("alpha", "beta") for name in names)
    draws = fit_data.posterior.to_dataset().sel(draw=fit_data.log_prior["draw"])
    with built.model:
        expected = pm.compute_log_prior(xr.DataTree.from_dict({"posterior": draws}), var_names=names,
                                        extend_inferencedata=False, progressbar=False)
    total = sum(expected[name].sum([dim for dim in expected[name].dims if dim not in ("chain", "draw")])
                for name in names)
    np.testing.assert_allclose(fit_data.log_prior["log_prior"].values, total.values, rtol=1e-10)


def test_effects_drawn_from_their_population_are_not_priors():
    """A 2PL's centred items, a person's ability, offsets and per-row true values are the model's
    structure; only the populations' own parameters have priors to power-scale."""
    from {{ cookiecutter.module_name }}.fit.pointwise import prior_parameters
    from {{ cookiecutter.module_name }}.names import LATENT_ROWS

    coords = {"item": ["a", "b"], "person": ["p", "q"], f"x{LATENT_ROWS}": [0, 1, 2]}
    with pm.Model(coords=coords) as model:
        mu, sd = pm.Normal("mu_difficulty", 0, 1), pm.HalfNormal("sd_difficulty", 1)
        pm.Normal("difficulty", mu, sd, dims="item")           # centred: its distribution has parameters
        pm.Normal("z_discrimination", 0, 1, dims="item")       # an offset
        pm.Normal("theta", 0, 1, dims="person")                # the group factor's effects
        pm.Normal("x_error", 0, 1, dims=f"x{LATENT_ROWS}")     # me(): a true value per row
        pm.Normal("mi_x", 0, 1)
    assert [variable.name for variable in prior_parameters(model, {"person"})] == ["mu_difficulty", "sd_difficulty",
                                                                                    "mi_x"]


# A custom and a formula model (Bambi's names), each centred and non-centred.
@pytest.mark.parametrize("name", ["varying_slopes", "varying_intercepts"])
@pytest.mark.parametrize("parameterization", ["centered", "non_centered"])
def test_log_likelihood_at_rows_is_pymcs_whatever_the_batches(config, example_data, name, parameterization,
                                                              monkeypatch):
    """Cross-validation scores held-out rows with ``log_likelihood_at``, a batch of draws at a
    time: the same numbers as PyMC's ``compute_log_likelihood``, draw by draw, in one batch or in
    batches of 7 draws (the last one shorter), from every k-th draw where ``max_draws`` says so."""
    import {{ cookiecutter.module_name }}.fit.pointwise as pointwise

    built = build_model(config.model_copy(update={"parameterization": parameterization}), name, example_data)
    settings = config.sampler_settings(fast=True)
    posterior = ModelSampler(built.sampled_model, settings.engine).sample(settings).posterior.to_dataset()
    with built.model:
        everything = pm.compute_log_likelihood(xr.DataTree.from_dict({"posterior": posterior}),
                                               extend_inferencedata=False, progressbar=False)
    outcome = built.model.observed_RVs[0].name
    rows = np.flatnonzero(example_data.group_codes % 3 == 1)
    expected = everything[outcome].values.reshape(-1, len(example_data.outcome))[:, rows]
    np.testing.assert_allclose(log_likelihood_at(posterior, built.model, rows), expected, rtol=1e-12)
    monkeypatch.setattr(pointwise, "BATCH_VALUES", 7 * len(example_data.outcome))
    np.testing.assert_allclose(log_likelihood_at(posterior, built.model, rows), expected, rtol=1e-12)
    thinned = log_likelihood_at(posterior, built.model, rows, max_draws=100)
    every_6th = everything[outcome].values[:, ::6].reshape(-1, len(example_data.outcome))[:, rows]
    np.testing.assert_allclose(thinned, every_6th, rtol=1e-12)
