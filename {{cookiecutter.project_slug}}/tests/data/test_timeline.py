"""The timeline of a random walk (``data/timeline.py``): its steps, its constraints, and the time
columns it refuses."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.data.timeline import check_times, timeline
from {{ cookiecutter.module_name }}.data.validation import DataError


def test_rw1_steps_across_a_gap_have_the_gap_s_variance():
    frame = pd.DataFrame({"year": [2003, 2000, 2001, 2004, 2001]})  # 2002 missing; 2001 twice
    line = timeline(["2000", "2001", "2003", "2004"], frame, "year", None, 1, "data.csv")
    assert line.step == 1.0
    index, coefficients = line.differences
    assert index.tolist() == [[0, 1], [1, 2], [2, 3]]
    np.testing.assert_allclose(coefficients[:, 1] ** -2, [1.0, 2.0, 1.0])
    np.testing.assert_allclose(line.precision() @ np.ones(4), 0, atol=1e-12)  # the level is free


def test_rw2_leaves_each_series_level_and_slope_free_and_constrains_them():
    frame = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 5, "t": [1, 2, 3, 4, 1, 2, 3, 4, 5]})
    labels = [f"{g}:{t}" for g, t in zip(frame.g, frame.t)][::-1]  # any order of levels
    line = timeline(labels, frame, "t", "g", 2, "data.csv")
    assert len(line.differences[0]) == 2 + 3  # no difference spans the two series
    q = line.precision()
    vectors = np.zeros((line.n_levels, 2 * 2))
    vectors[line.sorted, :] = np.hstack([line.constraints * (line.series[line.sorted] == code)[:, None]
                                         for code in (0, 1)])
    np.testing.assert_allclose(q @ vectors, 0, atol=1e-12)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(4), atol=1e-12)  # orthonormal
    assert np.linalg.matrix_rank(q) == line.n_levels - 4


@pytest.mark.parametrize(("frame", "order", "message"), [
    (pd.DataFrame({"year": ["2001", "2002"]}), 1, "numeric times"),
    (pd.DataFrame({"year": [2001.0, np.nan]}), 1, "missing or infinite"),
    (pd.DataFrame({"year": [2001, 2001]}), 1, "one value on every row"),
    (pd.DataFrame({"year": [2001, 2002, 2004]}), 2, "from 2002 to 2004, a gap of 2 where the other steps are 1"),
])
def test_time_columns_a_walk_cannot_use_are_refused_naming_file_and_column(frame, order, message):
    with pytest.raises(DataError, match=message) as error:
        check_times(frame, "year", order, "data/series.csv")
    assert "data/series.csv" in str(error.value) and "'year'" in str(error.value) and "Fix:" in str(error.value)


def test_a_walk_per_group_passes_through_the_times_a_group_has_no_row_at():
    frame = pd.DataFrame({"site": ["a", "a", "a", "b", "b"], "week": [1, 2, 3, 1, 3]})
    labels = ["a:1", "a:2", "a:3", "b:1", "b:2", "b:3"]  # Bambi's levels of site:week, b:2 without a row
    line = timeline(labels, frame, "week", "site", 2, "data.csv")
    assert line.series.tolist() == [0, 0, 0, 1, 1, 1] and line.time.tolist() == [1, 2, 3] * 2
    assert len(line.differences[0]) == 2
    uneven = frame.assign(week=[1, 2, 3, 1, 5])
    with pytest.raises(DataError, match="from 3 to 5"):
        check_times(uneven, "week", 2, "data.csv")
    assert check_times(uneven, "week", 1, "data.csv") == 1.0  # RW1 takes the gap
