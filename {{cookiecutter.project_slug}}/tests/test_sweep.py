"""Sweeps: variants of the config, each a full pipeline run on a Dask cluster."""

import json
import shutil

import pandas as pd
import pytest
import yaml

from conftest import PROJECT_ROOT, copy_project
from {{ cookiecutter.module_name }}.config import ConfigError
from {{ cookiecutter.module_name }}.sweep import Sweep, Variant, load_sweep, run_sweep, with_override


def test_a_grid_expands_to_every_combination_with_readable_names():
    sweep = Sweep(name="s", grid={"priors.group_sd.intercept": [0.5, 2], "sampler.seed": [1, 2]},
                  variants=[Variant(name="extra", set={"family": "student_t"})])
    names = [variant.name for variant in sweep.expanded()]
    assert names == ["intercept-0.5_seed-1", "intercept-0.5_seed-2", "intercept-2_seed-1", "intercept-2_seed-2", "extra"]
    assert sweep.expanded()[1].set == {"priors.group_sd.intercept": 0.5, "sampler.seed": 2}
    with pytest.raises(ConfigError, match="repeated"):
        Sweep(name="s", variants=[Variant(name="a"), Variant(name="a")]).expanded()
    with pytest.raises(ConfigError, match="no variants"):
        Sweep(name="s").expanded()
    with pytest.raises(ValueError, match="folder name"):
        Variant(name="../escape")


def test_dotted_overrides_reach_nested_keys_and_list_items():
    config = {"priors": {}, "models": [{"name": "a", "formula": "y ~ x"}]}
    with_override(config, "priors.group_sd.intercept", 0.5)
    with_override(config, "models.0.formula", "y ~ x + (1 | g)")
    assert config == {"priors": {"group_sd": {"intercept": 0.5} }, "models": [{"name": "a", "formula": "y ~ x + (1 | g)"}]}


@pytest.fixture(scope="module")
def lean_project(tmp_path_factory):
    """A copy of the project whose config has one formula model and no cross-validation: each
    variant's fast pipeline then takes well under a minute."""
    config_path = copy_project(tmp_path_factory.mktemp("sweep_project"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", config_path.parents[1])  # marks the project folder
    base = yaml.safe_load(config_path.read_text())
    base["models"] = [model for model in base["models"] if "formula" in model][:1]
    base["cross_validation"] = {"group_folds": 0, "max_refits": 0}
    config_path.write_text(yaml.safe_dump(base, sort_keys=False))
    return config_path.parents[1]


def test_a_sweep_runs_its_variants_on_two_workers_and_reports_the_one_that_fails(lean_project):
    """Four variants on a LocalCluster with two workers: two seeds, a subset of the rows, and one
    naming a column the data lack. The three run; the fourth is reported with the column's
    name; the overview has every variant; a second sweep reuses every fit."""
    sweep_file = lean_project / "sweeps" / "check.yaml"
    sweep_file.parent.mkdir()
    sweep_file.write_text(yaml.safe_dump({
        "base": "config/analysis.yaml", "fast": True,
        "grid": {"sampler.seed": [1, 2]},
        "variants": [{"name": "low_ses", "subset": "ses < 0"},
                     {"name": "broken", "set": {"data.outcome": "no_such_column"} }],
    }))
    sweep, root = load_sweep(sweep_file)
    assert root == lean_project and [variant.name for variant in sweep.expanded()] == ["seed-1", "seed-2", "low_ses",
                                                                                       "broken"]
    index = run_sweep(sweep_file, workers=2)
    folder = lean_project / "reports" / "sweeps" / "check"
    assert index == folder / "index.html"
    results = json.loads((folder / "results.json").read_text())["variants"]
    assert [(name, result["status"]) for name, result in results.items()] == [
        ("seed-1", "ok"), ("seed-2", "ok"), ("low_ses", "ok"), ("broken", "failed")], "in the sweep file's order"
    assert "no_such_column" in results["broken"]["error"]
    for name in ("seed-1", "seed-2", "low_ses"):
        assert (folder / name / "index.html").is_file() and (folder / name / "06_report.html").is_file()
        assert yaml.safe_load((folder / name / "config.yaml").read_text())["paths"]["artifacts"] == \
            f"artifacts/sweeps/check/{name}"

    overview = pd.read_csv(folder / "overview.csv")
    assert set(overview["variant"]) == {"seed-1", "seed-2", "low_ses", "broken"}
    assert overview.loc[overview["variant"] == "broken", "status"].eq("failed").all()
    ok = overview[overview["status"] == "ok"]
    assert ok["estimate"].notna().all() and ok["loo_rank"].eq(1).all()
    slopes = ok[ok["term"] == "ses"].set_index("variant")["estimate"]
    assert slopes["seed-1"] == pytest.approx(slopes["seed-2"], rel=0.05), "seeds differ by Monte Carlo error only"
    assert slopes["low_ses"] != pytest.approx(slopes["seed-1"], rel=1e-6), "the subset is another data set"
    page = index.read_text()
    assert page.count("<tr><td>") == 4 and "no_such_column" in page and 'src="data:image/png;base64,' in page

    fits = {path: path.stat().st_mtime_ns for path in (lean_project / "artifacts" / "sweeps").rglob("*.nc")}
    assert len(fits) == 3
    run_sweep(sweep_file, workers=2)
    assert {path: path.stat().st_mtime_ns for path in fits} == fits, "unchanged variants are not refitted"
