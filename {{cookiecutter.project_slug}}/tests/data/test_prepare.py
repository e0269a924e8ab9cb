"""The data preparation: raw files -> prepare.py's function -> data.path, cached, with clear errors.

Nothing here samples: each test runs the preparation (and the data loading after it) on a copy
of the project's config and its example raw files, whatever the example's outcome type.
"""

import importlib.util
import inspect
import shutil

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.config import ConfigError, load_config
from {{ cookiecutter.module_name }}.data import preparation
from {{ cookiecutter.module_name }}.data.grouped import DataError, load_data
from {{ cookiecutter.module_name }}.prepare import tidy

PROCESSED = "data/processed/schools.csv"
# The example's raw students file lists two withdrawn students (without an outcome) and two
# whose status was typed "Enrolled".
WITHDRAWN = [1193, 1194]
ENROLLED = 25


def raw_frames(root):
    return {name: pd.read_csv(root / "data" / "raw" / f"{name}.csv") for name in ("students", "schools")}


def test_tidy_gives_the_example_rows_of_the_enrolled_students(config):
    prepared = tidy(**raw_frames(config.root))
    example = pd.read_csv(config.data_path)
    expected = example[example["student"].isin(prepared["student"])].reset_index(drop=True)
    assert len(prepared) == ENROLLED and not prepared["student"].isin(WITHDRAWN).any()
    # The same columns in the same order, and the same values (the raw outcome is read as
    # float: its withdrawn rows are empty).
    pd.testing.assert_frame_equal(prepared, expected, check_dtype=False)


def test_tidy_refuses_students_of_an_unknown_school(config):
    frames = raw_frames(config.root)
    frames["students"].loc[0, "school_id"] = 99
    with pytest.raises(ValueError, match=r"school_id \[99\] of students.csv are not in schools.csv"):
        tidy(**frames)


@pytest.fixture
def project(tmp_path, config):
    """A copy of the project's config and data whose config prepares data.path from the raw files."""
    shutil.copytree(config.root / "data", tmp_path / "data")
    shutil.rmtree(tmp_path / "data" / "processed", ignore_errors=True)
    raw = yaml.safe_load((config.root / "config" / "analysis.yaml").read_text())
    raw["data"]["path"] = PROCESSED
    raw["data"].pop("true_parameters", None)
    raw_files = {"students": "data/raw/students.csv", "schools": "data/raw/schools.csv"}
    raw["data"]["prepare"] = {"function": "tidy", "raw": raw_files}
    (tmp_path / "config").mkdir()
    write_config(tmp_path, raw)
    return tmp_path


def write_config(project, raw: dict):
    path = project / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def project_config(project):
    return load_config(project / "config" / "analysis.yaml")


def test_load_data_prepares_the_table_and_reads_it(project):
    output = project / PROCESSED
    assert not output.exists()
    data = load_data(project_config(project))
    written = pd.read_csv(output)
    assert len(data.outcome) == len(written) == ENROLLED
    assert data.groups == ["school_01", "school_02", "school_03", "school_04", "school_05"]
    assert list(data.frame["student"]) == list(written["student"])
    assert preparation.record_path(output).is_file()


def test_the_preparation_reruns_only_when_an_input_changed(project, monkeypatch):
    config = project_config(project)
    output = project / PROCESSED
    assert preparation.run_preparation(config) is True
    assert preparation.run_preparation(config) is False

    students = project / "data" / "raw" / "students.csv"
    students.write_text(students.read_text().replace("1.76283", "1.5", 1))
    assert preparation.run_preparation(config) is True
    assert pd.read_csv(output)["ses"].iloc[0] == 1.5  # the new raw value reached the table
    assert preparation.run_preparation(config) is False

    output.write_text(output.read_text() + "school_01,9999,0.0,0.0\n")  # an edited output is made again
    assert preparation.run_preparation(config) is True
    assert 9999 not in pd.read_csv(output)["student"].tolist()

    # Editing the function's module: a copy of prepare.py stands in for it, then gets a new line.
    module_path = project / "my_prepare.py"
    shutil.copy(inspect.getsourcefile(tidy), module_path)
    spec = importlib.util.spec_from_file_location("my_prepare", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(preparation, "resolve_preparation", lambda name: getattr(module, name))
    assert preparation.run_preparation(config) is False  # the same source: the key is the content
    module_path.write_text(module_path.read_text() + "\n# an edit\n")
    assert preparation.run_preparation(config) is True


def test_without_a_preparation_nothing_is_made(config, tmp_path):
    shutil.copytree(config.root / "data", tmp_path / "data")
    shutil.copytree(config.root / "config", tmp_path / "config")
    before = sorted(path.name for path in (tmp_path / "data").rglob("*"))
    copied = load_config(tmp_path / "config" / "analysis.yaml")
    assert copied.data.prepare is None
    load_data(copied)
    assert sorted(path.name for path in (tmp_path / "data").rglob("*")) == before


def break_students(project, change) -> None:
    students = project / "data" / "raw" / "students.csv"
    change(pd.read_csv(students)).to_csv(students, index=False)


# id -> (change to the raw students table, expected message parts)
RAW_CASES = {
    "column the function reads is missing": (
        lambda frame: frame.rename(columns={"status": "Status"}),
        ["data/raw/students.csv (data.prepare.raw.students): column 'status' is not in the file", "prepare.py, line",
         "Did you mean 'Status'?", "Fix: rename the column"],
    ),
    "function fails": (
        lambda frame: frame.assign(school_id=frame["school_id"].where(frame.index != 3, 42)),
        ["prepare.py, line", "tidy() failed", "school_id [42] of students.csv are not in schools.csv",
         "The previous data file is unchanged"],
    ),
    "no row left": (lambda frame: frame.assign(status="withdrawn"), ["tidy() returned a table with no rows", "Fix:"]),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_bad_raw_files_are_named_and_the_earlier_table_kept(project, case):
    config = project_config(project)
    load_data(config)
    earlier = (project / PROCESSED).read_bytes()
    change, expected = RAW_CASES[case]
    break_students(project, change)
    with pytest.raises(DataError) as raised:
        load_data(config)
    for part in expected:
        assert part in str(raised.value), f"{part!r} not in:\n{raised.value}"
    assert (project / PROCESSED).read_bytes() == earlier


def test_a_table_that_fails_validation_names_the_preparation(project):
    break_students(project, lambda frame: frame.assign(ses=frame["ses"].where(frame.index != 0)))
    with pytest.raises(DataError) as raised:
        load_data(project_config(project))
    message = str(raised.value)
    assert f"{project / PROCESSED}: 1 problem(s)" in message and "'ses' (data.predictors)" in message
    assert f"{PROCESSED} is made by tidy() in src/" in message and "data/raw/students.csv" in message


EARLIER = {"artifacts/fits/varying_slopes.nc": b"an earlier fit", "reports/index.html": b"<p>earlier report</p>"}


@pytest.mark.parametrize("case", ["missing", "unparsable"])
def test_run_refuses_bad_raw_files_and_keeps_earlier_results(project, case):
    for relative, content in EARLIER.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_bytes(content)
    schools = project / "data" / "raw" / "schools.csv"
    if case == "missing":
        schools.unlink()
        expected = [f"{schools}: raw file not found (data.prepare.raw.schools", "Fix: put the file there"]
    else:
        schools.write_text("school_id;school_name\n1;school_01\n2;school_02\n")
        expected = [f"{schools}: the header is one column", "semicolons", "comma-separated"]
    result = CliRunner().invoke(app, ["run", "--config", str(project / "config" / "analysis.yaml")])
    assert result.exit_code == 1, result.output
    for part in expected:
        assert part in result.stderr, f"{part!r} not in:\n{result.stderr}"
    for relative, content in EARLIER.items():
        assert (project / relative).read_bytes() == content, f"{relative} was changed"
    assert not (project / "reports" / "executed").exists()


@pytest.mark.parametrize(("change", "expected"), [
    (lambda prepare: prepare.update(function="clean"), "no function 'clean' in src/"),
    (lambda prepare: prepare["raw"].update(pupils=prepare["raw"].pop("students")),
     "raw names schools, pupils, but tidy() in src/"),
    (lambda prepare: prepare["raw"].update(schools=PROCESSED), "data.prepare.raw.schools is data.path"),
])
def test_a_preparation_the_function_cannot_take_is_refused(project, change, expected):
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    change(raw["data"]["prepare"])
    with pytest.raises(ConfigError, match="data.prepare") as raised:
        load_config(write_config(project, raw))
    assert expected in str(raised.value)


def test_a_sweep_variant_with_a_subset_takes_it_from_the_prepared_table(project, config):
    """A subset variant's data is rows of the table the raw files make; its own run reads them as
    they are (no data.prepare left in its config), or it would make the whole table again."""
    from {{ cookiecutter.module_name }}.run.sweep import Sweep, Variant, prepare_variant

    shutil.copy(config.root / "pyproject.toml", project)  # marks the project folder
    school = pd.read_csv(project / "data" / "raw" / "schools.csv")["school_name"].iloc[0]
    sweep = Sweep(name="by_school", variants=[Variant(name="one", subset=f"school != '{school}'")])
    variant_config = load_config(prepare_variant(sweep, sweep.expanded()[0], project))
    assert variant_config.data.prepare is None
    prepared = pd.read_csv(project / PROCESSED)
    subset = pd.read_csv(variant_config.data_path)
    pd.testing.assert_frame_equal(subset, prepared[prepared["school"] != school].reset_index(drop=True))
    assert 0 < len(subset) < len(prepared) == ENROLLED
    assert len(load_data(variant_config).frame) == len(subset)


def test_simulate_does_not_write_over_a_prepared_table(project):
    """The next run would replace the simulated example with the prepared table again."""
    config_path = project / "config" / "analysis.yaml"
    load_data(project_config(project))
    before = (project / PROCESSED).read_bytes()
    result = CliRunner().invoke(app, ["simulate", "--overwrite", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    assert f"error: {PROCESSED} is made from raw files (data.prepare in {config_path})" in result.stderr
    assert "Fix: remove data.prepare, or point data.path at another file." in result.stderr
    assert (project / PROCESSED).read_bytes() == before
