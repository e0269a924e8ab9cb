"""End-to-end time and memory of the pipeline: the example from a cold start, reruns, and 1M rows.

Each case runs ``python -m {{ cookiecutter.module_name }} run`` in a fresh copy of the project's notebooks and
config, in a temporary folder, with empty compile caches: PyTensor's whole base compile
directory (its C modules and the Numba functions it caches under ``<base_compiledir>/numba``,
which a new ``compiledir`` alone does not empty) and Numba's own cache. It runs in a new
virtual environment that ``make`` builds as it does after a bake (``uv sync --locked`` from ``uv.lock``
and the notebooks' kernel, from a copy of the project; not timed), so that the packages of
the ``bench`` extra, which the pipeline does not use but some of its imports would load, cost
nothing a user would not pay (``--environment this`` runs in this one instead). Before each
cold run the operating system's file cache is dropped where the benchmark may (root on
Linux), so the first imports read from disk as after a fresh install; the table says whether
it was:

* **example**: the project's own config and data. Five runs: cold (nothing fitted or
  compiled yet: a user's first run), warm caches (fits and reports deleted, compile caches
  kept: what compiling costs is the difference), unchanged (everything cached), after
  editing only the report notebook (only ``07_report`` should execute again) and after
  doubling one prior's sd of one model (that model is refitted and notebooks 03-05 and 07,
  which compare and report every fit, run again).
* **1M**: about 1,000,000 rows in 10,000 groups, simulated like the continuous example,
  with the candidate models ``varying_slopes`` (custom: sampled from sufficient statistics)
  and ``complete_pooling`` (the formula ``score ~ ses``), 4 chains x 1000 draws after 1000
  tuning steps, and LOO and checks on 5,000 random rows. One cold run.
* **1M formulas**: the same data with the formulas ``score ~ ses + (1 | school)`` and
  ``score ~ ses + (ses | school)`` (group terms indexed, sampled from sufficient statistics)
  beside ``varying_slopes``, the same model written by hand; prints how far apart the
  formula's and the hand-written model's estimates are in Monte Carlo standard errors.
* **1M intercepts**, **1M slopes**: the same data with only ``score ~ ses + (1 | school)``,
  or only ``score ~ ses + (ses | school)``: one formula model's time and memory.
* **1M crossed**: the same data plus a crossed factor ``rater`` (100 levels, sd 0.5) and the
  formula ``score ~ ses + (1 | school) + (1 | rater)``, sampled from sums per school, per
  rater and per (school, rater) pair.

The 1M cases turn leave-groups-out cross-validation and exact refits off
(``cross_validation.group_folds: 0``, ``max_refits: 0``): each fold is a row-by-row refit.
For every run it prints the wall time, the notebooks executed, their summed execute and
render times (``reports/timings.json``) and the peak memory of the whole process tree
(the runner and its kernels, sampled every 0.2 s), and for ``1M formulas`` the largest distance
between the formula's and the hand-written model's estimates; the table is kept in
``benchmarks/results/pipeline.csv`` for ``targets.py``. Run with ``make bench`` or
``python benchmarks/pipeline.py [--cases example 1M] [--environment new|this]``.
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

import numpy as np
import pandas as pd
import psutil
import yaml
from common import compile_caches_in, save_results

from {{ cookiecutter.module_name }}.data.simulate import EXAMPLES, simulate_grouped

PROJECT = Path(__file__).resolve().parents[1]
RATER_SD = 0.5  # the 1M crossed case's raters: 100 of them shift the outcome by this sd


def copy_project(target: Path) -> Path:
    """Notebooks, config and data of this project in ``target``; returns the config path."""
    for folder in ("notebooks", "config", "data"):
        shutil.copytree(PROJECT / folder, target / folder)
    return target / "config" / "analysis.yaml"


def new_environment(folder: Path) -> Path:
    """A virtual environment as ``make`` builds it after a bake, in a copy of the project in
    ``folder``; returns its Python."""
    for part in ("Makefile", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(PROJECT / part, folder / part)
    shutil.copytree(PROJECT / "src", folder / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    base = getattr(sys, "_base_executable", sys.executable)  # this venv's interpreter, not the venv
    subprocess.run(["make", "--no-print-directory", ".venv/.installed", f"PYTHON={base}"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)
    return folder / ".venv" / "bin" / "python"


def million_rows(config_path: Path, seed: int, case: str) -> None:
    """Replace the copy's data by ~1M simulated rows in 10,000 groups, and its models and draws."""
    example = EXAMPLES["continuous"]
    names = {**example.columns, "outcome": example.outcome}
    frame, truth = simulate_grouped("normal", example.hyperparameters, n_groups=10_000, min_size=50, max_size=150,
                                    seed=seed, names=names)
    y, x, g = names["outcome"], names["x"], names["group"]
    truth_path = "data/million/true_parameters.json"
    if case == "1M crossed":
        rng = np.random.default_rng(seed)
        frame["rater"] = rng.integers(0, 100, len(frame))
        frame[y] += rng.normal(0, RATER_SD, 100)[frame["rater"]]
        truth_path = None  # the simulation's truth leaves the rater effects out
    data_dir = config_path.parents[1] / "data" / "million"
    data_dir.mkdir(parents=True)
    frame.to_csv(data_dir / "schools.csv", index=False)
    (data_dir / "true_parameters.json").write_text(json.dumps(truth))
    config = yaml.safe_load(config_path.read_text())
    config["data"] = {"path": "data/million/schools.csv", "outcome": y, "group": g, "predictors": [x],
                      "group_predictors": [], "trials": None, "exposure": None, "true_parameters": truth_path}
    config["family"] = "normal"
    config["models"] = {
        "1M": [{"name": "varying_slopes", "custom": "varying_slopes"},
               {"name": "complete_pooling", "formula": f"{y} ~ {x}"}],
        "1M formulas": [{"name": "formula_slopes", "formula": f"{y} ~ {x} + ({x} | {g})"},
                        {"name": "formula_intercepts", "formula": f"{y} ~ {x} + (1 | {g})"},
                        {"name": "varying_slopes", "custom": "varying_slopes"}],
        "1M intercepts": [{"name": "formula_intercepts", "formula": f"{y} ~ {x} + (1 | {g})"}],
        "1M slopes": [{"name": "formula_slopes", "formula": f"{y} ~ {x} + ({x} | {g})"}],
        "1M crossed": [{"name": "crossed", "formula": f"{y} ~ {x} + (1 | {g}) + (1 | rater)"}],
    }[case]
    config["sampler"].update({"chains": 4, "draws": 1000, "tune": 1000, "pointwise_rows": 5000})
    config["cross_validation"] = {**config.get("cross_validation", {}), "group_folds": 0, "max_refits": 0}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def run_measured(python: Path, config_path: Path, environment: dict) -> dict:
    """Run the pipeline with ``python``; wall time, peak memory of the process tree, and the run's timings."""
    started = time.perf_counter()
    process = psutil.Popen([str(python), "-m", "{{ cookiecutter.module_name }}", "run", "--config", str(config_path)],
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
    print("  " + ", ".join(f"{name} {step['execute_s']:.0f} s" for name, step in timings.items()), flush=True)
    return {
        "wall_s": wall,
        "executed": len(timings),
        "execute_s": sum(step["execute_s"] for step in timings.values()),
        "render_s": sum(step["render_s"] for step in timings.values()),
        "peak_memory_gb": peak / 1e9,
        "notebooks": ", ".join(timings) if len(timings) < 3 else "",
    }


def remove_outputs(config_path: Path) -> None:
    """Delete the copy's fits and reports: the next run starts over with warm compile caches."""
    for folder in ("artifacts", "reports"):
        shutil.rmtree(config_path.parents[1] / folder, ignore_errors=True)


def edit_report_notebook(config_path: Path) -> None:
    """Add a markdown cell to the copy's ``07_report.ipynb``, as a user editing the report would."""
    path = config_path.parents[1] / "notebooks" / "07_report.ipynb"
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


def drop_file_cache() -> bool:
    """Empty the operating system's page cache (Linux, as root), as after a reboot; False where not allowed."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def run_case(label: str, seed: int, python: Path) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as folder:
        folder = Path(folder)
        config_path = copy_project(folder / "project")
        environment = compile_caches_in(folder)
        if label.startswith("1M"):
            million_rows(config_path, seed, label)
            runs = {"cold": None}
        else:
            runs = {"cold": None, "warm caches": remove_outputs, "unchanged": None,
                    "report edited": edit_report_notebook, "prior edited": edit_one_prior}
        rows = []
        for run, before in runs.items():
            if before is not None:
                before(config_path)
            file_cache = "dropped" if run == "cold" and drop_file_cache() else "kept"
            row = {"case": label, "run": run, "file_cache": file_cache, **run_measured(python, config_path, environment)}
            print("  " + ", ".join(f"{key} {value}" for key, value in row.items()), flush=True)
            rows.append(row)
        if label == "1M formulas":
            apart = formula_against_hand_written(config_path.parents[1] / "reports" / "estimates.csv")
            print(apart.round(4).to_string(index=False))
            rows[-1]["max_mcse_apart"] = apart["mcse_apart"].max()
        if label == "1M crossed":
            print(crossed_against_simulation(config_path.parents[1] / "reports" / "estimates.csv"))
        return rows


def formula_against_hand_written(estimates_path: Path) -> pd.DataFrame:
    """How far ``formula_slopes``'s estimates are from ``varying_slopes``'s, in Monte Carlo
    standard errors (posterior sd / sqrt(bulk ESS), both fits' combined)."""
    estimates = pd.read_csv(estimates_path).fillna({"group": ""})
    estimates["mcse"] = estimates["std.error"] / np.sqrt(estimates["ess_bulk"])
    keys = ["effect", "group", "term"]
    both = estimates[estimates["model"] == "formula_slopes"].merge(
        estimates[estimates["model"] == "varying_slopes"], on=keys, suffixes=("_formula", "_hand"))
    both["mcse_apart"] = (both["estimate_formula"] - both["estimate_hand"]).abs() / np.hypot(
        both["mcse_formula"], both["mcse_hand"])
    return both[[*keys, "estimate_formula", "estimate_hand", "mcse_apart"]]


def crossed_against_simulation(estimates_path: Path) -> str:
    """The crossed model's population-level estimates, convergence, and the values simulated
    (the simulation's slopes also vary by school, sd 0.2, which this model leaves in the residual)."""
    truth = EXAMPLES["continuous"].hyperparameters
    simulated = {("ses", ""): truth["mu_beta"], ("sd__(Intercept)", "school"): truth["tau_alpha"],
                 ("sd__(Intercept)", "rater"): RATER_SD}
    estimates = pd.read_csv(estimates_path).fillna({"group": ""})
    estimates = estimates[estimates["effect"] != "ran_vals"]
    estimates["simulated"] = [simulated.get(key, np.nan) for key in zip(estimates["term"], estimates["group"])]
    return estimates[["term", "group", "estimate", "std.error", "simulated", "rhat", "ess_bulk"]].round(4).to_string(
        index=False)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cases = ["example", "1M", "1M formulas", "1M intercepts", "1M slopes", "1M crossed"]
    options.add_argument("--cases", nargs="+", default=cases, choices=cases)
    options.add_argument("--seed", type=int, default=1)
    options.add_argument("--environment", choices=["new", "this"], default="new",
                         help="a new virtual environment as `make` builds it (default), or this one")
    args = options.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-environment-") as folder:
        python = new_environment(Path(folder)) if args.environment == "new" else Path(sys.executable)
        rows = [row for label in args.cases for row in run_case(label, args.seed, python)]
    table = pd.DataFrame(rows).assign(environment=args.environment)
    save_results(table, "pipeline")
    print()
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
