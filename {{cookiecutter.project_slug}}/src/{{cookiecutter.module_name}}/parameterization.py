"""Choose a centred or non-centred parameterisation for each group factor from the data.

Group effects ``a_j ~ Normal(mu, tau)`` can be sampled as they are (centred) or as
``a_j = mu + tau * z_j`` with ``z_j ~ Normal(0, 1)`` (non-centred). Which one NUTS samples
well depends on how much each group's data say about its effect compared with the
population distribution: the ratio of the data's precision to the prior's,

    r_j = n_j * tau^2 / sigma^2,

where ``n_j`` is the group's size, ``tau^2`` the between-group variance and ``sigma^2``
the variance of one observation, both on the scale of the linear predictor. When most
groups have ``r_j`` well above 1 the likelihood pins each effect down and the centred form
has no funnel; when many are small the non-centred form avoids one. ``tau^2`` and
``sigma^2`` are method-of-moments estimates from the raw data, which is cheap and good
enough to pick a side (``benchmarks/parameterization.py`` measures the choice).
"""

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

# Centred when the median group's information ratio is at least this.
CENTERED_MIN_RATIO = 16.0


@dataclass(frozen=True)
class Choice:
    """The parameterisation of one group factor and why."""

    factor: str
    centered: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def link_scale(outcome: np.ndarray, family: str, trials=None, exposure=None) -> tuple[np.ndarray, np.ndarray]:
    """Each observation on the link scale, with the variance of one observation there.

    For the logit and log links the observation variance is the delta-method one:
    ``1 / (n p (1 - p))`` for a proportion of ``n`` trials, ``1 / mu`` for a count.
    """
    y = np.asarray(outcome, dtype=float)
    if family in ("normal", "student_t"):
        return y, np.full_like(y, np.var(y))
    if family in ("bernoulli", "binomial"):
        n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        p = np.clip((y + 0.5) / (n + 1.0), 1e-3, 1 - 1e-3)  # smoothed empirical proportion
        pooled = np.clip(y.sum() / n.sum(), 1e-3, 1 - 1e-3)
        return np.log(p / (1 - p)), 1.0 / (n * pooled * (1 - pooled))
    exposure = np.ones_like(y) if exposure is None else np.asarray(exposure, dtype=float)
    rate = (y + 0.5) / exposure
    pooled_rate = y.sum() / exposure.sum()
    return np.log(rate), 1.0 / np.maximum(pooled_rate * exposure, 1e-3)


def information_ratios(groups: np.ndarray, outcome, family: str, trials=None, exposure=None) -> pd.Series:
    """``r_j = n_j tau^2 / sigma^2`` for every group, from moment estimates on the link scale."""
    eta, observation_variance = link_scale(outcome, family, trials, exposure)
    frame = pd.DataFrame({"group": groups, "eta": eta, "variance": observation_variance})
    by_group = frame.groupby("group", observed=True)
    sizes = by_group.size()
    if family in ("normal", "student_t"):
        # Within-group variance pooled over groups with at least two observations.
        within = by_group["eta"].var().dropna()
        sigma2 = float((within * (sizes[within.index] - 1)).sum() / (sizes[within.index] - 1).sum())
    else:
        sigma2 = float(frame["variance"].mean())
    means = by_group["eta"].mean()
    # Between-group variance: spread of group means less their sampling noise.
    tau2 = max(float(means.var() - (sigma2 / sizes).mean()), 1e-6)
    return sizes * tau2 / sigma2


def choose(groups, outcome, family: str, factor: str, trials=None, exposure=None,
           forced: str = "auto") -> Choice:
    """Centred or non-centred for the group factor ``factor``.

    Parameters
    ----------
    groups : array-like
        The group label of every observation.
    outcome, trials, exposure : array-like
        As in the data; trials and exposure where the family uses them.
    family : str
    factor : str
        The factor's name, for the record.
    forced : {"auto", "centered", "non_centered"}
        The config's setting: anything but ``"auto"`` is used as given.
    """
    if forced != "auto":
        return Choice(factor, forced == "centered", f"set to {forced} in the config")
    ratios = information_ratios(np.asarray(groups), outcome, family, trials, exposure)
    median = float(ratios.median())
    centered = median >= CENTERED_MIN_RATIO
    reason = (
        f"median information ratio n_j*tau^2/sigma^2 = {median:.1f} over {len(ratios)} groups "
        f"({'>=' if centered else '<'} {CENTERED_MIN_RATIO:g}): groups are "
        + ("well informed by their data" if centered else "weakly informed by their data")
    )
    return Choice(factor, centered, reason)
