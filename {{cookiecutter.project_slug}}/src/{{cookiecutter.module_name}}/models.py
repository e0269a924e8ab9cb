"""Custom models, written as plain PyMC.

Models can also be given as formulas in ``config/analysis.yaml`` (built by Bambi, see
``model/formulas.py``); write one here when a formula cannot say what you need. A custom model
is a function ``(data, priors, family, centered) -> pm.Model``; list it in the config as
``custom: <function name>`` (or a dotted path to a function in another module). Its further
arguments (the columns it reads, say) come from the model's ``options`` in the config, e.g.
``options: {time: year}`` for ``autocorrelated_intercepts(..., time="year")``.

Predictors are used in their own units, so ``mu_alpha`` is the population intercept at
predictors = 0 and ``mu_beta`` the change per unit of each predictor, as lme4 and brms
report them. ``priors`` (a ``model.priors.ModelPriors``) holds priors scaled to the data (see
``model/priors.py``), with the config's overrides.

Every model names its likelihood after the outcome column and uses the dims ``obs``,
``predictor`` and the group column's name, so all fits are checked and compared the same
way. The design checks take a custom model's slopes to vary by group, unless its name ends
in ``_intercepts`` or ``_curves``; those that also start with ``spatial_`` or ``trend_`` (``spatial_intercepts``,
``trend_intercepts``) may have a group per row, told apart by their neighbours. ``centered``
says how the group effects are parameterised (see ``model/parameterization.py``): centred when groups are well informed by their data,
non-centred (``mu + tau * z``) when many groups have little data.

A model that also takes ``sufficient_statistics`` may replace a normal likelihood by
:func:`normal_sufficient_likelihood` when asked: the same posterior, sampled in time
that grows with the number of groups rather than rows. The pipeline samples that
version and computes the pointwise log-likelihood and checks with the ordinary one.
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.data.timeline import lags, timeline
from {{ cookiecutter.module_name }}.data.validation import DataError
from {{ cookiecutter.module_name }}.families import family_record, residual_sd
from {{ cookiecutter.module_name }}.model.likelihoods import (
    data_containers,
    group_intercepts,
    likelihood,
    normal_sufficient_likelihood,
    population_intercept,
)
from {{ cookiecutter.module_name }}.model.measurement import latent_predictor
from {{ cookiecutter.module_name }}.model.parameterization import choose
from {{ cookiecutter.module_name }}.model.priors import ModelPriors, gp_priors
from {{ cookiecutter.module_name }}.model.spatial import RHO_PRIOR, car_effect
from {{ cookiecutter.module_name }}.model.temporal import AR_PRIOR, ar_normal, rw_effect


def varying_slopes(data: GroupedData, priors: ModelPriors, family: str = "normal", centered: bool = False,
                   sufficient_statistics: bool = False) -> pm.Model:
    """Partial pooling: intercepts and slopes vary by group around population means.

    Group-level predictors (``data.group_predictors`` in the config) shift the intercepts
    through coefficients ``gamma``. ``sufficient_statistics`` (normal family only) swaps
    the row-by-row likelihood for :func:`normal_sufficient_likelihood`.
    """
    g = data.group_dim
    with pm.Model(coords=data.coords) as model:
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
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

        if sufficient_statistics and family_record(family).sufficient_statistics:
            normal_sufficient_likelihood(data, alpha, beta, priors)
        else:
            eta = alpha[group] + (beta[group] * x).sum(axis=-1)
            likelihood(data, eta, priors, family)
    return model


def correlated_slopes(
    data: GroupedData, priors: ModelPriors, family: str = "normal", centered: bool = False,
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
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
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

        if sufficient_statistics and family_record(family).sufficient_statistics:
            normal_sufficient_likelihood(data, effects[:, 0], effects[:, 1:], priors)
        else:
            eta = effects[group, 0] + (effects[group, 1:] * x).sum(axis=-1)
            likelihood(data, eta, priors, family)
    return model


def spatial_intercepts(data: GroupedData, priors: ModelPriors, family: str = "poisson",
                       centered: bool = False) -> pm.Model:
    """Areal data: each group is a region, and neighbouring regions' intercepts are alike.

    The intercepts are the population intercept plus BYM2 spatial effects (``model/spatial.py``)
    on the graph of ``data.adjacency``: ``sdcar`` is their standard deviation and ``rhocar``
    the share of their variance that neighbours share, as brms's ``car(type = "bym2")``;
    slopes are common. With counts and ``data.exposure`` (expected counts, or the population
    at risk) this is the disease-mapping model of Riebler et al. (2016). The spatial effects
    have one parameterisation, so ``centered`` is not used.
    """
    if data.graph is None:
        raise ValueError("spatial_intercepts needs the graph of neighbouring groups. Fix: set data.adjacency in the "
                         "config to a CSV of neighbour pairs of the groups (README 'Effects in space and time')")
    g = data.group_dim
    with pm.Model(coords=data.coords) as model:
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
        sdcar = pm.HalfNormal("sdcar", priors.group_sd_intercept)
        rhocar = pm.Beta("rhocar", **RHO_PRIOR)
        spatial = car_effect("car", data.graph, sdcar, rhocar, kind="bym2", dims=g)
        alpha = pm.Deterministic("alpha", alpha_mean + spatial, dims=g)

        eta = alpha[group] + (mu_beta * x).sum(axis=-1)
        likelihood(data, eta, priors, family)
    return model


def trend_intercepts(data: GroupedData, priors: ModelPriors, family: str = "normal",
                     centered: bool = False) -> pm.Model:
    """Data over time: each group is a time (``data.group`` a numeric column, such as the year),
    and the intercepts drift from one time to the next.

    The intercepts are the population intercept plus a first-order random walk over the times
    (``model/temporal.py``): each step between neighbouring times is normal with sd ``sdrw``, as a
    formula's ``rw(year)``; slopes are common. With a normal outcome this is the local-level model
    of Durbin and Koopman (2012). The walk is written by its steps, so ``centered`` is not used.
    """
    g = data.group_dim
    times = timeline(data.groups, data.frame, g, None, 1, data.source)
    with pm.Model(coords=data.coords) as model:
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
        sdrw = pm.HalfNormal("sdrw", priors.group_sd_intercept)
        alpha = pm.Deterministic("alpha", alpha_mean + rw_effect("rw", times, sdrw, dims=g), dims=g)

        eta = alpha[group] + (mu_beta * x).sum(axis=-1)
        likelihood(data, eta, priors, family)
    return model


def autocorrelated_intercepts(data: GroupedData, priors: ModelPriors, family: str = "normal",
                              centered: bool = False, time: str = "time") -> pm.Model:
    """Repeated measures over time: intercepts vary by group, slopes are common, and each group's
    residuals are autocorrelated over the numeric column ``time`` (an option), AR(1) as brms's
    ``ar(time = time, gr = group)``: a row's residual is ``ar`` times the previous one's, plus a new
    normal error of sd ``sigma`` (``model/temporal.ar_normal``; missing times are whole steps of the
    AR(1) process). For a normal outcome.
    """
    if not family_record(family).sufficient_statistics:
        raise ValueError(f"autocorrelated_intercepts models normal residuals; the family is {family!r}. Fix: "
                         "family: normal, or a model without autocorrelated residuals")
    series = lags(data.frame, time, data.group_dim, data.source)  # each row's previous row in its group
    with pm.Model(coords=data.coords) as model:
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
        alpha = group_intercepts(data, priors, alpha_mean, centered)  # partial pooling, as in varying_slopes

        eta = alpha[group] + (mu_beta * x).sum(axis=-1)
        ar = pm.Uniform("ar", AR_PRIOR["lower"], AR_PRIOR["upper"])
        ar_normal(data.outcome_name, eta, residual_sd(priors), ar, data.outcome, series, observed=data.outcome,
                  dims="obs")
    return model


def varying_curves(data: GroupedData, priors: ModelPriors, family: str = "normal", centered: bool = False,
                   covariate: str = "x", m: int = 10, c: float = 1.5) -> pm.Model:
    """Each group's own smooth curve of one numeric column: a Gaussian process per group, as brms's
    ``gp(x, by = g)`` and Bambi's ``hsgp(x, by=g)``, in its Hilbert-space approximation (``m``
    basis functions on a box ``c`` times the half-range of ``x``; Riutort-Mayol et al. 2023).

    ``covariate`` (an option) is a column of the file, not one of ``data.predictors``, which have
    common slopes; intercepts vary by group. The curves share their amplitude ``sdgp_x`` and length
    scale ``lscale_x``, with a formula's default priors (``model/priors.gp_priors``). The lowest
    basis function, nearly constant over the data, is left out (``drop_first``): the intercepts
    carry each group's level, which it would share with them along a ridge NUTS crosses slowly.
    """
    values = pd.to_numeric(data.frame[covariate], errors="coerce").to_numpy(float) if covariate in data.frame else None
    if values is None or not np.isfinite(values).all():
        problem = "which is not in the file" if values is None else "which is missing or not a number in some rows"
        raise DataError(f"{data.source}: varying_curves draws a curve of the column {covariate!r}, {problem}. Fix: "
                        "set the model's options in the config, e.g. options: {covariate: age}, to a numeric column")
    gp_prior = gp_priors(values, data.outcome, family)
    g, basis = data.group_dim, f"{covariate}_basis"
    with pm.Model(coords={**data.coords, basis: np.arange(m - 1)}) as model:  # m less the first
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta)
        alpha = group_intercepts(data, priors, alpha_mean, centered)  # partial pooling, as in varying_slopes

        sdgp = pm.HalfNormal(f"sdgp_{covariate}", gp_prior["sigma"]["sigma"])
        lscale = pm.InverseGamma(f"lscale_{covariate}", gp_prior["ell"]["alpha"], gp_prior["ell"]["beta"])
        gp = pm.gp.HSGP(m=[m], c=c, drop_first=True, cov_func=sdgp**2 * pm.gp.cov.ExpQuad(1, ls=lscale))
        phi, sqrt_psd = gp.prior_linearized(values[:, None])  # the basis at each row, each function's scale
        weights = pm.Normal(f"gp_{covariate}_weights", 0, 1, dims=(g, basis))  # one curve per group
        curves = (phi * (weights[group] * sqrt_psd)).sum(axis=-1)

        eta = alpha[group] + (mu_beta * x).sum(axis=-1) + curves
        likelihood(data, eta, priors, family)
    return model


def corrected_intercepts(data: GroupedData, priors: ModelPriors, family: str = "normal", centered: bool = False,
                         predictor: str = "x", error: str | None = None) -> pm.Model:
    """Intercepts vary by group, and one more predictor's slope is estimated on its true values:
    measured with error or missing in some rows (``model/measurement.py``).

    ``predictor`` (an option) is a column of the file, not one of ``data.predictors``. With
    ``error``, a column of each measurement's standard error, its true values are unknown, as
    brms's ``me(predictor, error)``; without, its missing values are imputed within the fit, as
    ``mi(predictor)``. Either way the true values come from a normal population (``meanme_x``,
    ``sdme_x``; ``meanmi_x``, ``sdmi_x``) and the slope is ``me_x`` (``mi_x``): not diluted by
    the noise of the measurements, and with every row kept.
    """
    latent = latent_predictor(data.frame, predictor, error, data.source)
    with pm.Model(coords=data.coords) as model:
        x, group = data_containers(data)

        mu_beta = pm.Normal("mu_beta", priors.slope_mu, priors.slope_sigma, dims="predictor")
        slope = pm.Normal(latent.names["slope"], 0.0, latent.slope_sd(data.outcome, family))
        true_mean, true_sd = latent.population()
        mu_alpha, alpha_mean = population_intercept(data, priors, mu_beta, slope * np.nanmean(latent.values))
        alpha = group_intercepts(data, priors, alpha_mean, centered)  # partial pooling, as in varying_slopes
        eta = alpha[group] + (mu_beta * x).sum(axis=-1)

        if family_record(family).sufficient_statistics:
            # A normal outcome: the true values integrated out exactly (sampled, the residual sd and
            # they trade off, and NUTS mixes slowly): the data's values have their own density, and
            # each row is normal around the slope times its true value's mean, widened by its variance.
            pm.Potential(f"{predictor}_values", latent.measurement_logp(true_mean, true_sd))
            expected, variance = latent.moments(true_mean, true_sd)
            sigma = residual_sd(priors)
            pm.Normal(data.outcome_name, eta + slope * expected, pt.sqrt(sigma**2 + slope**2 * variance),
                      observed=data.outcome, dims="obs")
        else:
            model.add_coord(latent.dim, latent.rows(data.coords["obs"]))
            x_true = latent.sampled(true_mean, true_sd, dims=latent.dim)  # the measurements: data about these
            likelihood(data, eta + slope * x_true, priors, family)
    return model


def item_response(data: GroupedData, priors: ModelPriors, family: str = "bernoulli",
                  centered: bool = False, item: str = "item") -> pm.Model:
    """A latent trait measured by several items: the two-parameter logistic (2PL) model.

    Each row is a person's (``data.group``) answer, 1 or 0, to an item (the column ``item``,
    an option). Each person has an ability ``theta``, standard normal: the trait's
    scale. Each item has a difficulty (the ability at which half the people answer 1) and a
    discrimination (how steeply that chance rises with ability), both drawn from their own
    population, whose centre and spread the data learn::

        P(answer = 1) = logistic(discrimination[item] * (theta[person] - difficulty[item]))

    With every discrimination 1 it is the Rasch model, which a formula says as it is:
    ``answer ~ 1 + (1 | person) + (1 | item)``. The abilities have no parameters of their own to
    centre around, so ``centered`` (chosen for the persons) is not used.
    """
    if item not in data.frame.columns:
        raise DataError(f"{data.source}: item_response reads each row's item from the column {item!r}, which is not "
                        "in the file. Fix: set the model's options in the config, e.g. options: {item: question}")
    # Items are usually answered by many people, whose answers inform them well: then they are sampled
    # centred, else non-centred, as the data decide for any group factor (model/parameterization.py).
    centred_items = choose(data.frame[item], data.outcome, family, item).centered
    items, item = np.unique(data.frame[item].astype(str), return_inverse=True)
    with pm.Model(coords={**data.coords, "item": items}) as model:
        _, person = data_containers(data)
        theta = pm.Normal("theta", 0.0, 1.0, dims=data.group_dim)

        # The typical item: answered 1 by as many as the data's share of 1s (the intercept's prior, negated).
        mu_difficulty = pm.Normal("mu_difficulty", -priors.intercept_mu, priors.intercept_sigma)
        sd_difficulty = pm.HalfNormal("sd_difficulty", priors.group_sd_intercept)
        # Discriminations are positive: normal on the log scale, a factor of e per sd.
        mu_log_discrimination = pm.Normal("mu_log_discrimination", 0.0, 1.0)
        sd_log_discrimination = pm.HalfNormal("sd_log_discrimination", 1.0)

        if centred_items:
            difficulty = pm.Normal("difficulty", mu_difficulty, sd_difficulty, dims="item")
            log_discrimination = pm.Normal("log_discrimination", mu_log_discrimination, sd_log_discrimination,
                                           dims="item")
        else:
            z_difficulty = pm.Normal("z_difficulty", 0.0, 1.0, dims="item")
            difficulty = pm.Deterministic("difficulty", mu_difficulty + sd_difficulty * z_difficulty, dims="item")
            z_discrimination = pm.Normal("z_discrimination", 0.0, 1.0, dims="item")
            log_discrimination = mu_log_discrimination + sd_log_discrimination * z_discrimination
        discrimination = pm.Deterministic("discrimination", pt.exp(log_discrimination), dims="item")

        eta = discrimination[item] * (theta[person] - difficulty[item])
        likelihood(data, eta, priors, family)
    return model
