import numpy as np
import xarray as xr

from {{ cookiecutter.module_name }}.config import DiagnosticThresholds
from {{ cookiecutter.module_name }}.evaluate.convergence import (
    convergence_table,
    divergences,
    e_bfmi,
    overview,
    problems,
    tree_depth_hits,
)

THRESHOLDS = DiagnosticThresholds()


def synthetic_fit(chain_offsets, n_draws=1000, n_divergent=0, seed=0) -> xr.DataTree:
    """Independent normal draws per chain, shifted by ``chain_offsets``; no sampler involved."""
    rng = np.random.default_rng(seed)
    offsets = np.asarray(chain_offsets)[:, None]
    theta = rng.normal(size=(len(offsets), n_draws)) + offsets
    diverging = np.zeros(theta.shape, dtype=bool)
    diverging.flat[:n_divergent] = True
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"theta": (("chain", "draw"), theta), "z_theta": (("chain", "draw"), theta)}),
            "sample_stats": xr.Dataset(
                {"diverging": (("chain", "draw"), diverging), "maxdepth_reached": (("chain", "draw"), diverging)}
            ),
        }
    )


def test_well_mixed_chains_pass():
    fit_data = synthetic_fit([0, 0, 0, 0])
    table = convergence_table(fit_data, THRESHOLDS)
    assert list(table.index) == ["theta"], "z_ offsets are not reported"
    assert table.loc["theta", "r_hat"] < 1.01
    assert table.loc["theta", "ess_bulk"] > 2000
    assert problems(fit_data, THRESHOLDS) == []


def test_disagreeing_chains_are_flagged():
    fit_data = synthetic_fit([0, 0, 0, 3])
    table = convergence_table(fit_data, THRESHOLDS)
    assert table.loc["theta", "r_hat"] > 1.1
    assert not table.loc["theta", "ok"]
    assert any(message.startswith("R-hat up to") for message in problems(fit_data, THRESHOLDS))


def test_divergences_and_depth_hits_are_counted_and_reported():
    fit_data = synthetic_fit([0, 0], n_divergent=7)
    assert divergences(fit_data) == 7
    assert tree_depth_hits(fit_data) == 7
    found = problems(fit_data, THRESHOLDS)
    assert "7 divergent transition(s)" in found[0]
    assert any("maximum tree depth" in message for message in found)


def test_too_few_draws_miss_the_ess_threshold():
    fit_data = synthetic_fit([0, 0], n_draws=100)
    assert any(message.startswith("ess bulk as low as") for message in problems(fit_data, THRESHOLDS))


def test_a_chain_whose_energy_barely_moves_between_draws_is_flagged_by_its_e_bfmi():
    """E-BFMI = mean squared change of the energy between draws / its variance (Betancourt 2016): 2 for
    independent energies, small for a chain whose energy wanders (a random walk)."""
    import arviz_stats

    rng = np.random.default_rng(3)
    energy = np.stack([rng.normal(size=1000), np.cumsum(rng.normal(size=1000))])
    fit_data = synthetic_fit([0, 0])
    fit_data["sample_stats"] = xr.DataTree(fit_data.sample_stats.to_dataset().assign(energy=(("chain", "draw"), energy)))
    found = e_bfmi(fit_data)
    expected = [np.mean(np.diff(chain) ** 2) / np.var(chain) for chain in energy]
    np.testing.assert_allclose(found.to_numpy(), expected, rtol=0.01)
    np.testing.assert_allclose(found.to_numpy(), arviz_stats.bfmi(fit_data)["energy"].values)
    assert found[0] > 1.5 and found[1] < 0.3
    (message,) = [message for message in problems(fit_data, THRESHOLDS) if "E-BFMI" in message]
    assert message.startswith("E-BFMI below 0.3 in chain(s) 1 (lowest")
    assert not [message for message in problems(synthetic_fit([0, 0]), THRESHOLDS) if "E-BFMI" in message]
    assert overview({"m": fit_data}, THRESHOLDS).loc["m", "min_e_bfmi"] == found.min()
    from {{ cookiecutter.module_name }}.evaluate.convergence import e_bfmi_table
    from {{ cookiecutter.module_name }}.report.estimates import rounded

    table = rounded(e_bfmi_table({"m": fit_data}))  # as notebook 03 shows it
    assert table.columns.tolist() == ["chain 0", "chain 1"] and table.index.tolist() == ["m"]


def test_overview_has_one_row_per_model(example_fit):
    table = overview({"good": synthetic_fit([0, 0, 0, 0]), "bad": synthetic_fit([0, 5])}, THRESHOLDS)
    assert table.loc["good", "converged"] and not table.loc["bad", "converged"]
    assert overview({"example": example_fit}, THRESHOLDS).loc["example", "divergences"] == divergences(example_fit)


def test_prior_data_conflict_is_detected(config, example_data, example_fit):
    """A prior far from what the data say is flagged; the data-scaled defaults are not."""
    from {{ cookiecutter.module_name }}.config import NormalPrior
    from {{ cookiecutter.module_name }}.evaluate.convergence import prior_sensitivity_problems
    from {{ cookiecutter.module_name }}.fit.sampling import fit
    from {{ cookiecutter.module_name }}.model.build import build_model
    from {{ cookiecutter.module_name }}.names import population_parameters

    names = population_parameters(example_fit, "school")
    assert prior_sensitivity_problems(example_fit, names) == []

    # An intercept prior 10 posterior sds below the data's intercept, and narrow.
    intercept = NormalPrior(mu=float(example_data.outcome.mean()) - 1.5, sigma=0.1)
    conflicting = config.model_copy(update={"priors": config.priors.model_copy(update={"intercept": intercept})})
    settings = config.sampler_settings(fast=True)
    fitted = fit(build_model(conflicting, config.primary_model, example_data), settings)
    problems = prior_sensitivity_problems(fitted, population_parameters(fitted, "school"))
    assert any(problem.startswith("mu_alpha") and "prior-data conflict" in problem and "Fix:" in problem
               for problem in problems), problems

    # The overview that compares models by it: one row per model, the flagged parameters named.
    from {{ cookiecutter.module_name }}.evaluate.convergence import prior_sensitivity_overview

    fits = {"defaults": example_fit, "conflicting": fitted}
    table = prior_sensitivity_overview(fits, {name: population_parameters(fitted, "school") for name in fits})
    assert list(table.index) == ["defaults", "conflicting"]
    assert table.loc["defaults", "flagged"] == "none" and table.loc["defaults", "prior"] <= 0.05
    flagged = dict(entry.split(": ", 1) for entry in table.loc["conflicting", "flagged"].split("; "))
    assert "prior-data conflict" in flagged["mu_alpha"], flagged
    assert table.loc["conflicting", "prior"] > 0.05
