"""Command line: ``python -m {{ cookiecutter.module_name }} run`` and friends."""

import json
from pathlib import Path

import typer

from {{ cookiecutter.module_name }}.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from {{ cookiecutter.module_name }}.data.grouped import DataError
from {{ cookiecutter.module_name }}.data.simulate import write_example
from {{ cookiecutter.module_name }}.evaluate.convergence import all_problems
from {{ cookiecutter.module_name }}.fit.store import load_fit
from {{ cookiecutter.module_name }}.run.pipeline import NotebookFailed, OutputError, run_pipeline
from {{ cookiecutter.module_name }}.run.stopping import INTERRUPTED_EXIT_CODE, stop_on_interrupt

# Exit codes: 1 bad config, data or a failed notebook; 3 a --strict run whose fits miss a
# threshold; 130 interrupted (Ctrl-C or SIGTERM, ``run/stopping.py``), as shells report a SIGINT.
STRICT_EXIT_CODE = 3


def run_summary(index: Path) -> str:
    """The run in one line: where the reports are, the models, the warnings and the time."""
    record = json.loads((index.parent / "timings.json").read_text())
    warnings = record["warnings"]
    flagged = f" ({', '.join(name for name, count in warnings.items() if count)})" if any(warnings.values()) else ""
    return (f"Reports written: {index} · {len(warnings)} models · {sum(warnings.values())} warnings{flagged} · "
            f"{record['total_s']:.0f} s")


app = typer.Typer(help="{{ cookiecutter.project_name }}: Bayesian multilevel analysis pipeline.", no_args_is_help=True)

CONFIG_OPTION = typer.Option(DEFAULT_CONFIG_PATH, "--config", "-c", help="The analysis config (YAML).")


@app.command()
def run(
    config: Path = CONFIG_OPTION,
    fast: bool = typer.Option(False, "--fast", help="Few draws: check the pipeline, not for reporting."),
    force: bool = typer.Option(False, "--force", help="Execute every notebook, even those whose inputs are unchanged."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Notebooks run side by side where independent."),
    calibration: bool = typer.Option(
        False, "--calibration", help="Also run simulation-based calibration of the primary model (notebook 06)."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit with code 3 if any fit misses a diagnostic threshold (reports are still written)."
    ),
    wait: bool = typer.Option(False, "--wait", help="If another run of this project is writing its outputs, wait for "
                              "it to finish instead of refusing."),
) -> None:
    """Fit every candidate model and render all notebooks to reports/."""
    stop_on_interrupt()  # Ctrl-C, `kill`, a scheduler or CI: stopped within seconds, by force if need be
    try:
        index = run_pipeline(config, fast=fast, force=force, jobs=jobs, calibration=calibration, wait=wait)
    except KeyboardInterrupt:
        typer.echo("Interrupted: no published fit or report was changed; fits finished in this run are kept in "
                   "artifacts/fits/.staging and the next run reuses them.", err=True)
        raise typer.Exit(code=INTERRUPTED_EXIT_CODE) from None
    except (ConfigError, DataError, NotebookFailed, OutputError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    except OSError as error:  # e.g. the disk filled up while writing: say which file, no traceback
        typer.echo(f"error: {error.filename or 'writing the reports'}: {error.strerror or error}. Fix: free disk "
                   "space or make the folder writable, then run again (finished fits are reused).", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(run_summary(index))
    if strict:
        settings = load_config(config)
        fits = {name: load_fit(settings.fit_path(name)) for name in settings.model_names}
        found = {name: issues for name, issues in all_problems(fits, settings.diagnostics).items() if issues}
        if found:
            for name, issues in found.items():
                typer.echo(f"strict: {name}: " + " ".join(issues), err=True)
            raise typer.Exit(code=STRICT_EXIT_CODE)


@app.command()
def sweep(
    file: Path = typer.Argument(..., help="The sweep file, e.g. sweeps/prior_scale.yaml."),
    scheduler: str = typer.Option(None, "--scheduler", help="A running Dask scheduler, e.g. tcp://host:8786 "
                                  "(default: a local cluster)."),
    workers: int = typer.Option(None, "--workers", "-w", min=1, help="Local cluster: worker processes (default: cores)."),
    fast: bool = typer.Option(None, "--fast/--no-fast", help="Few draws in every variant (default: the sweep file's)."),
) -> None:
    """Run the pipeline once per variant of a sweep file and write reports/sweeps/<sweep>/index.html.

    Exits with code 1 if any variant failed (the others still run and are reported).
    """
    from {{ cookiecutter.module_name }}.run.sweep import run_sweep

    try:
        index = run_sweep(file, scheduler=scheduler, workers=workers, fast=fast)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    results = json.loads((index.parent / "results.json").read_text())
    failed = {name: result["error"] for name, result in results["variants"].items() if result["status"] != "ok"}
    for name, error in failed.items():
        typer.echo(f"variant {name} failed: {error}", err=True)
    typer.echo(f"Sweep written: {index} · {len(results['variants'])} variants · {len(failed)} failed · "
               f"{results['seconds']:.0f} s")
    if failed:
        raise typer.Exit(code=1)


@app.command()
def simulate(
    config: Path = CONFIG_OPTION,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing data file."),
) -> None:
    """Regenerate the example data set and its true parameters at the config's paths."""
    try:
        settings = load_config(config)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    if settings.data.prepare is not None:  # the next run would replace the simulation with the prepared table
        typer.echo(f"error: {settings.data.path} is made from raw files (data.prepare in {config}); the example "
                   "is not written over it. Fix: remove data.prepare, or point data.path at another file.", err=True)
        raise typer.Exit(code=1)
    if settings.data.true_parameters is None:
        typer.echo("error: data.true_parameters is not set in the config; nowhere to write the truth.", err=True)
        raise typer.Exit(code=1)
    if settings.data_path.exists() and not overwrite:
        typer.echo(f"error: {settings.data_path} exists; pass --overwrite to replace it.", err=True)
        raise typer.Exit(code=1)
    frame = write_example(settings.data_path, settings.resolve(settings.data.true_parameters))
    typer.echo(f"Wrote {len(frame)} rows to {settings.data_path}")
