"""Check the data table against the config before any model is built.

The checks are a pandera schema derived from the config (column roles and family). Every
failure becomes one line naming the file, the column, the first offending rows (as line
numbers of the CSV) and the fix; all failures are reported together.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from {{ cookiecutter.module_name }}.config import AnalysisConfig
from {{ cookiecutter.module_name }}.families import family_record

SHOWN_ROWS = 5


class DataError(ValueError):
    """The data file does not match what the config says it holds."""


def check_imputed(frame: pd.DataFrame, column: str, path) -> None:
    """Check ``mi(column)``: a numeric column, observed in at least two rows (missing values are imputed).

    Raises
    ------
    DataError
        Naming the file and the column.
    """
    if column not in frame.columns:
        raise DataError(f"{path}: column {column!r} named in mi({column}) is not in the file. Fix: correct the "
                        "formula's mi() term (a custom model: its options)")
    values = pd.to_numeric(frame[column], errors="coerce")
    text = frame.index[(values.isna() & frame[column].notna()) | values.isin([np.inf, -np.inf])].tolist()
    if text:
        raise DataError(f"{path}: column {column!r} of mi({column}) is not a finite number in rows {text[:5]}. Fix: "
                        "leave a value empty where it is missing, and write finite numbers elsewhere")
    if values.notna().sum() < 2:
        raise DataError(f"{path}: column {column!r} of mi({column}) is observed in {values.notna().sum()} row(s); "
                        "imputing it needs at least two. Fix: leave mi() out")


def check_measurements(frame: pd.DataFrame, column: str, error_column: str, path) -> None:
    """Check ``me(column, error_column)``: both columns numeric and complete, the standard errors positive.

    Raises
    ------
    DataError
        Naming the file, the column and the first rows at fault.
    """
    for name in (column, error_column):
        if name not in frame.columns:
            raise DataError(f"{path}: column {name!r} named in me({column}, {error_column}) is not in the file. "
                            "Fix: correct the formula's me() term (a custom model: its options)")
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = frame.index[~np.isfinite(values.to_numpy(dtype=float))].tolist()
        if bad:
            raise DataError(f"{path}: column {name!r} of me({column}, {error_column}) is missing or not a number in "
                            f"rows {bad[:5]}. Fix: give every row a measurement and its standard error")
    bad = frame.index[frame[error_column].astype(float) <= 0].tolist()
    if bad:
        raise DataError(f"{path}: column {error_column!r} holds standard errors, but they are 0 or negative in rows "
                        f"{bad[:5]}. Fix: a measurement without error is an ordinary predictor: leave it out of me()")


# Row-wise checks by name (pandera skips missing values; those are checked separately).
CHECKS = {
    "finite": lambda series: ~series.isin([np.inf, -np.inf]),
    "binary": lambda series: series.isin([0, 1]),
    "non_negative": lambda series: series >= 0,
    "whole": lambda series: (series - series.round()).abs() < 1e-9,
    "positive": lambda series: series > 0,
    "open_unit": lambda series: (series > 0) & (series < 1),
}


def _checks(*names: str) -> list[pa.Check]:
    return [pa.Check(CHECKS[name], name=name) for name in names]


# Check name -> (what is wrong in the rows, how to fix it).
PROBLEMS = {
    "numeric": ("the value is not numeric", "make every value a number (no text such as 'NA' or units)"),
    "missing": ("the value is missing (NaN)", "remove or impute those rows, or set data.drop_missing: true to drop them"),
    "finite": ("the value is infinite", "remove those rows or correct the values"),
    "binary": ("the value is not 0 or 1", "code the outcome as 0/1, or choose a family that fits it"),
    "non_negative": ("the count is negative", "counts cannot be negative: correct the values or choose family normal"),
    "whole": ("the value is not a whole number", "counts must be integers: correct the values or choose family normal"),
    "positive": ("the value is not positive", "it must be greater than 0: correct or remove those rows"),
    "open_unit": ("the value is not strictly between 0 and 1", "a beta outcome is a proportion in (0, 1): for exact 0s "
                  "and 1s use (y (n - 1) + 0.5) / n (Smithson and Verkuilen 2006), or for successes out of trials "
                  "family binomial or beta_binomial with data.trials"),
    "trials_cover_successes": (
        "the number of trials is smaller than the outcome", "data.trials must be at least the outcome in every row"
    ),
    "group_missing": ("the group label is missing", "give every row a group, or remove those rows"),
    "category": ("the value is not one of data.categories", "add it to data.categories in its place in the order, "
                 "or correct the value"),
}
# Checks whose failing values are worth showing.
SHOW_VALUES = {"finite", "binary", "non_negative", "whole", "positive", "open_unit", "category"}


def _column_checks(config: AnalysisConfig) -> dict[str, tuple[str, list[pa.Check]]]:
    """Each column the config names: its role and the row-wise checks it must pass."""
    family_set = {config.family_of(name) for name in config.model_names}
    # Each family's record lists the checks its outcome must pass.
    names = dict.fromkeys(check for family in sorted(family_set) for check in family_record(family).outcome_checks)
    outcome_checks = _checks(*names)
    if config.data.categories is not None:  # named ordered categories: each value must be one of them
        labels = [str(label) for label in config.data.categories]
        outcome_checks = [pa.Check(lambda series: series.astype(str).isin(labels), name="category")]
    columns = {config.data.outcome: ("data.outcome", outcome_checks)}
    for column in config.data.predictors:
        columns[column] = ("data.predictors", _checks("finite"))
    for column in config.data.group_predictors:
        columns[column] = ("data.group_predictors", _checks("finite"))
    if config.data.trials:
        columns[config.data.trials] = ("data.trials", _checks("positive", "whole"))
    if config.data.exposure:
        columns[config.data.exposure] = ("data.exposure", _checks("positive", "finite"))
    if config.data.event:
        columns[config.data.event] = ("data.event", _checks("binary"))
    return columns


def _schema(config: AnalysisConfig) -> pa.DataFrameSchema:
    columns = {
        column: pa.Column(nullable=False, checks=checks)
        for column, (_, checks) in _column_checks(config).items()
    }
    columns[config.data.group] = pa.Column(nullable=False)
    checks = []
    if config.data.trials:
        trials, outcome = config.data.trials, config.data.outcome
        checks.append(pa.Check(lambda frame: frame[trials] >= frame[outcome], name="trials_cover_successes"))
    return pa.DataFrameSchema(columns, checks=checks)


def _lines(index: pd.Index) -> str:
    """CSV line numbers of row labels (the header is line 1)."""
    shown = ", ".join(str(int(label) + 2) for label in index[:SHOWN_ROWS])
    return shown + (f" and {len(index) - SHOWN_ROWS} more" if len(index) > SHOWN_ROWS else "")


def _failure_lines(error: pa.errors.SchemaErrors, config: AnalysisConfig) -> list[str]:
    roles = {column: role for column, (role, _) in _column_checks(config).items()}
    roles[config.data.group] = "data.group"
    cases = error.failure_cases.copy()
    # A table-wide check reports every column of a failing row: keep one entry per row.
    table_wide = cases["check"] == "trials_cover_successes"
    cases.loc[table_wide, "column"] = config.data.trials
    cases = cases.drop_duplicates(subset=["column", "check", "index"])
    lines = []
    for (column, check), rows in cases.groupby(["column", "check"], sort=False, dropna=False):
        if check == "not_nullable":
            check = "group_missing" if column == config.data.group else "missing"
        problem, fix = PROBLEMS.get(str(check), (f"the value fails the check {check}", "correct those rows"))
        index = pd.Index(rows["index"].dropna().unique())
        values = ", ".join(str(value) for value in rows["failure_case"].head(SHOWN_ROWS))
        shown = f" (values {values})" if check in SHOW_VALUES else ""
        lines.append(
            f"column {column!r} ({roles.get(column, 'data')}): {len(index)} row(s) where {problem}, "
            f"at line(s) {_lines(index)}{shown}. Fix: {fix}."
        )
    return lines


def check_outcome_varies(frame: pd.DataFrame, config: AnalysisConfig, path: Path) -> None:
    """An outcome with one value in every row (or, binomial, no success or no failure in any
    row) leaves nothing to estimate: the sampler would start from a flat or unbounded
    likelihood and fail (nutpie: "All initialization points failed")."""
    outcome = frame[config.data.outcome]
    column = f"column {config.data.outcome!r} (data.outcome)"
    fix = "Fix: check that data.outcome names the column to model and data.path the right file (or subset)."
    if outcome.nunique() < 2:
        raise DataError(f"{path}: {column} has the same value ({outcome.iloc[0]}) in all {len(frame)} rows, so there "
                        f"is nothing to model. {fix}")
    if config.data.trials:
        trials = frame[config.data.trials]
        for share, rows in (("no success", outcome == 0), ("no failure", outcome == trials)):
            if rows.all():
                raise DataError(f"{path}: {column} has {share} in any of the {len(frame)} rows (against "
                                f"data.trials {config.data.trials!r}), so the proportion cannot be estimated. {fix}")


def validate(frame: pd.DataFrame, config: AnalysisConfig, path: Path) -> pd.DataFrame:
    """The rows to analyse, or a :class:`DataError` listing every problem.

    Rows with a missing value in a column the model uses are dropped only if
    ``data.drop_missing`` is true; otherwise they are an error, like every other problem.
    """
    roles = _column_checks(config)
    named = config.data.outcome if config.data.categories is not None else None  # its categories are checked instead
    not_numeric = [column for column in roles if column != named and not pd.api.types.is_numeric_dtype(frame[column])]
    if not_numeric:
        column = not_numeric[0]
        bad = pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()
        raise DataError(
            f"{path}: column {column!r} ({roles[column][0]}) must be numeric; found {frame[column].dtype} with "
            f"values such as {frame.loc[bad, column].head(3).tolist()} at line(s) {_lines(frame.index[bad])}. "
            f"Fix: {PROBLEMS['numeric'][1]}."
        )
    used = [*roles, config.data.group]
    if config.data.drop_missing:
        kept = frame.dropna(subset=used)
        emptied = sorted(set(frame[config.data.group].dropna().astype(str)) - set(kept[config.data.group].astype(str)))
        if emptied:
            raise DataError(
                f"{path}: column {config.data.group!r} (data.group): group(s) {emptied[:SHOWN_ROWS]} have no rows left "
                "after dropping rows with missing values. Fix: complete their data or remove those groups."
            )
        frame = kept
    try:
        _schema(config).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        lines = _failure_lines(error, config)
        raise DataError(f"{path}: {len(lines)} problem(s) in the data:\n" + "\n".join(f"  {line}" for line in lines)) from None

    check_outcome_varies(frame, config, path)
    n_groups = frame[config.data.group].nunique()
    if n_groups < 2:
        raise DataError(
            f"{path}: column {config.data.group!r} (data.group) has {n_groups} group(s); a multilevel model needs at "
            "least 2. Fix: check data.group names the grouping column, or fit a single-level model."
        )
    for column in [*config.data.predictors, *config.data.group_predictors]:
        if frame[column].nunique() < 2:
            raise DataError(
                f"{path}: column {column!r} ({roles[column][0]}) is constant ({frame[column].iloc[0]} in every row), "
                "so its slope cannot be estimated. Fix: remove it from the config."
            )
    return frame
