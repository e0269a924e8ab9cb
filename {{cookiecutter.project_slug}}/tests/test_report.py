from {{ cookiecutter.module_name }}.report import (
    file_sha256,
    population_parameters,
    population_table,
    provenance,
    shrinkage_table,
)
from {{ cookiecutter.module_name }}.simulate import load_truth


def test_population_table_lists_hyperparameters_with_intervals(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    assert set(population_parameters(example_fit, "school")) == set(truth["hyperparameters"])
    table = population_table(example_fit, "school", ci_prob=0.9)
    assert {"mean", "sd", "eti90_lb", "eti90_ub"} <= set(table.columns)
    assert (table["eti90_lb"] < table["eti90_ub"]).all()


def test_small_groups_are_shrunk_more_than_large_ones(example_fit, example_data):
    table = shrinkage_table(example_fit, example_data)
    population_mean = (table["raw_mean"] * table["n"]).sum() / table["n"].sum()
    moved = (table["raw_mean"] - table["estimate"]).abs()
    distance = (table["raw_mean"] - population_mean).abs()
    share_moved = moved / distance
    small, large = table["n"] < 10, table["n"] >= 40
    assert small.any() and large.any()
    assert share_moved[small].median() > share_moved[large].median()


def test_provenance_records_hashes_seed_and_versions(config, example_fit):
    config_path = config.root / "config" / "analysis.yaml"
    record = provenance(config, config_path, {"varying_slopes": example_fit})
    assert record["data_sha256"] == file_sha256(config.data_path)
    assert len(record["data_sha256"]) == 64
    assert record["seed"] == config.sampler.seed
    assert {"python", "pymc", "arviz"} <= set(record["versions"])
    assert '"draws":500' in record["sampler_settings"]["varying_slopes"]


def test_formula_model_population_parameters_exclude_group_effects():
    import numpy as np
    import xarray as xr

    posterior = xr.Dataset({
        "Intercept": (("chain", "draw"), np.zeros((1, 2))),
        "1|school_sigma": (("chain", "draw"), np.ones((1, 2))),
        "1|school": (("chain", "draw", "school__factor_dim"), np.zeros((1, 2, 3))),
        "1|school_offset": (("chain", "draw", "school__factor_dim"), np.zeros((1, 2, 3))),
    })
    tree = xr.DataTree.from_dict({"posterior": posterior})
    assert population_parameters(tree, "school") == ["Intercept", "1|school_sigma"]
