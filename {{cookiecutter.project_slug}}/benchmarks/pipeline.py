"""End-to-end time and memory of the pipeline: the example from a cold start, reruns, and 1M rows.

Each case runs ``python -m {{ cookiecutter.module_name }} run`` in a fresh copy of the project's notebooks and
config, in a temporary folder, with empty PyTensor and Numba compile caches:

* **example**: the project's own config and data. Four runs: cold (nothing fitted or
  compiled yet), unchanged (everything cached), after editing only the report notebook
  (only ``06_report`` should execute again) and after doubling one prior's sd of one model
  (that model is refitted; the notebooks, which read the config, run again).
* **1M**: about 1,000,000 rows in 10,000 groups, simulated like the continuous example,
  with the candidate models ``varying_slopes`` (custom: sampled from sufficient statistics)
  and ``complete_pooling`` (the formula ``score ~ ses``, row by row), 4 chains x 1000 draws
  after 1000 tuning steps, and LOO and checks on 5,000 random rows. One cold run. (Formula
  models with group terms are refused at this size: Bambi would build a dense 1M x 10,000
  matrix. ``correlated_slopes`` fits too, but took 500 s here.)

For every run it prints the wall time, the notebooks executed, their summed execute and
render times (``reports/timings.json``) and the peak memory of the whole process tree
(the runner and its kernels, sampled every 0.2 s). Run with ``make bench`` or
``python benchmarks/pipeline.py [--cases example 1M]``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

from {{ cookiecutter.module_name }}.simulate import EXAMPLES, simulate_grouped

PROJECT = Path(__file__).resolve().parents[1]


def copy_project(target: Path) -> Path:
    """Notebooks, config and data of this project in ``target``; returns the config path."""
    for folder in ("notebooks", "config", "data"):
        shutil.copytree(PROJECT / folder, target / folder)
    return target / "config" / "analysis.yaml"


def million_rows(config_path: Path, seed: int) -> None:
    """Replace the copy's data by ~1M simulated rows in 10,000 groups, and its models and draws."""
    example = EXAMPLES["continuous"]
    names = {**example.columns, "outcome": example.outcome}
    frame, truth = simulate_grouped("normal", example.hyperparameters, n_groups=10_000, min_size=50, max_size=150,
                                    seed=seed, names=names)
    data_dir = config_path.parents[1] / "data" / "million"
    data_dir.mkdir(parents=True)
    frame.to_csv(data_dir / "schools.csv", index=False)
    (data_dir / "true_parameters.json").write_text(json.dumps(truth))
    config = yaml.safe_load(config_path.read_text())
    config["data"] = {"path": "data/million/schools.csv", "outcome": names["outcome"], "group": names["group"],
                      "predictors": [names["x"]], "group_predictors": [], "trials": None, "exposure": None,
                      "true_parameters": "data/million/true_parameters.json"}
    config["family"] = "normal"
    config["models"] = [{"name": "varying_slopes", "custom": "varying_slopes"},
                        {"name": "complete_pooling", "formula": f"{names['outcome']} ~ {names['x']}"}]
    config["sampler"].update({"chains": 4, "draws": 1000, "tune": 1000, "pointwise_rows": 5000})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def run_measured(config_path: Path, environment: dict) -> dict:
    """Run the pipeline; wall time, peak memory of the process tree, and the run's timings."""
    started = time.perf_counter()
    process = psutil.Popen([sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--config", str(config_path)],
                           env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        tree = [process, *process.children(recursive=True)]
        total = 0
        for member in tree:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, total)
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"pipeline failed:\n{process.stderr.read().decode()}")
    timings = json.loads((config_path.parents[1] / "reports" / "timings.json").read_text())["executed"]
    return {
        "wall_s": wall,
        "executed": len(timings),
        "execute_s": sum(step["execute_s"] for step in timings.values()),
        "render_s": sum(step["render_s"] for step in timings.values()),
        "peak_memory_gb": peak / 1e9,
        "notebooks": ", ".join(timings) if len(timings) < 3 else "",
    }


def edit_report_notebook(config_path: Path) -> None:
    """Add a markdown cell to the copy's ``06_report.ipynb``, as a user editing the report would."""
    path = config_path.parents[1] / "notebooks" / "06_report.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["Edited for the benchmark."]})
    path.write_text(json.dumps(notebook, indent=1))


def edit_one_prior(config_path: Path) -> None:
    """Double the sd of one prior of one model (the first model with priors in the config), as a
    user trying another prior would."""
    config = yaml.safe_load(config_path.read_text())
    model = next(spec for spec in config["models"] if spec.get("priors"))
    prior = next(iter(model["priors"].values()))
    prior["sigma"] = 2 * prior.get("sigma", 1)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def run_case(label: str, seed: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as folder:
        folder = Path(folder)
        config_path = copy_project(folder / "project")
        environment = {**os.environ, "PYTENSOR_FLAGS": f"compiledir={folder / 'pytensor'}",
                       "NUMBA_CACHE_DIR": str(folder / "numba")}
        if label == "1M":
            million_rows(config_path, seed)
            runs = {"cold": None}
        else:
            runs = {"cold": None, "unchanged": None, "report edited": edit_report_notebook,
                    "prior edited": edit_one_prior}
        rows = []
        for run, before in runs.items():
            if before is not None:
                before(config_path)
            row = {"case": label, "run": run, **run_measured(config_path, environment)}
            print("  " + ", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
            rows.append(row)
        return rows


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--cases", nargs="+", default=["example", "1M"], choices=["example", "1M"])
    options.add_argument("--seed", type=int, default=1)
    args = options.parse_args()
    rows = [row for label in args.cases for row in run_case(label, args.seed)]
    print()
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
