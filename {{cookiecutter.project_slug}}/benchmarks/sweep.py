"""A sweep's wall time on one Dask worker against two (or more), in one run.

Runs ``python -m {{ cookiecutter.module_name }} sweep`` on the example sweep (``sweeps/prior_scale.yaml``,
in fast mode by default) in fresh copies of the project's config, data, notebooks and sweeps,
once per worker count, each with nothing fitted yet, and prints each wall time and its
ratio to the first. Variants are independent pipelines, so on a machine with as many free
cores as workers the ratio approaches 1 / workers; each variant's notebooks and nutpie's
chains already use more than one core, which bounds the gain.
``python benchmarks/sweep.py [--workers 1 2] [--full]``.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def timed_sweep(workers: int, fast: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder)
        for part in ("config", "data", "notebooks", "sweeps"):
            shutil.copytree(PROJECT / part, copy / part)
        (copy / "pyproject.toml").write_text((PROJECT / "pyproject.toml").read_text())
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "{{ cookiecutter.module_name }}", "sweep", "sweeps/prior_scale.yaml",
                        "--workers", str(workers), "--fast" if fast else "--no-fast"], cwd=copy, check=True)
        return time.perf_counter() - started


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options.add_argument("--full", action="store_true", help="the sweep file's own settings, not --fast")
    arguments = options.parse_args()
    seconds = {workers: timed_sweep(workers, fast=not arguments.full) for workers in arguments.workers}
    first = seconds[arguments.workers[0]]
    print(f"\n{'workers':>8} {'wall s':>8} {'ratio':>6}")
    for workers, value in seconds.items():
        print(f"{workers:>8} {value:>8.1f} {value / first:>6.2f}")


if __name__ == "__main__":
    main()
