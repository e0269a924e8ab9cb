"""Every kind of bad data and config gets one clear message, exit code 1, and nothing is lost.

Each case starts from a small valid project (its own CSV and config, whatever the example's
outcome type), breaks one thing, runs the command line, and checks the message names the
file, the column or key, and the fix; that no notebook started; and that the fits and
reports of an earlier run are byte-for-byte unchanged.
"""

import os

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
    "gamma outcome not positive": (lambda f: f.assign(score=np.arange(30) - 1.0), {"family": "gamma"},
                                   ["'score' (data.outcome): 2 row(s) where the value is not positive", "line(s) 2, 3",
                                    "greater than 0"]),
    "lognormal outcome not positive": (lambda f: f.assign(score=np.arange(30) * 1.0), {"family": "lognormal"},
                                       ["'score' (data.outcome): 1 row(s) where the value is not positive", "line(s) 2"]),
    "beta outcome at 0 or 1": (lambda f: f.assign(score=(np.arange(30) % 5) / 4), {"family": "beta"},
                               ["'score' (data.outcome)", "is not strictly between 0 and 1", "values 0.0, 1.0",
                                "Smithson and Verkuilen"]),
    "event not 0/1": (lambda f: f.assign(score=np.arange(30) + 1.0, status=np.arange(30) % 3),
                      {"family": "weibull", "data.event": "status"}, ["'status' (data.event)", "is not 0 or 1"]),
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
    "formula call names an absent column": (lambda f: f, {"models": [{"name": "m", "formula": "score ~ I(income ** 2)"}]},
                                            ["column 'income' named in the config (models[m].formula)"]),
    # An outcome that does not vary leaves nothing to model (nutpie: "All initialization points failed")
    "constant outcome": (lambda f: f.assign(score=3.5), {}, ["'score' (data.outcome) has the same value (3.5) in all 30 rows",
                                                            "nothing to model", "Fix: check that data.outcome"]),
    "binary outcome of one category": (lambda f: f.assign(score=1), {"family": "bernoulli"},
                                       ["'score' (data.outcome) has the same value (1) in all 30 rows"]),
    "counts all zero": (lambda f: f.assign(score=0), {"family": "poisson"}, ["has the same value (0) in all 30 rows"]),
    "binomial with no failure": (lambda f: f.assign(n_items=np.arange(30) % 4 + 1, score=np.arange(30) % 4 + 1),
                                 {"family": "binomial", "data.trials": "n_items"},
                                 ["'score' (data.outcome) has no failure in any of the 30 rows", "data.trials 'n_items'"]),
    # Ordered categories named in the config (data.categories): every value one of them, each with rows
    "ordinal value not a category": (lambda f: f.assign(score=np.resize(["low", "mid", "high", "top"], 30)),
                                     {"family": "cumulative", "data.categories": ["low", "mid", "high"]},
                                     ["'score' (data.outcome): 7 row(s) where the value is not one of data.categories",
                                      "line(s) 5, 9", "values top", "Fix: add it to data.categories"]),
    "ordinal category without rows": (lambda f: f.assign(score=np.resize(["low", "high"], 30)),
                                      {"family": "cumulative", "data.categories": ["low", "mid", "high"]},
                                      ["'score' (data.outcome) has no row in the categor(ies) ['mid']",
                                       "Fix: merge them into a neighbouring category"]),
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
    "unknown family": ({"family": "exponential"}, ["family", "'normal', 'student_t', 'bernoulli'"]),
    "a link the family lacks": ({"family": "poisson", "link": "probit"},
                                ["link: the poisson family takes the link log, not 'probit'"]),
    "unknown custom model": ({"models": ["hierarchical"]}, ["custom 'hierarchical' not found", "varying_slopes"]),
    "model with both kinds": ({"models": [{"name": "m", "formula": "score ~ ses", "custom": "varying_slopes"}]},
                              ["model 'm': give exactly one of 'formula' or 'custom'"]),
    "formula does not parse": ({"models": [{"name": "m", "formula": "score ~ ses +"}]}, ["formula 'score ~ ses +' does not parse"]),
    "categories of a family that is not ordinal": ({"data.categories": ["a", "b", "c"]},
                                                   ["data.categories", "for family cumulative only"]),
    "two categories": ({"family": "cumulative", "data.categories": ["a", "b"]},
                       ["data.categories: ['a', 'b'] must name at least 3 categories"]),
    "distributional parameter the family lacks": (
        {"models": [{"name": "m", "formula": "score ~ ses", "distributional": ["phi ~ ses"]}]},
        ["models[m].distributional: the normal family has no parameter 'phi' a formula can model; it has: sigma"]),
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
    # Every candidate models data.outcome, so that PSIS-LOO compares like with like
    "formula of another outcome": ({"models": [{"name": "m", "formula": "ses ~ 1 + (1 | school)"}]},
                                   ["models[m].formula", "models 'ses'", "(data.outcome) is 'score'",
                                    "Fix: write the formula as 'score ~ ...'"]),
    "formula of a transformed outcome": ({"models": [{"name": "m", "formula": "np.log(score) ~ ses"}]},
                                         ["models 'np.log(score)'", "is 'score'"]),
    "binomial formula without its trials": ({"family": "binomial", "data.trials": "n_items",
                                             "models": [{"name": "m", "formula": "score ~ ses"}]},
                                            ["models 'score'", "is 'p(score, n_items)'", "'p(score, n_items) ~ ...'"]),
    # Formulas call only formulae's and Bambi's transforms and numpy's element-wise functions
    "formula calls an unknown function": ({"models": [{"name": "m", "formula": "score ~ frobnicate(ses) + (1 | school)"}]},
                                          ["model 'm': the term 'frobnicate(ses)' calls 'frobnicate'", "Allowed: abs, B, binary, bs, C, c,",
                                           "np.<name>", "Fix: correct the name"]),
    "formula calls into pandas": ({"models": [{"name": "m", "formula": "score ~ pd.read_csv(ses)"}]},
                                  ["calls 'pd.read_csv'"]),
    "formula calls a numpy function that is not element-wise": ({"models": [{"name": "m", "formula": "score ~ np.loadtxt(ses)"}]},
                                                                ["calls 'np.loadtxt'"]),
    # What a setting would cost, refused before anything runs (checked with the data: groups, rows)
    "draws beyond memory": ({"sampler.draws": 100_000_000},
                            ["sampler.draws 100,000,000 x sampler.chains", "GB of memory", "available",
                             "Fix: lower sampler.draws"]),
    "chains beyond memory": ({"sampler.draws": 2_000_000, "sampler.chains": 5000}, ["sampler.chains 5000", "of memory", "Fix:"]),
    "more folds than groups": ({"cross_validation.group_folds": 100_000},
                               ["cross_validation.group_folds: 100,000 folds", "'school' has 6 groups",
                                "at most 6", "leave-one-group-out"]),
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
    if raw["family"] == "binomial":  # every formula models the outcome, for binomial with its trials
        raw["models"][1]["formula"] = f"p({raw['data']['outcome']}, {raw['data']['trials']}) ~ ses"
    write_config(project, raw)
    data_path = project / "data" / "study.csv"
    change(valid_frame()).to_csv(data_path, index=False)
    run_and_check(project, expected, data_path)


def test_a_formula_with_literals_in_calls_is_accepted(project):
    """``I(ses ** 2)`` reads the column ses and the number 2 (once refused as a column '')."""
    from {{ cookiecutter.module_name }}.config import load_config
    from {{ cookiecutter.module_name }}.data.grouped import load_data

    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    raw["models"] = [{"name": "m", "formula": "score ~ ses + I(ses ** 2) + center(ses) + np.log1p(n_items) + (1 | school)"}]
    data = load_data(load_config(write_config(project, raw)))
    assert len(data.outcome) == 30


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

    from {{ cookiecutter.module_name }}.run.pipeline import NotebookFailed, Step, execute

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
    from {{ cookiecutter.module_name }}.data.grouped import load_data

    frame = valid_frame()
    frame.loc[[3, 8], "score"] = np.nan
    frame.to_csv(project / "data" / "study.csv", index=False)
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    raw["data"]["drop_missing"] = True
    data = load_data(load_config(write_config(project, raw)))
    assert len(data.outcome) == 28 and np.isfinite(data.outcome).all()


# A sweep file is shared like a config and runs no code: subsets are comparisons of columns with literals.
# id -> (subset, expected message parts)
SUBSET_CASES = {
    "pandas @ reaching os": ("@pd.io.common.os.system('touch {marker}') == 0", ["'@' refers to Python variables"]),
    "a call": ("__import__('os').system('touch {marker}') == 0", ["a call (__import__('os')", "is not allowed"]),
    "attribute access": ("ses.__class__ == 'x' or '{marker}' == ''", ["attribute access (ses.__class__)"]),
    "a method call": ("ses.abs() > 1", ["a call (ses.abs())"]),
    "arithmetic": ("ses * 2 > 1", ["arithmetic (ses * 2)"]),
    "indexing": ("school[0] == 's'", ["indexing (school[0])"]),
    "a comprehension in a list": ("school in [s for s in '{marker}']", ["'in' takes a list of literals"]),
    "a name in a list": ("school in [ses, 's1']", ["may hold only literals"]),
    "a lambda": ("(lambda: 1)() == 1", ["a call"]),
    "an absent column": ("region == 'north'", ["no column 'region' in the data", "columns: school, ses"]),
    "no row selected": ("ses > 1000", ["it selects no row"]),
    "text against a number": ("school > 3", ["cannot compare school with 3"]),
}


@pytest.mark.parametrize("case", list(SUBSET_CASES))
def test_a_sweep_subset_runs_no_code(project, case, tmp_path_factory):
    """Refused before any variant starts (no cluster, no config written for the variant), exit 1,
    naming the sweep file, the variant and what is not allowed; the marker file is never made."""
    marker = tmp_path_factory.mktemp("marker") / "ran"
    subset, expected = SUBSET_CASES[case]
    sweep_file = project / "sweeps" / "bad.yaml"
    sweep_file.parent.mkdir()
    sweep_file.write_text(yaml.safe_dump({"variants": [{"name": "north", "subset": subset.format(marker=marker)}]}))
    result = CliRunner().invoke(app, ["sweep", str(sweep_file)])
    assert result.exit_code == 1, result.output
    message = result.stderr
    for part in [str(sweep_file), "variant 'north'", "Fix: write the subset as comparisons", *expected]:
        assert part in message, f"{part!r} not in:\n{message}"
    assert not marker.exists(), "the subset ran code"
    assert not (project / "reports" / "sweeps" / "bad" / "north").exists()
    for relative, content in EARLIER.items():
        assert (project / relative).read_bytes() == content


@pytest.mark.parametrize("subset, query", [
    ("school in ['s0', 's1'] and not ses > 0", "school in ['s0', 's1'] and not ses > 0"),
    ("-0.5 < ses <= 1 or school == 's5'", "-0.5 < ses <= 1 or school == 's5'"),
    ("(school != 's3') & ~(ses < -1)", "(school != 's3') & ~(ses < -1)"),
    ("n_items == 10 and school not in ('s2',)", "n_items == 10 and school not in ('s2',)"),
])
def test_a_sweep_subset_selects_what_pandas_query_selects(subset, query):
    from {{ cookiecutter.module_name }}.run.subsets import subset_rows

    frame = valid_frame()
    selected = subset_rows(frame, subset)
    assert 0 < len(selected) < len(frame)
    pd.testing.assert_frame_equal(selected, frame.query(query))


# One run at a time on a project's outputs (run/lock.py)
HOLD_LOCK = """
import os, signal, sys, time
from pathlib import Path
from {{ cookiecutter.module_name }}.run.lock import holding_outputs
with holding_outputs(Path(sys.argv[1]), Path("config/analysis.yaml")):
    Path(sys.argv[2]).write_text(str(os.getpid()))
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(sys.argv[3]))
"""


def holder_process(folder, seconds):
    """A process holding the lock on ``folder`` (for ``seconds``, or killed with SIGKILL: "kill"), once it has it."""
    import subprocess
    import sys
    import time

    ready = folder.parent / f"holder-{seconds}"
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder), str(ready), str(seconds)])
    deadline = time.monotonic() + 60
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


def test_a_run_is_refused_while_another_holds_the_outputs(project):
    holder = holder_process(project / "artifacts", 60)
    try:
        result = CliRunner().invoke(app, ["run", "--config", str(project / "config" / "analysis.yaml")])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    for part in [str(project / "artifacts" / "run.lock"), f"the run with pid {holder.pid}, started 20",
                 "is writing this project's fits and reports", "--wait"]:
        assert part in line, line
    for relative, content in EARLIER.items():
        assert (project / relative).read_bytes() == content


def test_a_killed_runs_lock_is_taken_over_and_a_waiting_run_starts_when_the_other_ends(project):
    import time

    from {{ cookiecutter.module_name }}.run.lock import holder, holding_outputs

    folder = project / "artifacts"
    killed = holder_process(folder, "kill")
    assert killed.wait() == -9
    said = []
    with holding_outputs(folder, project / "config" / "analysis.yaml", say=said.append):
        import os

        assert holder(folder)["pid"] == os.getpid()
    assert len(said) == 1 and f"pid {killed.pid}" in said[0] and "ended without finishing" in said[0]
    assert holder(folder) is None, "the record goes with the lock"

    running = holder_process(folder, 2)
    said, started = [], time.monotonic()
    with holding_outputs(folder, project / "config" / "analysis.yaml", wait=True, say=said.append):
        assert time.monotonic() - started > 1.5, "the lock was taken before the other run (2 s) let it go"
    assert running.wait() == 0
    assert said and said[0].startswith(f"waiting for the run with pid {running.pid}")


def test_a_run_refused_just_after_another_took_the_lock_names_it(project):
    """The running one writes its record just after taking the lock: a run refused in between
    waits for the record (a killed run's stale one does not count) rather than naming "another run"."""
    import json
    import os
    import threading

    from filelock import FileLock

    from {{ cookiecutter.module_name }}.run.lock import HOLDER_NAME, LOCK_NAME, RunLocked, holding_outputs

    folder = project / "artifacts"
    folder.mkdir(exist_ok=True)
    (folder / HOLDER_NAME).write_text(json.dumps({"pid": 2**22 + 7, "started": "earlier", "config": "killed"}))
    record = {"pid": os.getpid(), "started": "now", "config": "config/analysis.yaml"}
    writes = threading.Timer(0.3, lambda: (folder / HOLDER_NAME).write_text(json.dumps(record)))
    with FileLock(folder / LOCK_NAME, timeout=0):  # another open of the file: flock conflicts with it
        writes.start()
        with pytest.raises(RunLocked, match=f"the run with pid {os.getpid()}, started now"):
            with holding_outputs(folder, project / "config" / "analysis.yaml"):
                pass
    writes.join()


def stuck_run(run, project) -> str:
    """What a run that did not end when stopped was doing: its threads' stacks (PYTHONFAULTHANDLER
    prints them on SIGABRT), or, where it has ended, the processes left in its project that hold
    its output open."""
    import signal

    import psutil

    def described(processes) -> list[str]:
        return [f"{process.pid} {process.status()} {' '.join(process.cmdline())[:160]}" for process in processes]

    if run.poll() is None:
        children = described(psutil.Process(run.pid).children(recursive=True))
        run.send_signal(signal.SIGABRT)
        _, stderr = run.communicate(timeout=30)
        threads = stderr[stderr.find("Fatal Python error"):].split("Extension modules:")[0]  # not the 3,000-character list
        return f"the run did not end within 60 s of SIGTERM; its children: {children}; its threads:\n{threads[:7000]}"
    left = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and str(project) in process.cwd():
                left.append(process)
        except psutil.Error:
            continue
    return f"the run ended ({run.returncode}) but these processes hold its output open: {described(left)}"


@pytest.mark.slow
def test_two_runs_started_together_one_runs_the_other_is_refused(project):
    """Two `run` commands at once on one project (as from two terminals): one takes the
    outputs, the other exits 1 at once naming it; the first is unharmed (stopped here, it exits
    as an interrupted run does, 130), and the earlier outputs are unchanged."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from conftest import PROJECT_ROOT

    shutil.copytree(PROJECT_ROOT / "notebooks", project / "notebooks")
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--fast", "--config",
               str(project / "config" / "analysis.yaml")]
    runs = [subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # see stuck_run
            for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while all(run.poll() is None for run in runs) and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = next(run for run in runs if run.poll() is not None)
        other = runs[1] if refused is runs[0] else runs[0]
        _, stderr = refused.communicate()
        assert refused.returncode == 1 and f"the run with pid {other.pid}" in stderr, stderr
        assert other.poll() is None, "the first run should still be running"
        other.send_signal(signal.SIGTERM)
        try:
            _, other_stderr = other.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(stuck_run(other, project))
        # A clean-up that hangs is ended by force after 30 s (run/stopping.py): that is a defect too,
        # and its message says where each thread waited.
        stuck_at = other_stderr.find("The run did not stop")
        assert other.returncode == 130 and stuck_at < 0, (other_stderr[stuck_at:] if stuck_at >= 0 else other_stderr)[:7000]
    finally:
        for run in runs:
            run.kill()
    for relative, content in EARLIER.items():
        assert (project / relative).read_bytes() == content


# Designs the data cannot identify: warned before sampling and in the report
def design_config(project, models, frame=None):
    from {{ cookiecutter.module_name }}.config import load_config
    from {{ cookiecutter.module_name }}.data.grouped import load_data

    if frame is not None:
        frame.to_csv(project / "data" / "study.csv", index=False)
    raw = yaml.safe_load((project / "config" / "analysis.yaml").read_text())
    raw["models"] = models
    config = load_config(write_config(project, raw))
    return config, load_data(config)


def test_grouping_by_a_continuous_column_is_warned(project):
    from {{ cookiecutter.module_name }}.model.design import design_warnings

    config, data = design_config(project, [{"name": "by_ses", "formula": "score ~ 1 + (1 | ses)"}])
    (warning,) = design_warnings(config, data)
    assert "model 'by_ses': the factor 'ses' has 30 levels for 30 rows" in warning
    assert "a measurement rather than a label" in warning


def test_a_varying_slope_with_one_value_per_group_is_warned(project):
    from {{ cookiecutter.module_name }}.model.design import design_warnings

    frame = valid_frame().assign(ses=np.repeat(np.arange(6.0), 5))  # one value of ses in each school
    config, data = design_config(project, [{"name": "slopes", "formula": "score ~ ses + (ses | school)"},
                                           "varying_slopes", {"name": "intercepts", "formula": "score ~ ses + (1 | school)"}],
                                 frame)
    found = design_warnings(config, data)
    assert len(found) == 2, found
    assert all("the slope of 'ses' varies by 'school', but only 0 of its 6 groups" in warning for warning in found)
    assert found[0].startswith("model 'slopes'") and found[1].startswith("model 'varying_slopes'")


def test_the_example_design_has_no_warning(config, example_data):
    from {{ cookiecutter.module_name }}.model.design import design_warnings

    assert design_warnings(config, example_data) == []


def test_design_warnings_reach_the_terminal_before_sampling_and_the_report(project, monkeypatch, capsys):
    import json

    from conftest import PROJECT_ROOT

    from {{ cookiecutter.module_name }}.run import pipeline

    design_config(project, [{"name": "by_ses", "formula": "score ~ 1 + (1 | ses)"}])
    monkeypatch.setattr(pipeline, "run_locked", lambda *args: "not run")
    assert pipeline.run_pipeline(project / "config" / "analysis.yaml", show_progress=False) == "not run"
    assert "warning: model 'by_ses': the factor 'ses' has 30 levels for 30 rows" in capsys.readouterr().err
    cells = json.loads((PROJECT_ROOT / "notebooks" / "07_report.ipynb").read_text())["cells"]
    assert any("words.callouts(problems, sensitivity, design_warnings(config, data)" in "".join(cell["source"])
               for cell in cells)


def test_a_samplers_backtrace_never_reaches_the_terminal():
    from {{ cookiecutter.module_name }}.run.pipeline import error_summary

    nutpie = ("All initialization points failed\n\nCaused by:\n    Logp function returned error: NaN\n\n"
              "Stack backtrace:\n   0: <unknown>\n   1: <unknown>\n" + "   2: <unknown>\n" * 50)
    assert error_summary(nutpie) == "All initialization points failed Caused by: Logp function returned error: NaN"
    assert len(error_summary("x" * 5000)) == 400
