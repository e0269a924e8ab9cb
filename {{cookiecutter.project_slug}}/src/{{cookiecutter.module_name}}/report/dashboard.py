"""``reports/index.html``: one page saying what the latest run did and where everything is.

Each notebook's status (executed in this run, reused unchanged, or failed with the cell), its
run time, links to its HTML and executed notebook; every model's warnings (convergence, Pareto-k, prior
sensitivity); the run's date, config hash and seed; links to ``estimates.csv``, ``ranks.csv`` and the fits.
A self-contained page: no scripts, no external styles.
"""

import datetime
import html
import os
from pathlib import Path

from {{ cookiecutter.module_name }}.files import write_text_atomically
from {{ cookiecutter.module_name }}.fingerprints import file_sha256

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #ddd; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.ran { color: #1a7f37; } .reused { color: #555; } .failed { color: #cf222e; font-weight: 600; }
.callout { border-left: 4px solid #d4a72c; background: #fff8e5; padding: 0.5rem 0.8rem; margin: 0.5rem 0; }
.callout.ok { border-color: #1a7f37; background: #eefbf1; }
.fast, .failure { border-left: 4px solid #cf222e; background: #ffebe9; padding: 0.5rem 0.8rem; }
"""


def _status(step, timing: dict | None, failure, reports: Path) -> str:
    if failure is not None and step.name == failure.step:
        where = f"in cell {failure.cell}" if failure.cell is not None else "(its kernel died)"
        kept = (f' · <a href="failed/{html.escape(failure.kept.name)}">failed notebook</a>'
                if failure.kept is not None else "")
        return f'<span class="failed">failed {where} in the latest run</span>{kept}'
    if failure is not None:
        exists = (reports / f"{step.name}.html").is_file()
        return '<span class="reused">the previous run\'s report</span>' if exists else "not available yet"
    if timing:
        return '<span class="ran">executed in this run</span>'
    return '<span class="reused">unchanged: reused from the previous run</span>'


def _row(step, timing: dict | None, failure, reports: Path) -> str:
    name, title = html.escape(step.name), html.escape(step.title)
    seconds = f"{timing['execute_s'] + timing['render_s']:.1f}" if timing else ""
    published = (reports / f"{step.name}.html").is_file()  # after a failed first run, not yet
    link = f'<a href="{name}.html">{title}</a>' if published else title
    notebook = f'<a href="executed/{name}.ipynb">notebook</a>' if published else ""
    return (f'<tr><td>{link}</td><td>{_status(step, timing, failure, reports)}</td>'
            f'<td class="number">{seconds}</td><td>{notebook}</td></tr>')


def write_index(config, config_path: Path, steps: list, timings: dict, problems: dict[str, list[str]],
                fast: bool, failure=None) -> Path:
    """Write ``reports/index.html``.

    Parameters
    ----------
    config : AnalysisConfig
    config_path : Path
    steps : list of Step
        The run's notebooks, in order; the report is listed first.
    timings : dict
        ``{step name: {"execute_s", "render_s"} }`` of the notebooks executed in this run.
    problems : dict
        ``{model name: [sentence, ...]}``: every warning of each fit.
    fast : bool
    failure : NotebookFailed, optional
        The latest run failed: the page says where, and that the reports it links are the
        previous successful run's (a failed run publishes nothing).
    """
    reports = config.reports_dir
    ordered = sorted(steps, key=lambda step: not step.hide_code)
    rows = "\n".join(_row(step, timings.get(step.name), failure, reports) for step in ordered)
    warnings = "\n".join(
        f'<div class="callout"><strong>{html.escape(name)}</strong>: {html.escape(" ".join(found))}</div>'
        for name, found in problems.items() if found
    ) or '<div class="callout ok">No fit misses a diagnostic threshold or shows prior sensitivity.</div>'
    fits = " · ".join(
        f'<a href="{html.escape(os.path.relpath(config.fit_path(name), reports))}">{html.escape(name)}.nc</a>'
        for name in config.model_names if config.fit_path(name).is_file()
    ) or "none published yet"
    failed = ("" if failure is None else
              f'<p class="failure"><strong>The latest run failed:</strong> {html.escape(str(failure))}<br>'
              "Nothing of it was published: the reports and fits linked below are the previous successful "
              "run's.</p>")
    mode = '<p class="fast"><strong>Fast mode:</strong> few draws; check the pipeline, do not report these numbers.</p>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ cookiecutter.project_name }}: reports</title><style>{STYLE}</style></head>
<body>
<h1>{{ cookiecutter.project_name }}: reports</h1>
<p class="meta">Run {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · config {html.escape(config_path.name)}
(sha256 {file_sha256(config_path)[:12]}) · data {html.escape(str(config.data.path))} · seed {config.sampler.seed}</p>
{failed}{mode if fast else ""}
<h2>Warnings</h2>
{warnings}
<h2>Notebooks</h2>
<table><thead><tr><th>Notebook</th><th>Status</th><th>Seconds</th><th>Executed notebook</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Data products</h2>
<p><a href="estimates.csv">estimates.csv</a> (every model's estimates, broom.mixed names) ·
<a href="ranks.csv">ranks.csv</a> (each group's rank) · <a href="timings.json">timings.json</a> · fits: {fits}</p>
</body></html>
"""
    index = reports / "index.html"
    write_text_atomically(index, page)
    return index
