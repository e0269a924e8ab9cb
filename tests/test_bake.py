"""Bake the template with every option value and check what it generates."""

import json
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1]
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
CHOICES = {name: values for name, values in OPTIONS.items() if isinstance(values, list) and not name.startswith("_")}
JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}")
# outcome_type -> family, outcome column, and the trials or exposure column it needs.
OUTCOME_TYPES = {
    "continuous": ("normal", "score", None),
    "binary": ("bernoulli", "passed", None),
    "count": ("poisson", "absences", "days_enrolled"),
    "proportion": ("binomial", "correct", "n_items"),
}

EXPECTED_FILES = sorted(
    [
        ".gitignore",
        "LICENSE",
        "Makefile",
        "README.md",
        "benchmarks/common.py",
        "benchmarks/parameterization.py",
        "benchmarks/pipeline.py",
        "benchmarks/sampling.py",
        "pyproject.toml",
        "config/analysis.yaml",
        "data/example/schools.csv",
        "data/example/true_parameters.json",
        "notebooks/01_prior_predictive.ipynb",
        "notebooks/02_fit.ipynb",
        "notebooks/03_diagnostics.ipynb",
        "notebooks/04_posterior_predictive.ipynb",
        "notebooks/05_model_comparison.ipynb",
        "notebooks/06_report.ipynb",
        *(
            f"src/schools_analysis/{module}.py"
            for module in (
                "__init__", "__main__", "build", "cache", "checks", "cli", "compare", "config", "dashboard", "data",
                "diagnostics", "estimates", "files", "formulas", "models", "parameterization", "pipeline", "plots",
                "pointwise", "predict", "priors", "report", "sampling", "simulate", "validation",
            )
        ),
        *(
            f"tests/{name}.py"
            for name in (
                "conftest", "test_bad_input", "test_checks", "test_compare", "test_config", "test_data", "test_diagnostics",
                "test_estimates", "test_families", "test_models", "test_parameterization", "test_pipeline", "test_pointwise",
                "test_predict", "test_priors", "test_real_data", "test_report", "test_sampling", "test_simulate",
            )
        ),
    ]
)


def files_of(project: Path) -> list[str]:
    return sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())


def option_values() -> list:
    """Every value of every choice option, the others left at their defaults."""
    return [
        pytest.param({name: value}, id=f"{name}={value}") for name, values in CHOICES.items() for value in values
    ]


def test_default_bake_has_exactly_the_expected_files(cookies):
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    assert result.project_path.name == "schools-analysis"
    assert files_of(result.project_path) == EXPECTED_FILES


def test_makefile_demo_slug_matches_the_default_bake(cookies):
    result = cookies.bake()
    assert f"DEMO_SLUG := {result.project_path.name}\n" in (TEMPLATE / "Makefile").read_text()


@pytest.mark.parametrize("answers", option_values())
def test_every_option_value_bakes_a_valid_project(cookies, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    project = result.project_path

    for path in project.rglob("*"):
        if path.is_file():
            assert not JINJA_LEFTOVER.search(path.read_text(errors="ignore")), f"template syntax left in {path}"
    for notebook in sorted((project / "notebooks").glob("*.ipynb")):
        parsed = nbformat.read(notebook, as_version=4)
        nbformat.validate(parsed)
        tagged = [cell for cell in parsed.cells if "parameters" in cell.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"

    config = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    assert config["sampler"]["engine"] == result.context["sampler"]
    assert config["models"][0] == {"name": "varying_slopes", "custom": "varying_slopes"}
    assert {"formula" in model for model in config["models"]} == {True, False}

    # The example data, family and formulas fit the outcome type.
    outcome_type = result.context["outcome_type"]
    family, outcome, extra = OUTCOME_TYPES[outcome_type]
    assert config["family"] == family and config["data"]["outcome"] == outcome
    truth = json.loads((project / "data" / "example" / "true_parameters.json").read_text())
    assert truth["family"] == family
    header = (project / "data" / "example" / "schools.csv").read_text().splitlines()[0].split(",")
    assert outcome in header and (extra is None or extra in header)
    assert not [path for path in (project / "data" / "example").iterdir() if path.is_dir()]
    for model in config["models"]:
        if "formula" in model:
            assert (extra or outcome) in model["formula"]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={result.context['python_version']}"
    dependencies = " ".join(pyproject["project"]["dependencies"])
    for package in ("pymc>=6", "arviz>=1", "papermill", "nbconvert", "jupyterlab", "seaborn", "pandas"):
        assert package in dependencies
    assert ("nutpie" in dependencies) == (result.context["sampler"] == "nutpie")

    license_file = project / "LICENSE"
    if result.context["open_source_license"] == "No license":
        assert not license_file.exists()
        assert "license" not in pyproject["project"]
    else:
        assert license_file.read_text().strip()
        assert pyproject["project"]["license"] == result.context["open_source_license"]
    for python_file in project.rglob("*.py"):
        compile(python_file.read_text(), str(python_file), "exec")


def test_names_are_derived_from_the_project_name(cookies):
    result = cookies.bake(extra_context={"project_name": "County Radon Study"})
    assert result.exit_code == 0, result.exception
    assert result.project_path.name == "county-radon-study"
    package = result.project_path / "src" / "county_radon_study"
    assert (package / "models.py").is_file()
    assert "from county_radon_study.config import" in (package / "pipeline.py").read_text()
    assert 'county-radon-study = "county_radon_study.cli:app"' in (result.project_path / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_slug": "../escape"}, "path separator or '..'"),
        ({"project_slug": "a/b"}, "path separator or '..'"),
        ({"project_slug": "Has Spaces"}, "must be lowercase letters"),
        ({"project_name": " ", "project_slug": "ok-slug"}, "project_name is empty"),
        ({"module_name": "pymc"}, "clashes with the installed package"),
        ({"module_name": "json"}, "clashes with the installed package"),
        ({"module_name": "test"}, "reserved by the project layout"),
        ({"module_name": "class"}, "not a valid Python identifier"),
        ({"module_name": "1st_study"}, "not a valid Python identifier"),
        ({"module_name": "my-study"}, "try 'my_study_analysis'"),
    ],
)
def test_bad_names_are_rejected_before_anything_is_written(cookies, tmpdir, capfd, answers, message):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code != 0
    assert message in capfd.readouterr().err
    written = [path for path in Path(tmpdir, "cookies").rglob("*") if path.is_file()]
    assert written == []
