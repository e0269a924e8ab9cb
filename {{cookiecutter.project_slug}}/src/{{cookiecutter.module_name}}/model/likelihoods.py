"""The building blocks of the custom models in ``models.py``: the likelihood of each family,
the data containers, the population intercept, and a normal likelihood from per-group sums.

The likelihood of every family is its record's ``likelihood`` in ``families.py``.
"""

import math
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from {{ cookiecutter.module_name }}.families import family_record, residual_sd

if TYPE_CHECKING:  # annotations only
    from {{ cookiecutter.module_name }}.data.grouped import GroupedData
    from {{ cookiecutter.module_name }}.model.priors import ModelPriors


def likelihood(data: "GroupedData", eta, priors: "ModelPriors", family: str):
    """The observed outcome given the linear predictor ``eta`` on the link scale: the
    likelihood of ``family``'s record in ``families.py`` (links: identity for normal,
    Student-t and lognormal; logit for Bernoulli and binomial; log for Poisson, negative
    binomial and gamma, plus ``log(exposure)`` as an offset for counts with an exposure)."""
    return family_record(family).likelihood(data, eta, priors)


def sufficient_statistics(data: "GroupedData", weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Per-group sums that a normal likelihood with group-specific intercept and slopes needs.

    With ``z_i = (1, x_i - mean(x))`` the centred design row of observation ``i`` and
    ``y_i - mean(y)`` its centred outcome, returns ``n`` (rows per group),
    ``zz = sum z_i z_i'``, ``zy = sum z_i y_i`` and ``yy = sum y_i^2``, each summed over the
    group's rows: shapes (G,), (G, k, k), (G, k), (G,). Centring keeps the sums of squares
    exact in floating point when the outcome or predictors are far from zero. ``weights``
    (one per row; 0 leaves a row out, as cross-validation does) weigh each row's terms.
    """
    n_groups = len(data.groups)
    y = data.outcome - data.outcome.mean()
    z = np.column_stack([np.ones(len(y)), data.predictors - data.predictors.mean(axis=0)])
    k = z.shape[1]
    weights = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)

    def group_sum(values):
        return np.bincount(data.group_codes, weights=weights * values, minlength=n_groups)

    zz, zy = np.empty((n_groups, k, k)), np.empty((n_groups, k))
    for a in range(k):
        zy[:, a] = group_sum(z[:, a] * y)
        for b in range(k):
            zz[:, a, b] = group_sum(z[:, a] * z[:, b])
    return group_sum(np.ones(len(y))), zz, zy, group_sum(y**2)


# The data variable holding a model's sums, all in one vector: a refit without some rows
# (cross-validation) swaps in their sums over the other rows instead of compiling the model
# again, and one data variable (rather than one per sum) keeps nutpie's compiled code small.
SUMS = "sufficient_statistics"


def pack(arrays) -> np.ndarray:
    """The arrays, flattened one after another into one vector."""
    return np.concatenate([np.ravel(array) for array in arrays])


def unpack(vector, shapes: list[tuple[int, ...]]) -> list:
    """The arrays :func:`pack` flattened into ``vector``, given their shapes."""
    ends = np.cumsum([math.prod(shape) for shape in shapes])
    return [vector[end - math.prod(shape):end].reshape(shape) for shape, end in zip(shapes, ends)]


def sufficient_statistics_data(data: "GroupedData", weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The value of :data:`SUMS` in a model built by :func:`normal_sufficient_likelihood`."""
    return {SUMS: pack(sufficient_statistics(data, weights))}


def normal_sufficient_likelihood(data: "GroupedData", intercepts, slopes, priors: "ModelPriors"):
    """The normal log-likelihood of every row, from per-group sufficient statistics.

    ``intercepts`` (shape (G,)) and ``slopes`` (G, n_predictors) are each group's effects
    ``b_j``. The sum of squared residuals of group ``j`` is a quadratic form in them:
    ``yy_j - 2 b_j'zy_j + b_j'zz_j b_j`` (see :func:`sufficient_statistics`), so the
    likelihood equals the row-by-row one exactly while each gradient costs O(groups).
    There is no observed variable: use the ordinary model for predictions and checks.
    """
    sums = sufficient_statistics(data)
    values = pack(sums)
    packed = pm.Data(SUMS, values, shape=values.shape)  # static shape: compiles faster
    n, zz, zy, yy = unpack(packed, [array.shape for array in sums])
    sigma = residual_sd(priors)
    # The same intercepts for the centred data: at the predictors' means, less mean(y).
    a = intercepts + (slopes * data.predictors.mean(axis=0)).sum(axis=-1) - data.outcome.mean()
    # b'zz b and b'zy written out by blocks (intercept, slopes): joining the intercept and
    # slopes into one vector made the graph compile 2.4x slower (PyTensor's Join and Split).
    quadratic = (
        a**2 * n
        + 2 * a * (slopes * zz[:, 0, 1:]).sum(axis=-1)
        + (slopes[:, :, None] * zz[:, 1:, 1:] * slopes[:, None, :]).sum(axis=(1, 2))
    )
    cross = a * zy[:, 0] + (slopes * zy[:, 1:]).sum(axis=-1)
    squared_residuals = yy - 2 * cross + quadratic
    log_likelihood = -n.sum() * (0.5 * np.log(2 * np.pi) + pt.log(sigma)) - squared_residuals.sum() / (2 * sigma**2)
    return pm.Potential("log_likelihood", log_likelihood)


def data_containers(data: "GroupedData"):
    """Predictors and group codes as ``pm.Data``, so the model can predict new data."""
    predictors = pm.Data("predictors", data.predictors, dims=("obs", "predictor"))
    group = pm.Data("group_code", data.group_codes, dims="obs")
    return predictors, group


def population_intercept(data: "GroupedData", priors: "ModelPriors", mu_beta, other_at_means=0.0):
    """The population intercept ``mu_alpha`` and each group's expected intercept.

    The prior is set on the intercept at the predictors' means, where the data inform it
    (as rstanarm, brms and Bambi do); ``mu_alpha`` is the intercept at predictors = 0.
    Group-level predictors shift each group's expected intercept through ``gamma``.
    ``other_at_means``: the model's other terms at their predictors' means (a slope times its
    predictor's mean), for a predictor outside ``data.predictors``.
    """
    intercept_at_means = pm.Normal("intercept_at_means", priors.intercept_mu, priors.intercept_sigma)
    at_means = (mu_beta * priors.predictor_means).sum() + other_at_means
    if not data.group_predictor_names:
        mu_alpha = pm.Deterministic("mu_alpha", intercept_at_means - at_means)
        return mu_alpha, mu_alpha
    u = pm.Data("group_predictors", data.group_predictors, dims=(data.group_dim, "group_predictor"))
    gamma = pm.Normal("gamma", priors.gamma_mu, priors.gamma_sigma, dims="group_predictor")
    mu_alpha = pm.Deterministic("mu_alpha", intercept_at_means - at_means - (gamma * priors.group_predictor_means).sum())
    return mu_alpha, mu_alpha + (u * gamma).sum(axis=-1)


def group_intercepts(data: "GroupedData", priors: "ModelPriors", alpha_mean, centered: bool):
    """Each group's intercept ``alpha``, normal around ``alpha_mean`` with sd ``tau_alpha``: drawn
    as it is (centred) or as ``alpha_mean + tau_alpha * z_alpha`` (non-centred), as ``varying_slopes``
    writes it out."""
    tau_alpha = pm.HalfNormal("tau_alpha", priors.group_sd_intercept)
    if centered:
        return pm.Normal("alpha", alpha_mean, tau_alpha, dims=data.group_dim)
    z_alpha = pm.Normal("z_alpha", 0, 1, dims=data.group_dim)
    return pm.Deterministic("alpha", alpha_mean + tau_alpha * z_alpha, dims=data.group_dim)
