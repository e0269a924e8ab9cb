"""Default priors scaled to the data, as Bambi (after rstanarm) scales them, and the config's overrides.

Predictors are used in their own units: a slope is per unit of its predictor and the
intercept is the linear predictor at predictors = 0, as lme4 and brms report them. The
priors are scaled instead of the data. With ``s = sd(y)`` on the identity link (``sd(log y)``
for the lognormal) and ``s = 1`` on the logit, probit and log scales:

==============================  =====================================================
intercept, at predictor means   Normal(link(mean y), 2.5 s)
slope of ``x``                  Normal(0, 2.5 s / sd(x)); logit, probit: Normal(0, 1 / sd(x))
group sd of the intercepts      HalfNormal(sqrt((2.5 s)^2 + sum_k (slope sd_k * mean(x_k))^2))
group sd of the slope of ``x``  HalfNormal(2.5 s / sd(x))
residual sd                     HalfStudentT(nu=4, s)
``hsgp(x)`` amplitude           HalfNormal(2.5 s)
``hsgp(x)`` length scale        InverseGamma, 1% below and 1% above x's distances (brms's)
==============================  =====================================================

``link(mean y)`` is the mean outcome on the link scale: ``mean(y)`` (identity; ``mean(log y)``
for the lognormal), ``logit(successes / trials)`` (the probit's quantile on that link; the
mean proportion for the beta), ``log(count / exposure)`` (``log(mean y)`` for the gamma). Each family's link is in its record in ``families.py``. The intercept's prior is placed at
the predictors' means, where the data inform it best (rstanarm, brms and Bambi do the
same); the model turns it into the intercept at zero. The group intercepts are at
predictors = 0, hence their wider scale when predictors are far from 0 (Bambi's rule).

Formula models get Bambi's own scaling of every term, with the intercept above (Bambi
centres it on 0 on the logit and log scales, which no prior predictive of rare events or
large counts covers). Custom models get the same numbers from :func:`model_priors`.
Any entry of the config's ``priors`` section replaces its default, in the data's units.

The zero-inflation and hurdle probabilities ``zi`` and ``hu`` get Beta priors with alpha + beta
= 2 (as wide as the uniform) centred on the share of zeros (``hu``) or on a
zero-inflated Poisson's moments (``zi``: :func:`zero_inflation_moments`).

A distributional formula (``sigma ~ x + (1 | school)``) models its parameter on the log scale:
its intercept gets Normal(log(s), 1.5) for ``sigma`` (``s`` as above), Normal(log of the
parameter's default prior mean, 2.5) for ``phi``, ``shape`` and ``nu``; the slope of ``x``
Normal(0, 1 / sd(x)), a factor of e per sd of ``x`` at one prior sd; group sds Bambi's
HalfNormal(1), a factor of e between groups at one sd.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.families import family_record

# Bambi's (and rstanarm's) multiplier of the outcome's scale.
SCALE = 2.5
# alpha + beta of the zero-inflation and hurdle probabilities' Beta priors: as wide as the uniform
# Beta(1, 1), centred on the data's estimate (:func:`zero_probability_prior`). With Bambi's Beta(2, 2)
# spread (4) the hurdle's prior predictive mean missed Poisson(1) data (p = 0.998).
ZERO_PRIOR_CONCENTRATION = 2.0


def outcome_scale(outcome: np.ndarray, family: str) -> float:
    """``s`` of the rule: sd(y) on the identity link (of log y for the lognormal), 1 on the
    logit and log links."""
    record = family_record(family)
    return float(np.std(record.linear_outcome(outcome))) if record.link == "identity" else 1.0


def mean_on_link_scale(outcome: np.ndarray, family: str, trials=None, exposure=None) -> float:
    """The overall mean outcome on the link scale: where the intercept's prior is centred.

    Proportions and rates are kept strictly inside their ranges (half an event of the whole
    data set at most), so all-zero or all-one data still give a finite centre.
    """
    y = np.asarray(outcome, dtype=float)
    record = family_record(family)
    if record.ordinal:  # P(y <= 0) = F(0 - eta): eta is minus the first category's cumulative share's quantile
        return float(-ordinal_thresholds(y, family)[0])
    if record.link == "identity":
        return float(record.linear_outcome(y).mean())
    if record.link in ("logit", "probit"):
        total = float(np.sum(trials)) if trials is not None else float(y.size)
        share = np.clip(y.sum(), 0.5, total - 0.5) / total
        return float(record.link_function(share))
    exposure_total = float(np.sum(exposure)) if exposure is not None else float(y.size)
    return float(np.log(max(y.sum(), 0.5) / exposure_total))


def ordinal_thresholds(outcome: np.ndarray, family: str) -> np.ndarray:
    """The share of rows at or below each category but the last (categories 0..K-1), on the
    link scale: where an ordinal model's cut-points sit when the linear predictor is 0.
    Shares are kept inside (0, 1) by half a row, so an empty category still gives a finite value."""
    y = np.asarray(outcome)
    n, categories = y.size, int(y.max()) + 1
    at_or_below = np.cumsum(np.bincount(y.astype(int), minlength=categories))[:-1]
    shares = np.clip(at_or_below, 0.5, n - 0.5) / n
    # Strictly increasing, even where a category is empty
    return np.maximum.accumulate(family_record(family).link_function(shares)) + 1e-3 * np.arange(categories - 1)


def zero_inflation_moments(outcome: np.ndarray) -> float:
    """The share of extra zeros of a zero-inflated Poisson with the outcome's mean and share of
    zeros (method of moments, no predictors): the rate ``lam`` with the zero-truncated mean
    ``lam / (1 - exp(-lam))`` of the counts above 0, then ``zi = 1 - mean / lam``. Groups and
    predictors add zeros of their own, so this errs high: a prior's centre, not an estimate."""
    from scipy.optimize import brentq

    y = np.asarray(outcome, dtype=float)
    zeros = float(np.mean(y == 0))
    if zeros == 0 or zeros == 1:
        return zeros
    above = y.mean() / (1 - zeros)  # the mean count of the rows above 0
    if above <= 1 + 1e-9:  # every count above 0 is 1: a rate near 0, no excess to tell
        return 0.0
    rate = brentq(lambda lam: lam / -np.expm1(-lam) - above, 1e-9, above)
    return max(0.0, 1 - y.mean() / rate)


def zero_probability_prior(outcome: np.ndarray, name: str) -> tuple[str, float, float]:
    """The default Beta prior of a hurdle's ``hu`` (centred on the share of zeros, its estimate
    without predictors) or of the zero-inflation ``zi`` (on :func:`zero_inflation_moments`),
    with :data:`ZERO_PRIOR_CONCENTRATION`; centres kept within 0.01 and 0.99."""
    y = np.asarray(outcome, dtype=float)
    centre = float(np.mean(y == 0)) if name == "hu" else zero_inflation_moments(y)
    centre = float(np.clip(centre, 0.01, 0.99))
    return "Beta", ZERO_PRIOR_CONCENTRATION * centre, ZERO_PRIOR_CONCENTRATION * (1 - centre)


def family_parameter_default(data, family: str, name: str) -> tuple[str, float, float]:
    """The default prior of the family's own parameter ``name``: the record's, or for the
    probabilities of extra zeros (the record's complements of Bambi's ``psi``) centred on the data."""
    if name in family_record(family).complements:
        return zero_probability_prior(data.outcome, name)
    return family_record(family).parameter_priors[name]


def slope_sigma(x: np.ndarray, family: str, s: float) -> float:
    """Prior sd of the population slope of predictor values ``x`` (Bambi's ``scale_common``)."""
    sd = float(np.std(x))
    if sd == 0:
        raise ValueError("a predictor is constant: it has no slope to estimate")
    return (1.0 if family_record(family).link in ("logit", "probit") else SCALE * s) / sd


@dataclass(frozen=True)
class ModelPriors:
    """The priors of a custom model, resolved for one data set: every number in the data's units.

    Arrays are in the order of ``data.predictor_names`` (``slope_*``, ``group_sd_slopes``)
    and ``data.group_predictor_names`` (``gamma_*``). ``predictor_means`` and
    ``group_predictor_means`` (over rows) place the intercept's prior at the predictors' means.
    """

    intercept_mu: float
    intercept_sigma: float
    slope_mu: np.ndarray
    slope_sigma: np.ndarray
    gamma_mu: np.ndarray
    gamma_sigma: np.ndarray
    group_sd_intercept: float
    group_sd_slopes: np.ndarray
    residual_sd: float
    family_parameters: dict[str, tuple[str, float, float]]  # (distribution, alpha, beta) of the family's own parameters
    thresholds: np.ndarray | None  # ordinal families: the data's cumulative shares on the link scale (ordinal_thresholds)
    lkj_eta: float
    predictor_means: np.ndarray
    group_predictor_means: np.ndarray
    sources: dict  # parameter -> "default" or "config"

    def table(self, predictor_names: list[str], group_predictor_names: list[str]) -> pd.DataFrame:
        """One row per prior, as notebook 01 and the README show them."""
        rows = [("intercept (at predictor means)", f"Normal({self.intercept_mu:.4g}, {self.intercept_sigma:.4g})",
                 self.sources["intercept"])]
        for name, mu, sigma in zip(predictor_names, self.slope_mu, self.slope_sigma):
            rows.append((f"slope of {name}", f"Normal({mu:.4g}, {sigma:.4g})", self.sources[f"slope:{name}"]))
        for name, mu, sigma in zip(group_predictor_names, self.gamma_mu, self.gamma_sigma):
            rows.append((f"slope of {name} (group level)", f"Normal({mu:.4g}, {sigma:.4g})",
                         self.sources[f"slope:{name}"]))
        rows.append(("group sd of intercepts", f"HalfNormal({self.group_sd_intercept:.4g})",
                     self.sources["group_sd:intercept"]))
        for name, sigma in zip(predictor_names, self.group_sd_slopes):
            rows.append((f"group sd of slope of {name}", f"HalfNormal({sigma:.4g})", self.sources[f"group_sd:{name}"]))
        rows.append(("residual sd (normal, Student-t)", f"HalfStudentT(4, {self.residual_sd:.4g})",
                     self.sources["residual_sd"]))
        for name, (distribution, alpha, beta) in self.family_parameters.items():
            rows.append((name, f"{distribution}({alpha:.4g}, {beta:.4g})", self.sources[name]))
        if self.thresholds is not None:
            gaps = ", ".join(f"{gap:.3g}" for gap in np.diff(self.thresholds))
            rows.append(("cut-point gaps (first cut-point 0)", f"LogNormal(log([{gaps}]), 1)", "default"))
        return pd.DataFrame(rows, columns=["parameter", "prior", "source"]).set_index("parameter")


def model_priors(data, family: str, overrides=None) -> ModelPriors:
    """The custom models' priors for ``data``: the defaults of the rule above, with the
    config's ``priors`` entries (a ``PriorOverrides``, in data units) in their place.

    Parameters
    ----------
    data : GroupedData
    family : str
    overrides : PriorOverrides, optional
    """
    from {{ cookiecutter.module_name }}.config import PriorOverrides  # config imports models, which imports this

    overrides = overrides or PriorOverrides()
    s = outcome_scale(data.outcome, family)
    x = data.predictors
    u_rows = data.group_predictors[data.group_codes] if data.group_predictor_names else np.empty((len(data.outcome), 0))
    names = [*data.predictor_names, *data.group_predictor_names]
    columns = np.column_stack([x, u_rows]) if names else np.empty((len(data.outcome), 0))
    sources = {}

    means, mus, sigmas = columns.mean(axis=0), np.zeros(len(names)), np.empty(len(names))
    for k, name in enumerate(names):
        given = overrides.slopes.get(name)
        mus[k], sigmas[k] = (given.mu, given.sigma) if given else (0.0, slope_sigma(columns[:, k], family, s))
        sources[f"slope:{name}"] = "config" if given else "default"

    intercept = overrides.intercept
    sources["intercept"] = "config" if intercept else "default"
    intercept_mu = intercept.mu if intercept else mean_on_link_scale(data.outcome, family, data.trials, data.exposure)
    intercept_sigma = intercept.sigma if intercept else SCALE * s

    default_group_intercept = float(np.sqrt((SCALE * s) ** 2 + np.sum((sigmas * means) ** 2)))
    group_sd_intercept = overrides.group_sd.get("intercept", default_group_intercept)
    sources["group_sd:intercept"] = "config" if "intercept" in overrides.group_sd else "default"
    group_sd_slopes = []
    for k, name in enumerate(data.predictor_names):
        group_sd_slopes.append(overrides.group_sd.get(name, SCALE * s / float(np.std(x[:, k]))))
        sources[f"group_sd:{name}"] = "config" if name in overrides.group_sd else "default"
    residual = overrides.residual_sd
    sources["residual_sd"] = "config" if residual else "default"
    family_parameters = {}
    for name in family_record(family).parameter_priors:
        given, default = getattr(overrides, name), family_parameter_default(data, family, name)
        family_parameters[name] = (default[0], given.alpha, given.beta) if given else default
        sources[name] = "config" if given else "default"

    n_x = len(data.predictor_names)
    return ModelPriors(
        intercept_mu=float(intercept_mu), intercept_sigma=float(intercept_sigma),
        slope_mu=mus[:n_x], slope_sigma=sigmas[:n_x], gamma_mu=mus[n_x:], gamma_sigma=sigmas[n_x:],
        group_sd_intercept=float(group_sd_intercept), group_sd_slopes=np.asarray(group_sd_slopes, dtype=float),
        residual_sd=float(residual.sigma if residual else np.std(family_record(family).linear_outcome(data.outcome))),
        family_parameters=family_parameters,
        thresholds=ordinal_thresholds(data.outcome, family) if family_record(family).ordinal else None,
        lkj_eta=overrides.lkj_eta, predictor_means=means[:n_x], group_predictor_means=means[n_x:], sources=sources,
    )


def formula_intercept_prior(data, family: str) -> dict:
    """The default prior of a formula model's ``Intercept`` (Bambi centres predictors, so
    this is the intercept at their means), in the config's prior syntax."""
    s = outcome_scale(data.outcome, family)
    mu = mean_on_link_scale(data.outcome, family, data.trials, data.exposure)
    return {"dist": "Normal", "mu": mu, "sigma": SCALE * s}


# brms's rule for a Gaussian process's length scale: an inverse gamma with this much prior mass
# below the smallest distance between the covariate's values and as much above the largest.
GP_LENGTH_TAIL = 0.01
GP_SHORTEST_SHARE = 0.01  # ... but never below this share of the largest (brms's def_lscale_prior)
GP_DISTANCE_ROWS = 2000  # distances between more points than this are taken from a fixed subsample


def gp_priors(x: np.ndarray, outcome: np.ndarray, family: str) -> dict:
    """Default priors of an ``hsgp(x)`` term's amplitude ``sigma`` and length scale ``ell``, in
    the units of ``x`` and of the outcome (Bambi's own, Exponential(1) and InverseGamma(3, 2) on a
    rescaled ``x``, ignore both): ``sigma`` ~ HalfNormal(2.5 s), a group sd's scale; ``ell`` ~ the
    inverse gamma with 1% of its mass below the smallest distance between two values of ``x`` (at
    least 1% of the largest) and 1% above the largest, as brms tunes ``lscale``."""
    from scipy import optimize, spatial, special

    points = np.unique(np.asarray(x, dtype=float).reshape(len(x), -1), axis=0)
    if len(points) > GP_DISTANCE_ROWS:
        points = points[np.random.default_rng(0).choice(len(points), GP_DISTANCE_ROWS, replace=False)]
    distances = spatial.distance.pdist(points)
    upper = distances.max()
    lower = max(distances[distances > 0].min(), GP_SHORTEST_SHARE * upper)  # brms's floor
    # 1 / ell is Gamma(alpha, rate beta): its 99% and 1% quantiles are 1 / lower and 1 / upper.
    # Their ratio falls from infinity to 1 as alpha grows, so alpha is the root of one equation.
    def ratio(log_alpha):
        alpha = np.exp(log_alpha)
        return np.log(special.gammaincinv(alpha, 1 - GP_LENGTH_TAIL) / special.gammaincinv(alpha, GP_LENGTH_TAIL))

    log_alpha = optimize.brentq(lambda value: ratio(value) - np.log(upper / lower), np.log(1e-2), np.log(1e4))
    alpha = float(np.exp(log_alpha))
    beta = float(special.gammaincinv(alpha, GP_LENGTH_TAIL) * upper)
    amplitude = {"dist": "HalfNormal", "sigma": SCALE * outcome_scale(outcome, family)}
    length_scale = {"dist": "InverseGamma", "alpha": alpha, "beta": beta}
    return {"sigma": amplitude, "ell": length_scale}


def formula_threshold_prior(data, family: str) -> dict:
    """The default prior of an ordinal formula model's cut-points (Bambi's ``threshold``; the
    formula has no intercept): Normal(the data's cumulative shares on the link scale, 2.5),
    ordered. Bambi's own, Normal(-2..2, 1), pulls cut-points beyond +-2 towards them."""
    return {"dist": "Normal", "mu": ordinal_thresholds(data.outcome, family).tolist(), "sigma": SCALE, "transform": "ordered"}


def distributional_priors(data, family: str, parameter: str, right: str) -> dict:
    """Default priors of the terms of the distributional formula ``parameter ~ right`` (on the
    log scale of ``parameter``), by term, in the config's prior syntax: see the module docstring."""
    import formulae  # here: used only with distributional formulas

    record = family_record(family)
    if parameter == "sigma":
        centre, sd = float(np.std(record.linear_outcome(data.outcome))), 1.5
    else:
        _, alpha, beta = record.parameter_priors[parameter]
        centre, sd = alpha / beta, SCALE  # the Gamma default's mean
    priors = {}
    description = formulae.model_description(f"y ~ {right}")
    for term in description.common_terms:
        if term.name in data.frame and pd.api.types.is_numeric_dtype(data.frame[term.name]):
            spread = float(np.std(data.frame[term.name]))
            if spread > 0:
                priors[term.name] = {"dist": "Normal", "mu": 0.0, "sigma": 1 / spread}
    if "Intercept" in {type(term).__name__ for term in description.terms}:
        priors["Intercept"] = {"dist": "Normal", "mu": float(np.log(centre)), "sigma": sd}
    return priors
