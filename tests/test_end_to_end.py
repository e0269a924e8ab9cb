"""Bake the default project and use it as a user would: its Makefile builds the environment,
runs the pipeline and runs the project's own tests."""

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOK_PAGES = [
    "01_prior_predictive",
    "02_fit_varying_slopes",
    "02_fit_complete_pooling",
    "02_fit_varying_intercepts",
    "03_diagnostics",
    "04_posterior_predictive",
    "05_model_comparison",
    "07_report",
]


def make(target: str, project: Path, *variables: str) -> subprocess.CompletedProcess:
    """Run a target of the baked project's Makefile with this interpreter's base Python."""
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    started = time.perf_counter()
    result = subprocess.run(
        ["make", target, f"PYTHON={sys._base_executable}", *variables], cwd=project, env=environment,
        capture_output=True, text=True,
    )
    print(f"make {target}: {time.perf_counter() - started:.0f} s, exit {result.returncode}")
    return result


@pytest.fixture(scope="module")
def baked_project(cookies_session):
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    return result.project_path


@pytest.fixture(scope="module")
def fast_run(baked_project):
    return make("fast", baked_project)


def test_pipeline_writes_every_report(baked_project, fast_run):
    assert fast_run.returncode == 0, fast_run.stdout[-2000:] + fast_run.stderr[-4000:]
    reports = baked_project / "reports"
    index = (reports / "index.html").read_text()
    for page in NOTEBOOK_PAGES:
        assert (reports / f"{page}.html").stat().st_size > 10_000
        assert (reports / "executed" / f"{page}.ipynb").is_file()
        assert f'href="{page}.html"' in index


def test_report_states_the_hyperparameters_and_their_recovery(baked_project, fast_run):
    report = (baked_project / "reports" / "07_report.html").read_text()
    for parameter in ("mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "sigma"):
        assert parameter in report
    assert "of 5 lie inside their 94% intervals" in report
    assert "What reproduces this report" in report and "<code>config/analysis.yaml</code>" in report  # provenance
    assert "(custom, family normal)" in report and "How group effects were sampled" in report


def test_bad_data_exits_non_zero_and_keeps_the_reports(baked_project, fast_run):
    index = baked_project / "reports" / "index.html"
    before = index.read_bytes()
    bad_config = baked_project / "config" / "bad.yaml"
    text = (baked_project / "config" / "analysis.yaml").read_text()
    bad_config.write_text(text.replace("outcome: score", "outcome: scores"))
    result = subprocess.run(
        [str(baked_project / ".venv" / "bin" / "python"), "-m", "schools_analysis", "run", "--config", str(bad_config)],
        cwd=baked_project, capture_output=True, text=True,
    )
    bad_config.unlink()
    assert result.returncode == 1
    assert "schools.csv: column 'scores' named in the config (data.outcome) is not in the file" in result.stderr
    assert "Did you mean 'score'?" in result.stderr
    assert index.read_bytes() == before


def installed_versions(python: Path) -> dict[str, str]:
    """Every distribution in the environment of ``python``, by its normalised name (PEP 503)."""
    listing = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, json; "
         "print(json.dumps([(d.metadata['Name'], d.version) for d in m.distributions()]))"],
        capture_output=True, text=True, check=True,
    ).stdout
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in json.loads(listing)}


def locked_versions(project: Path) -> dict[str, str]:
    return {package["name"]: package["version"] for package in tomllib.loads((project / "uv.lock").read_text())["package"]}


def test_make_installs_exactly_the_locked_versions(baked_project, fast_run):
    """What `make` installed is uv.lock's, one for one: every distribution in .venv at the lock's
    version, and nothing the lock asks for on this machine missing (uv's own check)."""
    assert fast_run.returncode == 0, fast_run.stdout[-2000:] + fast_run.stderr[-4000:]
    installed = installed_versions(baked_project / ".venv" / "bin" / "python")
    locked = locked_versions(baked_project)
    assert {"pymc", "pytensor", "arviz", "bambi", "nutpie", "numpy", "papermill", "pytest"} <= installed.keys()
    assert {name: version for name, version in installed.items() if locked.get(name) != version} == {}
    check = subprocess.run(
        [str(baked_project / ".uv" / "bin" / "uv"), "sync", "--locked", "--extra", "test", "--extra", "dev", "--check",
         "--offline", "--python", sys._base_executable], cwd=baked_project, capture_output=True, text=True,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": ".venv", "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert "Would make no changes" in check.stderr


# The project's tests that a release renaming or changing an API would break first: nutpie's and
# PyTensor's internals (cached callbacks), Bambi's build and results, every family's fit and
# recovery, Bambi's own fit against ours, jupyter_client's hooks (private_apis.py). About 3 min.
NEWEST_VERSIONS_TESTS = [
    "tests/fit/test_compiling.py::test_a_later_process_loads_the_callbacks_also_after_a_prior_edit_but_not_for_another_model",
    "tests/model/test_formulas.py::test_every_family_with_slopes_and_crossed_factors",
    "tests/model/test_formulas.py::test_without_bambi_s_private_clean_results_the_draws_are_the_same_with_a_warning",
    # One family per kind of likelihood code: PyMC's own, a link, a mixture, a CustomDist, ordered, censored.
    *(f"tests/test_families.py::test_family_recovers_truth_and_draws_its_check[{family}]" for family in (
        "normal", "bernoulli_probit", "beta_binomial", "zero_inflated_poisson", "hurdle_negativebinomial",
        "cumulative", "weibull")),
    "tests/report/test_estimates.py::test_formula_fit_equals_bambis_own_fit[poisson]",
    "tests/run/test_kernels.py::test_a_notebook_runs_in_a_warm_kernel_as_in_a_fresh_one",
]


def test_the_newest_allowed_versions_pass_the_fast_tests(cookies_session, baked_project):
    """The project on the newest versions pyproject.toml allows, not the lock's, so that a
    breaking release shows up in the template's CI before a user's first fit."""
    result = cookies_session.bake(extra_context={"project_name": "newest versions", "init_git": "no"})
    assert result.exit_code == 0, result.exception
    project = result.project_path
    upgrade = subprocess.run(
        [str(Path(sys.executable).with_name("uv")), "lock", "--upgrade", "--python", sys._base_executable],
        cwd=project, capture_output=True, text=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    shipped, newest = locked_versions(baked_project), locked_versions(project)
    moved = {name: f"{shipped.get(name)} -> {version}" for name, version in newest.items()
             if name != project.name and shipped.get(name) != version}
    print(f"newer than uv.lock: {moved or 'none'}")
    install = make(".venv/.installed", project)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-4000:]
    tests = subprocess.run([str(project / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *NEWEST_VERSIONS_TESTS], cwd=project, capture_output=True, text=True)
    assert tests.returncode == 0, f"on the newest versions ({moved}):\n{tests.stdout[-6000:]}"


def failures_first(output: str, each: int = 4000) -> str:
    """A failed pytest run's output for a CI log that keeps a few thousand characters: the failed
    tests' names, then the start of each failure (its message), then the last lines."""
    names = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    failures = output.partition(" FAILURES =")[2].partition(" short test summary info =")[0].rstrip("=\n")
    sections = re.split(r"\n(?=_{3,} \S.* _{3,}\n)", failures)[1:]
    return "\n".join([*names, *(section[:each] for section in sections), "...", output[-1500:]])


def test_generated_project_passes_its_own_tests(baked_project, fast_run):
    result = make("test", baked_project)
    assert result.returncode == 0, failures_first(result.stdout)
    # pytest's last line, "=== 590 passed, 2 skipped, 26 warnings in 1503.79s ===" (a warning's text may say "failed").
    summary = [line for line in result.stdout.splitlines() if re.fullmatch(r"=+ .* in [\d.]+s.* =+", line)][-1]
    assert " passed" in summary and not re.search(r"\d+ (failed|errors?)\b", summary), summary


# outcome_type -> family, and the hyperparameters its example is simulated with.
OUTCOME_TYPES = {
    "binary": ("bernoulli", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta"]),
    "count": ("poisson", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta"]),
    "proportion": ("binomial", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta"]),
    "ordinal": ("cumulative", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "cutpoint_gaps"]),
    "time_to_event": ("weibull", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "shape"]),
    "zero_inflated_count": ("zero_inflated_poisson", ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "zi"]),
}


# The other families of each outcome type's data, run beside its own models (custom and formula
# alike): every family goes through the whole pipeline. (The positive continuous families and
# beta are run by the project's own tests/run/test_families_pipeline.py.)
COUNTS = "absences ~ ses + (1 | school) + offset(log(days_enrolled))"
CUSTOM = {"custom": "varying_slopes"}
SIBLINGS = {
    "binary": [{"name": "probit", **CUSTOM, "link": "probit"},
               {"name": "probit_formula", "formula": "passed ~ ses + (1 | school)", "link": "probit"}],
    "count": [{"name": "negbin", "formula": COUNTS, "family": "negative_binomial", "distributional": ["phi ~ (1 | school)"]},
              {"name": "negbin_custom", **CUSTOM, "family": "negative_binomial"},
              {"name": "hurdle", **CUSTOM, "family": "hurdle_poisson"},
              {"name": "hurdle_formula", "formula": COUNTS, "family": "hurdle_poisson"},
              {"name": "hurdle_negbin", "formula": COUNTS, "family": "hurdle_negativebinomial"},
              {"name": "hurdle_negbin_custom", **CUSTOM, "family": "hurdle_negativebinomial"}],
    "zero_inflated_count": [{"name": "zinb", **CUSTOM, "family": "zero_inflated_negativebinomial"},
                            {"name": "zinb_formula", "formula": COUNTS, "family": "zero_inflated_negativebinomial"}],
    "proportion": [{"name": "betabinomial", **CUSTOM, "family": "beta_binomial"},
                   {"name": "betabinomial_formula", "formula": "p(correct, n_items) ~ ses + (1 | school)",
                    "family": "beta_binomial"},
                   {"name": "probit", "formula": "p(correct, n_items) ~ ses + (1 | school)", "link": "probit"},
                   {"name": "probit_custom", **CUSTOM, "link": "probit"}],
    "ordinal": [{"name": "probit", "formula": "rating ~ ses + (1 | school)", "link": "probit"},
                {"name": "probit_custom", **CUSTOM, "link": "probit"}],
}


@pytest.mark.parametrize("outcome_type", sorted(OUTCOME_TYPES))
def test_each_outcome_type_runs_its_pipeline(cookies_session, baked_project, fast_run, outcome_type):
    """Bake the other outcome types and run their pipelines in fast mode, sharing the default
    project's virtual environment (same dependencies) to save an install per bake; with the
    other families of the same data as further candidates (the example's model stays the
    reported one, ``primary``, so that its recovery of the truth is what the report shows)."""
    import yaml

    result = cookies_session.bake(extra_context={"outcome_type": outcome_type, "project_name": f"{outcome_type} study"})
    assert result.exit_code == 0, result.exception
    project = result.project_path
    siblings = SIBLINGS.get(outcome_type, [])
    if siblings:
        config_path = project / "config" / "analysis.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["models"] += siblings
        config["primary"] = "varying_slopes"
        config["cross_validation"].update(group_folds=0, max_refits=0)  # no refits (the default project has them)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = make("fast", project, f"VENV={baked_project / '.venv'}")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = (project / "reports" / "07_report.html").read_text()
    family, hyperparameters = OUTCOME_TYPES[outcome_type]
    # The report describes the model PSIS-LOO prefers (or primary), custom or formula, and says why.
    why = "named as <code>primary</code> in the config" if siblings else "PSIS-LOO prefers it"
    assert f", family {family});" in report and f"</strong>, {why}" in report
    estimates = (project / "reports" / "estimates.csv").read_text()
    for sibling in siblings:
        assert (project / "artifacts" / "fits" / f"{sibling['name']}.nc").is_file()
        assert f"\n{sibling['name']},fixed," in estimates
    if outcome_type == "count":
        assert "\nnegbin,dist_pars,,phi_(Intercept)," in estimates
    assert f"of {len(hyperparameters)} lie inside their 94% intervals" in report
    for parameter in hyperparameters:
        assert parameter in report
    for page in NOTEBOOK_PAGES:
        assert (project / "reports" / f"{page}.html").is_file()
