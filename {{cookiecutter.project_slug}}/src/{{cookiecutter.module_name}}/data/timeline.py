"""The time points of a random-walk effect, ``rw(time)``: their order, spacing and series.

A random walk of order 1 (RW1) says that neighbouring times are alike: each step from one
time to the next is normal with the walk's standard deviation. Of order 2 (RW2), that the
trend changes little: each second difference is. ``rw(time, gr = group)`` is one walk per
group (a series), with one shared standard deviation.

Times are the numbers of a column (years, weeks since the start), not labels, since their
spacing matters. The walk's unit step is the shortest gap between two times of the column
(``Timeline.step``): RW1 handles gaps by giving a step of two units twice the variance (as
INLA's ``rw1`` on irregular ``values``); RW2 needs equally spaced times, and the data are
refused, naming the gap, where they are not. A walk per group passes through every time of the
column, also those at which the group has no row (Bambi's levels of ``group:time`` are every
pair): the walk is interpolated there.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.data.validation import DataError


@dataclass(frozen=True)
class Timeline:
    """The levels of a random walk's group term, in the model's order.

    Attributes
    ----------
    time : ndarray of float
        Each level's time.
    series : ndarray of int
        Each level's series (0 for a walk shared by every group).
    order : int
        1 (RW1) or 2 (RW2).
    step : float
        The unit step: the shortest gap between two times of the column.
    """

    time: np.ndarray
    series: np.ndarray
    order: int
    step: float

    @property
    def n_levels(self) -> int:
        return len(self.time)

    @cached_property
    def sorted(self) -> np.ndarray:
        """The levels ordered by series, then time (a permutation)."""
        return np.lexsort((self.time, self.series))

    @cached_property
    def differences(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index, coefficients)``, each of shape (n_differences, order + 1): the walk's
        standardised steps are ``(coefficients * effect[index]).sum(-1)``, unit normal."""
        order, time, series = self.sorted, self.time[self.sorted], self.series[self.sorted]
        width = self.order + 1
        starts = np.arange(len(order) - self.order)
        same = series[starts] == series[starts + self.order]  # every point of a difference in one series
        starts = starts[same]
        index = order[starts[:, None] + np.arange(width)]
        if self.order == 1:
            gaps = (time[starts + 1] - time[starts]) / self.step
            coefficients = np.stack([-np.ones(len(starts)), np.ones(len(starts))], axis=1) / np.sqrt(gaps)[:, None]
        else:
            coefficients = np.tile([1.0, -2.0, 1.0], (len(starts), 1))
        return index, coefficients

    def precision(self) -> np.ndarray:
        """The walk's structure matrix ``D^T D`` (unit sd), dense: from :attr:`differences`."""
        index, coefficients = self.differences
        d = np.zeros((len(index), self.n_levels))
        for row, (columns, values) in enumerate(zip(index, coefficients)):
            d[row, columns] += values
        return d.T @ d

    @cached_property
    def constraints(self) -> np.ndarray:
        """Shape (n_levels, order), in the order of :attr:`sorted`: orthonormal vectors per
        series that the walk's density leaves free (its level; for RW2 also its slope in time),
        which are constrained to zero so that the model's intercept and slopes keep their meaning."""
        time, series = self.time[self.sorted], self.series[self.sorted]
        vectors = np.zeros((len(time), self.order))
        for code in np.unique(series):
            members = series == code
            vectors[members, 0] = 1.0 / np.sqrt(members.sum())
            if self.order == 2:
                centred = time[members] - time[members].mean()
                norm = np.sqrt((centred**2).sum())
                vectors[members, 1] = centred / norm if norm > 0 else 0.0
        return vectors

    @cached_property
    def series_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each series starts and ends in the order of :attr:`sorted` (ends exclusive)."""
        series = self.series[self.sorted]
        starts = np.flatnonzero(np.r_[True, series[1:] != series[:-1]])
        return starts, np.r_[starts[1:], len(series)]


def check_times(frame: pd.DataFrame, time: str, order: int, path, term: str | None = None) -> float:
    """Check the column ``time`` for an ``rw(time)`` term (or ``term``, named in the messages)
    and return the unit step.

    Raises
    ------
    DataError
        Naming the file and the column: times that are not numbers or missing, a time that is the
        same on every row, or (RW2) unequally spaced times, naming the gap.
    """
    values, term = frame[time], term or f"rw({time})"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        examples = ", ".join(repr(value) for value in pd.unique(values.astype(str))[:3])
        raise DataError(f"{path}: column {time!r} holds {examples}, but {term} needs numeric times (years, "
                        "week numbers, days since the start). Fix: convert the column to numbers, e.g. in data.prepare")
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise DataError(f"{path}: column {time!r} has missing or infinite times; {term} needs a time on every "
                        "row. Fix: remove those rows or fill in their times")
    distinct = np.unique(values.to_numpy(dtype=float))
    if len(distinct) < 2:
        raise DataError(f"{path}: column {time!r} takes one value on every row, so {term} has no steps. "
                        "Fix: give the walk a column of times that varies")
    gaps = np.diff(distinct)
    step = float(gaps.min())
    uneven = np.flatnonzero(~np.isclose(gaps, step, rtol=1e-6, atol=0))
    if order == 2 and len(uneven):
        first = uneven[0]
        raise DataError(
            f"{path}: column {time!r} goes from {distinct[first]:g} to {distinct[first + 1]:g}, a gap of {gaps[first]:g} "
            f"where the other steps are {step:g}; type = \"rw2\" needs equally spaced times. Fix: use type = \"rw1\" "
            "(its steps scale with the gap), or add a row at each missing time")
    return step


def timeline(labels: list[str], frame: pd.DataFrame, time: str, group: str | None, order: int, path) -> Timeline:
    """The timeline of a random walk's group term, whose levels (``labels``, Bambi's order) are
    the ``time`` values (as ``str``) or ``group:time``: every pair of a group and a time of the
    data, rows or not (a walk per group passes through the times a group has no row at)."""
    step = check_times(frame, time, order, path)
    times = {str(value): float(value) for value in pd.unique(frame[time])}
    if group is None:
        parts = [("", label) for label in labels]
    else:
        parts = [tuple(str(label).rsplit(":", 1)) for label in labels]
    unknown = [label for label, (_, at) in zip(labels, parts) if at not in times]
    if unknown:
        raise DataError(f"{path}: the levels {unknown[:5]} of rw({time}) are not times of column {time!r}. Fix: "
                        "give the walk the time column itself (rw(time) or rw(time, gr = group))")
    series = pd.Categorical([name for name, _ in parts]).codes
    return Timeline(time=np.array([times[at] for _, at in parts]), series=np.asarray(series, dtype=int),
                    order=order, step=step)


@dataclass(frozen=True)
class Lags:
    """Each row's previous row in its series, for autocorrelated residuals (``ar()``).

    Attributes
    ----------
    previous : ndarray of int
        The row of the series' time before (the row itself where there is none: its first time).
    gap : ndarray of float
        The time since that row in unit steps (the shortest gap of the data); 0 for a first time.
    """

    previous: np.ndarray
    gap: np.ndarray

    @property
    def has_previous(self) -> np.ndarray:
        return self.gap > 0

    def without(self, left_out: np.ndarray) -> "Lags":
        """The lags of the rows kept when those marked in ``left_out`` are not: a row after left-out
        rows reads the last kept row before them, across all their steps (a series' first kept row none)."""
        left_out = np.asarray(left_out, dtype=bool)
        previous, gap = self.previous.copy(), self.gap.copy()
        for row in np.flatnonzero(~left_out & self.has_previous & left_out[self.previous]):
            before = self.previous[row]
            while left_out[before] and self.gap[before] > 0:
                gap[row] += self.gap[before]
                before = self.previous[before]
            previous[row], gap[row] = (before, gap[row]) if not left_out[before] else (row, 0.0)
        return Lags(previous=previous, gap=gap)


def lags(frame: pd.DataFrame, time: str, group: str | None, path) -> Lags:
    """The :class:`Lags` of ``ar(time = time, gr = group)`` on the rows of ``frame``.

    Raises
    ------
    DataError
        For times that are not numbers, and for two rows of one series at the same time,
        naming the series and the time.
    """
    if time not in frame.columns or (group is not None and group not in frame.columns):
        missing = time if time not in frame.columns else group
        raise DataError(f"{path}: column {missing!r} named in ar() is not in the file. Fix: correct the formula's "
                        "ar(time = ..., gr = ...)")
    check_times(frame, time, 1, path, term=f"ar(time = {time})")
    series = frame[group].astype(str).to_numpy() if group else np.zeros(len(frame), dtype=str)
    times = frame[time].to_numpy(dtype=float)
    order = np.lexsort((times, series))
    same_series = series[order][1:] == series[order][:-1]
    steps = np.diff(times[order])
    repeated = np.flatnonzero(same_series & (steps == 0))
    if len(repeated):
        row = order[repeated[0]]
        where = f" of series {series[row]!r} (column {group!r})" if group else ""
        raise DataError(f"{path}: two rows{where} are at time {times[row]:g} of column {time!r}; ar() needs one row "
                        "per time of a series. Fix: give ar() the group column that tells them apart (gr = ...), "
                        "or average the rows")
    unit = steps[same_series].min() if same_series.any() else 1.0
    multiples = steps[same_series] / unit
    uneven = np.flatnonzero(~np.isclose(multiples, np.round(multiples), rtol=0, atol=1e-6))
    if len(uneven):
        later = order[1:][same_series][uneven[0]]
        raise DataError(f"{path}: column {time!r} has a gap of {steps[same_series][uneven[0]]:g} before time "
                        f"{times[later]:g}, not a whole number of its shortest step {unit:g}; ar() needs times on a "
                        "regular grid (gaps are missing steps). Fix: round the times to the grid, or use rw(time)")
    previous, gap = np.arange(len(frame)), np.zeros(len(frame))
    previous[order[1:][same_series]] = order[:-1][same_series]
    gap[order[1:][same_series]] = np.round(multiples)  # whole steps: ar^gap is real for a negative ar
    return Lags(previous=previous, gap=gap)
