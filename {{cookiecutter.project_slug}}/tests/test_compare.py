import pytest

from {{ cookiecutter.module_name }}.compare import loo_table, pareto_k_table
from {{ cookiecutter.module_name }}.build import build_model
from {{ cookiecutter.module_name }}.sampling import fit


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
