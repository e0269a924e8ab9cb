"""`make demo` from a fresh clone: how much of it is setting up, how much is the pipeline.

Clones this repository (its last commit) into a temporary folder and runs what ``make demo`` runs
there, one step at a time so that each is timed: the template's own environment (``make
.venv/.installed``: cookiecutter and the test tools, with pip), the bake, the generated project's
environment from its ``uv.lock`` (``make .venv/.installed``: uv, then ``uv sync --locked``), and the
pipeline (``make run``). Compile caches (PyTensor's and Numba's) start empty, as on a machine that
never fitted a model. Two rounds, each from a new clone:

* **uv cache empty**: a machine that never installed these packages (every wheel downloaded);
* **uv cache kept**: a second project on the same machine (uv links the wheels it has).

The target (issue #31): the whole ``make demo`` in at most twice the pipeline's own time.
Run with ``python benchmarks/demo.py`` (``--python /path/to/python3.12``), nothing else running.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
DEMO_PROJECT = Path("build/demo/schools-analysis")  # the Makefile's DEMO_DIR/DEMO_SLUG
TARGET_RATIO = 2.0


def timed(command: list[str], cwd: Path, environment: dict[str, str]) -> float:
    """Seconds ``command`` took; its output is shown only if it fails."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def one_round(python: str, uv_cache: Path, folder: Path) -> dict[str, float]:
    """The steps of ``make demo`` in a new clone in ``folder``, each timed."""
    clone = folder / "clone"
    subprocess.run(["git", "clone", "--quiet", str(TEMPLATE), str(clone)], check=True)
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    environment.update(UV_CACHE_DIR=str(uv_cache), PYTENSOR_FLAGS=f"base_compiledir={folder / 'pytensor'}",
                       NUMBA_CACHE_DIR=str(folder / "numba"))
    project = clone / DEMO_PROJECT
    steps = {
        "template environment (pip)": (["make", ".venv/.installed", f"PYTHON={python}"], clone),
        "bake": ([".venv/bin/cookiecutter", "--no-input", "--output-dir", str(DEMO_PROJECT.parent), "."], clone),
        "project environment (uv.lock)": (["make", ".venv/.installed", f"PYTHON={python}"], project),
        "pipeline (make run)": (["make", "run", f"PYTHON={python}"], project),
    }
    return {name: timed(command, cwd, environment) for name, (command, cwd) in steps.items()}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--python", default=shutil.which("python3.12") or sys.executable,
                         help="the interpreter make builds the environments with (Python >= 3.12)")
    args = options.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        uv_cache = Path(folder) / "uv-cache"
        for label in ("uv cache empty", "uv cache kept"):
            with tempfile.TemporaryDirectory(dir=folder) as round_folder:
                rows[label] = one_round(args.python, uv_cache, Path(round_folder))
                print(f"{label}: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in rows[label].items()),
                      flush=True)
    print(f"\n| `make demo` from a fresh clone | set-up s | pipeline s | whole s | whole / pipeline (target <= "
          f"{TARGET_RATIO:g}) |\n| --- | --- | --- | --- | --- |")
    for label, steps in rows.items():
        pipeline = steps["pipeline (make run)"]
        whole = sum(steps.values())
        verdict = "met" if whole / pipeline <= TARGET_RATIO else "not met"
        print(f"| {label} | {whole - pipeline:.1f} | {pipeline:.1f} | {whole:.1f} | {whole / pipeline:.2f} ({verdict}) |")


if __name__ == "__main__":
    main()
