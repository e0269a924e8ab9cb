"""Predict the expected outcome of new rows, including rows of groups the fit never saw.

A group in the new data that was in the fitted data keeps its estimated effects; an unseen
group gets effects drawn from the population distribution (one draw per posterior draw),
so its prediction carries the between-group uncertainty, as a multilevel model should.
"""

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.config import AnalysisConfig
from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.model.formulas import bambi_model
from {{ cookiecutter.module_name }}.names import SAMPLE_DIMS


def inverse_link(eta: np.ndarray, family: str) -> np.ndarray:
    """The expected outcome (mean, probability or rate; a lognormal's median) from the linear predictor."""
    return family_record(family).prediction(eta)


def _predict_custom(fit_data: xr.DataTree, data: GroupedData, new: pd.DataFrame, family: str,
                    rng: np.random.Generator, exposure: np.ndarray | None) -> np.ndarray:
    """The ``varying_slopes`` naming convention: ``alpha``, ``beta``, ``mu_*``, ``tau_*``, ``gamma``."""
    posterior = fit_data.posterior
    missing = {"alpha", "beta", "mu_alpha", "tau_alpha", "mu_beta", "tau_beta"} - set(posterior.data_vars)
    if missing:
        raise NotImplementedError(
            f"predict() needs the varying_slopes variables; this model lacks {sorted(missing)}. "
            "Write a prediction for your model next to it in models.py."
        )
    alpha = posterior["alpha"].stack(sample=SAMPLE_DIMS).transpose("sample", ...).values      # (S, G)
    beta = posterior["beta"].stack(sample=SAMPLE_DIMS).transpose("sample", ...).values        # (S, G, P)
    n_samples = alpha.shape[0]

    def draws(name):
        return posterior[name].stack(sample=SAMPLE_DIMS).transpose("sample", ...).values

    known = {label: code for code, label in enumerate(data.groups)}
    codes = new[data.group_dim].astype(str).map(known)
    unseen = sorted(set(new.loc[codes.isna(), data.group_dim].astype(str)))
    # Unseen groups: effects from the population distribution, one per draw and group.
    alpha_mean = np.repeat(draws("mu_alpha")[:, None], len(unseen), axis=1)
    if data.group_predictor_names:
        by_group = new.groupby(new[data.group_dim].astype(str))[data.group_predictor_names].first()
        alpha_mean = alpha_mean + draws("gamma") @ by_group.loc[unseen].to_numpy(dtype=float).T
    new_alpha = alpha_mean + draws("tau_alpha")[:, None] * rng.standard_normal((n_samples, len(unseen)))
    new_beta = draws("mu_beta")[:, None, :] + draws("tau_beta")[:, None, :] * rng.standard_normal(
        (n_samples, len(unseen), beta.shape[-1]))
    alpha = np.concatenate([alpha, new_alpha], axis=1)
    beta = np.concatenate([beta, new_beta], axis=1)
    index = codes.fillna(new[data.group_dim].astype(str).map(
        {label: len(known) + i for i, label in enumerate(unseen)})).astype(int).to_numpy()

    x = new[data.predictor_names].to_numpy(dtype=float)                                        # (N, P)
    eta = alpha[:, index] + (beta[:, index, :] * x[None]).sum(axis=-1)
    if exposure is not None and family_record(family).exposure:
        eta = eta + np.log(exposure)
    if family_record(family).ordinal:  # the mean category: sum over cut-points c_k of P(y > k) = 1 - F(c_k - eta)
        gaps = draws("cutpoint_gaps").reshape(n_samples, -1)
        cutpoints = np.concatenate([np.zeros((n_samples, 1)), np.cumsum(gaps, axis=1)], axis=1)
        return (1 - family_record(family).inverse_link(cutpoints[:, None, :] - eta[..., None])).sum(axis=-1)
    return inverse_link(eta, family)


def _predict_formula(spec, fit_data: xr.DataTree, data: GroupedData, new: pd.DataFrame, family: str) -> np.ndarray:
    """Bambi's own prediction; it draws unseen groups from their population distribution."""
    model = bambi_model(spec.formula, data, family, spec.priors, distributional=spec.distributional)
    with warnings.catch_warnings():
        # Bambi 0.21 deprecates the flag but still raises on new groups without it.
        warnings.filterwarnings("ignore", message=".*sample_new_groups", category=FutureWarning)
        predicted = model.predict(fit_data, data=new, kind="response_params", sample_new_groups=True, inplace=False)
    parameter = model.family.likelihood.parent
    values = predicted.posterior[parameter].stack(sample=SAMPLE_DIMS).transpose("sample", ...).values
    if family_record(family).ordinal:  # each category's probability (sample, row, category): the mean category
        return (values * np.arange(values.shape[-1])).sum(axis=-1)
    typical = family_record(family).typical  # Bambi's mean parameter, on the outcome's scale where it is not
    return values if typical is None else typical(values)


def predict(config: AnalysisConfig, name: str, fit_data: xr.DataTree, data: GroupedData, new_frame: pd.DataFrame,
            seed: int | None = None) -> xr.DataArray:
    """Posterior draws of the expected outcome of each row of ``new_frame``.

    Parameters
    ----------
    config, name : AnalysisConfig, str
        The config and the candidate model that was fitted.
    fit_data : DataTree
        The saved fit of that model.
    data : GroupedData
        The data it was fitted to.
    new_frame : DataFrame
        Predictor columns in their own units and the group column (the formula's columns
        for formula models); the outcome is not needed.
    seed : int, optional
        For the population draws of unseen groups (custom models).

    Returns
    -------
    DataArray, dims ``(sample, row)``
        The mean for normal families, the probability of a one (or of a trial's success)
        for binary and binomial, for counts the expected count given the row's exposure
        (the rate per unit of exposure if the new rows have no exposure column), and for
        ordinal outcomes the mean category (0 the lowest).
    """
    spec = config.model(name)
    family = config.family_of(name)
    new = new_frame.reset_index(drop=True)
    unknown = [f"{term}()" for term, given in (("me", spec.measurement), ("mi", spec.imputation)) if given]
    if unknown:
        raise ValueError(f"predict() does not take model {name!r} yet: its {' and '.join(unknown)} term's true values "
                         "are not known for new rows. Fix: predict with a model without it")
    for term, column in (("car", spec.spatial and spec.spatial.group), ("rw", spec.temporal and spec.temporal.time)):
        unseen = set(new[column].astype(str)) - set(data.frame[column].astype(str)) if column in new else set()
        if unseen:
            raise ValueError(f"predict(): {term}({column}) of model {name!r} has no effect for the new levels "
                             f"{sorted(unseen)[:5]} of {column!r} (a region or time the fit did not see). Fix: "
                             "predict for the fitted levels")
    if spec.formula is not None:
        values = _predict_formula(spec, fit_data, data, new, family)
    else:
        exposure = new[config.data.exposure].to_numpy(dtype=float) if config.data.exposure in new else None
        values = _predict_custom(fit_data, data, new, family, np.random.default_rng(seed), exposure)
    return xr.DataArray(values, dims=("sample", "row"), coords={"row": new_frame.index.to_numpy()})
