"""Which groups stand out (``report/ranks.py``): each group's rank in every draw, its interval and
the probabilities of the top and bottom tenth; the words, the figure and ``reports/ranks.csv``."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.report import words
from {{ cookiecutter.module_name }}.report.figures import rank_intervals
from {{ cookiecutter.module_name }}.report.ranks import group_ranks, league_table, write_ranks


def formula_fit(means, sd: float = 1.0, draws: int = 1000, seed: int = 0) -> xr.DataTree:
    """Draws of Bambi's ``1|g`` around ``means`` (one group each, named g00, g01, ...)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(np.asarray(means)[None, None, :], sd, size=(2, draws, len(means)))
    labels = [f"g{k:02d}" for k in range(len(means))]
    return xr.DataTree.from_dict({"posterior": xr.Dataset({"1|g": (("chain", "draw", "g__factor_dim"), values)},
                                                          coords={"g__factor_dim": labels})})


def test_a_clear_ranking_has_narrow_intervals_and_certain_tenths():
    ranks = group_ranks(formula_fit([6.0, 0.0, -6.0], sd=0.5), "g", 0.94, pd.Series([10, 20, 30], index=["g00", "g01", "g02"]))
    assert ranks.index.tolist() == ["g00", "g01", "g02"] and ranks["n"].tolist() == [10, 20, 30]
    assert ranks[["rank", "rank_low", "rank_high"]].to_numpy().tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3]]
    assert ranks["p_top_tenth"].tolist() == [1.0, 0.0, 0.0] and ranks["p_bottom_tenth"].tolist() == [0.0, 0.0, 1.0]
    assert ranks.loc["g01", "p_above_average"] == pytest.approx(0.5, abs=0.05)


def test_ranks_are_a_permutation_in_every_draw_so_the_tenths_hold_their_share():
    """30 groups: 3 in the top tenth of every draw, so the probabilities of the top tenth sum to 3."""
    ranks = group_ranks(formula_fit(np.linspace(-1, 1, 30)), "g", 0.9)
    assert ranks["p_top_tenth"].sum() == pytest.approx(3.0) and ranks["p_bottom_tenth"].sum() == pytest.approx(3.0)
    assert ranks["rank"].is_monotonic_increasing and (ranks["rank_low"] <= ranks["rank"]).all()
    assert (ranks["rank_high"] - ranks["rank_low"]).median() > 10  # overlapping: the words say so
    text = words.ranks_section(ranks, "school", 0.9)
    assert "read the order of neighbouring groups as a tie" in text
    assert len(league_table(ranks)) == 10 and league_table(ranks).index[0] == ranks.index[0]


def test_the_words_name_the_groups_that_stand_out_with_their_sizes():
    ranks = group_ranks(formula_fit([4.0, 0.0, 0.0, 0.0, -4.0], sd=1.0), "g", 0.94,
                        pd.Series([12, 5, 5, 5, 40], index=[f"g0{k}" for k in range(5)]))
    text = words.ranks_section(ranks, "school", 0.94)
    assert "Above the average with probability at least 0.95: **g00** (12 rows)." in text
    assert "Below it: **g04** (40 rows)." in text
    many = group_ranks(formula_fit(np.r_[np.full(8, 5.0), np.zeros(4)], sd=0.5), "g", 0.94)
    assert "and 2 more (`reports/ranks.csv`)" in words.ranks_section(many, "school", 0.94)
    calm = group_ranks(formula_fit([0.0, 0.0, 0.0]), "g", 0.94)
    assert "No school is above or below the average with probability 0.95." in words.ranks_section(calm, "school", 0.94)
    ax = rank_intervals(ranks)
    assert len(ax.collections[0].get_segments()) == 5  # an interval per group


def test_ranks_csv_holds_every_model_with_group_intercepts(tmp_path):
    from types import SimpleNamespace

    config = SimpleNamespace(data=SimpleNamespace(group="g"), diagnostics=SimpleNamespace(ci_prob=0.94),
                             reports_dir=tmp_path)
    pooled = xr.DataTree.from_dict({"posterior": xr.Dataset({"Intercept": (("chain", "draw"), np.zeros((2, 10)))})})
    write_ranks(config, {"varying": formula_fit([1.0, 0.0]), "pooled": pooled}, pd.Series([3, 4], index=["g00", "g01"]))
    table = pd.read_csv(tmp_path / "ranks.csv")
    assert table.columns.tolist()[:3] == ["model", "g", "n"] and set(table["model"]) == {"varying"}
    assert group_ranks(pooled, "g", 0.94) is None
