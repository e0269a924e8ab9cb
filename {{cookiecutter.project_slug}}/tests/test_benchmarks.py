"""``benchmarks/targets.py``: the targets' verdicts from the tables the benchmarks keep (no timing here)."""

import sys

import pandas as pd
import pytest
from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import targets  # noqa: E402


def pipeline_table(cold_example_s: float, prior_edited_s: float, environment: str = "new") -> pd.DataFrame:
    rows = [{"case": "example", "run": "cold", "wall_s": cold_example_s, "peak_memory_gb": 2.5},
            {"case": "example", "run": "prior edited", "wall_s": prior_edited_s, "peak_memory_gb": 2.5},
            {"case": "1M intercepts", "run": "cold", "wall_s": 251.0, "peak_memory_gb": 4.8},
            {"case": "1M slopes", "run": "cold", "wall_s": 452.0, "peak_memory_gb": 8.4},
            {"case": "1M formulas", "run": "cold", "wall_s": 808.0, "peak_memory_gb": 10.5, "max_mcse_apart": 0.84}]
    return pd.DataFrame(rows).assign(environment=environment)


def sampling_table() -> pd.DataFrame:
    rows = []
    for fit, project in (("first fit", 40.0), ("later fit", 500.0)):
        for engine, ess_per_s in (("project", project), ("project_rows", 80.0), ("numpyro", 90.0)):
            rows.append({"fit": fit, "case": "1k", "engine": engine, "ess_per_s": ess_per_s})
    return pd.DataFrame(rows)


def formulas_table() -> pd.DataFrame:
    rows = [{"case": "100k", "family": family, "formula": "x + (x | group)", "engine": engine,
             "project_ratio": ratio} for family, default_ratio in (("normal", 88.1), ("poisson", 2.74))
            for engine, ratio in (("project", 1.0), ("pymc_default", default_ratio))]
    return pd.DataFrame(rows)


@pytest.fixture
def results(tmp_path):
    pipeline_table(43.4, 16.8).to_csv(tmp_path / "pipeline.csv", index=False)
    sampling_table().to_csv(tmp_path / "sampling.csv", index=False)
    formulas_table().to_csv(tmp_path / "formulas.csv", index=False)
    return tmp_path


def verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(row.target.split(".")[0], row.case): row.met for row in table.itertuples()}


def test_each_target_is_judged_against_its_goal(results):
    table = targets.targets(results)
    met = verdicts(table)
    assert met["1", "score ~ ses + (1 | school)"] == "met"
    assert met["1", "score ~ ses + (ses | school)"] == "not met"  # 8.4 GB
    assert met["1", "(ses | school) against varying_slopes"] == "met"
    assert met["2", "normal: y ~ x + (x | group)"] == "met"
    assert met["2", "poisson: y ~ x + (x | group)"] == "not met"
    assert met["3", "the example"] == "met"
    assert met["4", "the example"] == "not met"
    assert met["5", "1k, first fit"] == "not met"
    assert met["5", "1k, later fit"] == "met"
    first_fit = table[table["case"] == "1k, first fit"]["measured"].iloc[0]
    assert first_fit == "numpyro 0.44x, project_rows 0.50x"  # the lowest ratio first
    assert table[table["case"] == "the example"]["measured"].tolist() == ["43.4 s", "16.8 s"]


def test_a_target_not_measured_names_the_command_that_measures_it(results):
    (results / "sampling.csv").unlink()
    table = targets.targets(results)
    met = verdicts(table)
    assert met["1", "score ~ ses + (1 | school) + (1 | rater)"] == (
        "not measured: python benchmarks/pipeline.py --cases '1M crossed'")
    assert met["5", ""] == "not measured: python benchmarks/sampling.py"
    assert len(table) == 9


def test_a_first_run_in_the_benchmarks_own_environment_does_not_count(results):
    pipeline_table(30.0, 10.0, environment="this").to_csv(results / "pipeline.csv", index=False)
    met = verdicts(targets.targets(results))
    assert met["3", "the example"] == met["4", "the example"] == "not as a user meets it: --environment new"
