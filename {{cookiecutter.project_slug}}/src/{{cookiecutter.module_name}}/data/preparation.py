"""Make the data file from the raw files, when the config names a preparation.

``data.prepare`` names a function of ``prepare.py`` (yours to edit) and the raw CSV files it
takes, by argument name. Its table is written to ``data.path``, which is then read and
validated like any data file: :func:`data.grouped.load_data` calls :func:`run_preparation` first, so
the pipeline and every notebook read a current table.

The function is not run again while nothing it depends on changed: the raw files' bytes,
``prepare.py``'s source, the function's and the arguments' names, pandas' version, and the
output itself (edited or deleted: made again). The key is kept beside the output, in
``<data.path>.prepared.json``. The output is written atomically: a preparation that fails
leaves the previous table, and every fit and report, as they were.
"""

import importlib
import inspect
import json
import re
import traceback
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.config import PACKAGE, AnalysisConfig, preparation_parameters
from {{ cookiecutter.module_name }}.data.tables import closest_column, read_table
from {{ cookiecutter.module_name }}.data.validation import DataError
from {{ cookiecutter.module_name }}.files import atomic_path, write_text_atomically
from {{ cookiecutter.module_name }}.fingerprints import file_sha256, sha256_of

RECORD_SUFFIX = ".prepared.json"


def resolve_preparation(name: str) -> Callable:
    """The function ``name`` of ``prepare.py``, which ``data.prepare`` names, imported.

    Imported only when a config names a preparation: a project that has none does not
    depend on that module.
    """
    preparation_parameters(name)  # a clear error if there is no such function
    try:
        module = importlib.import_module(f"{PACKAGE}.prepare")
    except Exception as error:  # a failed import in the user's module
        raise ValueError(f"src/{PACKAGE}/prepare.py cannot be imported: {type(error).__name__}: {error}") from error
    return getattr(module, name)


def record_path(output: Path) -> Path:
    """Where the key of the inputs ``output`` was made from is kept."""
    return output.with_name(output.name + RECORD_SUFFIX)


def raw_paths(config: AnalysisConfig) -> dict[str, Path]:
    """The raw files by argument name, resolved against the project folder."""
    return {name: config.resolve(path) for name, path in config.data.prepare.raw.items()}


def preparation_key(config: AnalysisConfig) -> str:
    """What the prepared table depends on (see the module's docstring); the raw files must exist."""
    prepare = config.data.prepare
    source = Path(inspect.getsourcefile(resolve_preparation(prepare.function)))
    return sha256_of(
        prepare.function,
        source.read_bytes(),
        *(f"{name}:{file_sha256(path)}" for name, path in sorted(raw_paths(config).items())),
        version("pandas"),
    )


def is_current(output: Path, key: str) -> bool:
    """Whether ``output`` is the table an earlier preparation made from inputs with this key."""
    try:
        record = json.loads(record_path(output).read_text(encoding="utf-8"))
        return record["key"] == key and record["output_sha256"] == file_sha256(output)
    except (OSError, ValueError, KeyError, TypeError):  # no output or record yet, or an unreadable record
        return False


def described(config: AnalysisConfig) -> str:
    """The function and the raw files, for messages."""
    prepare = config.data.prepare
    files = ", ".join(str(path) for path in prepare.raw.values())
    return f"{prepare.function}() in src/{PACKAGE}/prepare.py from {files}"


def _line_in_function(function, error: BaseException) -> str:
    """", line N" of the function's module where ``error`` was raised, if it passed through it."""
    source = inspect.getsourcefile(function)
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == source]
    return f", line {lines[-1]}" if lines else ""


def _key_error_columns(error: KeyError) -> list[str]:
    """The column names in a pandas KeyError: ``'x'``, ``"['x', 'y'] not in index"`` or
    ``"None of [Index(['x'], dtype='object')] are in the [columns]"``."""
    message = error.args[0] if error.args else None
    if not isinstance(message, str):
        return []
    if "[" not in message:
        return [message]
    return re.findall(r"'([^']*)'", re.sub(r"dtype='[^']*'", "", message))


def _missing_column_error(error: KeyError, raw: dict[str, pd.DataFrame], config: AnalysisConfig,
                          where: str) -> DataError | None:
    """A message naming the raw file and the column a KeyError of the function is about, if
    it is about a column that a raw file lacks."""
    paths = raw_paths(config)
    for column in _key_error_columns(error):
        lacking = [name for name, frame in raw.items() if column not in frame.columns]
        if not lacking:
            continue
        suggestions = {name: closest_column(column, raw[name].columns) for name in lacking}
        # The file it most likely belongs in: one with a near miss, else every file without it.
        named = [name for name in lacking if suggestions[name]] or lacking
        lines = []
        for name in named:
            hint = f" Did you mean {suggestions[name]!r}?" if suggestions[name] else ""
            lines.append(
                f"{paths[name]} (data.prepare.raw.{name}): column {column!r} is not in the file; "
                f"{config.data.prepare.function}() reads it (src/{PACKAGE}/prepare.py{where}). "
                f"Columns found: {', '.join(map(str, raw[name].columns))}.{hint}"
            )
        return DataError("\n".join(lines) + "\nFix: rename the column in the raw file, or edit prepare.py to read "
                         "the column the file has. The previous data file is unchanged.")
    return None


def run_preparation(config: AnalysisConfig) -> bool:
    """Make ``data.path`` from the raw files unless it is current; whether it was made.

    Parameters
    ----------
    config : AnalysisConfig
        With ``data.prepare`` set.

    Returns
    -------
    bool
        True if the function ran, False if the table from an earlier run was current.

    Raises
    ------
    DataError
        Naming the file, the column and the fix, if a raw file is missing, cannot be read or
        lacks a column the function reads, or if the function fails or returns no table.
        The previous ``data.path`` is left as it was.
    """
    prepare = config.data.prepare
    paths = raw_paths(config)
    for name, path in paths.items():
        if not path.is_file():
            raise DataError(f"{path}: raw file not found (data.prepare.raw.{name} in {config.source}). Fix: put the "
                            "file there, or correct the path (a relative path is read from the project folder).")
    output = config.data_path
    key = preparation_key(config)
    if is_current(output, key):
        return False
    raw = {name: read_table(path, key=f"data.prepare.raw.{name}") for name, path in paths.items()}
    function = resolve_preparation(prepare.function)
    try:
        table = function(**raw)
    except Exception as error:  # the user's code: any error, reported with its line
        where = _line_in_function(function, error)
        missing = _missing_column_error(error, raw, config, where) if isinstance(error, KeyError) else None
        raise (missing or DataError(
            f"src/{PACKAGE}/prepare.py{where}: {prepare.function}() failed on "
            f"{', '.join(str(path) for path in paths.values())}: {type(error).__name__}: {error}. "
            "Fix: correct the raw files or the function. The previous data file is unchanged."
        )) from error
    if not isinstance(table, pd.DataFrame) or table.empty:
        what = "a table with no rows" if isinstance(table, pd.DataFrame) else f"a {type(table).__name__}"
        raise DataError(f"src/{PACKAGE}/prepare.py: {prepare.function}() returned {what}, not the tidy table. "
                        "Fix: return a pandas DataFrame with one row per observation (check its filters).")
    with atomic_path(output) as temporary:
        table.to_csv(temporary, index=False)
    record = {"key": key, "output_sha256": file_sha256(output), "made_by": described(config)}
    write_text_atomically(record_path(output), json.dumps(record, indent=2) + "\n")
    return True
