"""Compare candidate models by their expected predictive accuracy (PSIS-LOO)."""

import arviz as az
import pandas as pd
import xarray as xr


def loo_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """ELPD-LOO of each model, best first, with differences to the best and their SE.

    Returns
    -------
    DataFrame
        ArviZ's comparison table: ``elpd``, ``p``, ``elpd_diff``, ``dse`` (SE of the
        difference), ``weight`` (stacking), ``se``, ...
    """
    return az.compare(fits, round_to="none")


def pareto_k_table(fits: dict[str, xr.DataTree], k_max: float) -> pd.DataFrame:
    """How many observations have a Pareto-k above ``k_max`` in each model.

    Many high k values mean PSIS-LOO is unreliable for that model: the observations
    are too influential for importance sampling to stand in for refitting.
    """
    rows = []
    for name, fit_data in fits.items():
        pareto_k = az.loo(fit_data, pointwise=True).pareto_k.values
        rows.append(
            {"model": name, "max_k": float(pareto_k.max()), f"n_k_above_{k_max}": int((pareto_k > k_max).sum()),
             "n_obs": pareto_k.size}
        )
    return pd.DataFrame(rows).set_index("model")
