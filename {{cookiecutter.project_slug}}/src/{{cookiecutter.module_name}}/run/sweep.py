"""Parameterised sweeps: the whole pipeline once per variant of the config, on Dask.

A sweep file (``sweeps/prior_scale.yaml``) names a base config, overrides every variant shares
(``set``), and the variants: a ``grid``
of dotted config keys and values (every combination) and/or a list of named ``variants``,
each with overrides (``set``) and optionally a ``subset`` of the data's rows (comparisons of
columns with literals joined by and/or/not, see ``subsets.py``: a sweep file runs no code).
Every variant is a full, cached pipeline run with its own config, fits and reports::

    reports/sweeps/<sweep>/<variant>/       config.yaml, index.html, the notebooks, estimates.csv
    artifacts/sweeps/<sweep>/<variant>/     its fits (and its data, for a subset)
    reports/sweeps/<sweep>/overview.csv     every variant's estimates and LOO ranking
    reports/sweeps/<sweep>/index.html       the same as a page, with a plot

Variants run on Dask distributed: a ``LocalCluster`` with one single-threaded worker process
per core by default (with fewer workers than cores, each variant runs its notebooks side by
side on the cores left over), or an existing cluster (``--scheduler tcp://host:8786``; its workers need
this project installed and the project folder at the same path). A variant whose inputs are
unchanged since the last sweep reuses its fits and notebooks (``fingerprints.py``); a failing variant
is reported in the overview and does not stop the others.

A worker that dies (killed, out of memory) takes no file with it half-written: a variant publishes
its fits and reports by renaming finished files. Dask runs the variant again on another worker,
up to ``distributed.scheduler.allowed-failures`` times, then the variant is reported as failed
(``KilledWorker``). When the variants are done, the temporary files of writes a killed worker never
finished are deleted.
"""

import base64
import contextlib
import io
import itertools
import json
import os
import re
import time
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from {{ cookiecutter.module_name }}.config import ConfigError, load_config, project_root
from {{ cookiecutter.module_name }}.data.preparation import run_preparation
from {{ cookiecutter.module_name }}.files import remove_unfinished_writes, write_text_atomically
from {{ cookiecutter.module_name }}.run.lock import RunLocked, holding_outputs
from {{ cookiecutter.module_name }}.run.subsets import SubsetError, subset_rows


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    set: dict[str, Any] = {}      # dotted config key -> value, e.g. priors.group_sd.intercept: 0.5
    subset: str | None = None     # rows of the data to keep, e.g. "region == 'north'" (see subsets.py)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.=-]*", name):
            raise ValueError(f"{name!r}: a variant's name is a folder name: letters, digits, _ . = - only")
        return name


class Sweep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base: Path = Path("config/analysis.yaml")  # relative to the project folder
    fast: bool = False                          # few draws in every variant, as run --fast
    set: dict[str, Any] = {}                    # overrides of every variant (a variant's own come after)
    grid: dict[str, list[Any]] = {}
    variants: list[Variant] = Field(default_factory=list)

    def expanded(self) -> list[Variant]:
        """The grid's combinations (named ``key-value_key-value`` by the keys' last parts), then the listed variants."""
        combined = [
            Variant(name="_".join(f"{key.rsplit('.', 1)[-1]}-{value}" for key, value in zip(self.grid, values)),
                    set=dict(zip(self.grid, values)))
            for values in itertools.product(*self.grid.values())
        ] if self.grid else []
        found = combined + self.variants
        names = [variant.name for variant in found]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f"sweep {self.name!r}: variant names must be unique; repeated: {repeated}")
        if not found:
            raise ConfigError(f"sweep {self.name!r}: no variants. Fix: add a `grid:` or a `variants:` list.")
        return found


def load_sweep(path: str | Path) -> tuple[Sweep, Path]:
    """The sweep in ``path`` and the project folder its paths refer to."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Sweep.model_validate({"name": path.stem, **raw}), project_root(path)
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path}: not a valid sweep: {error}") from error


def with_override(config: dict, key: str, value: Any) -> dict:
    """``config`` with the dotted ``key`` set to ``value`` (list items by index: ``models.0.formula``)."""
    *parents, last = key.split(".")
    node = config
    for part in parents:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


def prepare_variant(sweep: Sweep, variant: Variant, root: Path) -> Path:
    """Write the variant's config (and data subset) and return the config's path.

    Raises ConfigError or DataError (a bad key, value or query), which the sweep reports
    as this variant's failure.
    """
    reports = Path("reports") / "sweeps" / sweep.name / variant.name
    artifacts = Path("artifacts") / "sweeps" / sweep.name / variant.name
    config = yaml.safe_load((root / sweep.base).read_text(encoding="utf-8"))
    for key, value in {**sweep.set, **variant.set}.items():
        with_override(config, key, value)
    config["paths"] = {"reports": str(reports), "artifacts": str(artifacts)}
    config_path = root / reports / "config.yaml"  # its folder is made when it is written: not for a refused subset
    if variant.subset:
        data_path = root / config["data"]["path"]
        if config["data"].get("prepare"):
            # The subset is of the table the raw files make (made here once, if not current); the
            # variant then reads its subset as it is, or its own run would make the whole table again.
            write_text_atomically(config_path, yaml.safe_dump(config, sort_keys=False))
            run_preparation(load_config(config_path))
            config["data"]["prepare"] = None
        try:
            rows = subset_rows(pd.read_csv(data_path), variant.subset)
        except SubsetError as error:
            raise ConfigError(f"variant {variant.name!r}: subset {variant.subset!r} of {data_path}: {error}. "
                              "Fix: write the subset as comparisons of columns with literals") from error
        subset_path = artifacts / "data.csv"
        (root / artifacts).mkdir(parents=True, exist_ok=True)
        write_text_atomically(root / subset_path, rows.to_csv(index=False))
        config["data"]["path"] = str(subset_path)
    write_text_atomically(config_path, yaml.safe_dump(config, sort_keys=False))
    if load_config(config_path).root != root:  # a bad override fails here, with the key and what is allowed
        raise ConfigError(f"{config_path}: its project folder is not {root}. Fix: keep pyproject.toml in the project "
                          "folder, which is how a variant's config finds the data and notebooks.")
    return config_path


def run_variant(config_path: str, fast: bool, jobs: int = 1) -> dict:
    """One variant's pipeline (on a Dask worker, ``jobs`` notebooks at a time): its status,
    time, warnings and LOO ranking."""
    from {{ cookiecutter.module_name }}.evaluate.loo import loo_table
    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    started = time.perf_counter()
    try:
        # What the run prints (ArviZ's notes among them) would interleave on the sweep's terminal;
        # each variant's reports hold it.
        with contextlib.redirect_stdout(io.StringIO()):
            index = run_pipeline(config_path, fast=fast, show_progress=False, jobs=jobs)
            config = load_config(config_path)
            fits = {name: load_fit(config.fit_path(name)) for name in config.model_names}
            timings = json.loads((config.reports_dir / "timings.json").read_text())
    except Exception as error:  # reported in the overview; the other variants go on
        return {"status": "failed", "error": f"{type(error).__name__}: {error}",
                "seconds": round(time.perf_counter() - started, 1)}
    return {"status": "ok", "index": str(index), "seconds": round(time.perf_counter() - started, 1),
            "loo_ranking": list(loo_table(fits).index), "warnings": sum(timings["warnings"].values())}


def run_sweep(path: str | Path, scheduler: str | None = None, workers: int | None = None,
              fast: bool | None = None) -> Path:
    """Run every variant of the sweep in ``path`` and write its overview.

    Parameters
    ----------
    path : str or Path
        The sweep file.
    scheduler : str, optional
        Address of a running Dask scheduler; default: a ``LocalCluster`` started here.
    workers : int, optional
        The local cluster's worker processes (default: one per core).
    fast : bool, optional
        Few draws in every variant; default: the sweep file's ``fast``.

    Returns
    -------
    Path
        ``reports/sweeps/<sweep>/index.html``.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    sweep, root = load_sweep(path)
    fast = sweep.fast if fast is None else fast
    started = time.perf_counter()
    results: dict[str, dict] = {}
    prepared = {}
    for variant in sweep.expanded():
        try:
            prepared[variant.name] = prepare_variant(sweep, variant, root)
        except ConfigError as error:
            if isinstance(error.__cause__, SubsetError):  # the sweep file itself is wrong: nothing runs
                raise ConfigError(f"{Path(path).resolve()}: {error}") from None
            results[variant.name] = {"status": "failed", "error": f"{type(error).__name__}: {error}", "seconds": 0.0}
        except Exception as error:
            results[variant.name] = {"status": "failed", "error": f"{type(error).__name__}: {error}", "seconds": 0.0}
    if prepared:
        if scheduler:
            try:  # waits distributed.comm.timeouts.connect (30 s by default) for the scheduler
                cluster, client, jobs = None, Client(scheduler), 1
            except (OSError, TimeoutError) as error:
                raise ConfigError(
                    f"--scheduler {scheduler}: no Dask scheduler answered ({type(error).__name__}). Start one there "
                    "(`dask scheduler`, then `dask worker ADDRESS` on each machine), check the address and port, "
                    "or leave --scheduler out to run the sweep on this machine.") from None
        else:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            workers = workers or cores
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            jobs = max(1, cores // workers)  # fewer workers than cores: each runs notebooks side by side
        try:
            futures = {client.submit(run_variant, str(config_path), fast, jobs, key=f"{sweep.name}-{name}",
                                     pure=False): name
                       for name, config_path in prepared.items()}
            for future in as_completed(futures):
                try:
                    results[futures[future]] = future.result()
                except Exception as error:  # Dask's own failure (a worker died): the other variants go on
                    results[futures[future]] = {"status": "failed", "error": dask_failure(error),
                                                "seconds": round(time.perf_counter() - started, 1)}
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        for config_path in prepared.values():
            remove_unfinished_variant_writes(config_path)
    results = {variant.name: {**results[variant.name], "overrides": variant.set, "subset": variant.subset}
               for variant in sweep.expanded()}  # in the sweep file's order, not the order they finished
    folder = root / "reports" / "sweeps" / sweep.name
    overview = overview_table(results, root, sweep.name)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomically(folder / "overview.csv", overview.to_csv(index=False))
    seconds = round(time.perf_counter() - started, 1)
    write_text_atomically(folder / "results.json", json.dumps({"seconds": seconds, "fast": fast,
                                                                "variants": results}, indent=2, default=str))
    return write_overview_page(folder, sweep, results, overview, seconds)


def dask_failure(error: Exception) -> str:
    """One line saying why Dask returned no result for a variant."""
    from dask.distributed import KilledWorker

    if isinstance(error, KilledWorker):
        tries = error.allowed_failures + 1
        return (f"KilledWorker: the Dask worker running this variant died (killed, or out of memory?) "
                f"{'on its only try' if tries == 1 else f'on all {tries} tries'} (distributed.scheduler.allowed-failures: "
                f"{error.allowed_failures}), the last on {error.last_worker.address}; no file of it is half-written. "
                "Fix: read that worker's log, then run the sweep again to retry the variant.")
    return " ".join(f"{type(error).__name__}: {error}".split())


def remove_unfinished_variant_writes(config_path: Path) -> None:
    """Delete the temporary files of writes a killed worker left in a variant's folders, under the
    variant's run lock: a variant that another sweep is still running is left alone."""
    config = load_config(config_path)
    artifacts = config.resolve(config.paths.artifacts)
    with contextlib.suppress(RunLocked), holding_outputs(artifacts, config_path):
        remove_unfinished_writes(artifacts)
        remove_unfinished_writes(config.reports_dir)


def overview_table(results: dict[str, dict], root: Path, sweep_name: str) -> pd.DataFrame:
    """Every variant's estimates (its ``estimates.csv``) with its status and each model's LOO rank."""
    frames = []
    for name, result in results.items():
        estimates_path = root / "reports" / "sweeps" / sweep_name / name / "estimates.csv"
        if result["status"] == "ok" and estimates_path.is_file():
            estimates = pd.read_csv(estimates_path)
            ranks = {model: rank for rank, model in enumerate(result["loo_ranking"], start=1)}
            estimates["loo_rank"] = estimates["model"].map(ranks)
        else:
            estimates = pd.DataFrame([{}])
        estimates.insert(0, "variant", name)
        estimates.insert(1, "status", result["status"])
        estimates.insert(2, "overrides", json.dumps({**result.get("overrides", {}),
                                                     **({"subset": result["subset"]} if result.get("subset") else {})}))
        frames.append(estimates)
    return pd.concat(frames, ignore_index=True)


def estimates_plot(overview: pd.DataFrame, model: str) -> str | None:
    """A PNG (base64) of ``model``'s population-level estimates with intervals, one panel per
    term, one row per variant; None when no variant fitted it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "model" not in overview:
        return None
    rows = overview[(overview["model"] == model) & overview["effect"].isin(["fixed", "ran_pars"])]
    if rows.empty:
        return None
    rows = rows.assign(term=[term if pd.isna(group) else f"{group}: {term}" for term, group in zip(rows["term"], rows["group"])])
    terms = list(dict.fromkeys(rows["term"]))
    variants = list(dict.fromkeys(overview["variant"]))
    columns = min(3, len(terms))
    figure, axes = plt.subplots((len(terms) + columns - 1) // columns, columns, squeeze=False,
                                figsize=(3.6 * columns, 0.35 * len(variants) * ((len(terms) + columns - 1) // columns) + 1.2),
                                layout="constrained")
    for axis, term in zip(axes.flat, terms):
        shown = rows[rows["term"] == term].set_index("variant").reindex(variants)
        position = range(len(variants))
        axis.errorbar(shown["estimate"], position, xerr=[shown["estimate"] - shown["conf.low"],
                                                          shown["conf.high"] - shown["estimate"]],
                      fmt="o", color="C0", capsize=2)
        axis.set_yticks(list(position), variants if axis in axes[:, 0] else [""] * len(variants))
        axis.invert_yaxis()
        axis.set_title(term, fontsize=10)
    for axis in list(axes.flat)[len(terms):]:
        axis.set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


PAGE_STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 72rem; }
td, th { padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; } tr:nth-child(even) { background: #f6f6f6; }
</style>"""


def write_overview_page(folder: Path, sweep: Sweep, results: dict[str, dict], overview: pd.DataFrame,
                        seconds: float) -> Path:
    """``index.html``: each variant's status, overrides, time, warnings, LOO ranking and link; the plot."""
    base = load_config(project_root(folder) / sweep.base)
    model = base.primary_model
    rows = []
    for name, result in results.items():
        overrides = ", ".join(f"{key} = {value}" for key, value in result.get("overrides", {}).items())
        if result.get("subset"):
            overrides = ", ".join(filter(None, [overrides, f"rows where {result['subset']}"]))
        if result["status"] == "ok":
            status = f'<a href="{escape(name)}/index.html">ok</a>'
            ranking = " &gt; ".join(escape(model_name) for model_name in result["loo_ranking"])
            warnings = str(result["warnings"])
        else:
            status = f'<strong style="color:#b00">failed</strong>: {escape(result["error"][:400])}'
            ranking = warnings = ""
        rows.append(f"<tr><td>{escape(name)}</td><td>{escape(overrides)}</td><td>{status}</td>"
                    f"<td>{result['seconds']:.0f}</td><td>{warnings}</td><td>{ranking}</td></tr>")
    plot = estimates_plot(overview, model)
    failed = sum(result["status"] != "ok" for result in results.values())
    figure = (f'<h2>Estimates of {escape(model)}</h2><p>Posterior means and central {base.diagnostics.ci_prob * 100:.0f}% '
              f'intervals of the population-level parameters in each variant.</p><img alt="estimates of {escape(model)} by variant" '
              f'src="data:image/png;base64,{plot}">' if plot else "<p>No variant produced estimates.</p>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep {escape(sweep.name)}</title>{PAGE_STYLE}</head><body>
<h1>Sweep {escape(sweep.name)}</h1>
<p>{len(results)} variants of <code>{escape(str(sweep.base))}</code>{" in fast mode" if sweep.fast else ""},
{len(results) - failed} succeeded, {failed} failed; {seconds:.0f} s in all. Each variant's full reports are linked;
<a href="overview.csv">overview.csv</a> holds every variant's estimates and each model's LOO rank.</p>
<table><thead><tr><th>variant</th><th>overrides</th><th>status</th><th>seconds</th><th>warnings</th>
<th>PSIS-LOO ranking (best first)</th></tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{figure}
</body></html>
"""
    index = folder / "index.html"
    write_text_atomically(index, page)
    return index
