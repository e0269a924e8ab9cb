"""Leave-groups-out cross-validation: how well would each model predict a group it has never seen?

PSIS-LOO (``evaluate/loo.py``) answers for a new observation of a known group. A multilevel
analysis is usually asked about a new school or hospital, which is grouped K-fold
cross-validation with whole groups held out (Vehtari et al., "Cross-validation for
hierarchical models"). The groups are split at random into ``folds`` parts; for each part
the model is fitted again without the rows of its groups, and each held-out group's observations
are scored by their joint predictive density (where the groups are the times of a model's
``rw()`` walk or ``ar()`` residuals, the parts are blocks of consecutive times rather than random
times, so that a held-out time's neighbours are mostly held out with it; in the refit, an ``ar()``
row after a block reads the last row before the block as its lag, across the block's steps)::

    elpd_g = log (1/S) sum_s prod_(i in g) p(y_i | theta_s, alpha_g,s)

where the group's effects ``alpha_g,s`` come from the population distribution given
``theta_s``, as for any group the fit has not seen.

How a fit leaves rows out: the same model (custom or formula, so no model needs code of its
own), with a ``Potential`` that subtracts those rows' log-likelihood. The held-out groups keep
their effects in the model, with no data to inform them, so NUTS draws them from the
population distribution at each draw of the other parameters.
"""

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from {{ cookiecutter.module_name }}.config import SamplerSettings
from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.data.timeline import Lags
from {{ cookiecutter.module_name }}.fit.pointwise import log_likelihood_at
from {{ cookiecutter.module_name }}.fit.sampling import without_rows
from {{ cookiecutter.module_name }}.model.build import BuiltModel
from {{ cookiecutter.module_name }}.names import LAG_GAP, LAG_PREVIOUS, LEFT_OUT


def group_folds(n_groups: int, folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. folds - 1) of each group code, at random, as even in size as possible."""
    order = np.random.default_rng(seed).permutation(n_groups)
    fold = np.empty(n_groups, dtype=int)
    for number, part in enumerate(np.array_split(order, min(folds, n_groups))):
        fold[part] = number
    return fold


def time_block_folds(times, folds: int) -> np.ndarray:
    """The fold of each group whose label is a time: ``folds`` blocks of consecutive times."""
    order = np.argsort(np.asarray(times, dtype=float), kind="stable")
    fold = np.empty(len(order), dtype=int)
    for number, part in enumerate(np.array_split(order, min(folds, len(order)))):
        fold[part] = number
    return fold


def refitter(built: BuiltModel, settings: SamplerSettings, sampler=None):
    """``sample(left_out) -> posterior Dataset``: the model fitted without the rows marked 1.

    A model sampled from sufficient statistics (``built.weighted_data``) is refitted with its
    sums over the other rows, through ``sampler`` (``sampling.ModelSampler`` of
    ``built.sampled_model``): the fit's own compiled model, and each gradient still O(groups + level pairs).
    Other models are refitted row by row as a :func:`without_rows` copy: ``sampler`` where the
    fit sampled one (:func:`refittable_model`), else one compiled here for all the refits.
    """
    from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler  # sampling imports this module

    if built.weighted_data is not None:
        sampler = sampler if sampler is not None else ModelSampler(built.sampled_model, settings.engine)
        return lambda left_out: sampler.sample(settings, data=built.weighted_data(1 - left_out)).posterior.to_dataset()
    if sampler is None or LEFT_OUT not in sampler.model.named_vars:
        sampler = ModelSampler(without_rows(built.sampled_model), settings.engine)
    return lambda left_out: sampler.sample(settings, data={LEFT_OUT: left_out,
                                                           **kept_lags(sampler.model, left_out)}).posterior.to_dataset()


def kept_lags(model, left_out: np.ndarray) -> dict[str, np.ndarray]:
    """The AR(1) lags (``model/temporal.ar_normal``) of a refit without the rows marked 1: a
    kept row after left-out ones reads the last kept row, so no left-out outcome informs the
    refit; ``{}`` for a model without AR(1) residuals."""
    if LAG_PREVIOUS not in model.named_vars:
        return {}
    lags = Lags(model[LAG_PREVIOUS].get_value(), model[LAG_GAP].get_value()).without(left_out > 0)
    return {LAG_PREVIOUS: lags.previous, LAG_GAP: lags.gap}


def leave_groups_out(built: BuiltModel, data: GroupedData, settings: SamplerSettings, folds: int,
                     sampler=None) -> xr.Dataset:
    """Every group's ``elpd`` predicted by a fit without it, and its ``fold``.

    Parameters
    ----------
    built : BuiltModel
        The model as fitted to all the data (its row-level ``model`` is refitted).
    data : GroupedData
        The data it was built from, in the same row order.
    settings : SamplerSettings
        Engine, draws, chains and seed of each fold's fit.
    folds : int
        How many fits; at most the number of groups (then each group is left out alone).
    sampler : sampling.ModelSampler, optional
        The fit's compiled model, reused where the refits can (see :func:`refitter`).

    Returns
    -------
    Dataset
        On the dim ``data.group_dim``: ``elpd`` and ``fold`` of each group.
    """
    in_time = [term for term in (built.temporal, built.autocorrelation) if term is not None]
    if any(term["group"] is None and term["time"] == data.group_dim for term in in_time):
        fold_of_group = time_block_folds(data.groups, folds)
    else:
        fold_of_group = group_folds(len(data.groups), folds, settings.seed)
    fold_of_row = fold_of_group[data.group_codes]
    sample = refitter(built, settings, sampler)
    elpd = np.empty(len(data.groups))
    for fold in np.unique(fold_of_group):
        rows = np.flatnonzero(fold_of_row == fold)
        posterior = sample((fold_of_row == fold).astype(float))
        log_likelihood = log_likelihood_at(posterior, built.model, rows, settings.pointwise_draws)
        for code in np.flatnonzero(fold_of_group == fold):
            joint = log_likelihood[:, data.group_codes[rows] == code].sum(axis=1)
            elpd[code] = logsumexp(joint) - np.log(joint.size)
    return xr.Dataset(
        {"elpd": (data.group_dim, elpd), "fold": (data.group_dim, fold_of_group)},
        coords={data.group_dim: list(data.groups)},
        attrs={"folds": int(fold_of_group.max() + 1)},
    )


def refit_high_pareto_k(built: BuiltModel, fit_data: xr.DataTree, settings: SamplerSettings, k_max: float,
                        max_refits: int, sampler=None, pareto_k: pd.Series | None = None) -> xr.Dataset:
    """Exact leave-one-out scores of the observations PSIS-LOO cannot approximate.

    Where an observation's Pareto-k is above ``k_max`` the importance-sampling estimate of
    its LOO score is unreliable; the model is fitted again without that row (the row given as
    data: no compile per row, see :func:`refitter`) and its score computed from that fit, as
    ArviZ's ``reloo`` does. At most ``max_refits`` rows, the highest k first. ``pareto_k``:
    each observation's, from a PSIS-LOO of this fit already computed (else computed here).

    Returns
    -------
    Dataset
        ``elpd`` of each refitted observation, on ``obs`` (possibly empty);
        ``evaluate.loo.loo`` puts these in place of the PSIS estimates.
    """
    from {{ cookiecutter.module_name }}.evaluate.loo import psis_loo  # compare reads what this writes

    if pareto_k is None:
        pareto_k = psis_loo(fit_data).pareto_k.to_series()
    high = pareto_k[pareto_k > k_max].sort_values(ascending=False).head(max_refits)
    scores = {}
    if len(high):
        sample = refitter(built, settings, sampler)
        position = {label: row for row, label in enumerate(built.obs_labels)}
        for label in high.index:
            row = position[label]
            left_out = np.zeros(len(built.obs_labels))
            left_out[row] = 1.0
            log_likelihood = log_likelihood_at(sample(left_out), built.model, np.array([row]),
                                               settings.pointwise_draws)[:, 0]
            scores[label] = logsumexp(log_likelihood) - np.log(log_likelihood.size)
    return xr.Dataset({"elpd": ("obs", np.array(list(scores.values()), dtype=float))},
                      coords={"obs": list(scores)}, attrs={"k_max": k_max, "n_above": int((pareto_k > k_max).sum())})


def leave_groups_out_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame | None:
    """The models ranked by their leave-groups-out ELPD (None if no fit has one).

    Returns
    -------
    DataFrame
        One row per model, best first: ``elpd_logo`` (the sum over groups), its ``se``, the
        difference from the best model (``elpd_diff``) and that difference's standard error
        (``dse``), from the paired per-group differences as ``loo`` computes them.
    """
    scored = {name: fit_data["leave_groups_out"]["elpd"].to_series()
              for name, fit_data in fits.items() if "leave_groups_out" in fit_data.children}
    if not scored:
        return None
    by_group = pd.DataFrame(scored)
    n_groups = len(by_group)
    totals = by_group.sum()
    best = totals.idxmax()
    table = pd.DataFrame({
        "elpd_logo": totals,
        "se": np.sqrt(n_groups * by_group.var(ddof=1)),
        "elpd_diff": totals - totals[best],
        "dse": [np.sqrt(n_groups * (by_group[name] - by_group[best]).var(ddof=1)) for name in by_group],
    })
    return table.sort_values("elpd_logo", ascending=False).rename_axis("model")
