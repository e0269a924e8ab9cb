import numpy as np
import xarray as xr

from {{ cookiecutter.module_name }}.checks import group_mean_check, statistic_pvalues


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
