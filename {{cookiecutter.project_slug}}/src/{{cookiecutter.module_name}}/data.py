"""Turn a tidy CSV into the arrays and coordinates the models need."""

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.config import AnalysisConfig


class DataError(ValueError):
    """The data file does not match what the config says it holds."""


@dataclass(frozen=True)
class GroupedData:
    """Observations with integer group codes, standardised predictors and named coordinates.

    Attributes
    ----------
    outcome : ndarray, shape (n_obs,)
    predictors : ndarray, shape (n_obs, n_predictors)
        Standardised: each column has mean 0 and sd 1.
    group_codes : ndarray of int, shape (n_obs,)
        Index into ``coords[group_dim]``.
    coords : dict
        ``{group_dim: labels, "predictor": names, "obs": row ids}`` for PyMC and ArviZ.
    outcome_name, group_dim : str
        The config's column names, used as variable and dimension names.
    predictor_means, predictor_sds : ndarray
        The scaling applied, to map slopes back to the original units.
    """

    outcome: np.ndarray
    predictors: np.ndarray
    group_codes: np.ndarray
    coords: dict[str, list]
    outcome_name: str
    group_dim: str
    predictor_means: np.ndarray
    predictor_sds: np.ndarray

    @property
    def groups(self) -> list:
        return self.coords[self.group_dim]

    @property
    def predictor_names(self) -> list[str]:
        return self.coords["predictor"]


def standardise(values: pd.Series) -> pd.Series:
    """Centre on the mean and divide by the sample sd."""
    return (values - values.mean()) / values.std()


def read_table(path: Path) -> pd.DataFrame:
    """Read the CSV, with an error that names the file when it cannot be read."""
    if not path.is_file():
        raise DataError(f"{path}: data file not found. Set data.path in the config to your CSV.")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({error}).") from error
    if frame.empty:
        raise DataError(f"{path}: the file has no rows.")
    return frame


def closest_column(name: str, columns) -> str | None:
    """The column a misspelled ``name`` most likely meant: same letters in another case first."""
    by_lower = {str(column).lower(): str(column) for column in columns}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def check_columns(frame: pd.DataFrame, config: AnalysisConfig) -> None:
    """Every column the config names must be in the file; suggest the closest name if not."""
    roles = {"data.outcome": [config.data.outcome], "data.group": [config.data.group]}
    roles["data.predictors"] = config.data.predictors
    for role, columns in roles.items():
        for column in columns:
            if column in frame.columns:
                continue
            close = closest_column(column, frame.columns)
            hint = f" Did you mean {close!r}?" if close else ""
            raise DataError(
                f"{config.data_path}: column {column!r} named in the config ({role}) is not in the file. "
                f"Columns found: {', '.join(frame.columns)}.{hint}"
            )
    numeric = [config.data.outcome, *config.data.predictors]
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(f"{config.data_path}: column {column!r} must be numeric; found {frame[column].dtype}.")
        missing = int(frame[column].isna().sum())
        if missing:
            raise DataError(
                f"{config.data_path}: column {column!r} has {missing} missing value(s). "
                "Remove or impute those rows before fitting."
            )


def prepare(frame: pd.DataFrame, config: AnalysisConfig) -> GroupedData:
    """Encode groups as integer codes and standardise predictors.

    Group labels are sorted, so the coordinate is the same whatever the row order.
    """
    check_columns(frame, config)
    group_labels = frame[config.data.group]
    groups = sorted(group_labels.unique().tolist())
    codes = pd.Categorical(group_labels, categories=groups).codes.astype("int64")
    predictors = frame[config.data.predictors].astype(float)
    return GroupedData(
        outcome=frame[config.data.outcome].to_numpy(dtype=float),
        predictors=predictors.apply(standardise).to_numpy(),
        group_codes=codes,
        coords={
            config.data.group: [str(group) for group in groups],
            "predictor": list(config.data.predictors),
            "obs": frame.index.tolist(),
        },
        outcome_name=config.data.outcome,
        group_dim=config.data.group,
        predictor_means=predictors.mean().to_numpy(),
        predictor_sds=predictors.std().to_numpy(),
    )


def load_data(config: AnalysisConfig) -> GroupedData:
    """Read the configured CSV and prepare it for the models."""
    return prepare(read_table(config.data_path), config)
