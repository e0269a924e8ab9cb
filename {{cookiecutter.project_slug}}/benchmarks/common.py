"""What the benchmarks share: their command-line options, the simulated data they fit, empty
compile caches, and where their tables are kept for ``targets.py``."""

import argparse
import os
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.config import AnalysisConfig, DataConfig, ModelSpec
from {{ cookiecutter.module_name }}.data.grouped import GroupedData, prepare
from {{ cookiecutter.module_name }}.data.simulate import EXAMPLES, simulate_grouped


def parser(description: str) -> argparse.ArgumentParser:
    """Options of every benchmark: the config (for priors) and the sampler settings."""
    options = argparse.ArgumentParser(description=description)
    options.add_argument("--config", default="config/analysis.yaml")
    options.add_argument("--draws", type=int, default=1000)
    options.add_argument("--tune", type=int, default=1000)
    options.add_argument("--chains", type=int, default=2)
    options.add_argument("--seed", type=int, default=1)
    return options


def simulated_case(config: AnalysisConfig, n_groups: int, min_size: int, max_size: int,
                   seed: int) -> tuple[AnalysisConfig, GroupedData]:
    """Seed-shaped data (the continuous example's hyperparameters, one predictor ``x``) and a
    config whose only model is ``varying_slopes`` on it, with the project's priors."""
    frame, _ = simulate_grouped("normal", EXAMPLES["continuous"].hyperparameters, n_groups=n_groups,
                                min_size=min_size, max_size=max_size, seed=seed)
    case_config = config.model_copy(update={
        "data": DataConfig(path="benchmark.csv", outcome="y", group="group", predictors=["x"]),
        "family": "normal",
        "parameterization": "auto",
        "models": [ModelSpec(name="varying_slopes", custom="varying_slopes")],
    })
    return case_config, prepare(frame, case_config)


RESULTS = Path(__file__).resolve().parent / "results"


def save_results(table: pd.DataFrame, name: str) -> Path:
    """Keep a benchmark's table as ``benchmarks/results/<name>.csv``, where ``targets.py`` reads it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.csv"
    table.to_csv(path, index=False)
    return path


def compile_caches_in(folder: Path) -> dict[str, str]:
    """This process's environment with PyTensor's and Numba's compile caches in ``folder``.

    PyTensor's whole *base* compile directory moves (its C modules and the Numba functions it
    caches under ``<base_compiledir>/numba``; a new ``compiledir`` alone leaves those warm),
    and Numba's own cache with it. Empty at first: a user's first fit; kept: every later one.
    """
    return {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={folder / 'pytensor'}",
            "NUMBA_CACHE_DIR": str(folder / "numba")}
