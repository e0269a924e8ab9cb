"""Compare candidate models by their expected predictive accuracy (PSIS-LOO, and WAIC beside it)."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.names import LOO_GROUP

# PSIS-LOO of each fit, computed once per process: the comparison, the Pareto-k table and
# the warnings all need it. Keyed by id(); the fit is kept so that its id is not reused.
_LOO_RESULTS: dict[int, tuple[xr.DataTree, object]] = {}
_TOTALS = ("elpd", "se", "p", "n_samples", "n_data_points", "scale", "warning", "good_k", "approx_posterior")


def psis_loo(fit_data: xr.DataTree):
    """PSIS-LOO of a fit with pointwise values (``az.loo``), with the observations refitted
    exactly in place of their estimates (see :func:`with_exact_scores`).

    The log-likelihood may hold every k-th draw only (see ``pointwise.py``): the posterior
    is thinned to the same draws, from which ArviZ estimates the draws' relative efficiency.
    """
    log_likelihood = fit_data.log_likelihood.to_dataset()
    same_draws = xr.DataTree.from_dict({
        "posterior": fit_data.posterior.to_dataset().sel(draw=log_likelihood["draw"]),
        "log_likelihood": log_likelihood,
    })
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        result = az.loo(same_draws, pointwise=True)
    if "exact_loo" in fit_data.children and fit_data["exact_loo"].sizes.get("obs", 0):
        result = with_exact_scores(result, fit_data["exact_loo"].to_dataset())
    return result


def loo(fit_data: xr.DataTree):
    """:func:`psis_loo` of a fit: read from its :data:`LOO_GROUP` if it has one, else computed
    once per fit object."""
    if id(fit_data) not in _LOO_RESULTS:
        stored = LOO_GROUP in fit_data.children
        _LOO_RESULTS[id(fit_data)] = (fit_data, stored_loo(fit_data[LOO_GROUP]) if stored else psis_loo(fit_data))
    return _LOO_RESULTS[id(fit_data)][1]


def loo_group(result) -> xr.DataTree:
    """A PSIS-LOO result (from :func:`psis_loo`) as a group to store with the fit: the pointwise
    ELPD and Pareto-k as variables, the totals as attributes (the smoothed weights, draws x
    rows, are left out)."""
    pointwise = {"elpd_i": result.elpd_i, "pareto_k": result.pareto_k}
    if result.p_loo_i is not None:
        pointwise["p_loo_i"] = result.p_loo_i
    # netCDF attributes hold no booleans: kept as 0/1.
    totals = {name: int(value) if isinstance(value, bool) else value
              for name, value in ((name, getattr(result, name)) for name in _TOTALS)}
    return xr.DataTree(xr.Dataset(pointwise, attrs=totals))


def stored_loo(group: xr.DataTree):
    """The PSIS-LOO result kept by :func:`loo_group`, as ArviZ's ``ELPDData``."""
    from arviz_stats.utils import ELPDData

    dataset = group.to_dataset()
    totals = dict(dataset.attrs)
    result = ELPDData(
        elpd=float(totals["elpd"]), se=float(totals["se"]), p=float(totals["p"]), n_samples=int(totals["n_samples"]),
        n_data_points=int(totals["n_data_points"]), scale=str(totals["scale"]), warning=bool(totals["warning"]),
        good_k=float(totals["good_k"]), elpd_i=dataset["elpd_i"], pareto_k=dataset["pareto_k"],
    )
    result.approx_posterior = bool(totals["approx_posterior"])
    result.p_loo_i = dataset["p_loo_i"] if "p_loo_i" in dataset else None
    return result


def with_exact_scores(result, exact: xr.Dataset):
    """PSIS-LOO with the observations that were refitted (``evaluate.crossval.refit_high_pareto_k``)
    scored exactly, as ArviZ's ``reloo`` does: their ``elpd_i`` replaced, their Pareto-k set
    to 0, and the totals and the standard error recomputed."""
    labels = {result.elpd_i.dims[0]: exact["obs"].values}
    lpd_i = result.elpd_i + (result.p_loo_i if result.p_loo_i is not None else 0)
    result.elpd_i.loc[labels] = exact["elpd"].values
    result.pareto_k.loc[labels] = 0.0
    if result.p_loo_i is not None:
        result.p_loo_i.loc[labels] = lpd_i.loc[labels].values - exact["elpd"].values
        result.p = float(result.p_loo_i.sum())
    result.elpd = float(result.elpd_i.sum())
    result.se = float(np.sqrt(result.n_data_points * np.var(result.elpd_i.values, ddof=1)))
    result.warning = bool((result.pareto_k > result.good_k).any())
    return result


def loo_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """ELPD-LOO of each model, best first, with differences to the best and their SE.

    Returns
    -------
    DataFrame
        ArviZ's comparison table: ``elpd``, ``p``, ``elpd_diff``, ``dse`` (SE of the
        difference), ``weight`` (stacking), ``se``, ...

    Notes
    -----
    ArviZ's warning about high Pareto-k is silenced here because :func:`pareto_k_table`
    reports the same facts per model, against the config's threshold.
    """
    results = {name: loo(fit_data) for name, fit_data in fits.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return az.compare(results, round_to="none")


# An observation whose WAIC penalty (the variance of its log-likelihood) is above this makes WAIC
# unreliable (Vehtari, Gelman and Gabry 2017; R's loo::waic warns from it).
WAIC_P_MAX = 0.4


def waic(fit_data: xr.DataTree) -> dict:
    """WAIC (Watanabe 2010) as R's ``loo::waic`` computes it, from the fit's pointwise
    log-likelihood: ``elpd_waic`` sums, over the observations, the log of the mean likelihood
    less its penalty ``p_waic``, the variance of the log-likelihood over the draws; ``se`` is
    ``sqrt(n)`` times the pointwise values' sd; ``n_p_waic_high`` counts the observations whose
    penalty is above :data:`WAIC_P_MAX`. ArviZ 1.x computes PSIS-LOO only."""
    from scipy.special import logsumexp

    log_likelihood = next(iter(fit_data.log_likelihood.to_dataset().data_vars.values()))
    draws = log_likelihood.stack(sample=("chain", "draw")).transpose("sample", ...).values.reshape(
        log_likelihood.sizes["chain"] * log_likelihood.sizes["draw"], -1)
    penalty = draws.var(axis=0, ddof=1)
    pointwise = logsumexp(draws, axis=0) - np.log(len(draws)) - penalty
    return {"elpd_waic": float(pointwise.sum()), "se": float(np.sqrt(len(pointwise)) * pointwise.std(ddof=1)),
            "p_waic": float(penalty.sum()), "n_p_waic_high": int((penalty > WAIC_P_MAX).sum())}


def waic_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """Each model's WAIC (:func:`waic`), best first, with its difference to the best."""
    table = pd.DataFrame({name: waic(fit_data) for name, fit_data in fits.items()}).T.rename_axis("model")
    table = table.astype({"n_p_waic_high": int}).sort_values("elpd_waic", ascending=False)
    return table.assign(elpd_diff=table["elpd_waic"].iloc[0] - table["elpd_waic"])


def pareto_k_table(fits: dict[str, xr.DataTree], k_max: float) -> pd.DataFrame:
    """How many observations have a Pareto-k above ``k_max`` in each model, after those
    ``refitted`` exactly (their k is then 0; see ``evaluate.crossval.refit_high_pareto_k``).

    Many high k values mean PSIS-LOO is unreliable for that model: the observations
    are too influential for importance sampling to stand in for refitting.
    """
    rows = []
    for name, fit_data in fits.items():
        pareto_k = loo(fit_data).pareto_k.values
        refitted = fit_data["exact_loo"].sizes.get("obs", 0) if "exact_loo" in fit_data.children else 0
        rows.append(
            {"model": name, "max_k": float(pareto_k.max()), f"n_k_above_{k_max}": int((pareto_k > k_max).sum()),
             "refitted": refitted, "n_obs": pareto_k.size}
        )
    return pd.DataFrame(rows).set_index("model")


def reported_model(fits: dict[str, xr.DataTree], primary: str | None = None) -> tuple[str, str]:
    """The model the report describes, and why: ``primary`` if the config names one,
    otherwise the model with the highest ELPD-LOO.

    Returns
    -------
    (str, str)
        The model's name and a sentence saying why it was chosen.
    """
    if primary is not None:
        return primary, "named as `primary` in the config"
    if len(fits) == 1:
        return next(iter(fits)), "the only model fitted"
    table = loo_table(fits)
    best, runner_up = table.index[0], table.index[1]
    difference, se = abs(table.loc[runner_up, "elpd_diff"]), table.loc[runner_up, "dse"]
    clear = "clearly" if difference > 2 * se else "but not clearly (less than 2 SE)"
    return best, (f"PSIS-LOO prefers it, {clear}: its ELPD is {difference:.1f} (SE {se:.1f}) above "
                  f"the next best model, {runner_up}")
