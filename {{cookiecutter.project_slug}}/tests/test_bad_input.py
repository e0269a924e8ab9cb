"""Every kind of bad data and config gets one clear message, exit code 1, and nothing is lost.

Each case starts from a small valid project (its own CSV and config, whatever the example's
outcome type), breaks one thing, runs the command line, and checks the message names the
file, the column or key, and the fix; that no notebook started; and that the fits and
reports of an earlier run are byte-for-byte unchanged.
"""

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from {{ cookiecutter.module_name }}.cli import app

EARLIER = {"artifacts/fits/varying_slopes.nc": b"an earlier fit", "reports/index.html": b"<p>earlier report</p>"}


def valid_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    schools = np.repeat([f"s{i}" for i in range(6)], 5)
    frame = pd.DataFrame({"school": schools, "ses": rng.normal(size=30), "score": rng.normal(size=30)})
    frame["n_items"] = 10
    frame["correct"] = rng.integers(0, 11, size=30)
    frame["days"] = 100.0
    frame["funding"] = np.repeat(np.arange(6.0), 5)
    return frame


def valid_config(project_config: dict) -> dict:
    config = yaml.safe_load(yaml.safe_dump(project_config))  # a deep copy
    config["data"] = {"path": "data/study.csv", "outcome": "score", "group": "school", "predictors": ["ses"]}
    config["family"] = "normal"
    config["models"] = [{"name": "varying_slopes", "custom": "varying_slopes"},
                        {"name": "pooled", "formula": "score ~ ses"}]
    return config


def set_key(config: dict, dotted: str, value) -> None:
    *parents, key = dotted.split(".")
    for parent in parents:
        config = config[parent]
    config[key] = value


# id -> (change to the data frame, config keys to set, expected message parts)
DATA_CASES = {
    "outcome not numeric": (lambda f: f.assign(score=["high"] * 30), {}, ["'score' (data.outcome) must be numeric", "Fix:"]),
    "missing outcome": (lambda f: f.assign(score=f.score.where(f.index != 3)), {},
                        ["'score' (data.outcome): 1 row(s)", "missing", "line(s) 5", "drop_missing: true"]),
    "missing predictor": (lambda f: f.assign(ses=f.ses.where(f.index > 1)), {},
                          ["'ses' (data.predictors): 2 row(s)", "line(s) 2, 3", "drop_missing"]),
    "infinite predictor": (lambda f: f.assign(ses=f.ses.where(f.index != 7, np.inf)), {},
                           ["'ses' (data.predictors): 1 row(s) where the value is infinite", "line(s) 9"]),
    "infinite outcome": (lambda f: f.assign(score=f.score.where(f.index != 0, -np.inf)), {},
                         ["'score' (data.outcome)", "is infinite", "line(s) 2"]),
    "missing group label": (lambda f: f.assign(school=f.school.where(f.index != 4)), {},
                            ["'school' (data.group)", "the group label is missing", "line(s) 6"]),
    "single group": (lambda f: f.assign(school="s0"), {}, ["'school' (data.group) has 1 group(s)", "at least 2"]),
    "constant predictor": (lambda f: f.assign(ses=1.5), {}, ["'ses' (data.predictors) is constant", "remove it"]),
    "group emptied by dropping": (lambda f: f.assign(score=f.score.where(f.school != "s2")), {"data.drop_missing": True},
                                  ["group(s) ['s2'] have no rows left", "data.group"]),
    "binary not 0/1": (lambda f: f.assign(score=np.arange(30) % 3), {"family": "bernoulli"},
                       ["'score' (data.outcome)", "is not 0 or 1", "values 2"]),
    "negative counts": (lambda f: f.assign(score=np.arange(30) - 2), {"family": "poisson"},
                        ["'score' (data.outcome): 2 row(s) where the count is negative", "line(s) 2, 3"]),
    "fractional counts": (lambda f: f.assign(score=np.arange(30) + 0.5), {"family": "negative_binomial"},
                          ["'score' (data.outcome)", "is not a whole number", "integers"]),
    "trials below successes": (lambda f: f.assign(score=f.correct.where(f.index != 2, 9), n_items=f.n_items.where(f.index != 2, 5)),
                               {"family": "binomial", "data.trials": "n_items"},
                               ["'n_items' (data.trials): 1 row(s)", "the number of trials is smaller than the outcome", "line(s) 4"]),
    "non-positive trials": (lambda f: f.assign(score=0, n_items=f.n_items.where(f.index != 5, 0)),
                            {"family": "binomial", "data.trials": "n_items"},
                            ["'n_items' (data.trials)", "is not positive", "line(s) 7"]),
    "non-positive exposure": (lambda f: f.assign(score=1, days=f.days.where(f.index != 1, 0.0)),
                              {"family": "poisson", "data.exposure": "days"},
                              ["'days' (data.exposure)", "is not positive", "line(s) 3"]),
    "group predictor varies in a group": (lambda f: f.assign(funding=np.arange(30.0)), {"data.group_predictors": ["funding"]},
                                          ["group-level predictor(s) ['funding'] vary within a 'school' group"]),
    "misspelled outcome": (lambda f: f, {"data.outcome": "scores"},
                           ["column 'scores' named in the config (data.outcome) is not in the file", "Did you mean 'score'?"]),
    "misspelled group": (lambda f: f, {"data.group": "School"}, ["column 'School'", "(data.group)", "Did you mean 'school'?"]),
    "absent predictor": (lambda f: f.drop(columns="ses"), {}, ["column 'ses' named in the config (data.predictors)"]),
    "formula names an absent column": (lambda f: f, {"models": [{"name": "m", "formula": "score ~ income"}]},
                                       ["column 'income' named in the config (models[m].formula)"]),
}

# id -> (raw text of the CSV, expected message parts)
FILE_CASES = {
    "empty file": ("", ["cannot be read as CSV", "header row"]),
    "header only": ("school,ses,score\n", ["has a header but no rows"]),
    "ragged rows": ("school,ses,score\ns0,1,2\ns1,1,2,3,4\n", ["cannot be read as CSV"]),
    "duplicate columns": ("school,ses,ses,score\ns0,1,2,3\ns1,2,3,4\n", ["column name(s) ['ses'] appear more than once"]),
    "semicolon-delimited": ("school;ses;score\ns0;1;2\ns1;2;3\n", ["looks separated by semicolons", "comma-separated"]),
    "tab-delimited": ("school\tses\tscore\ns0\t1\t2\ns1\t2\t3\n", ["looks separated by tabs"]),
}

# id -> (config keys to set, expected message parts: the key path and what is allowed)
CONFIG_CASES = {
    "unknown key": ({"data.colour": "red"}, ["data.colour", "Extra inputs are not permitted"]),
    "negative draws": ({"sampler.draws": -5}, ["sampler.draws", "greater than 0"]),
    "draws not a number": ({"sampler.draws": "many"}, ["sampler.draws", "valid integer"]),
    "target_accept above 1": ({"sampler.target_accept": 1.5}, ["sampler.target_accept", "less than 1"]),
    "unknown engine": ({"sampler.engine": "stan"}, ["sampler.engine", "'nutpie' or 'pymc'"]),
    "unknown family": ({"family": "gamma"}, ["family", "'normal', 'student_t', 'bernoulli'"]),
    "unknown custom model": ({"models": ["hierarchical"]}, ["custom 'hierarchical' not found", "varying_slopes"]),
    "model with both kinds": ({"models": [{"name": "m", "formula": "score ~ ses", "custom": "varying_slopes"}]},
                              ["model 'm': give exactly one of 'formula' or 'custom'"]),
    "formula does not parse": ({"models": [{"name": "m", "formula": "score ~ ses +"}]}, ["formula 'score ~ ses +' does not parse"]),
    "zero prior scale": ({"priors": {"group_sd": {"intercept": 0} } }, ["priors.group_sd.intercept", "greater than 0"]),
    "negative prior scale": ({"priors": {"intercept": {"mu": 0, "sigma": -1} } }, ["priors.intercept.sigma", "greater than 0"]),
    "prior on a column that is no predictor": ({"priors": {"slopes": {"sex": {"sigma": 1} } } },
                                               ["priors.slopes: ['sex'] are not predictors", "ses"]),
    "group sd prior on no predictor": ({"priors": {"group_sd": {"age": 1} } }, ["priors.group_sd: ['age']"]),
    "old-style slope prior": ({"priors": {"slope": {"mu": 0, "sigma": 1} } }, ["priors.slope", "Extra inputs"]),
    "primary model not listed": ({"primary": "best"}, ["primary: 'best' is not a model name", "varying_slopes"]),
    # Names that collide with the models' own dimensions and variables
    "group column named obs": ({"data.group": "obs"}, ["data.group", "'obs' is also the models' name for the observation dimension", "Fix: rename"]),
    "outcome named sigma": ({"data.outcome": "sigma"}, ["data.outcome", "'sigma'", "the residual sd"]),
    "predictor named mu": ({"data.predictors": ["mu"]}, ["data.predictors", "'mu'", "Bambi's linear predictor"]),
    "group predictor named predictor": ({"data.group_predictors": ["predictor"]}, ["data.group_predictors", "'predictor'"]),
    "exposure named draw": ({"data.exposure": "draw"}, ["data.exposure", "'draw'", "a sampling dimension"]),
    "outcome also a predictor": ({"data.predictors": ["score"]}, ["data.predictors: column 'score' is already data.outcome"]),
    # Custom models come from the project's own package only
    "custom model from another package": ({"models": [{"name": "m", "custom": "os.system"}]},
                                          ["'os.system' is not in this project", "models.py"]),
    "custom model from a module not in the package": ({"models": [{"name": "m", "custom": "helpers.my_model"}]},
                                                      ["'helpers.my_model' is not in this project"]),
    "custom name that is not a function": ({"models": [{"name": "m", "custom": "FAMILIES"}]}, ["no function 'FAMILIES'"]),
    # Formula priors are typed and checked against the formula
    "misspelled prior distribution": ({"models": [{"name": "m", "formula": "score ~ ses", "priors": {"ses": {"dist": "Normall", "sigma": 1} } }]},
                                      ["unknown distribution 'Normall'", "Did you mean 'Normal'?"]),
    "prior on a term the formula lacks": ({"models": [{"name": "m", "formula": "score ~ ses", "priors": {"sess": {"dist": "Normal", "sigma": 1} } }]},
                                          ["priors on ['sess'], which the formula does not have", "Intercept, ses"]),
    "prior parameter that is text": ({"models": [{"name": "m", "formula": "score ~ ses", "priors": {"ses": {"dist": "Normal", "sigma": "wide"} } }]},
                                     ["Normal.sigma: expected a number"]),
    "prior without a distribution": ({"models": [{"name": "m", "formula": "score ~ ses", "priors": {"ses": {"sigma": 1} } }]},
                                     ["priors.ses.dist", "Field required"]),
    "term priors on a custom model": ({"models": [{"name": "m", "custom": "varying_slopes", "priors": {"ses": {"dist": "Normal", "sigma": 1} } }]},
                                      ["priors by term are for formula models"]),
    # Model names become file names
    "model name with a slash": ({"models": [{"name": "slopes/intercepts", "custom": "varying_slopes"}]},
                                ["model name 'slopes/intercepts' must start with a letter", "Fix:"]),
    "model name climbing out": ({"models": [{"name": "../../x", "custom": "varying_slopes"}]}, ["model name '../../x'"]),
    "empty model name": ({"models": [{"name": "", "custom": "varying_slopes"}]}, ["model name ''"]),
    "model name with a space": ({"models": [{"name": "my model", "custom": "varying_slopes"}]}, ["model name 'my model'"]),
    "binomial without trials": ({"family": "binomial"}, ["data.trials: the binomial family needs"]),
    "repeated model names": ({"models": ["varying_slopes", "varying_slopes"]}, ["names must be unique"]),
    "unknown parameterisation": ({"parameterization": "sideways"}, ["parameterization", "'auto', 'centered' or 'non_centered'"]),
}


@pytest.fixture
def project(tmp_path, config):
    """A small valid project with the files of an earlier run."""
    for relative, content in EARLIER.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)
    (tmp_path / "data").mkdir()
    valid_frame().to_csv(tmp_path / "data" / "study.csv", index=False)
    (tmp_path / "config").mkdir()
    project_config = yaml.safe_load((config.root / "config" / "analysis.yaml").read_text())
    write_config(tmp_path, valid_config(project_config))
    return tmp_path


def write_config(project, raw: dict):
    path = project / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_and_check(project, expected: list[str], named_file) -> None:
    config_path = project / "config" / "analysis.yaml"
    result = CliRunner().invoke(app, ["run", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    message = result.stderr
    assert str(named_file) in message, message
    for part in expected:
        assert part in message, f"{part!r} not in:\n{message}"
    for relative, content in EARLIER.items():
        assert (project / relative).read_bytes() == content, f"{relative} was changed"
    assert not (project / "reports" / ".staging").exists() and not (project / "reports" / "executed").exists()


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data(project, case):
    change, keys, expected = DATA_CASES[case]
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    for dotted, value in keys.items():
        set_key(raw, dotted, value)
    write_config(project, raw)
    data_path = project / "data" / "study.csv"
    change(valid_frame()).to_csv(data_path, index=False)
    run_and_check(project, expected, data_path)


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_unreadable_data_file(project, case):
    text, expected = FILE_CASES[case]
    data_path = project / "data" / "study.csv"
    data_path.write_text(text)
    run_and_check(project, expected, data_path)


def test_missing_data_file(project):
    data_path = project / "data" / "study.csv"
    data_path.unlink()
    run_and_check(project, ["data file not found", "Set data.path"], data_path)


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config(project, case):
    keys, expected = CONFIG_CASES[case]
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    for dotted, value in keys.items():
        set_key(raw, dotted, value)
    config_path = write_config(project, raw)
    run_and_check(project, expected, config_path)


def test_config_that_is_not_yaml(project):
    config_path = project / "config" / "analysis.yaml"
    config_path.write_text("data: [unclosed\n")
    run_and_check(project, ["not valid YAML"], config_path)


@pytest.mark.parametrize("key", ["paths.reports", "paths.artifacts"])
def test_output_folder_that_cannot_be_written(project, key):
    """A path that cannot become a folder (here an existing file: permissions do not stop
    root, which CI runs as) is reported before any notebook runs."""
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    set_key(raw, key, "data/study.csv")
    write_config(project, raw)
    run_and_check(project, ["cannot write here", "paths.reports / paths.artifacts", "Nothing was changed"],
                  project / "data" / "study.csv")


def test_disk_full_mid_run_is_one_line(project, monkeypatch):
    """A write that fails mid-run (here ENOSPC raised where the pipeline runs) is one line naming the file."""
    import errno

    from {{ cookiecutter.module_name }} import cli

    full = project / "reports" / "02_fit_varying_slopes.html"

    def run_out_of_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(full))

    monkeypatch.setattr(cli, "run_pipeline", run_out_of_space)
    result = CliRunner().invoke(app, ["run", "--config", str(project / "config" / "analysis.yaml")])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {full}: No space left on device. Fix: free disk space or make the folder "
                                     "writable, then run again (finished fits are reused).")


def test_config_in_another_encoding(project):
    config_path = project / "config" / "analysis.yaml"
    config_path.write_bytes(config_path.read_bytes() + "# schools' r\u00e9sultats\n".encode("latin-1"))
    run_and_check(project, ["not UTF-8 text", "save the file as UTF-8"], config_path)


def test_yaml_alias_bomb_is_refused_before_it_expands(project):
    config_path = project / "config" / "analysis.yaml"
    bomb = "bomb:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  {name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
        for previous, name in zip("abcdefgh", "bcdefghi"))
    config_path.write_text(config_path.read_text() + bomb)
    run_and_check(project, ["YAML aliases", "at most 50"], config_path)


def test_relative_paths_resolve_against_the_folder_with_pyproject(project):
    """A config kept outside config/ still reads the project's data (not relative to its own folder)."""
    from {{ cookiecutter.module_name }}.config import load_config

    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    elsewhere = project / "configs" / "variants"
    elsewhere.mkdir(parents=True)
    (elsewhere / "a.yaml").write_text((project / "config" / "analysis.yaml").read_text())
    assert load_config(elsewhere / "a.yaml").data_path == project / "data" / "study.csv"


def test_a_dead_kernel_is_a_clean_failure(tmp_path):
    """A kernel killed mid-notebook (here it exits) gives a message naming the notebook."""
    import nbformat

    from {{ cookiecutter.module_name }}.pipeline import NotebookFailed, Step, execute

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("import os\nos._exit(1)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "dies.ipynb")
    with pytest.raises(NotebookFailed, match=r"dies.ipynb: its kernel died .* Fix:"):
        execute(Step("dies.ipynb", "dies", "Dies"), tmp_path, tmp_path / "executed", tmp_path / "failed")


def test_missing_config(project):
    config_path = project / "config" / "analysis.yaml"
    config_path.unlink()
    run_and_check(project, ["config file not found", "--config"], config_path)


def test_dropping_missing_rows_is_opt_in(project, config):
    """With data.drop_missing the same file validates: the rows are dropped, not an error."""
    from {{ cookiecutter.module_name }}.config import load_config
    from {{ cookiecutter.module_name }}.data import load_data

    frame = valid_frame()
    frame.loc[[3, 8], "score"] = np.nan
    frame.to_csv(project / "data" / "study.csv", index=False)
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    raw["data"]["drop_missing"] = True
    data = load_data(load_config(write_config(project, raw)))
    assert len(data.outcome) == 28 and np.isfinite(data.outcome).all()
