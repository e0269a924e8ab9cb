"""How sure, in the reader's terms: each population-level effect's probability of direction and
its share in a region of practical equivalence (ROPE), as bayestestR's ``describe_posterior``
reports them (Makowski et al. 2019; Kruschke 2018).

The probability of direction (pd) is the posterior probability that the effect has the sign of
its median: 0.5 for an effect centred on 0, 1 for one whose every draw has the same sign. The
ROPE is a range around 0 of effects too small to matter: by default, as Kruschke and bayestestR
propose, 0.1 sd of the outcome on the identity link (of log y for the lognormal), 0.1 pi / sqrt(3)
= 0.18 on the logit scale (a tenth of the logistic's sd) and 0.1 on other links; the config's
``report.rope`` sets a term's own half-width. A slope is per unit of its predictor, so its ROPE
is too: set it where a unit is very large or small. The decision is Kruschke's rule on the
central interval: entirely outside the ROPE, the effect is practically non-zero; entirely inside,
practically zero; else undecided.
"""

import math

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.report.estimates import INTERCEPT, named_draws

LOGIT_HALF_WIDTH = 0.1 * math.pi / math.sqrt(3)  # a tenth of the standard logistic's sd


def default_half_width(family: str, outcome: np.ndarray) -> tuple[float, str]:
    """The ROPE's default half-width for a family's effects, and the rule in words."""
    record = family_record(family)
    if record.link == "identity":
        return 0.1 * float(np.std(record.linear_outcome(np.asarray(outcome, dtype=float)))), "0.1 sd of the outcome"
    if record.link == "logit":
        return LOGIT_HALF_WIDTH, "0.18 on the log-odds scale"
    return 0.1, f"0.1 on the {record.link} scale"


def direction_and_rope(fit_data: xr.DataTree, group_dim: str, family: str, outcome: np.ndarray, ci_prob: float,
                       half_widths: dict[str, float] | None = None) -> pd.DataFrame:
    """Each fixed effect but the intercepts: its pd, the ROPE's half-width (``half_widths`` by
    term, else :func:`default_half_width`), the share of the posterior inside the ROPE and
    Kruschke's decision on the central ``ci_prob`` interval."""
    default, _ = default_half_width(family, outcome)
    half_widths = half_widths or {}
    tail = (1 - ci_prob) / 2
    rows = []
    for (effect, _, term), _, draws in named_draws(fit_data, group_dim):
        if effect != "fixed" or term == INTERCEPT or term.startswith("Intercept["):
            continue
        width = half_widths.get(term, default)
        low, high = np.quantile(draws, [tail, 1 - tail])
        decision = ("practically non-zero" if low > width or high < -width
                    else "practically zero" if -width <= low and high <= width else "undecided")
        rows.append({"term": term, "pd": max(np.mean(draws > 0), np.mean(draws < 0)), "rope": width,
                     "in_rope": np.mean(np.abs(draws) <= width), "decision": decision})
    return pd.DataFrame(rows, columns=["term", "pd", "rope", "in_rope", "decision"]).set_index("term")
