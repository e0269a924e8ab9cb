"""Convergence diagnostics of a fit, checked against the config's thresholds."""

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import arviz_stats
import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.config import AnalysisConfig, DiagnosticThresholds
from {{ cookiecutter.module_name }}.evaluate.loo import pareto_k_table
from {{ cookiecutter.module_name }}.files import write_text_atomically
from {{ cookiecutter.module_name }}.fingerprints import sha256_of
from {{ cookiecutter.module_name }}.fit.summary import convergence_summary

# The sample-stat name of a tree-depth hit differs between samplers.
TREE_DEPTH_STATS = ("maxdepth_reached", "reached_max_treedepth")


@contextlib.contextmanager
def quiet(logger: str, level: int = logging.WARNING):
    """Only messages from ``logger`` at ``level`` and above while in the block."""
    log = logging.getLogger(logger)
    before = log.level
    log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(before)


def convergence_table(fit_data: xr.DataTree, thresholds: DiagnosticThresholds) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every parameter element, flagged against thresholds.

    Returns
    -------
    DataFrame
        Indexed by parameter label; columns ``r_hat``, ``ess_bulk``, ``ess_tail``,
        ``ok`` (all three within thresholds). Worst rows first.
    """
    table = convergence_summary(fit_data)
    table["ok"] = (
        (table["r_hat"] <= thresholds.rhat_max)
        & (table["ess_bulk"] >= thresholds.ess_bulk_min)
        & (table["ess_tail"] >= thresholds.ess_tail_min)
    )
    return table.sort_values(["ok", "r_hat"], ascending=[True, False])


def divergences(fit_data: xr.DataTree) -> int:
    """Number of divergent transitions after warm-up."""
    return int(fit_data.sample_stats["diverging"].sum())


def tree_depth_hits(fit_data: xr.DataTree) -> int:
    """Number of draws whose trajectory stopped at the maximum tree depth."""
    for name in TREE_DEPTH_STATS:
        if name in fit_data.sample_stats:
            return int(fit_data.sample_stats[name].sum())
    return 0


def problems(fit_data: xr.DataTree, thresholds: DiagnosticThresholds) -> list[str]:
    """Plain-language statements of every threshold the fit misses; empty if none."""
    found = []
    table = convergence_table(fit_data, thresholds)
    n_divergent = divergences(fit_data)
    if n_divergent:
        found.append(f"{n_divergent} divergent transition(s): the posterior geometry was not fully explored.")
    worst_rhat = table["r_hat"].max()
    if worst_rhat > thresholds.rhat_max:
        count = int((table["r_hat"] > thresholds.rhat_max).sum())
        found.append(f"R-hat up to {worst_rhat:.3f} > {thresholds.rhat_max} for {count} parameter(s).")
    for column, minimum in (("ess_bulk", thresholds.ess_bulk_min), ("ess_tail", thresholds.ess_tail_min)):
        lowest = table[column].min()
        if lowest < minimum:
            count = int((table[column] < minimum).sum())
            found.append(f"{column.replace('_', ' ')} as low as {lowest:.0f} < {minimum:.0f} for {count} parameter(s).")
    if fit_data.attrs.get("sampler_fallback"):
        found.append(f"{fit_data.attrs['sampler_fallback']}.")
    n_depth = tree_depth_hits(fit_data)
    if n_depth:
        found.append(f"{n_depth} draw(s) hit the maximum tree depth: consider reparameterising.")
    low = e_bfmi(fit_data)
    low = low[low < thresholds.e_bfmi_min]
    if len(low):
        found.append(f"E-BFMI below {thresholds.e_bfmi_min} in chain(s) {', '.join(str(chain) for chain in low.index)} "
                     f"(lowest {low.min():.2f}): the momentum resampling explored the energy poorly, as in heavy "
                     "tails or a funnel; consider reparameterising.")
    return found


def e_bfmi(fit_data: xr.DataTree) -> pd.Series:
    """Each chain's energy Bayesian fraction of missing information (Betancourt 2016; ArviZ's
    ``bfmi``): below 0.3, the sampler's momentum resampling explores the energy distribution
    poorly. Empty for a fit without the sampler's energy."""
    if "sample_stats" not in fit_data.children or "energy" not in fit_data.sample_stats:
        return pd.Series(dtype=float, name="e_bfmi")
    values = arviz_stats.bfmi(fit_data)["energy"]
    return pd.Series(np.asarray(values), index=pd.Index(values["chain"].values, name="chain"), name="e_bfmi")


def pareto_k_problems(fit_data: xr.DataTree, k_max: float) -> list[str]:
    """A sentence if PSIS-LOO is unreliable for some observations (Pareto-k above ``k_max``)."""
    n_high = int(pareto_k_table({"fit": fit_data}, k_max)[f"n_k_above_{k_max}"].iloc[0])
    if not n_high:
        return []
    return [f"{n_high} observation(s) with Pareto-k > {k_max}: LOO is unreliable for them."]


def all_problems(fits: dict[str, xr.DataTree], thresholds: DiagnosticThresholds) -> dict[str, list[str]]:
    """Every threshold each fit misses, convergence and Pareto-k: what ``--strict`` fails on."""
    return {
        name: problems(fit_data, thresholds) + pareto_k_problems(fit_data, thresholds.pareto_k_max)
        for name, fit_data in fits.items()
    }


def overview(fits: dict[str, xr.DataTree], thresholds: DiagnosticThresholds) -> pd.DataFrame:
    """One row per model: divergences, worst R-hat and ESS, tree-depth hits, lowest E-BFMI, and a verdict."""
    rows = []
    for name, fit_data in fits.items():
        table = convergence_table(fit_data, thresholds)
        rows.append(
            {
                "model": name,
                "divergences": divergences(fit_data),
                "max_r_hat": table["r_hat"].max(),
                "min_ess_bulk": table["ess_bulk"].min(),
                "min_ess_tail": table["ess_tail"].min(),
                "tree_depth_hits": tree_depth_hits(fit_data),
                "min_e_bfmi": e_bfmi(fit_data).min(),
                "converged": not problems(fit_data, thresholds),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def e_bfmi_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """Each model's E-BFMI (rows) of each chain (columns ``chain 0``, ``chain 1``, ...)."""
    table = pd.DataFrame({name: e_bfmi(fit_data) for name, fit_data in fits.items()}).T.rename_axis("model")
    return table.rename(columns=lambda chain: f"chain {chain}")


def prior_sensitivity(fit_data: xr.DataTree, var_names: list[str], threshold: float = 0.05) -> pd.DataFrame:
    """Power-scaling prior and likelihood sensitivity of each parameter (``psense_summary``).

    The posterior is reweighted as if the prior (or the likelihood) were raised to a power
    near 1, by Pareto-smoothed importance sampling of the draws that have a ``log_prior``
    (see ``pointwise.py``). A parameter sensitive to the prior and to the likelihood shows
    prior-data conflict; one sensitive to the prior only is decided by its prior more than
    by the data. On large data the likelihood is the pointwise subsample's.

    Returns
    -------
    DataFrame
        One row per parameter element: ``prior`` and ``likelihood`` sensitivity and a
        ``diagnosis`` (``"✓"`` when neither is above ``threshold``).
    """
    log_likelihood = fit_data.log_likelihood.to_dataset()
    tree = xr.DataTree.from_dict({
        "posterior": fit_data.posterior.to_dataset()[var_names].sel(draw=log_likelihood["draw"]),
        "log_prior": fit_data.log_prior.to_dataset(),
        "log_likelihood": log_likelihood,
    })
    # psense_summary logs a pointer to its documentation when it finds something; the
    # notebooks state each finding with its fix instead (prior_sensitivity_problems).
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), quiet("arviz_stats", logging.ERROR):
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return arviz_stats.psense_summary(tree, threshold=threshold, round_to=6)


def prior_sensitivity_problems(fit_data: xr.DataTree, var_names: list[str], threshold: float = 0.05) -> list[str]:
    """A sentence, with the fix, for every parameter whose posterior the prior decides or
    contradicts (see :func:`prior_sensitivity`); empty if none or the fit has no log prior."""
    if "log_prior" not in fit_data.children:
        return []
    table = prior_sensitivity(fit_data, var_names, threshold)
    found = []
    for parameter, row in table[table["diagnosis"] != "✓"].iterrows():
        if "conflict" in row["diagnosis"]:
            advice = ("the data pull against the prior. Fix: compare the prior (notebook 01) with what the data "
                      "say; set it in the data's units or return to the defaults scaled to the data")
        else:
            advice = ("the prior decides this estimate more than the data do. Fix: report it as prior-driven, "
                      "or gather data that inform it; check the prior is what you believe")
        found.append(f"{parameter}: {row['diagnosis']} (prior sensitivity {row['prior']:.3f}, likelihood "
                     f"{row['likelihood']:.3f}): {advice}.")
    return found


def prior_sensitivity_overview(fits: dict[str, xr.DataTree], parameters: dict[str, list[str]],
                               threshold: float = 0.05) -> pd.DataFrame:
    """Every model's power-scaling sensitivity in one table, to compare models by it.

    Parameters
    ----------
    fits : dict of DataTree
    parameters : dict
        ``{model: [parameter, ...]}``, the parameters to scale (the population-level ones).

    Returns
    -------
    DataFrame
        One row per model: the largest ``prior`` and ``likelihood`` sensitivity over its
        parameters and ``flagged``, each flagged parameter with its diagnosis ("none" when no
        parameter is above ``threshold``; "not stored" for a fit without a log prior).
    """
    rows = {}
    for name, fit_data in fits.items():
        if "log_prior" not in fit_data.children:
            rows[name] = {"prior": np.nan, "likelihood": np.nan, "flagged": "not stored"}
            continue
        table = prior_sensitivity(fit_data, parameters[name], threshold)
        flagged = table[table["diagnosis"] != "✓"]
        rows[name] = {
            "prior": float(table["prior"].max()),
            "likelihood": float(table["likelihood"].max()),
            "flagged": "; ".join(f"{parameter}: {row['diagnosis']}" for parameter, row in flagged.iterrows()) or "none",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def fit_warnings(fit_data: xr.DataTree, config: AnalysisConfig) -> list[str]:
    """Every warning of one fit, each with its fix: convergence, Pareto-k and prior sensitivity."""
    from {{ cookiecutter.module_name }}.names import population_parameters  # here: IPython only where a fit is checked

    return (all_problems({"fit": fit_data}, config.diagnostics)["fit"]
            + prior_sensitivity_problems(fit_data, population_parameters(fit_data, config.data.group)))


def warnings_path(fit_path: Path) -> Path:
    """Where :func:`save_fit_warnings` keeps the warnings of the fit at ``fit_path``."""
    return Path(fit_path).with_suffix(".problems.json")


def warnings_key(fit_key: str, config: AnalysisConfig) -> str:
    """What a fit's warnings depend on: the fit (its cache key) and the thresholds."""
    return sha256_of(fit_key, config.diagnostics.model_dump_json(), config.data.group)


def saved_fit_warnings(fit_path: Path, fit_key: str | None, config: AnalysisConfig) -> list[str] | None:
    """The warnings kept beside the fit at ``fit_path``, or None where they are missing or stale."""
    saved = warnings_path(fit_path)
    if not fit_key or not saved.is_file():
        return None
    record = json.loads(saved.read_text())
    return record["problems"] if record.get("key") == warnings_key(fit_key, config) else None


def save_fit_warnings(fit_data: xr.DataTree, config: AnalysisConfig, fit_path: Path) -> list[str]:
    """:func:`fit_warnings`, also written beside the fit at ``fit_path`` when the fit has a cache key
    (made by ``fit_or_load``), so that the run summary need not load the whole fit again."""
    found = fit_warnings(fit_data, config)
    fit_key = fit_data.attrs.get("cache_key")
    if fit_key:
        write_text_atomically(warnings_path(fit_path), json.dumps({"key": warnings_key(fit_key, config), "problems": found}))
    return found
