"""The notebooks, run end to end in fast mode on a copy of the project."""

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import xarray as xr
from conftest import copy_project
from nbformat.v4 import new_code_cell, new_notebook

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import DataError
from {{ cookiecutter.module_name }}.files import atomic_path
from {{ cookiecutter.module_name }}.run.pipeline import NotebookFailed, Step, execute, fit_problems, plan, publish, run_pipeline

pytestmark = pytest.mark.slow  # runs the pipeline or sweeps: make test-fast leaves it out


def test_every_notebook_is_executed_and_rendered(pipeline_run):
    config, index = pipeline_run
    steps = plan(config, config.root / "config" / "analysis.yaml", fast=True)
    assert len(steps) == 6 + len(config.model_names), "the fixture's config enables the calibration"
    page = index.read_text()
    for step in steps:
        assert (config.reports_dir / "executed" / f"{step.name}.ipynb").is_file()
        assert (config.reports_dir / f"{step.name}.html").is_file()
        assert f'href="{step.name}.html"' in page
    for name in config.model_names:
        assert config.fit_path(name).is_file()
    timings = json.loads((config.reports_dir / "timings.json").read_text())
    assert set(timings["executed"]) == {step.name for step in steps}
    assert all(step["execute_s"] > 0 for step in timings["executed"].values())


def test_calibration_runs_before_the_report_that_states_it(pipeline_run):
    """Opt-in: not in the default plan; when on, notebook 06 runs beside the fits (it reads none),
    its result is published with the fits, and the report has its verdict."""
    config, _ = pipeline_run
    config_path = config.root / "config" / "analysis.yaml"
    default = config.model_copy(update={"calibration": config.calibration.model_copy(update={"enabled": False})})
    assert "06_calibration" not in [step.name for step in plan(default, config_path, fast=True)]
    names = [step.name for step in plan(default, config_path, fast=True, calibration=True)]
    assert names.index("06_calibration") == names.index("07_report") - 1
    # The notebooks read the config by its path from their folder: no path of the machine in a report
    assert {step.parameters["config_path"] for step in plan(config, config_path, fast=True)} == {"../config/analysis.yaml"}
    for page in config.reports_dir.glob("*.html"):
        assert str(config.root.resolve()) not in page.read_text(), f"a path of the machine in {page.name}"
    calibration = next(step for step in plan(config, config_path, fast=True) if step.name == "06_calibration")
    assert not calibration.reads_fits and calibration.parameters["model_name"] == config.primary_model
    assert config.calibration_path(config.primary_model).is_file()
    assert not (config.calibration_path(config.primary_model).parent / ".staging").exists()
    page = (config.reports_dir / "06_calibration.html").read_text()
    assert f"{config.calibration.fast_simulations} simulations from the prior" in page
    report = (config.reports_dir / "07_report.html").read_text()
    assert "Simulation-based calibration of <strong>varying_slopes</strong>" in report
    assert re.search(r"(Calibrated|Not calibrated): in 20 simulations from the prior", report)


def test_fit_warnings_are_kept_beside_the_fits_until_their_inputs_change(pipeline_run):
    """The run summary's PSIS-LOO and power-scaling checks take seconds per fit: they are kept in
    <model>.problems.json, reused while the fit and the thresholds are the same, and redone when not."""
    config, _ = pipeline_run
    name = config.primary_model
    _, first = fit_problems(config)
    saved = config.fit_path(name).with_suffix(".problems.json")
    assert json.loads(saved.read_text())["problems"] == first[name]
    assert fit_problems(config)[1] == first
    stricter = config.model_copy(update={"diagnostics": config.diagnostics.model_copy(update={"ess_bulk_min": 1e9})})
    _, redone = fit_problems(stricter)
    assert [problem for problem in redone[name] if "< 1000000000" in problem]
    assert not [problem for problem in first[name] if "< 1000000000" in problem]
    fit_problems(config)  # leave the cache as the fixture's run left it


def test_executed_notebooks_have_no_errors(pipeline_run):
    config, _ = pipeline_run
    for path in sorted((config.reports_dir / "executed").glob("*.ipynb")):
        outputs = [output for cell in nbformat.read(path, as_version=4).cells for output in cell.get("outputs", [])]
        assert not [output for output in outputs if output.output_type == "error"], path.name


def test_report_states_hyperparameters_without_code(pipeline_run):
    config, _ = pipeline_run
    report = (config.reports_dir / "07_report.html").read_text()
    truth = json.loads(config.resolve(config.data.true_parameters).read_text())
    for name in [*truth["hyperparameters"], "Recovery of known values", "Provenance", "How group effects were sampled"]:
        assert name in report
    assert "open_analysis(" not in report, "the report is rendered without code cells"
    assert "Fast mode" in report


def test_notebooks_run_top_to_bottom_with_their_default_parameters(pipeline_run, tmp_path):
    """nbval runs each notebook unchanged, as a user opening it would, from its folder in a copy
    of the project whose fits exist (the fast run's; 02_fit, whose defaults are the full
    settings, samples its model again). Not 06_calibration: with its defaults it makes 100 fits
    at the full settings (minutes); the pipeline fixture runs it in fast mode."""
    config, _ = pipeline_run
    for folder in ("config", "data", "notebooks", "artifacts"):
        shutil.copytree(config.root / folder, tmp_path / folder)
    notebooks = [path for path in sorted((tmp_path / "notebooks").glob("0*.ipynb")) if path.stem != "06_calibration"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         *map(str, notebooks)],
        cwd=tmp_path / "notebooks", capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(notebooks) == 6 and " passed" in result.stdout and " failed" not in result.stdout


def test_failing_notebook_is_named_with_its_cell(tmp_path):
    notebook = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('bad prior')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    with pytest.raises(NotebookFailed, match=r"broken.ipynb failed in cell 2: ValueError: bad prior") as error:
        execute(Step("broken.ipynb", "broken", "Broken"), tmp_path, tmp_path / "executed", tmp_path / "failed")
    assert "kept at" in str(error.value)
    kept = nbformat.read(tmp_path / "failed" / "broken.ipynb", as_version=4)
    errors = [output for cell in kept.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert [error.ename for error in errors] == ["ValueError"], "the traceback is kept"


def test_bad_data_stops_before_any_notebook(tmp_path):
    config_path = copy_project(tmp_path)
    csv = tmp_path / "data" / "example" / "schools.csv"
    csv.write_text(csv.read_text().replace("ses", "SES", 1))
    with pytest.raises(DataError, match="Did you mean 'SES'"):
        run_pipeline(config_path, fast=True, show_progress=False)
    assert not (tmp_path / "reports").exists()


def snapshot(reports_dir: Path) -> dict[str, bytes]:
    """Every published report file (not failed notebooks) and its bytes."""
    return {
        str(path.relative_to(reports_dir)): path.read_bytes()
        for path in sorted(reports_dir.rglob("*"))
        if path.is_file() and not {"failed", ".staging"} & set(path.relative_to(reports_dir).parts)
    }


@pytest.fixture
def finished_project(pipeline_run, tmp_path):
    """A copy of the module's finished run: its fits and reports, ready to be broken."""
    config, _ = pipeline_run
    for folder in ("config", "data", "notebooks", "artifacts", "reports"):
        shutil.copytree(config.root / folder, tmp_path / folder)
    return tmp_path


def test_failure_mid_pipeline_keeps_the_previous_reports(finished_project):
    """Fault injection: notebook 05 raises after 01-04 have run; the earlier reports are untouched."""
    config_path = finished_project / "config" / "analysis.yaml"
    reports = finished_project / "reports"
    before = snapshot(reports)
    notebook_path = finished_project / "notebooks" / "05_model_comparison.ipynb"
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.cells.insert(3, new_code_cell("raise RuntimeError('injected fault')"))
    nbformat.write(notebook, notebook_path)

    with pytest.raises(NotebookFailed, match=r"05_model_comparison.ipynb failed in cell \d+: RuntimeError: injected fault"):
        run_pipeline(config_path, fast=True, show_progress=False)
    after = snapshot(reports)
    index = after.pop("index.html").decode()
    assert after == {name: content for name, content in before.items() if name != "index.html"}
    assert (reports / "failed" / "05_model_comparison.ipynb").is_file()
    assert not (reports / ".staging").exists()
    # The dashboard says which notebook failed, in which cell, and still links the previous reports.
    assert "The latest run failed" in index and "injected fault" in index
    assert re.search(r'class="failed">failed in cell \d+ in the latest run', index)
    assert 'href="failed/05_model_comparison.ipynb"' in index and 'href="07_report.html"' in index
    assert index.count("the previous run's report") == len(plan(load_config(config_path), config_path, fast=True)) - 1


def test_a_failed_render_fails_the_run_and_keeps_the_previous_reports(finished_project, monkeypatch):
    """Notebooks are rendered to HTML while the next ones run: a render's error still stops the run
    before anything is published."""
    from {{ cookiecutter.module_name }}.run import pipeline

    reports = finished_project / "reports"
    before = snapshot(reports)
    report = finished_project / "notebooks" / "07_report.ipynb"
    notebook = nbformat.read(report, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("An edit by the analyst."))
    nbformat.write(notebook, report)

    def failing_render(executed, html_path, hide_code=False):
        raise OSError(f"injected: cannot write {html_path.name}")

    monkeypatch.setattr(pipeline, "render_html", failing_render)
    with pytest.raises(OSError, match="injected: cannot write 07_report.html"):
        run_pipeline(finished_project / "config" / "analysis.yaml", fast=True, show_progress=False)
    assert snapshot(reports) == before
    assert not (reports / ".staging").exists()


def test_killed_run_leaves_the_previous_reports_and_fits_readable(finished_project):
    """Kill the pipeline while it fits: published reports are unchanged and every fit file loads."""
    from {{ cookiecutter.module_name }}.fit.store import load_fit

    reports = finished_project / "reports"
    before = snapshot(reports)
    config_path = finished_project / "config" / "analysis.yaml"
    config_path.write_text(config_path.read_text().replace("seed: ", "seed: 1"))  # a new seed: every fit is redone
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--fast", "--config",
         str(finished_project / "config" / "analysis.yaml")],
        cwd=finished_project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    staged_fit = reports / ".staging" / "executed" / "02_fit_varying_slopes.ipynb"
    deadline = time.monotonic() + 120
    while not staged_fit.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # into the fit
    process.kill()
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert snapshot(reports) == before
    config = load_config(finished_project / "config" / "analysis.yaml")
    for name in config.model_names:
        assert load_fit(config.fit_path(name)).posterior.sizes["draw"] > 0


def every_file(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes, failed notebooks included (not the staging areas)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and ".staging" not in path.relative_to(folder).parts}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_stops_at_once_and_changes_nothing(finished_project, signum):
    """Ctrl-C (or SIGTERM) while fitting: exit 130 with one line, kernels and queued notebooks
    stopped, every earlier fit and report byte-identical."""
    import psutil

    reports, fits = finished_project / "reports", finished_project / "artifacts"
    before = every_file(reports), every_file(fits)
    config_path = finished_project / "config" / "analysis.yaml"
    config_path.write_text(config_path.read_text().replace("seed: ", "seed: 1"))  # a new seed: every fit is redone
    # Ctrl-C as in a terminal's foreground job: SIGINT not ignored, though a test runner started
    # in the background by a script (CI) inherits it ignored, and so would the run.
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--fast", "--jobs", "1", "--config", str(config_path)],
        cwd=finished_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    staged_fit = reports / ".staging" / "executed" / "02_fit_varying_slopes.ipynb"
    deadline = time.monotonic() + 120
    while not staged_fit.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # into the fit; other fit notebooks are queued (--jobs 1)
    kernels = psutil.Process(process.pid).children(recursive=True)
    assert kernels, "no kernel was running"
    process.send_signal(signum)
    started = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()  # a run that did not stop must not outlive the test
    assert process.returncode == 130, stderr
    assert time.monotonic() - started < 20, "the run did not stop at once"
    assert stderr.strip().splitlines()[-1].startswith("Interrupted: no published fit or report was changed")
    assert "Traceback" not in stderr
    assert not any(kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE for kernel in kernels)
    assert (every_file(reports), every_file(fits)) == before
    assert not (reports / ".staging").exists()


def test_reports_and_fits_are_readable_by_others(finished_project):
    """Atomic writes go through a private temporary file; the published files must not stay private."""
    from {{ cookiecutter.module_name }}.files import FILE_MODE

    published = [*(finished_project / "reports").glob("*.html"), *(finished_project / "artifacts" / "fits").glob("*.nc")]
    assert published and FILE_MODE & 0o044 == 0o044  # the usual umask, 022
    assert {path.stat().st_mode & 0o777 for path in published} == {FILE_MODE}


def test_staged_fits_are_reused_by_the_next_run(finished_project):
    """A fit finished by an interrupted run waits in the staging folder; the next run loads it.
    Its warnings wait beside it, checked where the fit was made (the run's summary reads them)."""
    from {{ cookiecutter.module_name }}.data.grouped import load_data
    from {{ cookiecutter.module_name }}.evaluate.convergence import fit_warnings, saved_fit_warnings
    from {{ cookiecutter.module_name }}.run.fits import fit_or_load

    config_path = finished_project / "config" / "analysis.yaml"
    config_path.write_text(config_path.read_text().replace("seed: ", "seed: 2"))
    config = load_config(config_path)
    published = config.fit_path("complete_pooling").read_bytes()
    settings = config.sampler_settings(fast=True)
    first, from_cache = fit_or_load(config, "complete_pooling", load_data(config), settings, staged=True)
    assert not from_cache and (config.fits_staging_dir / "complete_pooling.nc").is_file()
    assert config.fit_path("complete_pooling").read_bytes() == published  # nothing published yet
    staged = config.fits_staging_dir / "complete_pooling.nc"
    assert saved_fit_warnings(staged, first.attrs["cache_key"], config) == fit_warnings(first, config)
    assert saved_fit_warnings(config.fit_path("complete_pooling"), first.attrs["cache_key"], config) is None
    again, from_cache = fit_or_load(config, "complete_pooling", load_data(config), settings, staged=True)
    assert from_cache and again.attrs["cache_key"] == first.attrs["cache_key"]
    assert config.fit_path("complete_pooling", staged=True) == config.fits_staging_dir / "complete_pooling.nc"


@pytest.mark.parametrize("max_refits", [0, 2])
def test_a_new_fit_stores_the_loo_that_its_refits_give(finished_project, max_refits):
    """``fit_or_load`` computes PSIS-LOO once before the exact refits and stores it, or again with
    their scores in place when rows were refitted: the same as computing it from the saved fit."""
    from {{ cookiecutter.module_name }}.data.grouped import load_data
    from {{ cookiecutter.module_name }}.evaluate.loo import psis_loo, stored_loo
    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.names import LOO_GROUP
    from {{ cookiecutter.module_name }}.run.fits import fit_or_load

    config = load_config(finished_project / "config" / "analysis.yaml")
    config = config.model_copy(update={
        "diagnostics": config.diagnostics.model_copy(update={"pareto_k_max": -1.0}),  # every row "high"
        "cross_validation": config.cross_validation.model_copy(update={"group_folds": 0, "max_refits": max_refits}),
    })
    fit_data, from_cache = fit_or_load(config, "complete_pooling", load_data(config), config.sampler_settings(True))
    assert not from_cache
    saved = load_fit(config.fit_path("complete_pooling"))
    assert (saved["exact_loo"].sizes["obs"] if "exact_loo" in saved.children else 0) == max_refits
    stored, fresh = stored_loo(saved[LOO_GROUP]), psis_loo(saved)
    xr.testing.assert_allclose(stored.elpd_i, fresh.elpd_i, rtol=1e-12)
    xr.testing.assert_allclose(stored.pareto_k, fresh.pareto_k, rtol=1e-12)
    assert stored.elpd == pytest.approx(fresh.elpd, rel=1e-12)


def test_rerun_gives_identical_summaries(pipeline_run, tmp_path):
    """Same config, data and seed: the refitted primary model has the same posterior summary."""
    import arviz as az

    from {{ cookiecutter.module_name }}.data.grouped import load_data
    from {{ cookiecutter.module_name }}.fit.sampling import fit
    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.model.build import build_model

    config, _ = pipeline_run
    first = load_fit(config.fit_path(config.primary_model))
    again = fit(build_model(config, config.primary_model, load_data(config)), config.sampler_settings(fast=True))
    pd.testing.assert_frame_equal(az.summary(first, round_to="none"), az.summary(again, round_to="none"))


def test_strict_run_exits_non_zero_on_diagnostic_problems(finished_project, monkeypatch):
    """The finished fast run's 2 x 300 draws miss the ESS threshold: --strict says so and exits 3,
    a plain run exits 0. (The pipeline itself is not rerun: its fits are already there.)"""
    from typer.testing import CliRunner

    from {{ cookiecutter.module_name }} import cli

    monkeypatch.setattr(cli, "run_pipeline", lambda config, **options: finished_project / "reports" / "index.html")
    arguments = ["run", "--fast", "--config", str(finished_project / "config" / "analysis.yaml")]
    strict = CliRunner().invoke(cli.app, [*arguments, "--strict"])
    assert strict.exit_code == cli.STRICT_EXIT_CODE, strict.output
    assert "strict: varying_slopes:" in strict.stderr and "< 400" in strict.stderr
    plain = CliRunner().invoke(cli.app, arguments)
    assert plain.exit_code == 0
    # One closing line: where the reports are, how many models and warnings (which models), the time.
    n_models = len(load_config(arguments[-1]).model_names)
    assert re.search(rf"Reports written: .*index.html · {n_models} models · [1-9]\d* warnings \(.*varying_slopes.*\) · \d+ s",
                     plain.stdout), plain.stdout


def executed_times(reports_dir: Path) -> dict[str, float]:
    return {path.name: path.stat().st_mtime_ns for path in (reports_dir / "executed").glob("*.ipynb")}


def test_unchanged_rerun_executes_nothing_and_an_edited_report_only_itself(finished_project):
    config_path = finished_project / "config" / "analysis.yaml"
    reports = finished_project / "reports"
    before = executed_times(reports)
    started = time.perf_counter()
    run_pipeline(config_path, fast=True, show_progress=False)
    assert executed_times(reports) == before, "an unchanged notebook was executed again"
    assert time.perf_counter() - started < 30

    report = finished_project / "notebooks" / "07_report.ipynb"
    notebook = nbformat.read(report, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("An edit by the analyst."))
    nbformat.write(notebook, report)
    run_pipeline(config_path, fast=True, show_progress=False)
    after = executed_times(reports)
    assert [name for name in after if after[name] != before[name]] == ["07_report.ipynb"]
    assert list(json.loads((reports / "timings.json").read_text())["executed"]) == ["07_report"]
    assert "An edit by the analyst." in (reports / "07_report.html").read_text()


def test_changed_config_reruns_notebooks_but_reuses_fits(finished_project):
    """A new diagnostics threshold changes every notebook's inputs, not the fits'."""
    from {{ cookiecutter.module_name }}.run.fits import fit_origin

    config_path = finished_project / "config" / "analysis.yaml"
    config_path.write_text(config_path.read_text().replace("rhat_max: 1.01", "rhat_max: 1.02"))
    fits_before = {path.name: path.stat().st_mtime_ns for path in (finished_project / "artifacts" / "fits").glob("*.nc")}
    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    for name in config.model_names:
        assert fit_origin(config, name)["from_cache"] is True
    assert {path.name: path.stat().st_mtime_ns for path in (finished_project / "artifacts" / "fits").glob("*.nc")} == fits_before
    assert "loaded from the cache" in (finished_project / "reports" / "07_report.html").read_text()


def test_one_models_prior_edited_refits_that_model_alone(finished_project):
    """A prior of ``complete_pooling`` changed: its fit notebook and those that read every fit run
    again; the other models' fit notebooks and the primary model's prior predictive check do not."""
    config_path = finished_project / "config" / "analysis.yaml"
    edited = config_path.read_text().replace("ses: {dist: Normal, mu: 0, sigma: 1}", "ses: {dist: Normal, mu: 0, sigma: 2}")
    assert edited != config_path.read_text()
    config_path.write_text(edited)
    reports = finished_project / "reports"
    before = executed_times(reports)
    run_pipeline(config_path, fast=True, show_progress=False)
    after = executed_times(reports)
    rerun = sorted(name.removesuffix(".ipynb") for name in after if after[name] != before[name])
    config = load_config(config_path)
    assert config.primary_model != "complete_pooling"
    assert rerun == ["02_fit_complete_pooling", "03_diagnostics", "04_posterior_predictive", "05_model_comparison",
                     "07_report"]
    assert sorted(json.loads((reports / "timings.json").read_text())["executed"]) == rerun


def test_index_is_a_dashboard_of_the_run(pipeline_run):
    """Status and time of each notebook, every model's warnings, the run's config hash and
    seed, links to the estimates and the fits."""
    from {{ cookiecutter.module_name }}.fingerprints import file_sha256

    config, index = pipeline_run
    page = index.read_text()
    config_path = config.root / "config" / "analysis.yaml"
    assert f"sha256 {file_sha256(config_path)[:12]}" in page and f"seed {config.sampler.seed}" in page
    assert page.count("executed in this run") == len(plan(config, config_path, fast=True))
    assert 'href="estimates.csv"' in page and 'href="../artifacts/fits/varying_slopes.nc"' in page
    assert 'href="ranks.csv"' in page
    ranks = pd.read_csv(config.reports_dir / "ranks.csv")
    assert set(ranks["model"]) == {"varying_slopes", "varying_intercepts"}  # complete pooling has no groups
    assert len(ranks[ranks["model"] == "varying_slopes"]) == 40 and ranks["n"].min() > 0
    assert "Fast mode" in page
    # The fast run's 2 x 300 draws miss the ESS threshold: each such model has a warning.
    assert 'class="callout"><strong>varying_slopes</strong>' in page and "&lt; 400" in page
    # ... and the report's warnings are styled callouts, not grey block quotes.
    report = (config.reports_dir / "07_report.html").read_text()
    assert "blockquote { border-left: 4px solid" in report and "<blockquote>" in report


def test_a_write_killed_in_staging_is_not_published(tmp_path):
    """SIGKILL skips :func:`atomic_path`'s cleanup: its temporary file stays in staging, and must
    not reach the published folder as if it were a whole file."""
    staging, published = tmp_path / ".staging", tmp_path / "fits"
    with atomic_path(staging / "model.nc") as temporary:
        temporary.write_bytes(b"whole")
    killed = staging / ".other.nc.abc123.tmp"  # as atomic_path names it, left by a killed process
    killed.write_bytes(b"half")
    publish(staging, published)
    assert sorted(path.name for path in published.rglob("*")) == ["model.nc"]
    assert (published / "model.nc").read_bytes() == b"whole" and not staging.exists()
