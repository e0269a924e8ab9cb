import numpy as np
import pandas as pd
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.evaluate.loo import loo_group, loo_table, pareto_k_table, psis_loo
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.fit.store import load_fit, save_fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.names import LOO_GROUP


@pytest.fixture(scope="module")
def complete_pooling_fit(config, example_data):
    return fit(build_model(config, "complete_pooling", example_data), config.sampler_settings(fast=True))


def test_partial_pooling_predicts_the_grouped_example_better(example_fit, complete_pooling_fit):
    table = loo_table({"varying_slopes": example_fit, "complete_pooling": complete_pooling_fit})
    assert list(table.index) == ["varying_slopes", "complete_pooling"]
    # Schools differ (tau_alpha = 0.6), so ignoring them costs far more than its standard error.
    difference = table.loc["complete_pooling"]
    assert -difference["elpd_diff"] > 4 * difference["dse"]


def test_pareto_k_table_counts_every_observation(example_fit, complete_pooling_fit, example_data):
    table = pareto_k_table({"varying_slopes": example_fit, "complete_pooling": complete_pooling_fit}, 0.7)
    assert (table["n_obs"] == len(example_data.outcome)).all()
    assert table.loc["complete_pooling", "max_k"] < 0.7


def test_loo_stored_with_the_fit_gives_the_same_comparison(example_fit, complete_pooling_fit, tmp_path):
    """The notebooks read each fit's PSIS-LOO from the file instead of computing it again:
    after a round trip through netCDF the comparison and the Pareto-k table are unchanged."""
    fits = {"varying_slopes": example_fit, "complete_pooling": complete_pooling_fit}
    stored = {}
    for name, fit_data in fits.items():
        with_loo = fit_data.copy()
        with_loo[LOO_GROUP] = loo_group(psis_loo(fit_data))
        stored[name] = load_fit(save_fit(with_loo, tmp_path / f"{name}.nc"))
    computed, read = loo_table(fits), loo_table(stored)
    assert list(read.index) == list(computed.index)
    numbers = read.select_dtypes("number").columns
    assert np.allclose(read[numbers].astype(float), computed[numbers].astype(float), rtol=1e-12, equal_nan=True)
    words = read.columns.difference(numbers)  # ArviZ's diagnostic messages
    assert read[words].equals(computed[words])
    assert pareto_k_table(stored, 0.7).equals(pareto_k_table(fits, 0.7))


def test_waic_is_r_loo_s():
    """A log-likelihood matrix of 400 draws x 20 t-distributed observations under a normal model,
    against R's loo 2.5.1: ``waic(ll)``: elpd_waic -27.996754549 (SE 2.864101164), p_waic
    2.761866141, and 2 observations with p_waic above 0.4."""
    from scipy import stats

    from {{ cookiecutter.module_name }}.evaluate.loo import waic, waic_table

    rng = np.random.default_rng(42)
    y = rng.standard_t(3, size=20)
    mu, sigma = rng.normal(0, 0.3, size=(400, 1)), np.exp(rng.normal(0, 0.2, size=(400, 1)))
    log_likelihood = stats.norm.logpdf(y[None, :], mu, sigma).reshape(2, 200, 20)  # 2 chains of 200 draws
    fit_data = xr.DataTree.from_dict({"log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), log_likelihood)})})
    found = waic(fit_data)
    assert found["elpd_waic"] == pytest.approx(-27.996754549, abs=1e-8)
    assert found["se"] == pytest.approx(2.864101164, abs=1e-8)
    assert found["p_waic"] == pytest.approx(2.761866141, abs=1e-8)
    assert found["n_p_waic_high"] == 2
    worse = xr.DataTree.from_dict({"log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), log_likelihood - 1.0)})})
    table = waic_table({"worse": worse, "m": fit_data})
    assert list(table.index) == ["m", "worse"] and table.loc["worse", "elpd_diff"] == pytest.approx(20.0)


def test_waic_is_said_beside_loo_and_loo_is_read_where_they_disagree():
    from {{ cookiecutter.module_name }}.report import words

    loo_order = pd.DataFrame(index=["a", "b"])
    same = pd.DataFrame({"n_p_waic_high": [0, 0]}, index=["a", "b"])
    assert words.waic_words(loo_order, same) == "WAIC ranks the models as PSIS-LOO does."
    other = pd.DataFrame({"n_p_waic_high": [3, 0]}, index=["b", "a"])
    text = words.waic_words(loo_order, other)
    assert text.startswith("WAIC ranks the models differently (b, a) from PSIS-LOO (a, b)")
    assert "Pareto-k" in text and "Observations with a WAIC penalty above 0.4, where WAIC is unreliable: b 3." in text
