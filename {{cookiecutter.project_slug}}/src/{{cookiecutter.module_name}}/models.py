"""The candidate models, written as plain PyMC.

Each function takes the prepared data and the priors from the config and returns a
``pm.Model``. Edit them freely; a new model only needs a function here and an entry in
``MODELS``, then its name under ``models:`` in ``config/analysis.yaml``.

Every model names its likelihood after the outcome column and uses the dims
``obs``, ``predictor`` and the group column's name, so the fits can be compared and
checked the same way.
"""

from typing import TYPE_CHECKING, Callable

import pymc as pm

if TYPE_CHECKING:  # imported for annotations only: config imports MODELS from here
    from {{ cookiecutter.module_name }}.config import Priors
    from {{ cookiecutter.module_name }}.data import GroupedData


def _data_containers(data: "GroupedData"):
    """Predictors and group codes as ``pm.Data``, so the model can predict new data."""
    predictors = pm.Data("predictors", data.predictors, dims=("obs", "predictor"))
    group = pm.Data("group_code", data.group_codes, dims="obs")
    return predictors, group


def varying_slopes(data: "GroupedData", priors: "Priors") -> pm.Model:
    """Partial pooling: intercepts and slopes vary by group around population means.

    Non-centred: group effects are ``mu + tau * z`` with ``z ~ Normal(0, 1)``, which
    samples well when many groups have little data.
    """
    g = data.group_dim
    with pm.Model(coords=data.coords) as model:
        x, group = _data_containers(data)

        mu_alpha = pm.Normal("mu_alpha", priors.intercept.mu, priors.intercept.sigma)
        tau_alpha = pm.HalfNormal("tau_alpha", priors.group_sd.sigma)
        z_alpha = pm.Normal("z_alpha", 0, 1, dims=g)
        alpha = pm.Deterministic("alpha", mu_alpha + tau_alpha * z_alpha, dims=g)

        mu_beta = pm.Normal("mu_beta", priors.slope.mu, priors.slope.sigma, dims="predictor")
        tau_beta = pm.HalfNormal("tau_beta", priors.group_sd.sigma, dims="predictor")
        z_beta = pm.Normal("z_beta", 0, 1, dims=(g, "predictor"))
        beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims=(g, "predictor"))

        sigma = pm.HalfNormal("sigma", priors.residual_sd.sigma)
        mu = alpha[group] + (beta[group] * x).sum(axis=-1)
        pm.Normal(data.outcome_name, mu, sigma, observed=data.outcome, dims="obs")
    return model


def complete_pooling(data: "GroupedData", priors: "Priors") -> pm.Model:
    """One intercept and one set of slopes shared by every group."""
    with pm.Model(coords=data.coords) as model:
        x, _ = _data_containers(data)

        alpha = pm.Normal("alpha", priors.intercept.mu, priors.intercept.sigma)
        beta = pm.Normal("beta", priors.slope.mu, priors.slope.sigma, dims="predictor")
        sigma = pm.HalfNormal("sigma", priors.residual_sd.sigma)
        mu = alpha + (beta * x).sum(axis=-1)
        pm.Normal(data.outcome_name, mu, sigma, observed=data.outcome, dims="obs")
    return model


def no_pooling(data: "GroupedData", priors: "Priors") -> pm.Model:
    """A separate intercept and slopes per group, each with the population prior."""
    g = data.group_dim
    with pm.Model(coords=data.coords) as model:
        x, group = _data_containers(data)

        alpha = pm.Normal("alpha", priors.intercept.mu, priors.intercept.sigma, dims=g)
        beta = pm.Normal("beta", priors.slope.mu, priors.slope.sigma, dims=(g, "predictor"))
        sigma = pm.HalfNormal("sigma", priors.residual_sd.sigma)
        mu = alpha[group] + (beta[group] * x).sum(axis=-1)
        pm.Normal(data.outcome_name, mu, sigma, observed=data.outcome, dims="obs")
    return model


MODELS: dict[str, Callable[["GroupedData", "Priors"], pm.Model]] = {
    "varying_slopes": varying_slopes,
    "complete_pooling": complete_pooling,
    "no_pooling": no_pooling,
}

def build_model(name: str, data: "GroupedData", priors: "Priors") -> pm.Model:
    """The model called ``name`` in :data:`MODELS`, built on ``data``."""
    return MODELS[name](data, priors)
