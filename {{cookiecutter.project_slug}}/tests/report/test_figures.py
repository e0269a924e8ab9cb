"""The figures' own computations, against the libraries they stand in for."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns

from {{ cookiecutter.module_name }}.report.figures import density_lines, over_time, shrinkage, shrinkage_caption
from {{ cookiecutter.module_name }}.report.summary import groups_are_times


@pytest.mark.parametrize("clip", [(-np.inf, np.inf), (0.0, 1.0)])
def test_density_lines_are_seaborns_kernel_densities(clip):
    """Each line is seaborn's ``kdeplot`` of its row (Scott's bandwidth), on one shared grid;
    clipped where asked; a row of one repeated value has no density and is skipped."""
    rng = np.random.default_rng(1)
    samples = rng.beta(2, 5, size=(3, 400))
    fig, (ours, theirs) = plt.subplots(1, 2)
    density_lines(np.vstack([samples, np.full(400, 0.5)]), ours, clip=clip, label="replicated")
    for row in samples:
        sns.kdeplot(row, ax=theirs, clip=clip)
    assert len(ours.lines) == len(theirs.lines) == 3
    assert [line.get_label() for line in ours.lines][0] == "replicated"
    for line, reference in zip(ours.lines, theirs.lines):
        x, y = line.get_xydata().T
        ref_x, ref_y = reference.get_xydata().T
        inside = (x >= ref_x.min()) & (x <= ref_x.max())
        assert inside.sum() > 100
        assert np.allclose(y[inside], np.interp(x[inside], ref_x, ref_y), rtol=1e-3, atol=1e-3 * ref_y.max())
        assert clip[0] <= x.min() and x.max() <= clip[1]
    plt.close(fig)


@pytest.mark.parametrize("sizes", [[5, 10, 20], [10, 10, 10]])
def test_shrinkage_spreads_the_groups_when_their_sizes_are_equal(sizes):
    table = pd.DataFrame({"n": sizes, "raw_mean": [1.0, 3.0, 8.0], "estimate": [2.0, 3.5, 6.0]})
    ax = shrinkage(table, overall_mean=4.0)
    estimates = next(points for points in ax.collections if points.get_label() == "model estimate")
    x, y = estimates.get_offsets().T
    np.testing.assert_array_equal(y, table["estimate"])
    # Against size when sizes differ; against the raw means (three distinct places) when they are equal.
    np.testing.assert_array_equal(x, table["n"] if len(set(sizes)) > 1 else table["raw_mean"])
    assert len(set(x)) == 3
    assert ("against its raw mean" in shrinkage_caption(table, "school")) == (len(set(sizes)) == 1)
    plt.close(ax.figure)


def test_effects_of_times_are_drawn_as_a_line_in_time_order():
    """An rw(year) model's intercepts over the years: a line through them in the years' order
    (the table comes sorted by effect, as the caterpillar plot draws it), with their band."""
    years = [1871, 1873, 1872, 1875, 1874]
    effects = pd.DataFrame({"effect": [3.0, 2.0, 1.0, 0.0, -1.0], "lower": [2.0, 1.0, 0.0, -1.0, -2.0],
                            "upper": [4.0, 3.0, 2.0, 1.0, 0.0], "differs": False},
                           index=pd.Index([str(year) for year in years], name="year"))
    ax = over_time(effects, "intercept")
    (line,) = ax.get_lines()[:1]
    assert line.get_xdata().tolist() == sorted(years)
    assert line.get_ydata().tolist() == [3.0, 1.0, 2.0, -1.0, 0.0]
    assert ax.get_xlabel() == "year" and len(ax.collections) == 1  # the band
    plt.close("all")


@pytest.mark.parametrize(("temporal", "custom", "expected"), [
    ({"time": "year", "group": None, "type": "rw1"}, None, True),
    ({"time": "year", "group": "county", "type": "rw1"}, None, False),  # a walk per county
    ({"time": "week", "group": None, "type": "rw1"}, None, False),      # not the group column
    (None, "trend_intercepts", True),
    (None, "varying_slopes", False),
])
def test_groups_are_times_for_a_walk_on_the_group_column_or_a_trend_model(temporal, custom, expected):
    assert groups_are_times(dict(temporal=temporal), custom, "year") is expected
