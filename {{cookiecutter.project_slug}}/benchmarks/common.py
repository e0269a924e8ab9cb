"""What the benchmarks share: their command-line options and the simulated data they fit."""

import argparse

from {{ cookiecutter.module_name }}.config import AnalysisConfig, DataConfig, ModelSpec
from {{ cookiecutter.module_name }}.data import GroupedData, prepare
from {{ cookiecutter.module_name }}.simulate import EXAMPLES, simulate_grouped


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
