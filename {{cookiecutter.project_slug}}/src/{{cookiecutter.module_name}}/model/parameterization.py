"""Choose a centred or non-centred parameterisation for each group factor from the data.

Group effects ``a_j ~ Normal(mu, tau)`` can be sampled as they are (centred) or as
``a_j = mu + tau * z_j`` with ``z_j ~ Normal(0, 1)`` (non-centred). Which one NUTS samples
well depends on how much each group's data say about its effect compared with the
population distribution: the ratio of the data's precision to the prior's,

    r_j = n_j * tau^2 / sigma^2,

where ``n_j`` is the group's size, ``tau^2`` the between-group variance and ``sigma^2``
the variance of one observation, both on the scale of the linear predictor (for other
families, ``sigma^2 / n_j`` is the sampling variance of the group's raw estimate on the
link scale). When most groups have ``r_j`` well above 1 the likelihood pins each effect
down and the centred form has no funnel; when many are small the non-centred form avoids
one. The variances are method-of-moments estimates from the raw data, which is cheap and
good enough to pick a side (``benchmarks/parameterization.py`` measures the choice).

The ratio is the groups' intercepts' (their slopes carry less information: a slope is
pinned down by the spread of its predictor within the group). Formula models therefore
decide the intercepts on their own: from a lower ratio than the whole factor, a factor's
intercepts are drawn around the population intercept while its slopes stay non-centred
(``formulas.hierarchically_centred``).
"""

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.families import family_record

# Centred when the median group's information ratio is at least this.
CENTERED_MIN_RATIO = 16.0
# Formula models: the intercepts alone are drawn around the population intercept from this
# median ratio. Measured on ``y ~ x + (x | g)`` with the slopes non-centred (minimum bulk ESS of
# 2 chains x 1000 draws against all non-centred; slopes' information ratio about 1): ratios
# 0.5-1.0 (Bernoulli and Poisson, 40 groups) lose (171-419 against 180-609), 1.9-2.8 are even,
# 3.4-6.8 (normal, 40-200 groups; Poisson at 100k rows) win 1.4-3.4x (e.g. 646 against 349).
# ``benchmarks/parameterization.py --tables intercepts`` reruns it at the project's settings.
INTERCEPTS_CENTERED_MIN_RATIO = 3.0


@dataclass(frozen=True)
class Choice:
    """The parameterisation of one group factor and why."""

    factor: str
    centered: bool
    reason: str
    # Formula models: the factor's intercepts drawn around the population intercept (its
    # slopes as ``centered`` says); always so where the factor is centred.
    intercepts_centered: bool = False

    @property
    def label(self) -> str:
        if self.centered:
            return "centred"
        return "non-centred, intercepts centred" if self.intercepts_centered else "non-centred"

    def to_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


def group_estimates(groups, outcome, family: str, trials=None, exposure=None) -> pd.DataFrame:
    """Each group's raw estimate on the link scale and that estimate's sampling variance.

    Normal families (and the lognormal, on log y): the group mean, variance ``sigma^2 / n_j``
    with ``sigma^2`` the pooled within-group variance. Gamma: the log of the group mean,
    variance ``CV^2 / n_j`` (the delta method) with the squared coefficient of variation
    pooled. Beta: the logit of the group mean, variance ``v / (m (1 - m))^2 / n_j`` (the
    delta method), pooled likewise. Binary and binomial: the smoothed empirical logit of the group's proportion,
    variance ``1 / (N_j p_j (1 - p_j))`` for ``N_j`` trials. Counts: the log of the group's
    rate per unit exposure, variance ``1 / y_j`` for ``y_j`` events (the delta method;
    extra-Poisson variation is ignored, which is fine for picking a side). Which one a family
    takes is its record's ``information``.
    """
    record = family_record(family)
    y = np.asarray(outcome, dtype=float)
    frame = pd.DataFrame({"group": np.asarray(groups), "y": record.linear_outcome(y) if record.information == "mean" else y})
    frame["n"] = 1.0 if trials is None else np.asarray(trials, dtype=float)
    frame["exposure"] = 1.0 if exposure is None else np.asarray(exposure, dtype=float)
    by_group = frame.groupby("group", observed=True)
    if record.information in ("mean", "log_mean", "logit_mean"):
        sizes, means, within = by_group.size(), by_group["y"].mean(), by_group["y"].var()
        # g(mean) and g'(mean), whose square times the mean's variance is g(mean)'s (the delta method)
        estimate, derivative = {
            "mean": lambda: (means, 1.0),
            "log_mean": lambda: (np.log(means), 1 / means),
            "logit_mean": lambda: (np.log(means / (1 - means)), 1 / (means * (1 - means))),
        }[record.information]()
        spread = within * derivative**2
        usable = sizes > 1  # groups of one say nothing about the within-group variance
        if usable.any():
            pooled = float((spread[usable] * (sizes[usable] - 1)).sum() / (sizes[usable] - 1).sum())
        else:  # a row per group (a time series, one area per row): all the spread is taken as within groups
            pooled = float(np.var(estimate, ddof=1))
        return pd.DataFrame({"estimate": estimate, "variance": pooled / sizes})
    sums = by_group[["y", "n", "exposure"]].sum()
    if record.information == "logit":
        p = (sums["y"] + 0.5) / (sums["n"] + 1.0)
        return pd.DataFrame({"estimate": np.log(p / (1 - p)), "variance": 1.0 / ((sums["n"] + 1.0) * p * (1 - p))})
    events = sums["y"] + 0.5
    return pd.DataFrame({"estimate": np.log(events / sums["exposure"]), "variance": 1.0 / events})


def information_ratios(groups, outcome, family: str, trials=None, exposure=None) -> pd.Series:
    """``r_j = tau^2 / v_j`` (that is ``n_j tau^2 / sigma^2`` for normal data) for every group."""
    estimates = group_estimates(groups, outcome, family, trials, exposure)
    # Between-group variance: spread of the raw estimates less their sampling noise.
    tau2 = max(float(estimates["estimate"].var() - estimates["variance"].mean()), 1e-6)
    return tau2 / estimates["variance"]


def choose(groups, outcome, family: str, factor: str, trials=None, exposure=None,
           forced: str = "auto", separate_intercepts: bool = False) -> Choice:
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
    separate_intercepts : bool
        Decide the intercepts on their own (formula models, see
        :data:`INTERCEPTS_CENTERED_MIN_RATIO`); else they follow the factor.
    """
    if forced != "auto":
        return Choice(factor, forced == "centered", f"set to {forced} in the config", forced == "centered")
    ratios = information_ratios(groups, outcome, family, trials, exposure)
    median = float(ratios.median())
    centered = median >= CENTERED_MIN_RATIO
    intercepts = centered or (separate_intercepts and median >= INTERCEPTS_CENTERED_MIN_RATIO)
    reason = (
        f"median information ratio n_j*tau^2/sigma^2 = {median:.1f} over {len(ratios)} groups "
        f"({'>=' if centered else '<'} {CENTERED_MIN_RATIO:g}): groups are "
        + ("well informed by their data" if centered else "weakly informed by their data")
    )
    if intercepts and not centered:
        reason += (f"; their intercepts are informed enough (ratio >= {INTERCEPTS_CENTERED_MIN_RATIO:g}) to be drawn "
                   "around the population intercept")
    return Choice(factor, centered, reason, intercepts)
