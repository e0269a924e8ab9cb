"""Effects of time: random walks (RW1, RW2) on the timeline of ``data/timeline.py``, and
autocorrelated residuals (AR(1)).

A first-order random walk (RW1) lets the effect of time drift: each step between neighbouring
times is ``Normal(0, sigma)`` (``sigma * sqrt(gap)`` across a gap of several unit steps). A
second-order one (RW2) lets the trend drift: each second difference is ``Normal(0, sigma)``,
a smooth curve, the discrete cubic smoothing spline. Neither fixes the walk's level (RW2 nor its
slope), which the model's intercept (and a population-level slope of time) carry: each series
sums to zero (RW2: and has no linear trend), exactly.

``sigma`` is the standard deviation of one step, in the units of the linear predictor: INLA's
``rw1``/``rw2`` without ``scale.model``, and the local-level model of Durbin and Koopman (2012)
for RW1. Plain PyMC: a custom model calls :func:`rw_effect`; a formula's ``rw(time)`` term is
built with it as the prior of Bambi's ``(1 | time)`` (``model/formulas.py``).
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from {{ cookiecutter.module_name }}.data.timeline import Lags, Timeline, timeline
from {{ cookiecutter.module_name }}.names import LAG_GAP, LAG_PREVIOUS

AR_PRIOR = {"dist": "Uniform", "lower": -1.0, "upper": 1.0}  # brms's prior of ar[1]


def _segment_sums(values, bounds):
    """Sums over the last axis of ``values`` between each ``(start, end)`` of ``bounds``."""
    starts, ends = bounds
    totals = pt.concatenate([pt.zeros_like(values[..., :1]), pt.cumsum(values, axis=-1)], axis=-1)
    return totals[..., ends] - totals[..., starts]


def walk(steps, line: Timeline):
    """The unit-scale random walk whose standardised steps are ``steps`` (one per level, the step
    into it from the time before; the first ``order`` of a series set its level and slope, which
    are then removed): cumulative sums within each series, less their level (and slope)."""
    index, coefficients = line.differences
    order, bounds, vectors = line.sorted, line.series_bounds, line.constraints
    unorder = np.argsort(order)  # each level's place in the sorted order
    sizes = bounds[1] - bounds[0]
    series_of = np.repeat(np.arange(len(sizes)), sizes)
    scales = np.ones(line.n_levels)  # RW1: a step across a gap of k unit steps has variance k
    if line.order == 1:
        scales[unorder[index[:, -1]]] = 1.0 / np.abs(coefficients[:, -1])
    values = steps[..., order] * scales
    for _ in range(line.order):  # across series, the sums differ by a level (and slope) removed below
        values = pt.cumsum(values, axis=-1)
    weights = pt.stack([_segment_sums(values * vectors[:, k], bounds) for k in range(line.order)], axis=-1)
    values = values - pt.sum(weights[..., series_of, :] * vectors, axis=-1)
    return values[..., unorder]


def rw_effect(name: str, line: Timeline, sigma, dims: str | None = None) -> pt.TensorVariable:
    """Random-walk effects of the timeline's levels, named ``name`` (a deterministic in ``dims``).

    Written by its steps (``name + "_step"``, standard normal, one per level): ``sigma`` times
    :func:`walk` of them. Sampling the independent steps rather than the walk's correlated values
    is the walk's non-centred form; its prior draws are exact.

    Parameters
    ----------
    name : str
    line : Timeline
    sigma : tensor
        The sd of one unit step (``sdrw``).
    dims : str, optional
        The levels' dimension, in the order of ``line``.
    """
    steps = pm.Normal(f"{name}_step", 0.0, 1.0, size=line.n_levels, dims=dims)
    return pm.Deterministic(name, sigma * walk(steps, line), dims=dims)


def rw_prior(default, frame: pd.DataFrame, time: str, group: str | None, kind: str, path):
    """The prior that makes Bambi's group term ``(1 | time)`` (``(1 | group:time)``) the random
    walk ``rw(time[, gr = group], type = kind)``; the term's sd prior, as Bambi scaled it or the
    config gave it, is the step's (``sdrw``)."""
    import bambi as bmb  # here, not at the top: see formulas.bambi_prior

    def build(name, sigma, dims=None):
        labels = [str(label) for label in pm.modelcontext(None).coords[dims[0]]]
        line = timeline(labels, frame, time, group, int(kind[-1]), path)
        return rw_effect(name, line, sigma, dims=dims[0])

    return bmb.Prior("RW", dist=build, noncentered=False, sigma=default.args["sigma"])


def ar_normal(name: str, mu, sigma, ar, outcome: np.ndarray, lags: Lags, observed=None, dims=None):
    """Normal rows whose residuals ``e = y - mu`` are AR(1) within each series, brms's
    ``ar(time, gr)`` for a normal outcome: each row is normal around ``mu + ar * e_previous``
    with sd ``sigma`` (the innovation's), a series' first row around ``mu``. Across a gap of ``g``
    steps (missing times) the exact AR(1) step: ``ar^g * e_previous``, variance
    ``sigma^2 (1 - ar^(2g)) / (1 - ar^2)``. The previous rows' outcomes are the data ``outcome``:
    replicated rows (posterior predictive checks) are one step ahead of the observed series, as brms's.

    Each row's previous row and gap are data (:data:`LAG_PREVIOUS`, :data:`LAG_GAP`), so a refit
    without some rows (cross-validation) reads, after left-out rows, the last row it kept
    (:meth:`Lags.without`), never a left-out outcome.
    """
    previous = pm.Data(LAG_PREVIOUS, lags.previous)
    gap = pm.Data(LAG_GAP, lags.gap)
    lagged = pt.as_tensor(np.asarray(outcome, dtype=float))[previous]  # a first row's own: multiplied by 0

    def dist(mu, sigma, ar, previous, gap, lagged, size):
        steps = pt.maximum(gap, 1.0)
        decay = pt.where(gap > 0, ar**steps, 0.0)
        widening = pt.where(steps > 1, (1 - ar ** (2 * steps)) / (1 - ar**2), 1.0)
        return pm.Normal.dist(mu + decay * (lagged - mu[..., previous]), sigma * pt.sqrt(widening), size=size)

    return pm.CustomDist(name, mu, sigma, ar, previous, gap, lagged, dist=dist, observed=observed, dims=dims)


def ar_family(outcome: np.ndarray, lags: Lags):
    """Bambi's family of :func:`ar_normal` rows: a normal likelihood with the parameter ``ar``."""
    import bambi as bmb  # here, not at the top: see formulas.bambi_prior

    def dist(name, mu, sigma, ar, observed=None, dims=None, **_):
        return ar_normal(name, mu, sigma, ar, outcome, lags, observed=observed, dims=dims)

    likelihood = bmb.Likelihood("ARNormal", params=["mu", "sigma", "ar"], parent="mu", dist=dist)
    return bmb.Family("ar_gaussian", likelihood, link={"mu": "identity", "sigma": "log", "ar": "identity"})
