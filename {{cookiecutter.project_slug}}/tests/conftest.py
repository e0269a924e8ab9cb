"""Shared fixtures: the project's own config and data, one short fit of the example, and one
fast pipeline run on a copy of the project."""

import shutil
from pathlib import Path

import pytensor
import pytest
from pytensor.graph.traversal import applys_between
from pytensor.tensor.basic import Join, Split

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.priors import model_priors
from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = PROJECT_ROOT / "config" / "analysis.yaml"


@pytest.fixture(scope="session")
def config():
    return load_config(CONFIG_PATH)


@pytest.fixture(scope="session")
def example_data(config):
    return load_data(config)


@pytest.fixture(scope="session")
def example_priors(config, example_data):
    """The custom models' priors for the example data (defaults scaled to the data)."""
    return model_priors(example_data, config.family, config.priors)


@pytest.fixture(scope="session")
def example_fit(config, example_data):
    """The primary model fitted to the example data: short, seeded, enough to check recovery."""
    settings = config.sampler_settings(fast=True).model_copy(update={"draws": 500, "tune": 500})
    return fit(build_model(config, config.primary_model, example_data), settings)


def copy_project(destination: Path) -> Path:
    """Config, data and notebooks in a fresh folder, so the run cannot touch this project's results."""
    for folder in ("config", "data", "notebooks"):
        shutil.copytree(PROJECT_ROOT / folder, destination / folder)
    return destination / "config" / "analysis.yaml"


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """The whole pipeline in fast mode on a copy of the project, simulation-based calibration
    included (enabled in the copy's config): its config and index.html."""
    config_path = copy_project(tmp_path_factory.mktemp("project"))
    text = config_path.read_text()
    assert "calibration:\n  enabled: false" in text
    config_path.write_text(text.replace("calibration:\n  enabled: false", "calibration:\n  enabled: true"))
    index = run_pipeline(config_path, fast=True, show_progress=False)
    return load_config(config_path), index


def join_or_split_ops(model):
    """The Join and Split operations in a model's log density and its gradient."""
    logp = model.logp()
    outputs = [logp, *pytensor.grad(logp, model.value_vars)]
    return [node.op for node in applys_between(model.value_vars, outputs) if isinstance(node.op, Join | Split)]
