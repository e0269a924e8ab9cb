"""The outcome families: one record each, read by every stage.

A record holds everything the workflow needs to know of a family: its name in the config
and in Bambi, its link, which outcomes it accepts, how its default priors are centred and
scaled, its likelihood in PyMC, how to simulate it, its parameters' names, how a group's
raw estimate is formed (to choose centred or non-centred effects), which predictive check
shows it, and the words the report uses. Adding a family is one record here plus its tests
(``tests/test_families.py``): no other module names a family.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import special, stats
from scipy.special import expit, logit


@dataclass(frozen=True)
class Link:
    """A link function: the linear predictor is ``forward(mean)``, the mean ``inverse(eta)``."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    scale_words: str  # what a number on this scale is, for the report
    latent_variance: float | None = None  # of the latent residual a binary outcome thresholds


LINKS = {
    "identity": Link("identity", lambda mean: mean, lambda eta: eta, "in the outcome's units"),
    "logit": Link("logit", logit, expit, "on the log-odds scale", latent_variance=np.pi**2 / 3),
    "probit": Link("probit", stats.norm.ppf, stats.norm.cdf, "on the probit scale (standard normal quantiles)",
                   latent_variance=1.0),
    "log": Link("log", np.log, np.exp, "on the log scale"),
}


@dataclass(frozen=True)
class Family:
    """One outcome family.

    Attributes
    ----------
    name : str
        As the config spells it (``family: gamma``).
    bambi : str
        Bambi's name of the family; formula models are built with it and ``link``.
    link : str
        The link of the mean (a key of :data:`LINKS`).
    outcome_checks : tuple of str
        The row checks the outcome column must pass (``data/validation.py``'s ``CHECKS``).
    likelihood : callable
        ``(data, eta, priors) -> observed variable``: the outcome given the linear predictor
        on the link scale, as the custom models in ``models.py`` use it.
    simulate : callable
        ``(rng, eta, parameters, trials, exposure) -> outcomes``: draws for simulated data.
    parameters : dict
        The family's own parameters beyond the mean: the name in custom models (brms's) ->
        Bambi's name.
    complements : tuple of str
        Own parameters that are one minus Bambi's: brms's zero-inflation ``zi`` and hurdle
        ``hu`` probabilities, where Bambi's ``psi`` is the probability of the count process.
    links : tuple of str
        Other links the config may choose (``link: probit``); each is a record of its own,
        :func:`family_key` names it.
    parameter_priors : dict
        The default prior of each own parameter but ``sigma`` in custom models, as
        ``(distribution, alpha, beta)``: ``Gamma`` for positive parameters, ``Beta`` for
        probabilities; the config's ``priors.<name>`` replaces alpha and beta
        (``config.PriorOverrides``).
    example_parameters : dict
        True values of those parameters for simulations (tests, the example data).
    linear_outcome : callable
        The outcome on the scale of the linear predictor for an identity link (the outcome
        itself; its log for the lognormal): where the intercept's prior is centred and the
        residual sd's prior scaled.
    information : str
        How a group's raw estimate and its variance are formed (``model/parameterization.py``):
        ``"mean"`` (of ``linear_outcome``), ``"logit"`` (of the share of successes),
        ``"logit_mean"`` (of a mean proportion),
        ``"log_rate"`` (of events per exposure), ``"log_mean"`` (of a positive outcome).
    check : str
        The predictive check that shows it (``report/figures.py``): ``"density"``,
        ``"share"`` (0/1 outcomes), ``"proportion"`` (successes of trials) or ``"counts"``.
    mean_words : str
        What a group's expected outcome is, in words (``{outcome}`` is filled in).
    trials, exposure : bool
        The family needs ``data.trials``; it takes ``data.exposure`` as an offset.
    latent_variance : float, optional
        The residual variance on the link scale when the family has no residual sd (the
        logistic's pi^2/3): the report's share of variance between groups.
    sufficient_statistics : bool
        A normal likelihood that per-group sums can replace (``model/likelihoods.py``).
    autocorrelation : bool
        Residuals an ``ar()`` term can make AR(1) (``model/temporal.ar_normal``).
    spread_check : bool
        The prior predictive check compares the outcome's sd with the prior's, in its units.
    censoring : bool
        Times to an event: ``data.event`` marks right-censored rows (0), whose likelihood is
        the probability of surviving past their time.
    ordinal : bool
        Ordered categories: the outcome is coded 0..K-1 (``data/grouped.py``), the linear
        predictor has cut-points (``priors.thresholds`` centre them) and the estimates
        name them as brms does (``Intercept[k]``).
    ratio, ratio_of : str
        What the exponential of a slope is (``"odds ratio"``) and what it multiplies per unit of
        its predictor (``"the odds of {outcome} = 1"``): the report's words for log and logit
        links. Empty for the identity and probit links, where a slope is a difference.
    typical : callable, optional
        What a prediction reports, from the mean parameter (after the inverse link), where
        that is not the outcome's scale: the lognormal's ``exp`` (its median, the geometric mean).
    """

    name: str
    bambi: str
    link: str
    outcome_checks: tuple[str, ...]
    likelihood: Callable
    simulate: Callable
    mean_words: str
    check: str = "density"
    information: str = "mean"
    parameters: dict[str, str] = field(default_factory=dict)
    complements: tuple[str, ...] = ()
    parameter_priors: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    example_parameters: dict[str, float] = field(default_factory=dict)
    linear_outcome: Callable[[np.ndarray], np.ndarray] = np.asarray
    trials: bool = False
    exposure: bool = False
    latent_variance: float | None = None
    sufficient_statistics: bool = False
    autocorrelation: bool = False
    spread_check: bool = False
    typical: Callable[[np.ndarray], np.ndarray] | None = None
    links: tuple[str, ...] = ()
    ordinal: bool = False
    censoring: bool = False
    ratio: str = ""
    ratio_of: str = ""

    @property
    def inverse_link(self) -> Callable[[np.ndarray], np.ndarray]:
        return LINKS[self.link].inverse

    @property
    def distributional(self) -> dict[str, str]:
        """The own parameters a formula may model (``sigma ~ (1 | school)``): own name -> Bambi's.
        Not the complements (a formula of Bambi's ``psi = 1 - zi`` has every coefficient's sign
        flipped) nor the cut-points."""
        return {} if self.ordinal else {own: bambi for own, bambi in self.parameters.items()
                                         if own not in self.complements}

    @property
    def link_function(self) -> Callable[[np.ndarray], np.ndarray]:
        return LINKS[self.link].forward

    def own_names(self, posterior):
        """A fit's ``posterior`` (a Dataset) with the family's parameters as the report names
        them: brms's ``zi = 1 - psi`` of a formula fit; an ordinal custom model's cut-points
        less its intercept, as the ``threshold`` of Bambi's formula fits (brms's ``Intercept[k]``)."""
        for name in self.complements:
            if self.parameters[name] in posterior:
                posterior[name] = 1 - posterior[self.parameters[name]]
                posterior = posterior.drop_vars(self.parameters[name])
        if self.ordinal and "cutpoint_gaps" in posterior and "mu_alpha" in posterior:
            gaps = posterior["cutpoint_gaps"]
            dim, = (dim for dim in gaps.dims if dim not in ("chain", "draw"))
            cutpoints = xr.concat([xr.zeros_like(gaps.isel({dim: 0})), gaps.cumsum(dim)], dim=dim)
            thresholds = (cutpoints - posterior["mu_alpha"]).rename({dim: "threshold_dim"})
            posterior["threshold"] = thresholds.assign_coords(threshold_dim=np.arange(thresholds.sizes["threshold_dim"]))
        return posterior

    def prediction(self, eta: np.ndarray) -> np.ndarray:
        """The expected outcome (mean, probability or rate; the lognormal's median) from the
        linear predictor."""
        mean = self.inverse_link(eta)
        return mean if self.typical is None else self.typical(mean)

    @property
    def scale_words(self) -> str:
        """What a number on the linear predictor's scale is, e.g. "on the log-odds scale"."""
        if self.link == "log" and self.exposure:
            return "on the log scale (log rate)"
        if self.link == "identity" and self.linear_outcome is np.log:
            return "on the log scale of the outcome"
        return LINKS[self.link].scale_words


def residual_sd(priors):
    """The residual sd ``sigma`` (normal, Student-t, lognormal: on the log scale)."""
    return pm.HalfStudentT("sigma", nu=4, sigma=priors.residual_sd)


def family_parameter(name: str, priors, **kwargs):
    """A family's own parameter (``nu``, ``phi``, ``shape``, ``zi``, ``hu``) with its prior
    from ``priors.family_parameters``: ``(distribution, alpha, beta)``."""
    distribution, alpha, beta = priors.family_parameters[name]
    return getattr(pm, distribution)(name, alpha, beta, **kwargs)


def _probability(eta, link: str) -> dict:
    """The success probability as PyMC's binary and binomial likelihoods take it."""
    return {"logit_p": eta} if link == "logit" else {"p": pm.math.invprobit(eta)}


def _log_mean(data, eta):
    """The log of the mean, with ``log(exposure)`` as an offset when the data have one."""
    return eta if data.exposure is None else eta + np.log(data.exposure)


def _normal(data, eta, priors):
    return pm.Normal(data.outcome_name, eta, residual_sd(priors), observed=data.outcome, dims="obs")


def _student_t(data, eta, priors):
    sigma = residual_sd(priors)
    nu = family_parameter("nu", priors)
    return pm.StudentT(data.outcome_name, nu=nu, mu=eta, sigma=sigma, observed=data.outcome, dims="obs")


def _bernoulli(data, eta, priors, link="logit"):
    return pm.Bernoulli(data.outcome_name, **_probability(eta, link), observed=data.outcome, dims="obs")


def _binomial(data, eta, priors, link="logit"):
    return pm.Binomial(data.outcome_name, n=data.trials, **_probability(eta, link), observed=data.outcome, dims="obs")


def _beta_binomial(data, eta, priors):
    # Mean and precision as Bambi's and brms's beta_binomial: Beta(mu phi, (1 - mu) phi) successes' probability.
    phi = family_parameter("phi", priors)
    # mu phi and (1 - mu) phi from the logit's two sides, kept above 0 where exp(-|eta|) underflows
    # (eta beyond +-700, which wide priors' draws reach): the Beta needs both positive.
    alpha, beta = (pt.maximum(phi * pm.math.invlogit(side), 1e-300) for side in (eta, -eta))
    return pm.BetaBinomial(data.outcome_name, alpha=alpha, beta=beta, n=data.trials, observed=data.outcome, dims="obs")


def _beta(data, eta, priors):
    # Mean and precision phi (PyMC's nu = alpha + beta): variance mu (1 - mu) / (1 + phi), as brms's Beta.
    return pm.Beta(data.outcome_name, mu=pm.math.invlogit(eta), nu=family_parameter("phi", priors),
                   observed=data.outcome, dims="obs")


def _poisson(data, eta, priors):
    return pm.Poisson(data.outcome_name, mu=pm.math.exp(_log_mean(data, eta)), observed=data.outcome, dims="obs")


def _negative_binomial(data, eta, priors):
    # phi as in Stan's neg_binomial_2: variance mu + mu^2 / phi.
    phi = family_parameter("phi", priors)
    return pm.NegativeBinomial(data.outcome_name, mu=pm.math.exp(_log_mean(data, eta)), alpha=phi,
                               observed=data.outcome, dims="obs")


def _zero_inflated(data, eta, priors, negative_binomial=False, hurdle=False):
    # brms's zi (an extra zero) and hu (a zero at all) probabilities; PyMC's psi is their complement.
    # Zero-inflated: a zero comes from the extra zeros or from the count; hurdle: only from hu, the
    # counts above it from the distribution truncated at zero.
    zero = family_parameter("hu" if hurdle else "zi", priors)
    log_mu = _log_mean(data, eta)
    phi = family_parameter("phi", priors) if negative_binomial else None
    if hurdle:
        return _hurdle(data.outcome_name, zero, log_mu, phi, observed=data.outcome, dims="obs")
    if negative_binomial:
        return pm.ZeroInflatedNegativeBinomial(data.outcome_name, psi=1 - zero, mu=pm.math.exp(log_mu), alpha=phi,
                                               observed=data.outcome, dims="obs")
    return pm.ZeroInflatedPoisson(data.outcome_name, psi=1 - zero, mu=pm.math.exp(log_mu), observed=data.outcome,
                                  dims="obs")


def _hurdle(name, hu, log_mu, phi=None, **kwargs):
    """A hurdle count: 0 with probability ``hu``, else a Poisson (negative binomial with
    ``phi``) count of mean ``exp(log_mu)`` truncated at zero, as brms's hurdle families.

    Written out rather than PyMC's ``HurdlePoisson``, whose truncation takes the log of the
    count's CDF: its gradient is NaN once the mean passes about 1,000 (the CDF at 0 underflows),
    and its random draws fail for means near 0 or above 1e18, both of which wide priors reach.
    """
    def log_zero(log_mu, phi):  # log P(count = 0)
        return -pt.exp(log_mu) if phi is None else -phi * pt.log1p(pt.exp(log_mu) / phi)

    def logp(value, hu, log_mu, *phi):
        phi = phi[0] if phi else None
        positive = pt.maximum(value, 1)  # the count's density where it is defined, used only above 0
        mu = pt.exp(log_mu)
        if phi is None:
            count = positive * log_mu - mu - pt.gammaln(positive + 1)
        else:
            count = (pt.gammaln(positive + phi) - pt.gammaln(phi) - pt.gammaln(positive + 1)
                     + phi * pt.log(phi / (phi + mu)) + positive * (log_mu - pt.log(phi + mu)))
        return pt.switch(pt.eq(value, 0), pt.log(hu), pt.log1p(-hu) + count - pt.log1mexp(log_zero(log_mu, phi)))

    def random(hu, log_mu, *phi, rng=None, size=None):
        mu = np.exp(np.minimum(log_mu, 40.0)) * np.ones(size or np.shape(log_mu))
        counts = stats.poisson(mu) if not phi else stats.nbinom(phi[0], phi[0] / (phi[0] + mu))
        return np.where(rng.uniform(size=mu.shape) < hu, 0, _above_zero(counts, rng, mu.shape)).astype(np.int64)

    parameters = (hu, log_mu) if phi is None else (hu, log_mu, phi)
    return pm.CustomDist(name, *parameters, logp=logp, random=random, dtype="int64", **kwargs)


def _above_zero(counts, rng, shape) -> np.ndarray:
    """Draws of the frozen scipy count distribution ``counts`` truncated at zero, by its inverse
    survival function: exact for means near 0, where P(count > 0) is about the mean."""
    draws = counts.isf(rng.uniform(size=shape) * counts.sf(0))
    return np.where(np.isfinite(draws), np.maximum(draws, 1), 1)


def _gamma(data, eta, priors):
    # Mean exp(eta) and shape as brms's Gamma(link = "log"): variance mean^2 / shape.
    shape = family_parameter("shape", priors)
    return pm.Gamma(data.outcome_name, alpha=shape, beta=shape / pm.math.exp(eta), observed=data.outcome, dims="obs")


def _lognormal(data, eta, priors):
    # log(outcome) ~ Normal(eta, sigma): the mean of the log outcome has the identity link.
    return pm.LogNormal(data.outcome_name, mu=eta, sigma=residual_sd(priors), observed=data.outcome, dims="obs")


def _weibull(data, eta, priors):
    # Mean exp(eta) and shape as brms's and Bambi's weibull: scale = mean / Gamma(1 + 1 / shape).
    shape = family_parameter("shape", priors)
    scale = pm.math.exp(eta) / pt.gamma(1 + 1 / shape)
    if data.event is None:
        return pm.Weibull(data.outcome_name, alpha=shape, beta=scale, observed=data.outcome, dims="obs")
    times = pm.Weibull.dist(alpha=shape, beta=scale)
    # A censored row only says the event came later: its likelihood is P(T > t), the survival.
    upper = np.where(np.asarray(data.event) == 1, np.inf, data.outcome)
    return pm.Censored(data.outcome_name, times, lower=None, upper=upper, observed=data.outcome, dims="obs")


def _cumulative(data, eta, priors, link="logit"):
    # P(y <= k) = F(c_k - eta) with F the logistic (probit: normal) CDF, as brms's and Bambi's cumulative.
    # The first cut-point is 0 (the linear predictor's intercept sets the location); the others
    # are that plus positive gaps, whose LogNormal priors are centred on the data's gaps between
    # the cumulative shares on the link scale (priors.thresholds).
    gaps = pm.LogNormal("cutpoint_gaps", mu=np.log(np.diff(priors.thresholds)), sigma=1.0)
    cutpoints = pt.concatenate([pt.zeros(1), pt.cumsum(gaps)])
    distribution = pm.OrderedLogistic if link == "logit" else partial(pm.OrderedProbit, sigma=1.0)
    # compute_p=False: no rows x categories probabilities kept with the draws
    return distribution(data.outcome_name, eta=eta, cutpoints=cutpoints, compute_p=False, observed=data.outcome,
                        dims="obs")


def _simulate_cumulative(rng, eta, h, trials, exposure, link="logit"):
    """Categories 0..K-1: how many cut-points (0, then the gaps' running sums) the latent value passes."""
    cutpoints = np.concatenate([[0.0], np.cumsum(np.atleast_1d(h["cutpoint_gaps"]))])
    noise = rng.logistic(size=np.shape(eta)) if link == "logit" else rng.normal(size=np.shape(eta))
    return (np.asarray(eta)[..., None] + noise[..., None] > cutpoints).sum(axis=-1)


def _exposed(eta, exposure):
    return np.exp(eta) * (1 if exposure is None else exposure)


def _simulate_bernoulli(rng, eta, h, trials, exposure, link="logit"):
    return rng.binomial(1, LINKS[link].inverse(eta))


def _simulate_binomial(rng, eta, h, trials, exposure, link="logit"):
    return rng.binomial(trials, LINKS[link].inverse(eta))


def _simulate_counts(rng, eta, h, trials, exposure, zero=None, hurdle=False):
    """Poisson counts (negative binomial with ``h["phi"]``), with extra zeros of probability
    ``h[zero]``: added to the counts' own zeros, or (``hurdle``) the only zeros there are."""
    mu = _exposed(eta, exposure) * np.ones(np.shape(eta))
    counts = (stats.nbinom(h["phi"], h["phi"] / (h["phi"] + mu)) if "phi" in h else stats.poisson(mu))
    if hurdle:  # the count distribution truncated at zero
        draws = _above_zero(counts, rng, mu.shape).astype(int)
    else:
        draws = counts.ppf(rng.uniform(size=mu.shape))
        draws = np.where(np.isfinite(draws), draws, 0).astype(int)
    return draws if zero is None else np.where(rng.uniform(size=mu.shape) < h[zero], 0, draws)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "normal", bambi="gaussian", link="identity", outcome_checks=("finite",), likelihood=_normal,
            simulate=lambda rng, eta, h, trials, exposure: eta + rng.normal(0, h["sigma"], eta.size),
            mean_words="mean {outcome}", parameters={"sigma": "sigma"}, example_parameters={"sigma": 1.0},
            sufficient_statistics=True, spread_check=True, autocorrelation=True,
        ),
        Family(
            "student_t", bambi="t", link="identity", outcome_checks=("finite",), likelihood=_student_t,
            simulate=lambda rng, eta, h, trials, exposure: eta + h["sigma"] * rng.standard_t(h["nu"], eta.size),
            mean_words="mean {outcome}", parameters={"sigma": "sigma", "nu": "nu"}, parameter_priors={"nu": ("Gamma", 2.0, 0.1)},
            example_parameters={"sigma": 1.0, "nu": 4.0}, spread_check=True,
        ),
        Family(
            "bernoulli", bambi="bernoulli", link="logit", outcome_checks=("finite", "binary"), likelihood=_bernoulli,
            simulate=_simulate_bernoulli, mean_words="proportion with {outcome} = 1", check="share",
            information="logit", latent_variance=np.pi**2 / 3, links=("probit",),
            ratio="odds ratio", ratio_of="the odds of {outcome} = 1",
        ),
        Family(
            "binomial", bambi="binomial", link="logit", outcome_checks=("finite", "non_negative", "whole"),
            likelihood=_binomial, simulate=_simulate_binomial,
            mean_words="proportion of trials with {outcome}", check="proportion", information="logit", trials=True,
            latent_variance=np.pi**2 / 3, links=("probit",), ratio="odds ratio", ratio_of="the odds of a trial's {outcome}",
        ),
        Family(
            "beta_binomial", bambi="beta_binomial", link="logit", outcome_checks=("finite", "non_negative", "whole"),
            likelihood=_beta_binomial,
            simulate=lambda rng, eta, h, trials, exposure: rng.binomial(
                trials, rng.beta(expit(eta) * h["phi"], (1 - expit(eta)) * h["phi"])),
            mean_words="proportion of trials with {outcome}", check="proportion", information="logit", trials=True,
            latent_variance=np.pi**2 / 3, parameters={"phi": "kappa"}, ratio="odds ratio", ratio_of="the odds of a trial's {outcome}",
            # Gamma(2, 0.1) as the negative binomial's phi: mean 20, 95% between 2.4 and 56 successes' worth.
            parameter_priors={"phi": ("Gamma", 2.0, 0.1)}, example_parameters={"phi": 10.0},
        ),
        Family(
            "beta", bambi="beta", link="logit", outcome_checks=("finite", "open_unit"), likelihood=_beta,
            simulate=lambda rng, eta, h, trials, exposure: rng.beta(expit(eta) * h["phi"], (1 - expit(eta)) * h["phi"]),
            mean_words="mean {outcome}", information="logit_mean", parameters={"phi": "kappa"},
            # An exponential of mean 100, as the gamma's shape: nearly flat over precisions 1-300.
            parameter_priors={"phi": ("Gamma", 1.0, 0.01)}, example_parameters={"phi": 20.0},
            ratio="odds ratio", ratio_of="the odds of the mean {outcome} (mean / (1 - mean))",
        ),
        Family(
            "poisson", bambi="poisson", link="log", outcome_checks=("finite", "non_negative", "whole"),
            likelihood=_poisson, simulate=lambda rng, eta, h, trials, exposure: rng.poisson(_exposed(eta, exposure)),
            mean_words="mean {outcome} per row", check="counts", information="log_rate", exposure=True,
            ratio="rate ratio", ratio_of="the expected {outcome}",
        ),
        Family(
            "negative_binomial", bambi="negativebinomial", link="log", outcome_checks=("finite", "non_negative", "whole"),
            likelihood=_negative_binomial,
            # A gamma-Poisson mixture with mean mu and variance mu + mu^2 / phi.
            simulate=lambda rng, eta, h, trials, exposure: rng.poisson(
                rng.gamma(h["phi"], _exposed(eta, exposure) / h["phi"])),
            mean_words="mean {outcome} per row", check="counts", information="log_rate", exposure=True,
            parameters={"phi": "alpha"}, parameter_priors={"phi": ("Gamma", 2.0, 0.1)}, example_parameters={"phi": 5.0},
            ratio="rate ratio", ratio_of="the expected {outcome}",
        ),
        *(
            Family(
                name, bambi=name, link="log", outcome_checks=("finite", "non_negative", "whole"),
                likelihood=partial(_zero_inflated, negative_binomial=negative_binomial, hurdle=hurdle),
                simulate=partial(_simulate_counts, zero=zero, hurdle=hurdle),
                mean_words="mean {outcome} per row of the count process" + (
                    " (before the hurdle)" if hurdle else " (without the extra zeros)"),
                check="counts", information="log_rate", exposure=True,
                parameters={zero: "psi", **({"phi": "alpha"} if negative_binomial else {})}, complements=(zero,),
                # Beta: its default is centred on the data (priors.zero_probability_prior), as wide
                # as the uniform; these numbers (Bambi's default for psi) only give its type.
                parameter_priors={zero: ("Beta", 2.0, 2.0), **({"phi": ("Gamma", 2.0, 0.1)} if negative_binomial else {})},
                example_parameters={zero: 0.3, **({"phi": 5.0} if negative_binomial else {})},
                ratio="rate ratio", ratio_of="the expected {outcome} of the count process" + (
                    " (before the hurdle)" if hurdle else " (without the extra zeros)"),
            )
            for name, zero, negative_binomial, hurdle in (
                ("zero_inflated_poisson", "zi", False, False),
                ("zero_inflated_negativebinomial", "zi", True, False),
                ("hurdle_poisson", "hu", False, True),
                ("hurdle_negativebinomial", "hu", True, True),
            )
        ),
        Family(
            "cumulative", bambi="cumulative", link="logit", outcome_checks=("finite", "whole"), likelihood=_cumulative,
            simulate=_simulate_cumulative, mean_words="mean category of {outcome} (0 the lowest)", check="counts",
            # A group's mean category: enough to tell well- from weakly-informed groups
            information="mean", parameters={"cutpoint_gaps": "threshold"}, example_parameters={"cutpoint_gaps": 1.5},
            latent_variance=np.pi**2 / 3, links=("probit",), ordinal=True,
            # brms's sign: P(y <= k) = F(threshold_k - eta), so a positive slope favours higher categories.
            ratio="cumulative odds ratio", ratio_of="the odds of a higher {outcome} category, at every step",
        ),
        Family(
            "weibull", bambi="weibull", link="log", outcome_checks=("finite", "positive"), likelihood=_weibull,
            simulate=lambda rng, eta, h, trials, exposure: np.exp(eta) / special.gamma(1 + 1 / h["shape"]) * rng.weibull(
                h["shape"], np.shape(eta)),
            mean_words="mean {outcome}", check="survival", information="log_mean", parameters={"shape": "alpha"},
            # Mean 4, 95% between 0.5 and 11: hazards from falling to very steeply rising. (An exponential
            # of mean 10 started sampling at shape 10, where spread-out times have a log density near -1e9,
            # and nutpie's warm-up did not recover in 300 steps; brms: gamma(0.01, 0.01).)
            parameter_priors={"shape": ("Gamma", 2.0, 0.5)}, example_parameters={"shape": 2.0}, censoring=True,
            # An accelerated failure time model: every quantile of the time is multiplied alike.
            ratio="time ratio", ratio_of="the mean {outcome} (and every quantile of it)",
        ),
        Family(
            "gamma", bambi="gamma", link="log", outcome_checks=("finite", "positive"), likelihood=_gamma,
            simulate=lambda rng, eta, h, trials, exposure: rng.gamma(h["shape"], np.exp(eta) / h["shape"]),
            mean_words="mean {outcome}", information="log_mean", parameters={"shape": "alpha"},
            # An exponential of mean 100: nearly flat over shapes 0.1-100 (coefficients of variation 3
            # to 0.1). brms's gamma(0.01, 0.01) puts most prior draws below 1e-10, where the prior
            # predictive outcomes underflow to 0.
            parameter_priors={"shape": ("Gamma", 1.0, 0.01)}, example_parameters={"shape": 4.0},
            ratio="ratio of means", ratio_of="the mean {outcome}",
        ),
        Family(
            "lognormal", bambi="lognormal", link="identity", outcome_checks=("finite", "positive"),
            likelihood=_lognormal, simulate=lambda rng, eta, h, trials, exposure: np.exp(eta + rng.normal(0, h["sigma"], eta.size)),
            mean_words="mean {outcome}", parameters={"sigma": "sigma"}, example_parameters={"sigma": 0.5},
            linear_outcome=np.log, typical=np.exp,
            ratio="ratio of medians", ratio_of="the median {outcome}",
        ),
    )
}


def _with_link(record: Family, link: str) -> Family:
    """``record`` with another of its links (the probit of binary and binomial outcomes)."""
    return replace(record, name=family_key(record.name, link), link=link, links=(),
                   likelihood=partial(record.likelihood, link=link), simulate=partial(record.simulate, link=link),
                   latent_variance=LINKS[link].latent_variance,
                   **({"ratio": "", "ratio_of": ""} if link == "probit" else {}))  # a probit slope is no log ratio


def family_key(family: str, link: str | None = None) -> str:
    """The registry's name of ``family`` with ``link`` (its own link if None): ``bernoulli``,
    ``bernoulli_probit``."""
    return family if link is None or link == FAMILIES[family].link else f"{family}_{link}"


# Each family with each of its other links: what the config's ``link`` chooses.
LINKED = {family_key(record.name, link): _with_link(record, link) for record in FAMILIES.values() for link in record.links}


def family_record(name: str) -> Family:
    """The record of family ``name`` (a key of :data:`FAMILIES` or of :data:`LINKED`); a clear
    error for an unknown one."""
    try:
        return FAMILIES[name] if name in FAMILIES else LINKED[name]
    except KeyError:
        raise ValueError(f"unknown family {name!r}; allowed: {', '.join(FAMILIES)}") from None
