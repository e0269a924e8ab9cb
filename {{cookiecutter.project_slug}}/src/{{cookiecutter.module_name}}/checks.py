"""Posterior (and prior) predictive checks: does data simulated from the model look like the data?"""

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.data import GroupedData

SAMPLE_DIMS = ("chain", "draw")

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

    Returns
    -------
    DataFrame
        One row per group: ``n``, ``observed``, ``lower``, ``upper``, ``inside``.
    """
    replicated = _replicated(fit_data, data, group).stack(sample=SAMPLE_DIMS).transpose("obs", "sample").values
    codes = pd.Series(data.group_codes)
    tail = (1 - ci_prob) / 2
    rows = []
    for code, label in enumerate(data.groups):
        members = codes.index[codes == code]
        replicated_means = replicated[members].mean(axis=0)
        lower, upper = np.quantile(replicated_means, [tail, 1 - tail])
        observed = float(data.outcome[members].mean())
        rows.append(
            {data.group_dim: label, "n": len(members), "observed": observed, "lower": lower, "upper": upper,
             "inside": lower <= observed <= upper}
        )
    return pd.DataFrame(rows).set_index(data.group_dim)
