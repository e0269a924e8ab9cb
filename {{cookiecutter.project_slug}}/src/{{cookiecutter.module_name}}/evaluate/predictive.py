"""Posterior (and prior) predictive checks: does data simulated from the model look like the data?"""

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.names import LOO_PIT, SAMPLE_DIMS

TEST_STATISTICS = {
    "mean": np.mean,
    "sd": np.std,
    "min": np.min,
    "max": np.max,
}


def _replicated(fit_data: xr.DataTree, data: GroupedData, group: str) -> xr.DataArray:
    return fit_data[group][data.outcome_name]


def statistic_pvalues(fit_data: xr.DataTree, data: GroupedData, group: str = "posterior_predictive") -> pd.DataFrame:
    """Predictive p-values ``P(T(y_rep) >= T(y))`` for the mean, sd, min and max.

    Values near 0 or 1 mean the model rarely reproduces that feature of the data.
    """
    replicated = _replicated(fit_data, data, group)
    rows = []
    for name, statistic in TEST_STATISTICS.items():
        observed = float(statistic(data.outcome))
        simulated = xr.apply_ufunc(statistic, replicated, input_core_dims=[["obs"]], kwargs={"axis": -1})
        rows.append(
            {
                "statistic": name,
                "observed": observed,
                "replicated_mean": float(simulated.mean()),
                "p_value": float((simulated >= observed).mean()),
            }
        )
    return pd.DataFrame(rows).set_index("statistic")


def group_mean_check(
    fit_data: xr.DataTree, data: GroupedData, ci_prob: float = 0.94, group: str = "posterior_predictive"
) -> pd.DataFrame:
    """Observed mean of each group against the central interval of its replicated means.

    ``data`` must hold the rows of the draws (``data.aligned_with(fit_data)``); groups
    without rows there are left out.

    Returns
    -------
    DataFrame
        One row per group: ``n``, ``observed``, ``lower``, ``upper``, ``inside``.
    """
    replicated = _replicated(fit_data, data, group).stack(sample=SAMPLE_DIMS).transpose("obs", "sample").values
    replicated_means = pd.DataFrame(replicated).groupby(data.group_codes).mean()  # groups x draws
    tail = (1 - ci_prob) / 2
    lower, upper = np.quantile(replicated_means.to_numpy(), [tail, 1 - tail], axis=1)
    observed = pd.Series(data.outcome).groupby(data.group_codes)
    table = pd.DataFrame(
        {"n": observed.size().to_numpy(), "observed": observed.mean().to_numpy(), "lower": lower, "upper": upper},
        index=pd.Index([data.groups[code] for code in replicated_means.index], name=data.group_dim),
    )
    table["inside"] = (table["lower"] <= table["observed"]) & (table["observed"] <= table["upper"])
    return table


def prior_range_problems(prior: xr.DataTree, data: GroupedData, family: str = "normal", coverage: float = 0.99,
                         max_spread: float = 100.0) -> list[str]:
    """Sentences for what the priors' simulated data sets say that the data contradict.

    Flagged: an observed mean outside the central ``coverage`` of the prior predictive
    means; an observed sd above nearly all prior predictive sds (the priors cannot spread
    the outcome as widely as the data do); and prior predictive sds typically more than
    ``max_spread`` times the observed one (the priors are on another scale, often in the
    wrong units; normal and Student-t families only: on the log and logit links weakly
    informative priors spread simulated outcomes over orders of magnitude by design).
    """
    table = statistic_pvalues(prior, data, group="prior_predictive")
    tail = (1 - coverage) / 2
    fix = "Fix: set the priors in the data's units (config `priors`) or return to the defaults scaled to the data."
    found = []
    mean = table.loc["mean"]
    if not tail <= mean.p_value <= 1 - tail:
        found.append(f"The observed mean ({mean.observed:.3g}) lies outside the central {coverage * 100:.0f}% of the prior "
                     f"predictive means (p = {mean.p_value:.3f}): the priors rule out data like these. {fix}")
    sd = table.loc["sd"]
    if sd.p_value < tail:
        found.append(f"The observed sd ({sd.observed:.3g}) is larger than {(1 - tail) * 100:.1f}% of the prior predictive sds: "
                     f"the priors rule out outcomes as spread out as these. {fix}")
    if not family_record(family).spread_check:
        return found
    replicated_sd = float(np.median(xr.apply_ufunc(np.std, _replicated(prior, data, "prior_predictive"),
                                                   input_core_dims=[["obs"]], kwargs={"axis": -1})))
    if replicated_sd > max_spread * sd.observed:
        found.append(f"The prior predictive sd is typically {replicated_sd:.3g}, over {max_spread:.0f} times the "
                     f"observed sd ({sd.observed:.3g}): the priors are on another scale than the data. {fix}")
    return found


def loo_pit_values(fit_data: xr.DataTree, outcome: str, psis=None) -> xr.DataArray:
    """LOO-PIT of every observation with pointwise draws, with Pareto-smoothed tails (ArviZ's
    ``loo_pit(..., pareto_pit=True)``, what its ``plot_loo_pit`` shows): read from the fit's LOO
    group, where ``fit_or_load`` keeps them, else computed (1-2 s per fit on the example).

    ``psis``: the fit's PSIS-LOO (``evaluate.loo.psis_loo``, before any exact refits), whose smoothed
    weights are then reused rather than computed again (a third of the time)."""
    from arviz_stats import loo_pit

    from {{ cookiecutter.module_name }}.names import LOO_GROUP

    if LOO_GROUP in fit_data.children and LOO_PIT in fit_data[LOO_GROUP].data_vars:
        return fit_data[LOO_GROUP][LOO_PIT].rename(outcome)
    weights = {}
    if psis is not None:
        weights = {"log_weights": xr.Dataset({outcome: psis.log_weights}),
                   "pareto_k": xr.Dataset({outcome: psis.pareto_k})}
    # Discrete outcomes get randomised PIT values between their ties: seeded, so a rerun agrees.
    return loo_pit(fit_data, var_names=[outcome], pareto_pit=True, random_state=0, **weights)[outcome]


def loo_pit_check(fit_data: xr.DataTree, outcome: str, z_flag: float = 3.0) -> tuple[np.ndarray, str]:
    """LOO-PIT values of every observation with pointwise draws, and a one-line reading.

    For calibrated predictions the LOO-PIT values (the share of each observation's
    leave-one-out predictive draws at or below it; :func:`loo_pit_values`) are uniform on
    [0, 1]. The reading compares three summaries with what uniform values give, in standard
    errors: the share in the outer 10% (``0.1``; more means predictive intervals that are too
    narrow), the share in the central half (``0.5``; more means intervals that are too wide)
    and the mean (``0.5``; off means predictions biased up or down). A summary more than
    ``z_flag`` standard errors away is reported; without one, the reading says the
    predictions look calibrated.
    """
    pit = np.asarray(loo_pit_values(fit_data, outcome)).ravel()
    n = pit.size
    outer, central, mean = np.mean((pit < 0.05) | (pit > 0.95)), np.mean(np.abs(pit - 0.5) < 0.25), pit.mean()
    z_outer = (outer - 0.1) / np.sqrt(0.1 * 0.9 / n)
    z_central = (central - 0.5) / np.sqrt(0.25 / n)
    z_mean = (mean - 0.5) / np.sqrt(1 / (12 * n))
    found = []
    if z_outer > z_flag:
        found.append(f"{outer * 100:.0f}% of observations fall in the outer 10% of their predictive distributions: the "
                     "predictive intervals are too narrow (try a heavier-tailed or overdispersed family, or "
                     "predictors and group terms the model lacks)")
    elif z_central > z_flag:
        found.append(f"{central * 100:.0f}% of observations fall in the central half of their predictive distributions: "
                     "the predictive intervals are too wide")
    if abs(z_mean) > z_flag:
        side = "above" if mean > 0.5 else "below"
        found.append(f"the observations lie {side} their predictions more often than not (mean LOO-PIT "
                     f"{mean:.2f}): the predictions are biased")
    if not found:
        return pit, (f"LOO-PIT of {n} observations looks uniform (outer 10%: {outer * 100:.0f}%, central half: "
                     f"{central * 100:.0f}%, mean {mean:.2f}): predictions calibrated.")
    return pit, "LOO-PIT: " + "; ".join(found) + "."
