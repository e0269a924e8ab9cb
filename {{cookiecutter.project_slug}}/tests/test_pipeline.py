"""The notebooks, run end to end in fast mode on a copy of the project."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data import DataError
from {{ cookiecutter.module_name }}.pipeline import NotebookFailed, Step, execute, plan, run_pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(destination: Path) -> Path:
    """Config, data and notebooks in a fresh folder, so the run cannot touch this project's results."""
    for folder in ("config", "data", "notebooks"):
        shutil.copytree(PROJECT_ROOT / folder, destination / folder)
    return destination / "config" / "analysis.yaml"


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    config_path = copy_project(tmp_path_factory.mktemp("project"))
    index = run_pipeline(config_path, fast=True, show_progress=False)
    return load_config(config_path), index


def test_every_notebook_is_executed_and_rendered(pipeline_run):
    config, index = pipeline_run
    steps = plan(config, config.root / "config" / "analysis.yaml", fast=True)
    assert len(steps) == 5 + len(config.model_names)
    page = index.read_text()
    for step in steps:
        assert (config.reports_dir / "executed" / f"{step.name}.ipynb").is_file()
        assert (config.reports_dir / f"{step.name}.html").is_file()
        assert f'href="{step.name}.html"' in page
    for name in config.model_names:
        assert config.fit_path(name).is_file()


def test_executed_notebooks_have_no_errors(pipeline_run):
    config, _ = pipeline_run
    for path in sorted((config.reports_dir / "executed").glob("*.ipynb")):
        outputs = [output for cell in nbformat.read(path, as_version=4).cells for output in cell.get("outputs", [])]
        assert not [output for output in outputs if output.output_type == "error"], path.name


def test_report_states_hyperparameters_without_code(pipeline_run):
    config, _ = pipeline_run
    report = (config.reports_dir / "06_report.html").read_text()
    truth = json.loads(config.resolve(config.data.true_parameters).read_text())
    for name in [*truth["hyperparameters"], "Recovery of known values", "Provenance", "How group effects were sampled"]:
        assert name in report
    assert "load_fit(" not in report, "the report is rendered without code cells"
    assert "Fast mode" in report


def test_notebooks_run_under_nbval(pipeline_run, tmp_path):
    """nbval executes the notebooks as a user would, from their folder, after the fast fits exist."""
    config, _ = pipeline_run
    notebooks = config.root / "notebooks"
    for source in sorted(notebooks.glob("0*.ipynb")):
        parameterised = parameterize_notebook(load_notebook_node(str(source)), {"fast": True})
        nbformat.write(parameterised, notebooks / f"nbval_{source.name}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", *map(str, sorted(notebooks.glob("nbval_*.ipynb")))],
        cwd=notebooks, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " failed" not in result.stdout and " passed" in result.stdout


def test_failing_notebook_is_named_with_its_cell(tmp_path):
    notebook = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('bad prior')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    with pytest.raises(NotebookFailed, match=r"broken.ipynb failed in cell 2: ValueError: bad prior") as error:
        execute(Step("broken.ipynb", "broken", "Broken"), tmp_path, tmp_path / "executed")
    assert "kept at" in str(error.value)
    assert (tmp_path / "executed" / "broken.ipynb").is_file()


def test_bad_data_stops_before_any_notebook(tmp_path):
    config_path = copy_project(tmp_path)
    csv = tmp_path / "data" / "example" / "schools.csv"
    csv.write_text(csv.read_text().replace("ses", "SES", 1))
    with pytest.raises(DataError, match="Did you mean 'SES'"):
        run_pipeline(config_path, fast=True, show_progress=False)
    assert not (tmp_path / "reports").exists()
