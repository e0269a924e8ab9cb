import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.data.grouped import DataError, prepare, read_table


def test_groups_are_coded_and_predictors_keep_their_units(config, example_data):
    frame = pd.read_csv(config.data_path)
    assert example_data.groups == sorted(frame["school"].unique())
    assert example_data.coords["predictor"] == ["ses"]
    assert example_data.predictors.shape == (len(frame), 1)
    np.testing.assert_array_equal(example_data.predictors[:, 0], frame["ses"].to_numpy(dtype=float))
    decoded = np.asarray(example_data.groups)[example_data.group_codes]
    assert (decoded == frame["school"].to_numpy()).all()


def test_group_coordinate_does_not_depend_on_row_order(config, example_data):
    shuffled = pd.read_csv(config.data_path).sample(frac=1, random_state=0)
    assert prepare(shuffled, config).groups == example_data.groups


def test_misspelled_column_suggests_the_closest_name(config):
    frame = pd.read_csv(config.data_path).rename(columns={"ses": "SES"})
    with pytest.raises(DataError, match=r"column 'ses' named in the config \(data.predictors\).*Did you mean 'SES'"):
        prepare(frame, config)


def test_missing_values_are_counted(config):
    frame = pd.read_csv(config.data_path)
    frame.loc[:2, "ses"] = np.nan
    with pytest.raises(DataError, match=r"'ses' \(data.predictors\): 3 row\(s\) where the value is missing"):
        prepare(frame, config)


def test_missing_and_empty_files_are_named(tmp_path):
    with pytest.raises(DataError, match="nope.csv: data file not found"):
        read_table(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: cannot be read"):
        read_table(empty)


@pytest.mark.parametrize("kind", ["integer", "categorical"])
def test_group_labels_may_be_integers_or_categories(config, example_data, kind):
    frame = pd.read_csv(config.data_path)
    numbers = frame["school"].str.removeprefix("school_").astype(int)
    if kind == "categorical":
        # A categorical keeps its own level order, here the reverse of sorted.
        order = sorted(numbers.unique(), reverse=True)
        frame["school"] = pd.Categorical(numbers, categories=order)
        expected = [str(level) for level in order]
    else:
        frame["school"] = numbers
        expected = [str(level) for level in sorted(numbers.unique())]  # numeric order: 2 before 10
    data = prepare(frame, config)
    assert data.groups == expected
    decoded = np.asarray(data.groups)[data.group_codes]
    assert (decoded == frame["school"].astype(str).to_numpy()).all()


def test_group_level_predictors_are_one_value_per_group(config, example_data):
    frame = pd.read_csv(config.data_path)
    size = frame.groupby("school")["student"].transform("size")
    frame["school_size"] = size
    with_group_predictor = config.model_copy(
        update={"data": config.data.model_copy(update={"group_predictors": ["school_size"]})}
    )
    data = prepare(frame, with_group_predictor)
    assert data.group_predictor_names == ["school_size"]
    assert data.group_predictors.shape == (len(data.groups), 1)
    np.testing.assert_array_equal(data.group_predictors[:, 0], data.group_sizes)  # in its own units

    frame["school_size"] = np.arange(len(frame))  # varies within schools
    with pytest.raises(DataError, match=r"group-level predictor\(s\) \['school_size'\] vary within a 'school' group"):
        prepare(frame, with_group_predictor)
