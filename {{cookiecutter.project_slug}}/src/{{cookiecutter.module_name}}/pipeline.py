"""Run the numbered notebooks in order with Papermill and render them to HTML.

``02_fit`` runs once per candidate model; the other notebooks run once and read the
saved fits. Executed notebooks go to ``reports/executed/``, HTML to ``reports/``, and
``reports/index.html`` links them all.
"""

import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from {{ cookiecutter.module_name }}.config import AnalysisConfig, load_config
from {{ cookiecutter.module_name }}.data import load_data


# The kernel's own start-up log (not the notebook's output) would clutter the terminal.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message names the notebook and the cell."""


@dataclass(frozen=True)
class Step:
    """One notebook execution."""

    notebook: str  # file in notebooks/
    name: str  # stem of the executed notebook and its HTML
    title: str
    parameters: dict = field(default_factory=dict)
    hide_code: bool = False  # the stakeholder report is rendered without code cells


def plan(config: AnalysisConfig, config_path: Path, fast: bool) -> list[Step]:
    """The notebook executions for this config, in order."""
    common = {"config_path": str(config_path), "fast": fast}
    primary = {**common, "model_name": config.primary_model}
    steps = [Step("01_prior_predictive.ipynb", "01_prior_predictive", "Prior predictive check", primary)]
    steps += [
        Step("02_fit.ipynb", f"02_fit_{name}", f"Fit: {name}", {**common, "model_name": name})
        for name in config.model_names
    ]
    steps += [
        Step("03_diagnostics.ipynb", "03_diagnostics", "Convergence diagnostics", primary),
        Step("04_posterior_predictive.ipynb", "04_posterior_predictive", "Posterior predictive check", primary),
        Step("05_model_comparison.ipynb", "05_model_comparison", "Model comparison", primary),
        Step("06_report.ipynb", "06_report", "Report", primary, hide_code=True),
    ]
    return steps


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def render_html(executed: Path, html_path: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML in this process."""
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    write_atomically(html_path, body)
    return html_path


def write_index(reports_dir: Path, steps: list[Step], fast: bool) -> Path:
    """``reports/index.html``: one link per rendered notebook, the report first."""
    ordered = sorted(steps, key=lambda step: not step.hide_code)
    items = "\n".join(
        f'  <li><a href="{html.escape(step.name)}.html">{html.escape(step.title)}</a>'
        f' (<a href="executed/{html.escape(step.name)}.ipynb">notebook</a>)</li>'
        for step in ordered
    )
    mode = "<p><strong>Fast mode:</strong> few draws; not for reporting.</p>" if fast else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Analysis reports</title></head>
<body>
<h1>Analysis reports</h1>
{mode}
<ul>
{items}
</ul>
</body></html>
"""
    index = reports_dir / "index.html"
    write_atomically(index, page)
    return index


def execute(step: Step, notebooks_dir: Path, executed_dir: Path) -> Path:
    """Execute one notebook with Papermill; raise :class:`NotebookFailed` naming the cell."""
    source = notebooks_dir / step.notebook
    output = executed_dir / f"{step.name}.ipynb"
    executed_dir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            source, output, parameters=step.parameters, cwd=notebooks_dir, progress_bar=False, log_output=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{source} failed in cell {error.exec_count}: {error.ename}: {error.evalue}\n"
            f"The executed notebook with the full traceback is kept at {output}"
        ) from error
    return output


def run_pipeline(config_path: str | Path, fast: bool = False, show_progress: bool = True) -> Path:
    """Validate the config and data, execute every notebook, render HTML and the index.

    Parameters
    ----------
    config_path : str or Path
    fast : bool
        Use the config's ``fast`` sampler settings (few draws) in every notebook.
    show_progress : bool

    Returns
    -------
    Path
        ``reports/index.html``.

    Raises
    ------
    ConfigError, DataError
        Before any notebook runs.
    NotebookFailed
        If a notebook raises; later notebooks are not run.
    """
    config_path = Path(config_path).resolve()
    config = load_config(config_path)
    load_data(config)  # fail on bad data here, before any notebook starts
    notebooks_dir = config.root / "notebooks"
    executed_dir = config.reports_dir / "executed"
    steps = plan(config, config_path, fast)

    columns = (TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress) as progress:
        task = progress.add_task("starting", total=len(steps))
        for step in steps:
            progress.update(task, description=step.title)
            executed = execute(step, notebooks_dir, executed_dir)
            render_html(executed, config.reports_dir / f"{step.name}.html", hide_code=step.hide_code)
            progress.advance(task)
    return write_index(config.reports_dir, steps, fast)
