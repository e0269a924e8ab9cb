"""The notebooks' one setup call, and the notebooks' shape: thin, set up by it, numbered in the order they run."""

import ast
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import CONFIG_PATH, PROJECT_ROOT, copy_project

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.fit.store import save_fit
from {{ cookiecutter.module_name }}.run.analysis import FIGURE_DPI, open_analysis
from {{ cookiecutter.module_name }}.run.pipeline import plan

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("[0-9]*.ipynb"))
MAX_CELL_LINES = 15


def code_cells(path) -> list[dict]:
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("fast", [False, True])
def test_open_analysis_gives_the_config_data_and_settings_the_notebooks_loaded(config, example_data, fast):
    plt.rcParams["figure.dpi"] = 72
    analysis = open_analysis(str(CONFIG_PATH), fast)
    assert analysis.config == config and analysis.config_path == CONFIG_PATH.resolve()
    assert analysis.settings == config.sampler_settings(fast) and analysis.fast is fast and analysis.staged is False
    if fast:
        assert analysis.settings.draws == config.fast.draws < config.sampler.draws
    for name in ("outcome", "predictors", "group_codes", "group_predictors"):
        np.testing.assert_array_equal(getattr(analysis.data, name), getattr(example_data, name))
    assert analysis.data.coords == example_data.coords and analysis.data.group_dim == example_data.group_dim
    pd.testing.assert_frame_equal(analysis.data.frame, example_data.frame)
    assert plt.rcParams["figure.dpi"] == FIGURE_DPI == 90


def fake_fit(value: float) -> xr.DataTree:
    return xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": (("chain", "draw"), np.full((1, 2), value))})})


@pytest.fixture
def config_copy(tmp_path):
    """A copy of the project (config, data, notebooks), with no fits yet: its config file."""
    return copy_project(tmp_path)


def test_fits_are_read_from_the_saved_files_once_in_the_configs_order(config_copy):
    config = load_config(config_copy)
    for number, name in enumerate(reversed(config.model_names)):
        save_fit(fake_fit(number), config.fit_path(name))
    analysis = open_analysis(config_copy)
    fits = analysis.fits()
    assert list(fits) == config.model_names
    assert float(fits[config.model_names[0]].posterior["mu"][0, 0]) == len(config.model_names) - 1
    assert analysis.fit(config.model_names[0]) is fits[config.model_names[0]]  # read once


def test_staged_fits_are_this_runs_where_there_are_any(config_copy):
    config = load_config(config_copy)
    first, second = config.model_names[:2]
    for name in (first, second):
        save_fit(fake_fit(0.0), config.fit_path(name))
    save_fit(fake_fit(1.0), config.fits_staging_dir / f"{first}.nc")
    staged = open_analysis(config_copy, staged=True)
    assert float(staged.fit(first).posterior["mu"][0, 0]) == 1.0
    assert float(staged.fit(second).posterior["mu"][0, 0]) == 0.0
    assert float(open_analysis(config_copy).fit(first).posterior["mu"][0, 0]) == 0.0


def test_a_missing_fit_says_which_notebook_makes_it(config_copy):
    config = load_config(config_copy)
    with pytest.raises(FileNotFoundError, match="no fit found. Run notebooks/02_fit.ipynb"):
        open_analysis(config_copy).fit(config.model_names[0])


def test_the_reported_model_is_the_parameters_one_or_the_configs_primary(config_copy):
    config = load_config(config_copy)
    for name in config.model_names:
        save_fit(fake_fit(0.0), config.fit_path(name))
    analysis = open_analysis(config_copy)
    assert analysis.reported_model("complete_pooling") == ("complete_pooling", "chosen in the notebook's parameters")
    config_copy.write_text(config_copy.read_text().replace("# primary: varying_slopes", "primary: varying_intercepts"))
    assert open_analysis(config_copy).reported_model() == ("varying_intercepts", "named as `primary` in the config")
    # As the pipeline runs the report: primary passed as the notebook's parameter
    assert open_analysis(config_copy).reported_model("varying_intercepts") == (
        "varying_intercepts", "named as `primary` in the config")


def test_origins_and_the_calibration_are_read_from_their_files(config_copy):
    config = load_config(config_copy)
    first = config.model_names[0]
    config.fits_dir.mkdir(parents=True)
    config.fit_path(first).with_suffix(".origin.json").write_text('{"from_cache": true, "sampled_at": "then"}')
    origins = open_analysis(config_copy).origins()
    assert list(origins) == config.model_names and origins[first]["from_cache"] is True
    assert all(origins[name]["from_cache"] is None for name in config.model_names[1:])  # never fitted
    save_fit(fake_fit(3.0), config.calibration_path(config.primary_model))
    assert float(open_analysis(config_copy).calibration().posterior["mu"][0, 0]) == 3.0


def parameter_names(cell: dict) -> set[str]:
    return {target.id for node in ast.parse(source(cell)).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_notebook_is_set_up_by_open_analysis_after_its_parameters(path):
    cells = code_cells(path)
    tagged = [index for index, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters', for Papermill"
    parameters, setup = cells[tagged[0]], cells[tagged[0] + 1]
    assert {"config_path", "fast"} <= parameter_names(parameters)
    call = "open_analysis(config_path, fast, staged)" if "staged" in parameter_names(parameters) else \
        "open_analysis(config_path, fast)"
    assert f"analysis = {call}" in source(setup)
    assert not re.search(r"\b(load_config|load_data|sampler_settings|load_fit)\(", "".join(map(source, cells))), \
        "the notebooks read the config, data and fits through open_analysis"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_code_cell_is_longer_than_15_lines(path):
    long = [(index, len(source(cell).splitlines())) for index, cell in enumerate(code_cells(path))
            if len(source(cell).splitlines()) > MAX_CELL_LINES]
    assert not long, f"code cells over {MAX_CELL_LINES} lines (index, lines): {long}; move the logic into the package"


def test_notebooks_are_numbered_in_the_order_the_pipeline_runs_them(config):
    steps = plan(config, CONFIG_PATH, fast=True, calibration=True)
    run_order = list(dict.fromkeys(step.notebook for step in steps))
    assert run_order == [path.name for path in NOTEBOOKS]
    assert [name[:2] for name in run_order] == [f"{number:02d}" for number in range(1, len(run_order) + 1)]
