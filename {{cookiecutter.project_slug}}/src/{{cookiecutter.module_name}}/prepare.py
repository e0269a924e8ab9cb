"""Your data preparation: the raw files as received -> the tidy table the analysis reads.

Edit this to fit your files. ``data.prepare`` in ``config/analysis.yaml`` names the function
and the raw CSV files (``data/raw/``) it takes: each is read with ``pandas.read_csv`` and
passed as the argument of its name. What the function returns is written to ``data.path``
(``data/processed/``) and checked like any data file. The run re-executes it only when a raw
file or this module changes (``data/preparation.py``).

Keep it a plain function of its arguments: no reading of other files, no randomness without a
fixed seed, so that the same raw files always give the same table.
"""

import pandas as pd


def tidy(students: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """One row per enrolled student, with the name of their school.

    The example's raw files: ``students.csv`` (one row per student ever registered, with the
    outcome and a ``status`` typed by hand, so "enrolled" and "Enrolled" both occur) and
    ``schools.csv`` (``school_id`` -> ``school_name``).

    Parameters
    ----------
    students : DataFrame
        ``student_id``, ``school_id``, ``ses``, ``status`` and the outcome's columns.
    schools : DataFrame
        ``school_id`` and ``school_name``, one row per school.

    Returns
    -------
    DataFrame
        ``school``, ``student``, ``ses`` and the outcome's columns: the tidy table.
    """
    status = students["status"].str.strip().str.lower()
    # Withdrawn students have no outcome: they are not part of the study.
    enrolled = students[status == "enrolled"].drop(columns="status")
    # validate: a school listed twice in schools.csv would silently duplicate its students.
    table = enrolled.merge(schools[["school_id", "school_name"]], on="school_id", how="left", validate="many_to_one")
    unknown = sorted(table.loc[table["school_name"].isna(), "school_id"].unique().tolist())
    if unknown:
        raise ValueError(f"school_id {unknown} of students.csv are not in schools.csv: add those schools")
    table = table.rename(columns={"school_name": "school", "student_id": "student"}).drop(columns="school_id")
    first = ["school", "student", "ses"]
    return table[first + [column for column in table.columns if column not in first]]
