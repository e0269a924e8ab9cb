import numpy as np
import pytest

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
