import numpy as np
import pymc as pm
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.evaluate.predictive import group_mean_check, loo_pit_check, loo_pit_values, statistic_pvalues


def shifted_replicates(data, shift, n_draws=200, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 0.01, size=(1, n_draws, len(data.outcome)))
    replicated = data.outcome[None, None, :] + shift + noise
    return xr.DataTree.from_dict({"posterior_predictive": xr.Dataset({data.outcome_name: (("chain", "draw", "obs"), replicated)})})


def test_pvalues_are_central_when_replicates_match_the_data(example_data):
    table = statistic_pvalues(shifted_replicates(example_data, shift=0.0), example_data)
    assert list(table.index) == ["mean", "sd", "min", "max"]
    assert 0.2 < table.loc["mean", "p_value"] < 0.8


def test_pvalues_flag_a_shifted_model(example_data):
    table = statistic_pvalues(shifted_replicates(example_data, shift=-1.0), example_data)
    assert table.loc["mean", "p_value"] == 0.0
    assert table.loc["max", "p_value"] == 0.0


def test_group_check_covers_groups_of_a_good_model(example_fit, example_data):
    check = group_mean_check(example_fit, example_data, ci_prob=0.94)
    assert len(check) == len(example_data.groups)
    assert check["n"].sum() == len(example_data.outcome)
    assert (check["lower"] < check["upper"]).all()
    assert check["inside"].mean() >= 0.85


def test_group_check_rejects_a_shifted_model(example_data):
    check = group_mean_check(shifted_replicates(example_data, shift=2.0), example_data)
    assert not check["inside"].any()


def test_loo_pit_of_the_example_fit_reads_as_calibrated(example_fit, example_data):
    pit, reading = loo_pit_check(example_fit, example_data.outcome_name)
    assert pit.shape == (example_fit.log_likelihood.sizes["obs"],) and ((0 <= pit) & (pit <= 1)).all()
    assert "looks uniform" in reading and "calibrated" in reading


@pytest.mark.parametrize(("truth", "expected"), [
    ("negative_binomial", "too narrow"),   # overdispersed counts under a Poisson model
    ("poisson", "looks uniform"),
])
def test_loo_pit_flags_predictive_intervals_that_are_too_narrow(truth, expected):
    rng = np.random.default_rng(11)
    counts = rng.negative_binomial(2, 2 / (2 + 8.0), size=400) if truth == "negative_binomial" else rng.poisson(8.0, 400)
    with pm.Model():
        rate = pm.LogNormal("rate", np.log(5), 1)
        pm.Poisson("y", rate, observed=counts)
        fitted = pm.sample(500, tune=500, chains=2, random_seed=1, progressbar=False)
        pm.compute_log_likelihood(fitted, progressbar=False)
        pm.sample_posterior_predictive(fitted, extend_inferencedata=True, random_seed=2, progressbar=False)
    _, reading = loo_pit_check(fitted, "y")
    assert expected in reading


def test_loo_pit_plot_is_arvizs_drawn_from_the_values_kept(example_fit, example_data):
    """Notebook 04 plots the LOO-PIT values kept with the fit; the figure is ArviZ's own
    ``plot_loo_pit`` of the fit, line for line."""
    import arviz_plots as azp
    import matplotlib.pyplot as plt

    from {{ cookiecutter.module_name }}.report.figures import loo_pit_ecdf

    outcome = example_data.outcome_name
    drawn = []
    for plot in (lambda: azp.plot_loo_pit(example_fit, var_names=[outcome]),
                 lambda: loo_pit_ecdf(loo_pit_values(example_fit, outcome))):
        plt.close("all")
        plot()
        axes = plt.gcf().axes
        drawn.append(([line.get_xydata() for ax in axes for line in ax.get_lines()],
                      [text.get_text() for ax in axes for text in [ax.title, ax.xaxis.label, *ax.texts]]))
    plt.close("all")
    (arviz_lines, arviz_texts), (lines, texts) = drawn
    assert texts == arviz_texts and outcome in texts
    assert len(arviz_lines) == len(lines) > 0
    for arviz_line, ours in zip(arviz_lines, lines):
        np.testing.assert_allclose(ours, arviz_line)


def test_loo_pit_reuses_the_fits_psis_weights_and_stays_arvizs(example_fit, example_data, monkeypatch):
    """``fit_or_load`` passes the PSIS-LOO it has already computed: ArviZ's ``loo_pit`` gets its
    smoothed weights instead of smoothing its own, and gives the same values (ArviZ's own take
    the relative efficiency from the whole posterior: within 0.002 here)."""
    import arviz_stats

    from {{ cookiecutter.module_name }}.evaluate.loo import psis_loo

    outcome = example_data.outcome_name
    own = loo_pit_values(example_fit, outcome)
    psis = psis_loo(example_fit)
    given = []
    original = arviz_stats.loo_pit
    monkeypatch.setattr(arviz_stats, "loo_pit", lambda *args, **kwargs: given.append(kwargs) or original(*args, **kwargs))
    reused = loo_pit_values(example_fit, outcome, psis)
    assert given[0]["log_weights"][outcome].equals(psis.log_weights) and given[0]["pareto_k"][outcome].equals(psis.pareto_k)
    np.testing.assert_allclose(reused, own, atol=2e-3)
