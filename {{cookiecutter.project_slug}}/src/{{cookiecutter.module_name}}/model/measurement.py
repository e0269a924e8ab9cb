"""Predictors whose true values are unknown: measured with error (brms's ``me(x, sdx)``) or
missing in some rows (brms's ``mi(x)``).

``me(x, sdx)``: each row's true value of ``x`` is unknown, and the data give a measurement of it
with a known standard error, ``sdx`` (a column). As brms does, the true values are parameters with
a population prior, and the measurements are normal around them::

    x_true ~ Normal(meanme, sdme)        # the true values' distribution, learnt from the data
    x ~ Normal(x_true, sdx)              # each measurement, with its own standard error
    eta = ... + b * x_true               # the true value, not the measurement, in the model

so the slope ``b`` is not diluted towards zero by the noise of ``x`` (regression dilution).
``mi(x)``: where ``x`` is missing, its value is unknown and imputed within the fit from the same
kind of population model (``meanmi``, ``sdmi``), which the observed values inform, instead of the
row being dropped. Both are the same model: a measurement of error 0 where ``x`` is observed, none
where it is missing.

The population's mean and sd have priors scaled to the values (Normal(mean x, 2.5 sd x),
HalfNormal(2.5 sd x)); ``b``, a slope's default prior (``model/priors.py``). For a normal outcome
the true values are integrated out exactly (:meth:`LatentPredictor.moments`); for other families
they are sampled, one per row (``me``) or per missing row (``mi``). Plain PyMC, added to a Bambi
model's linear predictor by :func:`add_latent_predictors`.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from {{ cookiecutter.module_name }}.data.validation import check_imputed, check_measurements
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.model.priors import SCALE, outcome_scale, slope_sigma
from {{ cookiecutter.module_name }}.names import LATENT_ROWS


def latent_names(kind: str, column: str) -> dict[str, str]:
    """The model's variables of ``me(column, ...)`` or ``mi(column)`` (``kind``): the slope, the
    true values' mean and sd, and the sampled true values."""
    return {"slope": f"{kind}_{column}", "mean": f"mean{kind}_{column}", "sd": f"sd{kind}_{column}",
            "true": f"{column}_{'true' if kind == 'me' else 'imputed'}"}


def true_given_measured(measured, error_sd, mean, sd):
    """The mean and variance of each true value given its measurement (normal prior ``N(mean, sd)``,
    normal error ``sdx``): the precision-weighted average of the two, and the inverse of their summed precisions."""
    variance = 1.0 / (1.0 / sd**2 + 1.0 / error_sd**2)
    return variance * (mean / sd**2 + measured / error_sd**2), variance


@dataclass(frozen=True)
class LatentPredictor:
    """A predictor whose true values the model infers.

    Attributes
    ----------
    kind : {"me", "mi"}
    column : str
    values : ndarray
        The measurements (``me``), or the values with NaN where missing (``mi``).
    error_sd : ndarray or None
        ``me``: each measurement's standard error.
    """

    kind: str
    column: str
    values: np.ndarray
    error_sd: np.ndarray | None = None

    @property
    def names(self) -> dict[str, str]:
        return latent_names(self.kind, self.column)

    @property
    def dim(self) -> str:
        """The dim of the sampled true values (Bambi leaves variables on its rows' dim out of the results)."""
        return f"{self.column}{LATENT_ROWS}"

    def rows(self, obs) -> list:
        """The labels of :attr:`dim`, given the rows' labels ``obs``: every row (``me``), the missing ones (``mi``)."""
        obs = np.asarray(obs)
        return list(obs if self.kind == "me" else obs[self.missing])

    def slope_sd(self, outcome: np.ndarray, family: str) -> float:
        """The slope's prior sd: a slope's default (``model/priors.py``), from the observed values."""
        return slope_sigma(self.values[~self.missing], family, outcome_scale(outcome, family))

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values)

    @property
    def known(self) -> np.ndarray:
        """The values, 0 where missing (a placeholder that the model never reads)."""
        return np.where(self.missing, 0.0, self.values)

    def population(self):
        """The true values' mean and sd, with priors scaled to the observed values."""
        observed = self.values[~self.missing]
        spread = float(np.std(observed)) or 1.0
        mean = pm.Normal(self.names["mean"], float(np.mean(observed)), SCALE * spread)
        return mean, pm.HalfNormal(self.names["sd"], SCALE * spread)

    def prior_rows(self, outcome: np.ndarray, family: str) -> list[list[str]]:
        """The priors of :meth:`population` and of the slope, as ``[parameter, prior, source]``."""
        observed = self.values[~self.missing]
        spread = float(np.std(observed)) or 1.0
        names = self.names
        return [[names["slope"], f"Normal(0, {self.slope_sd(outcome, family):.4g})", "default"],
                [names["mean"], f"Normal({float(np.mean(observed)):.4g}, {SCALE * spread:.4g})", "default"],
                [names["sd"], f"HalfNormal({SCALE * spread:.4g})", "default"]]

    def measurement_logp(self, mean, sd):
        """The log density of the data's values given the population, the true values integrated out."""
        if self.kind == "me":
            return pm.logp(pm.Normal.dist(mean, pt.sqrt(sd**2 + self.error_sd**2)), self.values).sum()
        return pm.logp(pm.Normal.dist(mean, sd), self.values[~self.missing]).sum()

    def moments(self, mean, sd):
        """Each row's true value given the data and the population: its mean and variance."""
        if self.kind == "me":
            return true_given_measured(self.values, self.error_sd, mean, sd)
        return pt.where(self.missing, mean, self.known), pt.where(self.missing, sd**2, 0.0)

    def sampled(self, mean, sd, dims: str):
        """The true values as parameters: ``me`` written around the measurements
        (``x + sdx * z``, ``z`` standard normal: the measurement's density), ``mi`` one per missing
        row (``dims`` names the rows or the missing rows)."""
        if self.kind == "me":
            shift = pm.Normal(f"{self.column}_error", 0.0, 1.0, size=len(self.values), dims=dims)
            true = pm.Deterministic(self.names["true"], self.values + self.error_sd * shift, dims=dims)
            pm.Potential(f"{self.column}_population", pm.logp(pm.Normal.dist(mean, sd), true).sum())
            return true
        imputed = pm.Normal(self.names["true"], mean, sd, size=int(self.missing.sum()), dims=dims)
        pm.Potential(f"{self.column}_observed", self.measurement_logp(mean, sd))
        return pt.set_subtensor(pt.as_tensor(self.known)[np.flatnonzero(self.missing)], imputed)


def latent_predictor(frame, column: str, error: str | None, path) -> LatentPredictor:
    """The column's true values as a latent predictor: measured with the standard errors of the
    column ``error`` (``me(column, error)``), or, without one, imputed where missing (``mi(column)``).

    Raises
    ------
    DataError
        For a column not in the data, standard errors missing or not positive, fewer than two values.
    """
    if error is not None:
        check_measurements(frame, column, error, path)
        return LatentPredictor("me", column, frame[column].to_numpy(float), frame[error].to_numpy(float))
    check_imputed(frame, column, path)
    return LatentPredictor("mi", column, pd.to_numeric(frame[column], errors="coerce").to_numpy(float))


def add_latent_predictors(model, data, family: str, latents: list[LatentPredictor]) -> None:
    """Make the (not yet built) Bambi ``model``'s linear predictor read ``b * x_true`` of each
    latent predictor: integrated out for a normal outcome (``N(mu + sum b E[x_true], sqrt(sigma^2 +
    sum b^2 Var[x_true]))``, with the data's values' own density), else sampled through Bambi's
    hook for the linear predictor."""
    import bambi as bmb  # here, not at the top: see formulas.bambi_prior

    slope_sds = [latent.slope_sd(data.outcome, family) for latent in latents]
    if family_record(family).sufficient_statistics:  # a normal likelihood

        def dist(name, mu, sigma, observed=None, dims=None, **_):
            variance = sigma**2
            for latent, slope_sd in zip(latents, slope_sds):
                mean, sd = latent.population()
                slope = pm.Normal(latent.names["slope"], 0.0, slope_sd)
                pm.Potential(f"{latent.column}_values", latent.measurement_logp(mean, sd))
                expected, spread = latent.moments(mean, sd)
                mu, variance = mu + slope * expected, variance + slope**2 * spread
            return pm.Normal(name, mu, pt.sqrt(variance), observed=observed, dims=dims)

        likelihood = model.family.likelihood
        model.family.likelihood = bmb.Likelihood(likelihood.name, params=likelihood.params, parent=likelihood.parent,
                                                 dist=dist)
        return

    def hook(eta, _kwargs):
        for latent, slope_sd in zip(latents, slope_sds):
            pm.modelcontext(None).add_coord(latent.dim, latent.rows(data.coords["obs"]))
            mean, sd = latent.population()
            eta = eta + pm.Normal(latent.names["slope"], 0.0, slope_sd) * latent.sampled(mean, sd, dims=latent.dim)
        return eta

    model.family.transform_backend_eta = hook
