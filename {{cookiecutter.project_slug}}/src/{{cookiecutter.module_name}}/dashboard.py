"""``reports/index.html``: one page saying what the latest run did and where everything is.

Each notebook's status (executed in this run or reused unchanged), its run time, links to
its HTML and executed notebook; every model's warnings (convergence, Pareto-k, prior
sensitivity); the run's date, config hash and seed; links to ``estimates.csv`` and the fits.
A self-contained page: no scripts, no external styles.
"""

import datetime
import html
import os
from pathlib import Path

from {{ cookiecutter.module_name }}.cache import file_sha256
from {{ cookiecutter.module_name }}.files import write_text_atomically

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid #ddd; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.ran { color: #1a7f37; } .reused { color: #555; }
.callout { border-left: 4px solid #d4a72c; background: #fff8e5; padding: 0.5rem 0.8rem; margin: 0.5rem 0; }
.callout.ok { border-color: #1a7f37; background: #eefbf1; }
.fast { border-left: 4px solid #cf222e; background: #ffebe9; padding: 0.5rem 0.8rem; }
"""


def _row(step, timing: dict | None) -> str:
    name = html.escape(step.name)
    status = ('<span class="ran">executed in this run</span>' if timing
              else '<span class="reused">unchanged: reused from the previous run</span>')
    seconds = f"{timing['execute_s'] + timing['render_s']:.1f}" if timing else ""
    return (f'<tr><td><a href="{name}.html">{html.escape(step.title)}</a></td><td>{status}</td>'
            f'<td class="number">{seconds}</td><td><a href="executed/{name}.ipynb">notebook</a></td></tr>')


def write_index(config, config_path: Path, steps: list, timings: dict, problems: dict[str, list[str]],
                fast: bool) -> Path:
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
    """
    reports = config.reports_dir
    ordered = sorted(steps, key=lambda step: not step.hide_code)
    rows = "\n".join(_row(step, timings.get(step.name)) for step in ordered)
    warnings = "\n".join(
        f'<div class="callout"><strong>{html.escape(name)}</strong>: {html.escape(" ".join(found))}</div>'
        for name, found in problems.items() if found
    ) or '<div class="callout ok">No fit misses a diagnostic threshold or shows prior sensitivity.</div>'
    fits = " · ".join(
        f'<a href="{html.escape(os.path.relpath(config.fit_path(name), reports))}">{html.escape(name)}.nc</a>'
        for name in config.model_names
    )
    mode = '<p class="fast"><strong>Fast mode:</strong> few draws; check the pipeline, do not report these numbers.</p>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Analysis reports</title><style>{STYLE}</style></head>
<body>
<h1>Analysis reports</h1>
<p class="meta">Run {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · config {html.escape(config_path.name)}
(sha256 {file_sha256(config_path)[:12]}) · data {html.escape(str(config.data.path))} · seed {config.sampler.seed}</p>
{mode if fast else ""}
<h2>Warnings</h2>
{warnings}
<h2>Notebooks</h2>
<table><thead><tr><th>Notebook</th><th>Status</th><th>Seconds</th><th>Executed notebook</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Data products</h2>
<p><a href="estimates.csv">estimates.csv</a> (every model's estimates, broom.mixed names) ·
<a href="timings.json">timings.json</a> · fits: {fits}</p>
</body></html>
"""
    index = reports / "index.html"
    write_text_atomically(index, page)
    return index
