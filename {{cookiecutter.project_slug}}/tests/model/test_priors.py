"""Default priors scaled to the data: the same numbers as Bambi's, and prior predictive
distributions that cover the data whatever their scale."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from {{ cookiecutter.module_name }}.config import PriorOverrides
from {{ cookiecutter.module_name }}.evaluate.predictive import prior_range_problems
from {{ cookiecutter.module_name }}.families import FAMILIES
from {{ cookiecutter.module_name }}.fit.pointwise import prior_predictive
from {{ cookiecutter.module_name }}.model.formulas import bambi_model
from {{ cookiecutter.module_name }}.model.priors import model_priors
from {{ cookiecutter.module_name }}.models import varying_slopes

# The scale of the outcome: a mean of 0.001, 1 or 10,000 (normal and count families), or
# shares of 0.001, 0.5 and 0.999 (Bernoulli and binomial, the latter of 10,000 trials).
SCALES = (0.001, 1.0, 10_000.0)
SHARES = {0.001: 0.001, 1.0: 0.5, 10_000.0: 0.999}


def data_at_scale(example_data, family: str, scale: float, seed: int = 0):
    """The example's groups and predictor with an outcome of the given scale and family.

    The predictor is moved far from 0 (mean 50, sd 10) so that the intercept at zero and
    the intercept at the predictors' means differ, as they do in real data.
    """
    rng = np.random.default_rng(seed)
    n = len(example_data.outcome)
    x = 50 + 10 * example_data.predictors
    trials = exposure = None
    if family in ("normal", "student_t"):
        y = scale * (1 + 0.5 * rng.standard_normal(n))
    elif family in ("gamma", "lognormal", "weibull"):
        y = scale * rng.lognormal(0, 0.5, n)
    elif family == "bernoulli":
        y = (rng.random(n) < SHARES[scale]) * 1.0
        y[0], y[1] = 0.0, 1.0  # both outcomes occur
    elif family in ("binomial", "beta_binomial"):
        trials = np.full(n, 10_000.0)
        y = rng.binomial(10_000, SHARES[scale], n).astype(float)
    elif FAMILIES[family].ordinal:  # categories have no scale: five of them, the first `scale`-dependent in size
        y = np.minimum(rng.poisson(2.0 if scale == 1.0 else 0.5 if scale < 1 else 4.0, n), 4).astype(float)
    elif family == "beta":
        y = rng.beta(20 * SHARES[scale], 20 * (1 - SHARES[scale]), n).clip(1e-9, 1 - 1e-9)
    else:
        exposure = np.ones(n)
        y = rng.poisson(scale, n).astype(float)
    return replace(example_data, outcome=y, predictors=x, trials=trials, exposure=exposure)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("family", FAMILIES)
def test_default_priors_cover_outcomes_of_any_scale(example_data, family, scale):
    data = data_at_scale(example_data, family, scale)
    model = varying_slopes(data, model_priors(data, family), family=family)
    draws = prior_predictive(model, [variable.name for variable in model.free_RVs], data.outcome_name,
                             data.coords["obs"], np.arange(len(data.outcome)), draws=400, seed=1)
    assert prior_range_problems(draws, data, family) == []


def test_priors_that_miss_the_data_are_flagged(example_data):
    data = data_at_scale(example_data, "normal", 10_000.0)
    # Priors in the wrong units (those of a standardised outcome) for an outcome near 10,000.
    unit_scale = PriorOverrides(intercept={"mu": 0, "sigma": 2.5}, residual_sd={"sigma": 2.5},
                                slopes={"ses": {"sigma": 1} }, group_sd={"intercept": 1, "ses": 1})
    wrong = model_priors(data, "normal", unit_scale)
    model = varying_slopes(data, wrong)
    draws = prior_predictive(model, [variable.name for variable in model.free_RVs], data.outcome_name,
                             data.coords["obs"], np.arange(len(data.outcome)), draws=200, seed=1)
    problems = prior_range_problems(draws, data, "normal")
    assert any("observed mean" in problem for problem in problems) and all("Fix:" in problem for problem in problems)

    # Priors on another scale: an outcome near 0.001 under unit-scale priors.
    small = data_at_scale(example_data, "normal", 0.001)
    unit = model_priors(small, "normal", unit_scale)
    model = varying_slopes(small, unit)
    draws = prior_predictive(model, [variable.name for variable in model.free_RVs], small.outcome_name,
                             small.coords["obs"], np.arange(len(small.outcome)), draws=200, seed=1)
    assert any("another scale" in problem for problem in prior_range_problems(draws, small, "normal"))


@pytest.mark.parametrize("family", ["normal", "bernoulli", "poisson"])
def test_custom_priors_are_bambis_scaling(example_data, family):
    """The custom models' default priors equal those Bambi gives the same terms."""
    data = data_at_scale(example_data, family, 1.0)
    frame = pd.DataFrame({"y": data.outcome, "x": data.predictors[:, 0], "g": np.asarray(data.groups)[data.group_codes]})
    data = replace(data, frame=frame)
    built = bambi_model("y ~ x + (1 | g) + (0 + x | g)", data, family, {})
    ours = model_priors(data, family)

    def bambi_sigma(term, hyper=False):
        prior = built.parameters[built.family.likelihood.parent].terms[term].prior
        return float(np.squeeze(prior.args["sigma"].args["sigma"] if hyper else prior.args["sigma"]))

    assert ours.slope_sigma[0] == pytest.approx(bambi_sigma("x"))
    assert ours.group_sd_slopes[0] == pytest.approx(bambi_sigma("x|g", hyper=True))
    assert ours.group_sd_intercept == pytest.approx(bambi_sigma("1|g", hyper=True))
    # The intercept: centred on the mean outcome on the link scale, 2.5 s wide, for both kinds.
    intercept = built.parameters[built.family.likelihood.parent].intercept_term.prior.args
    assert (float(intercept["mu"]), float(intercept["sigma"])) == pytest.approx((ours.intercept_mu, ours.intercept_sigma))


def test_intercept_prior_sits_at_the_predictors_means(example_data):
    data = data_at_scale(example_data, "normal", 10_000.0)
    priors = model_priors(data, "normal")
    assert priors.intercept_mu == pytest.approx(data.outcome.mean())
    assert priors.intercept_sigma == pytest.approx(2.5 * data.outcome.std())
    assert priors.predictor_means[0] == pytest.approx(data.predictors.mean())
    with varying_slopes(data, priors):
        prior = pm.sample_prior_predictive(draws=2000, random_seed=3).prior
    # mu_alpha is the intercept at x = 0: the intercept at the means minus the slope times mean(x).
    expected = prior["intercept_at_means"] - prior["mu_beta"].sel(predictor="ses") * data.predictors.mean()
    np.testing.assert_allclose(prior["mu_alpha"], expected)


def test_extra_zeros_priors_are_centred_on_the_data(example_data):
    """``hu`` on the share of zeros; ``zi`` on a zero-inflated Poisson's moments, which recover
    the share of extra zeros of such data; Bambi's ``psi = 1 - zi`` gets the mirrored Beta."""
    from {{ cookiecutter.module_name }}.model.formulas import formula_priors
    from {{ cookiecutter.module_name }}.model.priors import ZERO_PRIOR_CONCENTRATION, zero_inflation_moments, zero_probability_prior

    rng = np.random.default_rng(3)
    for zi, rate in [(0.3, 3.0), (0.1, 0.8), (0.6, 10.0)]:
        y = np.where(rng.random(200_000) < zi, 0, rng.poisson(rate, 200_000))
        assert zero_inflation_moments(y) == pytest.approx(zi, abs=0.01)
    assert zero_inflation_moments(rng.poisson(2.0, 100_000)) == pytest.approx(0.0, abs=0.01)
    y = np.array([0, 0, 0, 1, 5, 2, 0, 3])
    _, alpha, beta = zero_probability_prior(y, "hu")
    assert alpha / (alpha + beta) == pytest.approx(0.5) and alpha + beta == ZERO_PRIOR_CONCENTRATION
    assert zero_probability_prior(np.ones(10), "hu")[1:] == pytest.approx((0.02, 1.98))  # kept within 0.01-0.99
    n = len(example_data.outcome)
    data = replace(example_data, outcome=np.where(rng.random(n) < 0.4, 0, rng.poisson(4.0, n)).astype(float))
    _, alpha, beta = zero_probability_prior(data.outcome, "zi")
    assert formula_priors("y ~ 1", data, "zero_inflated_poisson", {})["psi"] == {"dist": "Beta", "alpha": beta, "beta": alpha}
    assert model_priors(data, "zero_inflated_poisson").family_parameters["zi"] == ("Beta", alpha, beta)
