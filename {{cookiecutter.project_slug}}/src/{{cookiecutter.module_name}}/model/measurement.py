"""A predictor measured with error, brms's ``me(x, sdx)``.

Each row's true value of ``x`` is unknown: the data give a measurement of it, ``x``, with a
known standard error, ``sdx`` (a column). As brms does, the true values are parameters with a
population prior, and the measurements are normal around them::

    x_true ~ Normal(meanme, sdme)        # the true values' distribution, learnt from the data
    x ~ Normal(x_true, sdx)              # each measurement, with its own standard error
    eta = ... + b * x_true               # the true value, not the measurement, in the model

So the slope ``b`` is not diluted towards zero by the noise of ``x`` (regression dilution), and
rows whose ``x`` is measured precisely count for more. ``meanme`` and ``sdme`` have priors
scaled to the measurements (Normal(mean x, 2.5 sd x), HalfNormal(2.5 sd x)); ``b``, a slope's
default prior (``model/priors.py``). Plain PyMC: :func:`latent_predictor` adds it to any linear
predictor; a formula's ``me()`` term is built with it by Bambi's hook for the linear predictor, or,
for a normal outcome, with the true values integrated out (:func:`marginal_normal`).
"""

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.model.priors import SCALE, outcome_scale, slope_sigma
from {{ cookiecutter.module_name }}.names import LATENT_ROWS


def measurement_names(column: str) -> dict[str, str]:
    """The model's variables of ``me(column, ...)``: its slope, the true values' mean and sd,
    and the true values themselves (one per row)."""
    return {"slope": f"me_{column}", "mean": f"meanme_{column}", "sd": f"sdme_{column}", "true": f"{column}_true"}


def latent_predictor(column: str, measured: np.ndarray, error_sd: np.ndarray, slope_sd: float, dims: str | None = None):
    """``b * x_true`` for the predictor ``column``, measured as ``measured`` with standard errors
    ``error_sd``: the true values with their population prior, and the measurements' density
    (a ``Potential``, so that the model's only observed variable stays its outcome)."""
    names = measurement_names(column)
    spread = float(np.std(measured)) or 1.0
    mean = pm.Normal(names["mean"], float(np.mean(measured)), SCALE * spread)
    sd = pm.HalfNormal(names["sd"], SCALE * spread)
    # Written around the measurements: x_true = x + sdx * z, so z's density is the measurement's,
    # standard normal, and the population prior is a potential
    shift = pm.Normal(f"{column}_error", 0.0, 1.0, size=len(measured), dims=dims)
    true = pm.Deterministic(names["true"], measured + error_sd * shift, dims=dims)
    pm.Potential(f"{column}_population", pm.logp(pm.Normal.dist(mean, sd), true).sum())
    slope = pm.Normal(names["slope"], 0.0, slope_sd)
    return slope * true


def true_given_measured(measured, error_sd, mean, sd):
    """The mean and variance of each true value given its measurement (normal prior ``N(mean, sd)``,
    normal error ``sdx``): the precision-weighted average of the two, and the inverse of their summed precisions."""
    variance = 1.0 / (1.0 / sd**2 + 1.0 / error_sd**2)
    return variance * (mean / sd**2 + measured / error_sd**2), variance


def marginal_normal(column: str, measured: np.ndarray, error_sd: np.ndarray, slope_sd: float):
    """Bambi's likelihood ``dist`` for a normal outcome with ``me(column)``: the true values
    integrated out, exactly. Given the parameters, each row's true value given its measurement
    is normal, ``N(m_i, v_i)`` with ``v_i = 1 / (1 / sdme^2 + 1 / sdx_i^2)`` and
    ``m_i = v_i (meanme / sdme^2 + x_i / sdx_i^2)``, so the outcome is
    ``N(mu + b m_i, sqrt(sigma^2 + b^2 v_i))`` and the measurement ``N(meanme, sqrt(sdme^2 + sdx_i^2))``.
    The same posterior as :func:`latent_predictor` without a parameter per row, whose funnel with
    ``sigma`` the sampler mixes slowly through."""
    names = measurement_names(column)
    spread = float(np.std(measured)) or 1.0

    def dist(name, mu, sigma, observed=None, dims=None, **_):
        mean = pm.Normal(names["mean"], float(np.mean(measured)), SCALE * spread)
        sd = pm.HalfNormal(names["sd"], SCALE * spread)
        slope = pm.Normal(names["slope"], 0.0, slope_sd)
        pm.Potential(f"{column}_measured", pm.logp(pm.Normal.dist(mean, pt.sqrt(sd**2 + error_sd**2)), measured).sum())
        expected, variance = true_given_measured(measured, error_sd, mean, sd)
        return pm.Normal(name, mu + slope * expected, pt.sqrt(sigma**2 + slope**2 * variance), observed=observed,
                         dims=dims)

    return dist


def add_measurement(model, data, family: str, column: str, error_column: str) -> None:
    """Make the (not yet built) Bambi ``model``'s linear predictor read the true values of the
    predictor ``column`` measured with the standard errors ``error_column``: the true values
    integrated out for a normal outcome (:func:`marginal_normal`), else sampled
    (:func:`latent_predictor`, through Bambi's hook for the linear predictor)."""
    import bambi as bmb  # here, not at the top: see formulas.bambi_prior

    measured = data.frame[column].to_numpy(dtype=float)
    error_sd = data.frame[error_column].to_numpy(dtype=float)
    slope_sd = slope_sigma(measured, family, outcome_scale(data.outcome, family))
    if family_record(family).sufficient_statistics:  # a normal likelihood
        likelihood = model.family.likelihood
        model.family.likelihood = bmb.Likelihood(likelihood.name, params=likelihood.params, parent=likelihood.parent,
                                                 dist=marginal_normal(column, measured, error_sd, slope_sd))
        return

    def hook(eta, _kwargs):
        # The true values' own dim: Bambi leaves variables on its rows' dim out of the results
        dim = f"{column}{LATENT_ROWS}"
        pm.modelcontext(None).add_coord(dim, data.coords["obs"])
        return eta + latent_predictor(column, measured, error_sd, slope_sd, dims=dim)

    model.family.transform_backend_eta = hook
