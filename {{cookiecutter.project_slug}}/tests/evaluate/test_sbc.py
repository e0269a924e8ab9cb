"""Simulation-based calibration: the copy with the outcome as data, the ranks, and the verdict."""

import numpy as np
import pytensor.tensor as pt
import pytest
from pytensor.graph.replace import clone_replace

from {{ cookiecutter.module_name }}.config import NormalPrior
from {{ cookiecutter.module_name }}.evaluate.sbc import (
    SIMULATED,
    calibrated_parameters,
    calibration_table,
    calibration_verdict,
    observed_as_data,
    simulation_based_calibration,
)
from {{ cookiecutter.module_name }}.model.build import build_model


@pytest.mark.parametrize("name", ["varying_slopes", "varying_intercepts"])
def test_the_outcome_as_data_leaves_the_model_unchanged(config, example_data, name):
    """The copy has the model's log density at the data, and at a new outcome the density the
    model's own graph gives with that outcome in place of the data (custom and formula)."""
    model = build_model(config, name, example_data).model
    copy = observed_as_data(model)
    assert {variable.name for variable in copy.free_RVs} == {variable.name for variable in model.free_RVs}
    point = model.initial_point()
    assert copy.compile_logp()(point) == pytest.approx(model.compile_logp()(point), rel=1e-12)
    new_outcome = np.asarray(copy[SIMULATED].get_value()) + 1.0
    copy[SIMULATED].set_value(new_outcome)
    observed = model.rvs_to_values[model.observed_RVs[0]]
    expected = clone_replace(model.logp(), {observed: pt.as_tensor(new_outcome, dtype=observed.dtype)})
    expected_logp = model.compile_fn(expected, inputs=model.value_vars, on_unused_input="ignore")
    assert copy.compile_logp()(point) == pytest.approx(expected_logp(point), rel=1e-12)
    assert copy.compile_logp()(point) != pytest.approx(model.compile_logp()(point), rel=1e-6)


def test_calibrated_parameters_leave_out_group_effects(config, example_data):
    built = build_model(config, "varying_slopes", example_data)
    names = calibrated_parameters(built.model, built.group_dims)
    assert set(names) == {"mu_beta", "intercept_at_means", "tau_alpha", "tau_beta", "sigma"}


@pytest.fixture(scope="module")
def complete_pooling(config, example_data):
    return build_model(config, "complete_pooling", example_data)


def test_a_sound_sampler_is_calibrated(config, complete_pooling):
    """The run's fast settings sample this simple posterior well: no parameter is flagged."""
    settings = config.sampler_settings(fast=True)
    sbc = simulation_based_calibration(complete_pooling, settings, simulations=40)
    ranks = sbc["prior_sbc"].to_dataset()
    assert set(ranks.data_vars) == {"Intercept", "ses", "sigma"}
    assert all(values.shape == (1, 40) for values in ranks.data_vars.values())
    assert all(((values > 0) & (values < 1)).all() for values in ranks.data_vars.values())
    table = calibration_table(sbc)
    assert not table["flagged"].any(), table
    assert calibration_verdict(table, 40).startswith("Calibrated")


def test_a_broken_sampler_setting_is_flagged(config, complete_pooling):
    """Five tuning steps leave nutpie's step size and mass matrix unadapted: the chains barely
    move from where they start, the posteriors miss the truth, and SBC says so."""
    settings = config.sampler_settings(fast=True).model_copy(update={"tune": 5, "draws": 30})
    table = calibration_table(simulation_based_calibration(complete_pooling, settings, simulations=40))
    assert table["flagged"].any(), table
    assert calibration_verdict(table, 40).startswith("Not calibrated")


def test_a_model_that_is_not_the_simulating_one_is_flagged(config, example_data):
    """Fitting varying_slopes to outcomes simulated by a model whose intercept prior is far from
    its own: the posterior is pulled towards the wrong prior and the intercept's ranks pile up."""
    def with_intercept_prior(mu: float):
        priors = config.priors.model_copy(update={"intercept": NormalPrior(mu=mu, sigma=1.0)})
        return build_model(config.model_copy(update={"priors": priors}), "varying_slopes", example_data)

    sbc = simulation_based_calibration(with_intercept_prior(0.0), config.sampler_settings(fast=True), simulations=20,
                                       simulate_with=with_intercept_prior(60.0))
    table = calibration_table(sbc)
    assert table.loc["intercept_at_means", "flagged"], table
    assert table.loc["intercept_at_means", "reading"] == "posterior too low (the truth ranks high)"
