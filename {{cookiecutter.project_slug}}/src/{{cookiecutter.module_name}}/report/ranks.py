"""Which groups stand out: each group's rank among the groups, with its uncertainty.

A league table of hospitals or schools invites over-reading: a group ranked 3rd may as well be
15th. As Goldstein and Spiegelhalter (1996) do, each group's rank is computed in every posterior
draw (1 the largest intercept relative to the population), so its median and interval say how
sure the ranking is, with the probabilities of being in the top or bottom tenth of the groups
and of being above the population's average.
"""

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.files import write_text_atomically
from {{ cookiecutter.module_name }}.names import SAMPLE_DIMS
from {{ cookiecutter.module_name }}.report.summary import group_deviation_draws

TENTH = 0.1  # the top and bottom tenth of the groups: at least one group each


def group_ranks(fit_data: xr.DataTree, group_dim: str, ci_prob: float,
                sizes: Mapping[str, int] | None = None) -> pd.DataFrame | None:
    """Each group's rank (median and central interval over the draws; 1 the largest intercept),
    the probabilities ``p_top_tenth``, ``p_bottom_tenth`` and ``p_above_average``, and its
    number of rows ``n`` if ``sizes`` (by label: ``dict(zip(data.groups, data.group_sizes))``) are
    given; by median rank. ``None`` for a model
    without group intercepts."""
    deviations = group_deviation_draws(fit_data, group_dim)
    if deviations is None:
        return None
    draws = deviations.stack(sample=SAMPLE_DIMS).transpose("sample", group_dim).values  # (S, G)
    n_groups = draws.shape[1]
    # In each draw: 1 for the largest, G for the smallest (ties, of continuous draws, have no weight)
    ranks = n_groups - draws.argsort(axis=1).argsort(axis=1)
    tenth = max(1, math.ceil(TENTH * n_groups))
    tail = (1 - ci_prob) / 2
    low, median, high = np.quantile(ranks, [tail, 0.5, 1 - tail], axis=0)
    table = pd.DataFrame({
        "rank": median, "rank_low": np.floor(low).astype(int), "rank_high": np.ceil(high).astype(int),
        "p_top_tenth": (ranks <= tenth).mean(axis=0), "p_bottom_tenth": (ranks > n_groups - tenth).mean(axis=0),
        "p_above_average": (draws > 0).mean(axis=0),
    }, index=pd.Index([str(label) for label in deviations[group_dim].values], name=group_dim))
    if sizes is not None:
        table.insert(0, "n", [sizes[label] for label in table.index])
    return table.sort_values(["rank", "p_above_average"], ascending=[True, False])


def league_table(ranks: pd.DataFrame, shown: int = 10) -> pd.DataFrame:
    """The first and last ``shown // 2`` groups of :func:`group_ranks` (every group if there are at
    most ``shown``): the report's table; ``reports/ranks.csv`` has them all."""
    return ranks if len(ranks) <= shown else pd.concat([ranks.head(shown // 2), ranks.tail(shown // 2)])


def write_ranks(config, fits: dict[str, xr.DataTree], sizes: Mapping[str, int]) -> None:
    """``reports/ranks.csv``: every model's :func:`group_ranks` (with a ``model`` column), if any has them."""
    tables = [table.reset_index().assign(model=name) for name, fit_data in fits.items()
              if (table := group_ranks(fit_data, config.data.group, config.diagnostics.ci_prob, sizes)) is not None]
    if tables:
        table = pd.concat(tables)
        write_text_atomically(config.reports_dir / "ranks.csv",
                              table[["model", *table.columns.drop("model")]].to_csv(index=False))
