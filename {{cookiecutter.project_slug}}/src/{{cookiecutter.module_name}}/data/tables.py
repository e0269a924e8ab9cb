"""Read a CSV file, with errors that name the file, the config key that points at it and the fix."""

import difflib
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.data.validation import DataError


def read_table(path: Path, key: str = "data.path") -> pd.DataFrame:
    """Read the CSV at ``path``, the file the config's ``key`` names.

    Parameters
    ----------
    path : Path
    key : str
        The config key that names the file, for the messages (``data.path``, or a raw file
        of the data preparation: ``data.prepare.raw.students``).

    Returns
    -------
    DataFrame

    Raises
    ------
    DataError
        If the file is missing, empty, not comma-separated text or repeats a column name.
    """
    if not path.is_file():
        raise DataError(f"{path}: data file not found. Set {key} in the config to your CSV "
                        "(a relative path is read from the project folder, the one holding pyproject.toml).")
    try:
        names = pd.read_csv(path, nrows=1, header=None).iloc[0].astype(str).tolist()
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(
            f"{path}: cannot be read as CSV ({error}). Fix: save the file as comma-separated UTF-8 text with a header row."
        ) from error
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(
            f"{path}: column name(s) {duplicated} appear more than once in the header. Fix: give every column a unique name."
        )
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows. Fix: point {key} at the file with the data.")
    if frame.shape[1] == 1:
        for name, delimiter in (("semicolons", ";"), ("tabs", "\t")):
            if delimiter in str(frame.columns[0]):
                raise DataError(
                    f"{path}: the header is one column, {str(frame.columns[0])[:60]!r}: the file looks separated by "
                    f"{name}. Fix: save it as comma-separated CSV (e.g. pandas: read_csv(sep={delimiter!r}).to_csv(...))."
                )
    return frame


def closest_column(name: str, columns) -> str | None:
    """The column a misspelled ``name`` most likely meant: same letters in another case first."""
    by_lower = {str(column).lower(): str(column) for column in columns}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None
