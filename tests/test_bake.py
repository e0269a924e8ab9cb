"""Bake the template with every option value and check what it generates."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1]
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
CHOICES = {name: values for name, values in OPTIONS.items() if isinstance(values, list) and not name.startswith("_")}
# uv, installed with the template's test requirements at the version the generated Makefile pins.
UV = str(Path(sys.executable).with_name("uv"))
JINJA_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}")
# outcome_type -> family, outcome column, and the trials or exposure column it needs.
OUTCOME_TYPES = {
    "continuous": ("normal", "score", None),
    "binary": ("bernoulli", "passed", None),
    "count": ("poisson", "absences", "days_enrolled"),
    "proportion": ("binomial", "correct", "n_items"),
    "ordinal": ("cumulative", "rating", None),
    "time_to_event": ("weibull", "months", None),
    "zero_inflated_count": ("zero_inflated_poisson", "absences", "days_enrolled"),
}

EXPECTED_FILES = sorted(
    [
        ".gitattributes",
        ".gitignore",
        ".pre-commit-config.yaml",
        "LICENSE",
        "Makefile",
        "README.md",
        "benchmarks/README.md",
        "tests/README.md",
        "tests/real_data/nc_sids.csv",           # North Carolina's SIDS counts and their neighbours (test_spatial.py)
        "tests/real_data/nc_sids_adjacency.csv",
        "tests/real_data/nile.csv",              # the Nile's yearly flow, a local-level model (test_temporal.py)
        "benchmarks/common.py",
        "benchmarks/formulas.py",
        "benchmarks/parameterization.py",
        "benchmarks/pipeline.py",
        "benchmarks/sampling.py",
        "benchmarks/structured.py",
        "benchmarks/sweep.py",
        "benchmarks/targets.py",
        "pyproject.toml",
        "uv.lock",
        "config/analysis.yaml",
        "data/example/schools.csv",
        "data/example/true_parameters.json",
        "data/processed/.gitkeep",
        "data/raw/schools.csv",
        "data/raw/students.csv",
        "notebooks/01_prior_predictive.ipynb",
        "notebooks/02_fit.ipynb",
        "notebooks/03_diagnostics.ipynb",
        "notebooks/04_posterior_predictive.ipynb",
        "notebooks/05_model_comparison.ipynb",
        "notebooks/06_calibration.ipynb",
        "notebooks/07_report.ipynb",
        "sweeps/prior_scale.yaml",
        *(
            f"src/schools_analysis/{module}.py"
            for module in (
                "__init__", "__main__", "cli", "config", "families", "files", "fingerprints", "formula_syntax", "models",
                "names", "prepare", "private_apis",
                "data/__init__", "data/graph", "data/grouped", "data/preparation", "data/simulate", "data/tables",
                "data/timeline", "data/validation",
                "model/__init__", "model/build", "model/design", "model/formulas", "model/likelihoods", "model/parameterization",
                "model/predict", "model/priors", "model/spatial", "model/temporal", "model/measurement",
                "fit/__init__", "fit/chain_health", "fit/compiling", "fit/pointwise", "fit/progress", "fit/sampling", "fit/store",
                "fit/summary",
                "evaluate/__init__", "evaluate/convergence", "evaluate/crossval", "evaluate/loo", "evaluate/predictive",
                "evaluate/sbc",
                "report/__init__", "report/dashboard", "report/estimates", "report/figures", "report/ranks", "report/rope",
                "report/summary",
                "report/words",
                "run/__init__", "run/analysis", "run/fits", "run/kernels", "run/lock", "run/pipeline", "run/stopping", "run/subsets",
                "run/sweep",
            )
        ),
        *(
            f"tests/{name}.py"
            for name in (
                "conftest", "test_bad_input", "test_benchmarks", "test_config", "test_families", "test_layout", "test_readme",
                "test_real_data",
                "data/test_graph", "data/test_grouped", "data/test_prepare", "data/test_simulate",
                "model/test_formulas", "model/test_models", "model/test_parameterization", "model/test_predict", "model/test_priors",
                "model/test_spatial", "model/test_temporal", "model/test_measurement", "model/test_gp", "model/test_latent", "data/test_timeline",
                "fit/test_compiling", "fit/test_pointwise", "fit/test_progress", "fit/test_sampling",
                "evaluate/test_convergence", "evaluate/test_crossval", "evaluate/test_loo", "evaluate/test_predictive",
                "evaluate/test_sbc",
                "report/test_browser", "report/test_estimates", "report/test_figures", "report/test_ranks", "report/test_rope",
                "report/test_summary",
                "report/test_words",
                "run/test_analysis", "run/test_families_pipeline", "run/test_kernels", "run/test_pipeline", "run/test_stopping", "run/test_sweep",
            )
        ),
    ]
)


def files_of(project: Path) -> list[str]:
    """The project's files, not the git repository the post-generation hook starts."""
    return sorted(
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and path.relative_to(project).parts[0] != ".git"
    )


def assert_the_lock_is_the_project_s(project: Path) -> None:
    """uv.lock names the project as uv spells it and satisfies its pyproject.toml: ``uv lock --check``
    re-reads both without the network and fails on any difference (a dependency added, removed or
    with other bounds, another project name)."""
    lock = tomllib.loads((project / "uv.lock").read_text())
    names = [package["name"] for package in lock["package"] if package["source"] == {"editable": "."}]
    assert names == [re.sub(r"[-_.]+", "-", project.name).lower()]
    check = subprocess.run(
        [UV, "lock", "--check", "--offline", "--python", sys._base_executable], cwd=project, capture_output=True,
        text=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert check.returncode == 0, check.stderr[-3000:]


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

    for name in files_of(project):
        assert not JINJA_LEFTOVER.search((project / name).read_text(errors="ignore")), f"template syntax left in {name}"
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
    assert config["data"]["event"] == ("left_school" if outcome_type == "time_to_event" else None)
    assert config["data"]["event"] is None or config["data"]["event"] in header
    for model in config["models"]:
        if "formula" in model:
            assert (extra or outcome) in model["formula"]

    # One lock for every option: resolved for Python >= 3.12, nutpie installed with either sampler.
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.12"
    dependencies = " ".join(pyproject["project"]["dependencies"])
    for package in ("pymc>=6", "arviz>=1", "papermill", "nbconvert", "jupyterlab", "seaborn", "pandas", "nutpie"):
        assert package in dependencies
    assert_the_lock_is_the_project_s(project)
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + result.context["python_version"].replace(".", "")

    license_file = project / "LICENSE"
    if result.context["open_source_license"] == "No license":
        assert not license_file.exists()
        assert "license" not in pyproject["project"]
    else:
        assert license_file.read_text().strip()
        assert pyproject["project"]["license"] == result.context["open_source_license"]
    for name in files_of(project):
        if name.endswith(".py"):
            compile((project / name).read_text(), name, "exec")


def test_the_generated_makefile_installs_with_the_uv_the_lock_is_tested_with():
    makefile = (TEMPLATE / "{{cookiecutter.project_slug}}" / "Makefile").read_text()
    pinned = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE).group(1)
    assert re.search(rf"^uv=={re.escape(pinned)}\s", (TEMPLATE / "requirements-dev.txt").read_text(), re.MULTILINE)
    version = subprocess.run([UV, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[1] == pinned
    # pip installs uv alone; every other package comes from the lock, refused when it is out of date.
    pip_lines = [line for line in makefile.splitlines() if "pip install" in line]
    assert pip_lines and all("uv==$(UV_VERSION)" in line for line in pip_lines)
    assert "sync --locked" in makefile and "--frozen" not in makefile


def test_a_slug_with_underscores_gets_uv_s_spelling_in_the_lock(cookies):
    result = cookies.bake(extra_context={"project_slug": "county__radon_study"})
    assert result.exit_code == 0, result.exception
    assert 'name = "county-radon-study"\nversion = "0.1.0"\nsource = { editable = "." }' in (
        result.project_path / "uv.lock").read_text()
    assert_the_lock_is_the_project_s(result.project_path)


def test_names_are_derived_from_the_project_name(cookies):
    result = cookies.bake(extra_context={"project_name": "County Radon Study"})
    assert result.exit_code == 0, result.exception
    assert result.project_path.name == "county-radon-study"
    package = result.project_path / "src" / "county_radon_study"
    assert (package / "models.py").is_file()
    assert "from county_radon_study.config import" in (package / "run" / "pipeline.py").read_text()
    assert 'county-radon-study = "county_radon_study.__main__:main"' in (result.project_path / "pyproject.toml").read_text()


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


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


@pytest.fixture
def git_without_identity(monkeypatch, tmp_path):
    """A git that reads no user or system config and no identity from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "EMAIL",
        "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_with_identity(git_without_identity, monkeypatch):
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Ada Analyst")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "ada@example.org")


def test_bake_commits_the_project_and_git_ignores_what_the_pipeline_writes(cookies, git_with_identity):
    result = cookies.bake(extra_context={"init_git": "yes"})
    assert result.exit_code == 0, result.exception
    project = result.project_path

    log = git(project, "log", "--format=%an <%ae>|%s").stdout.splitlines()
    assert log == ["Ada Analyst <ada@example.org>|Initial commit from the Bayesian multilevel template"]
    committed = sorted(git(project, "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines())
    assert committed == files_of(project)
    assert any(name.startswith("notebooks/") for name in committed)
    assert git(project, "status", "--porcelain").stdout == ""

    # What `make`, the pipeline, its tests and the tools write stays out of git.
    for generated in (
        "reports/index.html", "reports/executed/02_fit.ipynb", "artifacts/fits/varying_slopes.nc",
        "notebooks/nbval_02_fit.ipynb", "notebooks/.ipynb_checkpoints/02_fit-checkpoint.ipynb",
        ".venv/.installed", ".ruff_cache/CACHEDIR.TAG", "src/schools_analysis/data/__pycache__/grouped.cpython-312.pyc",
    ):
        (project / generated).parent.mkdir(parents=True, exist_ok=True)
        (project / generated).write_text("generated")
    assert git(project, "status", "--porcelain", "--untracked-files=all").stdout == ""
    assert "diff: jupyternotebook" in git(project, "check-attr", "diff", "--", "notebooks/02_fit.ipynb").stdout
    assert "binary: set" in git(project, "check-attr", "binary", "--", "artifacts/fits/varying_slopes.nc").stdout


def test_bake_without_git_identity_stages_and_asks_the_user_to_commit(cookies, git_without_identity, capfd):
    result = cookies.bake(extra_context={"init_git": "yes"})
    assert result.exit_code == 0, result.exception
    project = result.project_path
    assert (project / ".git").is_dir()
    assert git(project, "rev-parse", "--verify", "HEAD").returncode != 0, "no commit under an invented identity"
    assert sorted(git(project, "diff", "--cached", "--name-only").stdout.splitlines()) == files_of(project)
    assert 'git commit -m "Initial commit from the Bayesian multilevel template"' in capfd.readouterr().out


def test_bake_without_git_on_path_says_so_and_succeeds(cookies, monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("PATH", str(tmp_path))  # hooks run with sys.executable, so no PATH lookup is needed
    result = cookies.bake(extra_context={"init_git": "yes"})
    assert result.exit_code == 0, result.exception
    assert not (result.project_path / ".git").exists()
    assert "git was not found on PATH" in capfd.readouterr().out


def test_init_git_no_leaves_git_alone(cookies, git_with_identity):
    result = cookies.bake(extra_context={"init_git": "no"})
    assert result.exit_code == 0, result.exception
    assert not (result.project_path / ".git").exists()


def test_pre_commit_strips_notebook_outputs_and_lints_without_reformatting(cookies):
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    project = result.project_path
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hooks = {repo["repo"]: [hook["id"] for hook in repo["hooks"]] for repo in config["repos"]}
    assert hooks == {
        "https://github.com/kynan/nbstripout": ["nbstripout"],
        "https://github.com/astral-sh/ruff-pre-commit": ["ruff-check"],
    }
    revs = {repo["repo"]: repo["rev"] for repo in config["repos"]}
    assert re.fullmatch(r"\d+\.\d+\.\d+", revs["https://github.com/kynan/nbstripout"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", revs["https://github.com/astral-sh/ruff-pre-commit"])
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["optional-dependencies"]["dev"] == ["pre-commit>=3", "nbstripout>=0.7", "ruff>=0.6"]
    assert "pre-commit install" in (project / "README.md").read_text()


def test_ruff_passes_on_the_baked_project(cookies):
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks", "notebooks"],
        cwd=result.project_path, capture_output=True, text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_make_lab_opens_jupyterlab_on_a_kernel_named_after_the_project(cookies):
    result = cookies.bake(extra_context={"project_name": "County Radon Study"})
    assert result.exit_code == 0, result.exception
    planned = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=result.project_path, capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr
    assert (
        '.venv/bin/python -m ipykernel install --sys-prefix --name county-radon-study '
        '--display-name "Python (county-radon-study)"'
    ) in planned.stdout
    assert ".venv/bin/jupyter lab" in planned.stdout.splitlines()[-1]
    assert "lab" in (result.project_path / "Makefile").read_text().split(".PHONY:")[1].splitlines()[0].split()


def test_bake_inside_a_git_repository_starts_no_nested_one(git_with_identity, tmp_path, capfd):
    from cookiecutter.main import cookiecutter

    git(tmp_path, "init", "-q")
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path / "analyses")))
    assert not (project / ".git").exists()
    assert "inside a git repository already" in capfd.readouterr().out
