"""Run the numbered notebooks in order with Papermill and render them to HTML.

``02_fit`` runs once per candidate model; the other notebooks run once and read the
saved fits. Executed notebooks go to ``reports/executed/``, HTML to ``reports/``, and
``reports/index.html`` (``dashboard.py``) says what the run did and links them all; ``reports/estimates.csv`` holds the tidy estimates
of every fit (``estimates.py``); ``reports/timings.json`` says how long each
notebook of the latest run took to execute and to render. Each notebook's kernel is started,
and the package imported in it, while the notebooks before it run (``kernels.py``).

A run writes into ``reports/.staging/`` and ``artifacts/fits/.staging/`` and publishes
(renames) its fits, notebooks and HTML into place only when every notebook has succeeded, so
the previous fits and reports stay complete and readable until a new set is. A failed
notebook is kept in ``reports/failed/``. Ctrl-C or SIGTERM stops the kernels and queued
notebooks at once and changes nothing published; the fits finished so far stay staged and
the next run reuses them.
"""

import concurrent.futures
import contextlib
import importlib
import json
import os
import re
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from {{ cookiecutter.module_name }}.config import AnalysisConfig, load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.data.preparation import described, run_preparation
from {{ cookiecutter.module_name }}.files import is_unfinished_write, write_text_atomically
from {{ cookiecutter.module_name }}.fingerprints import file_sha256, model_inputs, record_fingerprint, recorded_fingerprint, step_fingerprint
from {{ cookiecutter.module_name }}.fit.progress import PROGRESS_DIR_ENV, read_progress
from {{ cookiecutter.module_name }}.model.design import check_costs, design_warnings
from {{ cookiecutter.module_name }}.run.lock import RunLocked, holding_outputs
from {{ cookiecutter.module_name }}.run.stopping import deferred_interruptions, publishing, raise_if_interrupted, stop_children

FIT_NOTEBOOK = "02_fit.ipynb"
CALIBRATION = "06_calibration"
REPORT = "07_report"

# The kernel's own log (not the notebook's output) would clutter the terminal: at shutdown
# ipykernel logs "KeyboardInterrupt caught in kernel" as an ERROR after every successful
# notebook. A notebook's real errors reach the run through Papermill, not this log.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
# The notebooks name the project's kernel (registered by `make lab`); the pipeline runs them in
# the Python that runs it, which is the same environment, whether or not that kernel is registered.
KERNEL_NAME = "python3"
# Papermill waits 60 s for a kernel to start; on a busy 2-core machine (two kernels compiling
# models, a test suite beside them) a start was seen to take longer, which failed a whole run.
KERNEL_START_TIMEOUT_S = 300
# What the run's summaries (estimates.csv, the index) read of each fit: a tenth of the whole fit's reading time.
SUMMARY_GROUPS = ("posterior", "convergence", "constant_data")  # constant_data: group-level predictors (ranks)


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message names the notebook and the cell.

    ``step`` is the failed execution's name, ``cell`` the failing cell's execution count (None
    when the kernel died) and ``kept`` the executed notebook with the traceback.
    """

    def __init__(self, message: str, step: str = "", cell: int | None = None, kept: Path | None = None):
        super().__init__(message)
        self.step, self.cell, self.kept = step, cell, kept


class OutputError(RuntimeError):
    """A folder the run writes to cannot be written; the message names it and the fix."""


def check_writable(*folders: Path) -> None:
    """Create each output folder and write a small file in it, before any notebook runs."""
    for folder in folders:
        probe = folder / f".write-test-{os.getpid()}"  # two runs started together probe apart
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"0" * 4096)
            probe.unlink()
        except OSError as error:
            raise OutputError(
                f"{folder}: cannot write here ({error.strerror}). Fix: make the folder writable, free disk space, "
                "or set paths.reports / paths.artifacts in the config to a writable folder. Nothing was changed."
            ) from error


@dataclass(frozen=True)
class Step:
    """One notebook execution."""

    notebook: str  # file in notebooks/
    name: str  # stem of the executed notebook and its HTML
    title: str
    parameters: dict = field(default_factory=dict)
    hide_code: bool = False  # the stakeholder report is rendered without code cells
    reads_fits: bool = True  # False: needs only the config and the data, so it runs beside the fits
    one_model: bool = False  # reads only its model's part of the config (fingerprints.model_inputs)


def plan(config: AnalysisConfig, config_path: Path, fast: bool, calibration: bool = False) -> list[Step]:
    """The notebook executions for this config, in order; with ``calibration`` (or the config's
    ``calibration.enabled``) also the simulation-based calibration, before the report that states it."""
    calibration = calibration or config.calibration.enabled
    # Relative to the notebooks' folder, where they run: no path of the machine in a report
    common = {"config_path": os.path.relpath(config_path, config.root / "notebooks"), "fast": fast}
    primary = {**common, "model_name": config.primary_model}
    reported = {**common, "model_name": config.primary or ""}  # "": the model PSIS-LOO prefers
    # Notebooks that make or read fits use this run's staged fits (published when it succeeds).
    primary, reported = {**primary, "staged": True}, {**reported, "staged": True}
    steps = [Step("01_prior_predictive.ipynb", "01_prior_predictive", "Prior predictive check",
                  {**common, "model_name": config.primary_model}, reads_fits=False, one_model=True)]
    steps += [
        Step(FIT_NOTEBOOK, f"02_fit_{name}", f"Fit: {name}", {**common, "model_name": name, "staged": True},
             one_model=True)
        for name in config.model_names
    ]
    steps += [
        Step("03_diagnostics.ipynb", "03_diagnostics", "Convergence diagnostics", primary),
        Step("04_posterior_predictive.ipynb", "04_posterior_predictive", "Posterior predictive check", reported),
        Step("05_model_comparison.ipynb", "05_model_comparison", "Model comparison", primary),
    ]
    if calibration:
        steps.append(Step(f"{CALIBRATION}.ipynb", CALIBRATION, "Simulation-based calibration", primary,
                          reads_fits=False, one_model=True))
    steps.append(Step(f"{REPORT}.ipynb", REPORT, "Report", {**reported, "calibration": calibration},
                      hide_code=True))
    return steps


# The notebooks write warnings as Markdown block quotes ("> **Warning:** ..."): in the HTML
# they become callouts a reader cannot miss, not grey asides. Figure captions and the table
# of contents are styled for reading, tables get aligned figures.
REPORT_STYLE = """<style>
.jp-RenderedMarkdown blockquote { border-left: 4px solid #d4a72c; background: #fff8e5; color: #222;
  padding: 0.4rem 0.8rem; margin: 0.6rem 0; }
nav.toc { border: 1px solid #ddd; border-radius: 4px; padding: 0.4rem 1rem; margin: 1rem 0; max-width: 36rem; }
nav.toc ol { margin: 0.3rem 0; padding-left: 1.4rem; }
p.caption { color: #444; font-size: 0.95em; max-width: 48rem; margin: 0.2rem 0 1.2rem; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { font-variant-numeric: tabular-nums; }
</style>
"""

# nbconvert gives every Markdown heading an id and an anchor link.
SECTION = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"')


def add_contents(body: str, min_sections: int = 3) -> str:
    """Insert a table of contents of the page's sections (``##`` headings) before the first."""
    sections = SECTION.findall(body)
    if len(sections) < min_sections:
        return body
    items = "".join(f'<li><a href="#{anchor}">{title}</a></li>' for anchor, title in sections)
    contents = f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>\n'
    first = body.index(f'<h2 id="{sections[0][0]}">')
    return body[:first] + contents + body[first:]


# nbconvert's page loads require.js (for widgets, which these notebooks do not use) and MathJax
# from a CDN: offline, or behind a firewall, both fail and the browser logs errors. MathJax is
# kept only on a page that shows TeX.
REQUIRE_JS = re.compile(r'<script src="[^"]*require[^"]*"></script>')
MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
TEX = re.compile(r"\$\$|\\\(|\\\[|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def without_remote_scripts(body: str) -> str:
    """The page without the CDN scripts it does not need."""
    body = REQUIRE_JS.sub("", body)
    without_mathjax = MATHJAX.sub("", body)
    return body if TEX.search(without_mathjax) else without_mathjax


def render_html(executed: Path, html_path: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML in this process, with a table of contents."""
    import nbformat  # here, not at the top: about 2 s of imports that a run executing nothing never needs
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    body = add_contents(without_remote_scripts(body.replace("</head>", REPORT_STYLE + "</head>", 1)))
    write_text_atomically(html_path, body)
    return html_path


# Libraries compiled from Rust (nutpie) append a stack backtrace to their messages.
BACKTRACE_MARKERS = ("Stack backtrace:", "stack backtrace:", "\nBacktrace", "Traceback (most recent call last)")
MAX_ERROR_CHARS = 400


def error_summary(message: str) -> str:
    """A notebook's error in one line for the terminal: no backtrace, at most a few hundred
    characters (the executed notebook in ``reports/failed/`` keeps all of it)."""
    for marker in BACKTRACE_MARKERS:
        message = message.split(marker, 1)[0]
    line = " ".join(message.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 1] + "…"


def execute(step: Step, notebooks_dir: Path, executed_dir: Path, failed_dir: Path, kernel=None) -> Path:
    """Execute one notebook with Papermill; raise :class:`NotebookFailed` naming the cell.

    The failed notebook, with its traceback, is moved to ``failed_dir``. ``kernel``: a kernel
    already started (:class:`kernels.KernelPool`), or None for Papermill to start one.
    """
    import papermill  # here, not at the top (see render_html)
    from nbclient.exceptions import DeadKernelError

    source = notebooks_dir / step.notebook
    output = executed_dir / f"{step.name}.ipynb"
    executed_dir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            source, output, parameters=step.parameters, cwd=notebooks_dir, progress_bar=False, log_output=False,
            kernel_name=KERNEL_NAME, extra_arguments=KERNEL_ARGUMENTS, start_timeout=KERNEL_START_TIMEOUT_S, km=kernel,
        )
    except papermill.PapermillExecutionError as error:
        if error.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel too: not a failure to keep
            raise KeyboardInterrupt from error
        failed_dir.mkdir(parents=True, exist_ok=True)
        kept = failed_dir / output.name
        os.replace(output, kept)
        raise NotebookFailed(
            f"{source} failed in cell {error.exec_count}: {error.ename}: {error_summary(error.evalue)}\n"
            f"The executed notebook with the full traceback is kept at {kept}; "
            "the previous reports are unchanged.",
            step=step.name, cell=error.exec_count, kept=kept,
        ) from error
    except DeadKernelError as error:
        raise NotebookFailed(
            f"{source}: its kernel died (out of memory, or killed) before the notebook finished. "
            "Fix: free memory or reduce sampler.pointwise_rows / the data; the previous reports are unchanged.",
            step=step.name,
        ) from error
    return output


def publish(staging: Path, reports_dir: Path) -> None:
    """Move every staged file into ``reports_dir`` (same file system: each move is atomic); not
    the temporary file of a write whose process was killed, which is not a whole file."""
    for staged in sorted(staging.rglob("*")):
        if staged.is_file() and not is_unfinished_write(staged):
            target = reports_dir / staged.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
    shutil.rmtree(staging, ignore_errors=True)


def fingerprints(steps: list[Step], config: AnalysisConfig, config_path: Path) -> dict[str, str]:
    """Each step's fingerprint; notebooks after the fits also depend on every fit's."""
    whole_config = file_sha256(config_path)

    def fingerprint(step: Step, upstream: list[str]) -> str:
        # The config's path relative to the project, so a moved project keeps its cache.
        parameters = {**step.parameters, "config_path": str(config_path.relative_to(config.root))}
        inputs = whole_config
        if step.one_model:
            settings = config.sampler_settings(step.parameters.get("fast", False))
            inputs = model_inputs(config, step.parameters["model_name"], settings)
        return step_fingerprint(config.root / "notebooks" / step.notebook, parameters, inputs,
                                config.data_path, upstream)

    fits = [step for step in steps if step.notebook == FIT_NOTEBOOK]
    found = {step.name: fingerprint(step, []) for step in fits}
    fit_prints = list(found.values())
    for step in steps:
        if step.notebook != FIT_NOTEBOOK:
            found[step.name] = fingerprint(step, fit_prints if step.reads_fits else [])
    return found


def is_current(step: Step, fingerprint: str, config: AnalysisConfig) -> bool:
    """Whether an earlier run's outputs of ``step`` are still valid for these inputs."""
    outputs = [config.reports_dir / f"{step.name}.html"]
    if step.notebook == FIT_NOTEBOOK:
        outputs.append(config.fit_path(step.parameters["model_name"]))
    if step.name == CALIBRATION:
        outputs.append(config.calibration_path(step.parameters["model_name"]))
    executed = config.reports_dir / "executed" / f"{step.name}.ipynb"
    return recorded_fingerprint(executed) == fingerprint and all(path.is_file() for path in outputs)


def waves(steps: list[Step]) -> list[list[Step]]:
    """Steps that can run side by side: first those that read no fit (the prior predictive
    check and the fits), then those that read the fits, with the calibration (minutes: it
    would hold them up in the first) and, after it, the report that states it."""
    first = [step for step in steps if step.notebook == FIT_NOTEBOOK or (not step.reads_fits and step.name != CALIBRATION)]
    rest = [step for step in steps if step not in first]
    if not any(step.name == CALIBRATION for step in rest):
        return [first, rest]
    report = [step for step in rest if step.name == REPORT]
    return [first, [step for step in rest if step not in report], report]


def run_concurrently(function, steps: list[Step], jobs: int, on_done, on_interrupt=lambda: None) -> None:
    """``function(step)`` for every step, ``jobs`` at a time; the first failure in plan order is raised
    after the running ones finish. On Ctrl-C or SIGTERM the queued steps are dropped,
    ``on_interrupt()`` is called (no kernel may start after it) and the running kernels are
    stopped until every step has ended, at once; then the interruption is raised."""
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = [pool.submit(function, step) for step in steps]
    try:
        pending = set(futures)
        while pending:
            raise_if_interrupted()  # here, not inside the executor's bookkeeping (stopping.py)
            done, pending = concurrent.futures.wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is None:
                    on_done()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        on_interrupt()
        # A kernel that started as the others were stopped is stopped in the next round. (Not
        # ``wait``'s pending set: a future cancelled by ``shutdown`` never counts there as done.)
        running = [future for future in futures if not future.done()]
        while running:
            stop_children()
            concurrent.futures.wait(running, timeout=1)
            running = [future for future in running if not future.done()]
        raise
    pool.shutdown(wait=True)
    for future in futures:
        future.result()


def fit_problems(config: AnalysisConfig) -> tuple[dict, dict[str, list[str]]]:
    """The published fits (their :data:`SUMMARY_GROUPS`) and every warning of each (convergence,
    Pareto-k, prior sensitivity).

    PyMC and ArviZ are imported here: they take seconds, which a run whose notebooks are all
    cached need not pay otherwise."""
    from {{ cookiecutter.module_name }}.evaluate.convergence import save_fit_warnings, saved_fit_warnings
    from {{ cookiecutter.module_name }}.fit.store import load_fit

    fits, problems = {}, {}
    for name in config.model_names:
        path = config.fit_path(name)
        fits[name] = load_fit(path, SUMMARY_GROUPS)
        # The fit notebook keeps them beside the fit; thresholds changed since: checked again here.
        problems[name] = saved_fit_warnings(path, fits[name].attrs.get("cache_key"), config)
        if problems[name] is None:  # the checks read the sampler's and the pointwise groups
            problems[name] = save_fit_warnings(load_fit(path), config, path)
    return fits, problems


def write_failure_index(config: AnalysisConfig, config_path: Path, steps: list[Step], failure: NotebookFailed,
                        fast: bool) -> None:
    """``reports/index.html`` saying which notebook failed, in which cell, and that the reports
    it links are the previous run's. Never masks the failure itself."""
    from {{ cookiecutter.module_name }}.report.dashboard import write_index

    problems = {}
    with contextlib.suppress(Exception):  # no complete set of published fits yet (a first run failed)
        _, problems = fit_problems(config)
    with contextlib.suppress(OSError):  # the notebook's failure is what the user must see, not this one
        write_index(config, config_path, steps, {}, problems, fast, failure=failure)


@contextlib.contextmanager
def following_sampling(progress: Progress, folder: Path, enabled: bool = True, interval_s: float = 0.3):
    """While the block runs, show a bar per model that is sampling, with each chain's draws.

    The fit notebooks' kernels write the draws to ``folder`` (see ``progress.py``); a thread
    here reads them.
    """
    if not enabled:
        yield
        return
    stop = threading.Event()
    tasks = {}

    def follow() -> None:
        while not stop.wait(interval_s):
            sampling = read_progress(folder)
            for model, chains in sampling.items():
                done, total = sum(chain[0] for chain in chains), sum(chain[1] for chain in chains)
                detail = "draws per chain " + " ".join(f"{chain[0]}/{chain[1]}" for chain in chains)
                if model not in tasks:
                    tasks[model] = progress.add_task(f"  sampling {model}", total=total, detail="")
                progress.update(tasks[model], completed=done, total=total, detail=detail)
            for model in set(tasks) - set(sampling):
                progress.remove_task(tasks.pop(model))

    previous = os.environ.get(PROGRESS_DIR_ENV)
    os.environ[PROGRESS_DIR_ENV] = str(folder)  # the kernels started from here inherit it
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for task in tasks.values():
            progress.remove_task(task)
        if previous is None:
            os.environ.pop(PROGRESS_DIR_ENV, None)
        else:
            os.environ[PROGRESS_DIR_ENV] = previous


def write_run_summaries(config: AnalysisConfig, config_path: Path, steps: list[Step], timings: dict,
                        fast: bool) -> tuple[Path, dict[str, list[str]]]:
    """``reports/estimates.csv``, ``reports/ranks.csv`` and ``reports/index.html`` from the saved
    fits; returns the index and every model's warnings."""
    from {{ cookiecutter.module_name }}.data.grouped import load_data
    from {{ cookiecutter.module_name }}.report.dashboard import write_index
    from {{ cookiecutter.module_name }}.report.estimates import write_estimates
    from {{ cookiecutter.module_name }}.report.ranks import write_ranks

    fits, problems = fit_problems(config)
    write_estimates(config, fits)
    data = load_data(config)
    write_ranks(config, fits, dict(zip(data.groups, data.group_sizes)))
    return write_index(config, config_path, steps, timings, problems, fast), problems


def run_pipeline(
    config_path: str | Path, fast: bool = False, show_progress: bool = True, force: bool = False, jobs: int = 2,
    calibration: bool = False, wait: bool = False,
) -> Path:
    """Validate the config and data, execute every notebook, render HTML and the index.

    If the config names a data preparation, ``data.path`` is first made from the raw files
    (``preparation.py``: only when a raw file or ``prepare.py`` changed).

    A notebook whose inputs are unchanged since the last run (see ``fingerprints.py``) is not
    executed again; its earlier notebook and HTML are kept.

    Parameters
    ----------
    config_path : str or Path
    fast : bool
        Use the config's ``fast`` sampler settings (few draws) in every notebook.
    show_progress : bool
    force : bool
        Execute every notebook even if its inputs are unchanged (fits are still reused
        when their own inputs are unchanged; ``make clean`` removes them).
    jobs : int
        Notebooks run side by side where they do not depend on each other: kernel start-up
        and imports of one overlap the work of another.
    calibration : bool
        Also run the simulation-based calibration (notebook 06), as ``calibration.enabled`` does.
    wait : bool
        If another run holds these outputs (``run/lock.py``), wait for it instead of refusing.

    Returns
    -------
    Path
        ``reports/index.html``.

    Raises
    ------
    ConfigError, DataError, OutputError
        Before any notebook runs (:class:`run_lock.RunLocked`, an OutputError, when another
        run is writing the same outputs).
    NotebookFailed
        If a notebook raises; notebooks that depend on it are not run, and nothing of
        this run is published.
    """
    run_started = time.perf_counter()
    config_path = Path(config_path).resolve()
    config = load_config(config_path)
    if config.data.prepare is not None and run_preparation(config):
        print(f"Prepared {config.data.path} with {described(config)}", file=sys.stderr)
    data = load_data(config)  # fail on bad data here, before any notebook starts
    check_costs(config, data, fast)
    for line in design_warnings(config, data):
        print(f"warning: {line}", file=sys.stderr)
    check_writable(config.reports_dir, config.fits_dir)
    try:
        with holding_outputs(config.resolve(config.paths.artifacts), config_path, wait,
                             say=lambda line: print(line, file=sys.stderr)):
            with deferred_interruptions():  # raised where run_locked checks: it starts threads and kernels
                return run_locked(config, config_path, fast, show_progress, force, jobs, calibration, run_started)
    except RunLocked as error:
        raise OutputError(str(error)) from None


def run_locked(config: AnalysisConfig, config_path: Path, fast: bool, show_progress: bool, force: bool, jobs: int,
               calibration: bool, run_started: float) -> Path:
    """:func:`run_pipeline` once the config and data are valid and the outputs are this run's."""
    notebooks_dir = config.root / "notebooks"
    staging = config.reports_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted run
    steps = plan(config, config_path, fast, calibration)
    current = fingerprints(steps, config, config_path)

    columns = (TextColumn("{task.description:<28}"), BarColumn(bar_width=16),
               TextColumn("{task.completed:>5.0f}/{task.total:<5.0f}"), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    failed_dir = config.reports_dir / "failed"

    timings = {}
    todo = {step.name for step in steps if force or not is_current(step, current[step.name], config)}
    kernels = None

    # Each executed notebook is rendered to HTML here, one at a time, while the next notebooks run.
    renderer, renders = ThreadPoolExecutor(max_workers=1), []

    def render_step(step: Step, executed: Path) -> None:
        started = time.perf_counter()
        render_html(executed, staging / f"{step.name}.html", hide_code=step.hide_code)
        timings[step.name]["render_s"] = round(time.perf_counter() - started, 2)

    def run_step(step: Step) -> None:
        started = time.perf_counter()
        kernel = kernels.take()
        try:
            executed = execute(step, notebooks_dir, staging / "executed", failed_dir, kernel)
        finally:
            kernels.release(kernel)
        record_fingerprint(executed, current[step.name])
        timings[step.name] = {"execute_s": round(time.perf_counter() - started, 2)}
        (failed_dir / executed.name).unlink(missing_ok=True)  # an earlier failure, now fixed
        renders.append(renderer.submit(render_step, step, executed))

    sampling_dir = staging / "progress"
    sampling_dir.mkdir(parents=True, exist_ok=True)
    try:
        with (Progress(*columns, disable=not show_progress) as progress,
              following_sampling(progress, sampling_dir, enabled=show_progress)):
            task = progress.add_task("notebooks", total=len(steps), detail="")
            if todo:  # started here, so that the kernels inherit the progress folder set above
                from {{ cookiecutter.module_name }}.run.kernels import KernelPool  # here: Jupyter's client only when a notebook runs

                kernels = KernelPool(len(todo), 2 * jobs, jobs, notebooks_dir, KERNEL_NAME, KERNEL_ARGUMENTS,
                                     KERNEL_START_TIMEOUT_S)
                # Papermill's and nbconvert's imports (1.5 s) while the first kernels start, not after.
                import nbconvert  # noqa: F401
                import papermill  # noqa: F401
                # xarray imports dask when it first reads a fit (0.5 s): done while the notebooks run,
                # not when the run's summary reads the fits at the end.
                threading.Thread(target=importlib.import_module, args=("dask.array",), daemon=True).start()
            for wave in waves(steps):
                raise_if_interrupted()
                running = [step for step in wave if step.name in todo]
                progress.update(task, advance=len(wave) - len(running))
                if running:
                    progress.update(task, detail="running " + ", ".join(step.name for step in running))
                    run_concurrently(run_step, running, jobs, on_done=lambda: progress.advance(task),
                                     on_interrupt=kernels.stop)
            progress.update(task, detail="")
            for render in renders:
                render.result()  # raises a failed render's error
            raise_if_interrupted()  # the last chance: a run that has begun publishing finishes
        shutil.rmtree(sampling_dir, ignore_errors=True)
        with publishing():  # not ended by force half-way (``stopping.py``)
            publish(config.fits_staging_dir, config.fits_dir)  # fits first: published reports read them
            calibrations = config.calibration_path(config.primary_model).parent
            publish(calibrations / ".staging", calibrations)
            publish(staging, config.reports_dir)
    except NotebookFailed as failure:
        write_failure_index(config, config_path, steps, failure, fast)
        raise
    except KeyboardInterrupt:  # between notebooks, or while kernels start: none may outlive the run
        if kernels is not None:
            kernels.stop()
        stop_children()
        raise
    finally:
        renderer.shutdown(cancel_futures=True)  # before the staging folder it writes to is removed
        if kernels is not None:
            kernels.close()
        shutil.rmtree(staging, ignore_errors=True)
    index, problems = write_run_summaries(config, config_path, steps, timings, fast)
    warnings = {name: len(found) for name, found in problems.items()}
    record = {"total_s": round(time.perf_counter() - run_started, 2), "executed": timings, "warnings": warnings}
    write_text_atomically(config.reports_dir / "timings.json", json.dumps(record, indent=2))
    return index
