import numpy as np
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.report import recovery_table
from {{ cookiecutter.module_name }}.sampling import load_fit, save_fit
from {{ cookiecutter.module_name }}.simulate import load_truth


def test_fit_holds_every_group_later_notebooks_read(example_fit, example_data):
    for group in ("posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data", "convergence"):
        assert group in example_fit.children
    assert "warmup_posterior" not in example_fit.children
    assert example_fit.posterior.sizes["school"] == len(example_data.groups)
    assert example_fit.posterior_predictive[example_data.outcome_name].sizes["obs"] == len(example_data.outcome)


def test_short_fit_recovers_true_hyperparameters(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    # 99%: five parameters are checked at once, and in this draw of the example data the
    # school intercepts happen to average high, putting mu_alpha's truth near the 3% tail.
    table = recovery_table(example_fit, truth, ci_prob=0.99)
    assert list(table.index) == list(truth["hyperparameters"])
    assert table["inside"].all(), table


def test_short_fit_recovers_most_group_intercepts(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    alpha = example_fit.posterior["alpha"]
    lower, upper = alpha.quantile([0.03, 0.97], dim=("chain", "draw")).values
    true_alpha = np.array([truth["alpha"][school] for school in alpha["school"].values])
    # 94% intervals: expect about 94% of 40 groups covered; fewer than 33 would be very unlikely.
    assert ((lower <= true_alpha) & (true_alpha <= upper)).sum() >= 33


def test_same_seed_gives_identical_draws(config, example_data, example_fit):
    from {{ cookiecutter.module_name }}.build import build_model
    from {{ cookiecutter.module_name }}.sampling import fit

    settings = config.sampler_settings(fast=True).model_copy(update={"draws": 500, "tune": 500})
    again = fit(build_model(config, config.primary_model, example_data), settings)
    xr.testing.assert_equal(again.posterior["mu_alpha"], example_fit.posterior["mu_alpha"])


def test_save_and_load_round_trip(example_fit, tmp_path):
    path = save_fit(example_fit, tmp_path / "fits" / "model.nc")
    loaded = load_fit(path)
    xr.testing.assert_allclose(loaded.posterior.to_dataset(), example_fit.posterior.to_dataset())
    assert loaded.attrs["sampler_settings"] == example_fit.attrs["sampler_settings"]


def test_loading_some_groups_reads_those_and_the_attributes(example_fit, tmp_path):
    path = save_fit(example_fit, tmp_path / "model.nc")
    whole = load_fit(path)
    some = load_fit(path, ("posterior", "sample_stats", "no_such_group"))
    assert set(some.children) == {"posterior", "sample_stats"}
    assert some.attrs == whole.attrs
    for group in some.children:
        xr.testing.assert_identical(some[group].to_dataset(), whole[group].to_dataset())


def test_failed_save_keeps_the_previous_fit(example_fit, tmp_path, monkeypatch):
    path = save_fit(example_fit, tmp_path / "model.nc")
    before = path.read_bytes()

    def broken_write(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_fit(example_fit, path)
    assert path.read_bytes() == before
    assert [file.name for file in tmp_path.iterdir()] == ["model.nc"]


def test_loading_a_missing_fit_says_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run notebooks/02_fit.ipynb"):
        load_fit(tmp_path / "varying_slopes.nc")


def test_stored_convergence_table_is_arviz_summary(example_fit):
    import arviz as az

    from {{ cookiecutter.module_name }}.diagnostics import convergence_summary, parameter_names

    stored = convergence_summary(example_fit)
    fresh = az.summary(example_fit, var_names=parameter_names(example_fit), kind="diagnostics", round_to="none")
    assert list(stored.index) == list(fresh.index)
    np.testing.assert_allclose(stored[["r_hat", "ess_bulk", "ess_tail"]].to_numpy(),
                               fresh[["r_hat", "ess_bulk", "ess_tail"]].to_numpy().astype(float))
