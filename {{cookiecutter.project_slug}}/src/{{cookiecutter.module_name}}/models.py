"""Custom models, written as plain PyMC.

Models can also be given as formulas in ``config/analysis.yaml`` (built by Bambi, see
``formulas.py``); write one here when a formula cannot say what you need. A custom model
is a function ``(data, priors, family, centered) -> pm.Model``; list it in the config as
``custom: <function name>`` (or a dotted path to a function in another module).

Predictors are used in their own units, so ``mu_alpha`` is the population intercept at
predictors = 0 and ``mu_beta`` the change per unit of each predictor, as lme4 and brms
report them. ``priors`` (a ``priors.ModelPriors``) holds priors scaled to the data (see
``priors.py``), with the config's overrides.

Every model names its likelihood after the outcome column and uses the dims ``obs``,
``predictor`` and the group column's name, so all fits are checked and compared the same
way. ``centered`` says how the group effects are parameterised (see
``parameterization.py``): centred when groups are well informed by their data,
non-centred (``mu + tau * z``) when many groups have little data.

A model that also takes ``sufficient_statistics`` may replace a normal likelihood by
:func:`normal_sufficient_likelihood` when asked: the same posterior, sampled in time
that grows with the number of groups rather than rows. The pipeline samples that
version and computes the pointwise log-likelihood and checks with the ordinary one.
"""

import math
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor.tensor as pt

if TYPE_CHECKING:  # imported for annotations only: config imports this module
    from {{ cookiecutter.module_name }}.priors import ModelPriors
    from {{ cookiecutter.module_name }}.data import GroupedData

FAMILIES = ("normal", "student_t", "bernoulli", "binomial", "poisson", "negative_binomial")

# Every dimension, coordinate and variable name the models create (ours below, Bambi's, and
# the pipeline's): a data column of the same name would be confused with them, so the config
# refuses it. tests/test_models.py checks that every built model's names are listed here.
RESERVED_NAMES = {
    "obs": "the observation dimension", "__obs__": "Bambi's observation dimension",
    "chain": "a sampling dimension", "draw": "a sampling dimension", "sample": "a sampling dimension",
    "predictor": "the predictor dimension", "group_predictor": "the group-level predictor dimension",
    "effect": "the effect dimension of correlated_slopes", "effect_pair": "the correlation dimension",
    "predictors": "the predictors' data container", "group_code": "the group codes' data container",
    "group_predictors": "the group-level predictors' data container",
    "intercept_at_means": "a parameter", "mu_alpha": "a parameter", "tau_alpha": "a parameter",
    "mu_beta": "a parameter", "tau_beta": "a parameter", "alpha": "a parameter (also Bambi's negative binomial)",
    "beta": "a parameter", "z_alpha": "a parameter", "z_beta": "a parameter", "gamma": "a parameter",
    "sigma": "the residual sd", "nu": "the Student-t degrees of freedom", "phi": "the negative binomial dispersion",
    "chol": "a parameter", "chol_corr": "a parameter", "chol_stds": "a parameter", "effects": "a parameter",
    "z_effects": "a parameter", "rho": "the correlations", "log_likelihood": "a potential",
    "mu": "Bambi's linear predictor", "p": "Bambi's probability", "Intercept": "Bambi's intercept",
    "log_prior": "the fit's log prior", "pointwise_outcome": "a pointwise variable",
    "pointwise_log_likelihood": "a pointwise variable", "pointwise_log_prior": "a pointwise variable",
    "pointwise_row": "a pointwise dimension",
}


def likelihood(data: "GroupedData", eta, priors: "ModelPriors", family: str):
    """The observed outcome given the linear predictor ``eta`` on the link scale.

    Links: identity (normal, Student-t), logit (Bernoulli, binomial), log (Poisson,
    negative binomial, plus ``log(exposure)`` as an offset when the data have one).
    """
    name, y = data.outcome_name, data.outcome
    if family == "normal":
        sigma = residual_sd(priors)
        return pm.Normal(name, eta, sigma, observed=y, dims="obs")
    if family == "student_t":
        sigma = residual_sd(priors)
        nu = pm.Gamma("nu", *priors.nu)
        return pm.StudentT(name, nu=nu, mu=eta, sigma=sigma, observed=y, dims="obs")
    if family == "bernoulli":
        return pm.Bernoulli(name, logit_p=eta, observed=y, dims="obs")
    if family == "binomial":
        return pm.Binomial(name, n=data.trials, logit_p=eta, observed=y, dims="obs")
    log_mu = eta if data.exposure is None else eta + np.log(data.exposure)
    if family == "poisson":
        return pm.Poisson(name, mu=pm.math.exp(log_mu), observed=y, dims="obs")
    if family == "negative_binomial":
        # phi as in Stan's neg_binomial_2: variance mu + mu^2 / phi.
        phi = pm.Gamma("phi", *priors.phi)
        return pm.NegativeBinomial(name, mu=pm.math.exp(log_mu), alpha=phi, observed=y, dims="obs")
    raise ValueError(f"unknown family {family!r}; allowed: {', '.join(FAMILIES)}")


def residual_sd(priors: "ModelPriors"):
    """The within-group sd ``sigma`` of the normal and Student-t families."""
    return pm.HalfStudentT("sigma", nu=4, sigma=priors.residual_sd)


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


def _data_containers(data: "GroupedData"):
    """Predictors and group codes as ``pm.Data``, so the model can predict new data."""
    predictors = pm.Data("predictors", data.predictors, dims=("obs", "predictor"))
    group = pm.Data("group_code", data.group_codes, dims="obs")
    return predictors, group


def _population_intercept(data: "GroupedData", priors: "ModelPriors", mu_beta):
    """The population intercept ``mu_alpha`` and each group's expected intercept.

    The prior is set on the intercept at the predictors' means, where the data inform it
    (as rstanarm, brms and Bambi do); ``mu_alpha`` is the intercept at predictors = 0.
    Group-level predictors shift each group's expected intercept through ``gamma``.
    """
    intercept_at_means = pm.Normal("intercept_at_means", priors.intercept_mu, priors.intercept_sigma)
    at_means = (mu_beta * priors.predictor_means).sum()
    if not data.group_predictor_names:
        mu_alpha = pm.Deterministic("mu_alpha", intercept_at_means - at_means)
        return mu_alpha, mu_alpha
    u = pm.Data("group_predictors", data.group_predictors, dims=(data.group_dim, "group_predictor"))
    gamma = pm.Normal("gamma", priors.gamma_mu, priors.gamma_sigma, dims="group_predictor")
    mu_alpha = pm.Deterministic("mu_alpha", intercept_at_means - at_means - (gamma * priors.group_predictor_means).sum())
    return mu_alpha, mu_alpha + (u * gamma).sum(axis=-1)


def varying_slopes(data: "GroupedData", priors: "ModelPriors", family: str = "normal", centered: bool = False,
                   sufficient_statistics: bool = False) -> pm.Model:
    """Partial pooling: intercepts and slopes vary by group around population means.

    Group-level predictors (``data.group_predictors`` in the config) shift the intercepts
    through coefficients ``gamma``. ``sufficient_statistics`` (normal family only) swaps
    the row-by-row likelihood for :func:`normal_sufficient_likelihood`.
    """
    g = data.group_dim
    with pm.Model(coords=data.coords) as model:
        x, group = _data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = _population_intercept(data, priors, mu_beta)
        tau_alpha = pm.HalfNormal("tau_alpha", priors.group_sd_intercept)
        tau_beta = pm.HalfNormal("tau_beta", priors.group_sd_slopes, dims="predictor")

        if centered:
            alpha = pm.Normal("alpha", alpha_mean, tau_alpha, dims=g)
            beta = pm.Normal("beta", mu_beta, tau_beta, dims=(g, "predictor"))
        else:
            z_alpha = pm.Normal("z_alpha", 0, 1, dims=g)
            z_beta = pm.Normal("z_beta", 0, 1, dims=(g, "predictor"))
            alpha = pm.Deterministic("alpha", alpha_mean + tau_alpha * z_alpha, dims=g)
            beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims=(g, "predictor"))

        if sufficient_statistics and family == "normal":
            normal_sufficient_likelihood(data, alpha, beta, priors)
        else:
            eta = alpha[group] + (beta[group] * x).sum(axis=-1)
            likelihood(data, eta, priors, family)
    return model


def correlated_slopes(
    data: "GroupedData", priors: "ModelPriors", family: str = "normal", centered: bool = False,
    sufficient_statistics: bool = False,
) -> pm.Model:
    """Partial pooling with correlated intercepts and slopes: an LKJ prior on their correlation.

    Each group's ``effects`` (intercept, then one slope per predictor) are multivariate
    normal around the population means ``mu_alpha``, ``mu_beta`` with standard deviations
    ``tau_alpha``, ``tau_beta`` and correlations ``rho`` (one per pair of effects).
    """
    g = data.group_dim
    effect_names = ["intercept", *data.predictor_names]
    pairs = np.triu_indices(len(effect_names), k=1)
    pair_names = [f"{effect_names[i]}:{effect_names[j]}" for i, j in zip(*pairs)]
    with pm.Model(coords={**data.coords, "effect": effect_names, "effect_pair": pair_names}) as model:
        x, group = _data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = _population_intercept(data, priors, mu_beta)
        n_groups, n_predictors = len(data.groups), len(data.predictor_names)
        mean = pt.concatenate(
            [pt.broadcast_to(alpha_mean, (n_groups,))[:, None], pt.broadcast_to(mu_beta, (n_groups, n_predictors))],
            axis=1,
        )
        chol, corr, tau = pm.LKJCholeskyCov(
            "chol", n=len(effect_names), eta=priors.lkj_eta, compute_corr=True, store_in_trace=False,
            sd_dist=pm.HalfNormal.dist(np.r_[priors.group_sd_intercept, priors.group_sd_slopes], shape=len(effect_names)),
        )
        pm.Deterministic("tau_alpha", tau[0])
        pm.Deterministic("tau_beta", tau[1:], dims="predictor")
        pm.Deterministic("rho", corr[pairs], dims="effect_pair")  # the correlations, diagonal left out

        if centered:
            effects = pm.MvNormal("effects", mean, chol=chol, dims=(g, "effect"))
        else:
            z = pm.Normal("z_effects", 0, 1, dims=(g, "effect"))
            effects = pm.Deterministic("effects", mean + z @ chol.T, dims=(g, "effect"))

        if sufficient_statistics and family == "normal":
            normal_sufficient_likelihood(data, effects[:, 0], effects[:, 1:], priors)
        else:
            eta = effects[group, 0] + (effects[group, 1:] * x).sum(axis=-1)
            likelihood(data, eta, priors, family)
    return model
