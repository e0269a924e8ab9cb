"""The R-hat and ESS table a fit stores: computed once, read by every notebook that checks it."""

import arviz as az
import pandas as pd
import xarray as xr


def parameter_names(fit_data: xr.DataTree) -> list[str]:
    """Posterior variables, without the standard-normal ``z_`` offsets of non-centred models."""
    return [name for name in fit_data.posterior.data_vars if not str(name).startswith("z_")]


# Where a fit keeps its R-hat and ESS table (see convergence_summary).
CONVERGENCE_GROUP = "convergence"


def convergence_summary(fit_data: xr.DataTree) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every parameter element (``az.summary``), computed once per fit.

    :func:`fit.sampling.fit` stores the table in the fit's ``convergence`` group, so the notebooks
    that check convergence read it rather than recompute it (on 10,000 groups it takes most
    of a minute); a fit without it gets it added here, in memory.
    """
    if CONVERGENCE_GROUP not in fit_data.children:
        summary = az.summary(fit_data, var_names=parameter_names(fit_data), kind="diagnostics", round_to="none")
        table = summary[["r_hat", "ess_bulk", "ess_tail"]].rename_axis("parameter").astype(float)
        fit_data[CONVERGENCE_GROUP] = xr.DataTree(xr.Dataset.from_dataframe(table))
    return fit_data[CONVERGENCE_GROUP].to_dataset().to_dataframe()
