from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }}.config import ConfigError, load_config


def write_config(tmp_path: Path, source: Path, **changes) -> Path:
    raw = yaml.safe_load(source.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = raw
        for parent in parents:
            node = node[parent]
        node[key] = value
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_config_is_valid(config):
    assert config.primary_model == "varying_slopes"
    assert config.model("varying_slopes").kind == "custom"
    assert {spec.kind for spec in config.models} == {"custom", "formula"}
    assert config.data_path.is_file()
    assert config.fit_path("complete_pooling") == config.root / "artifacts" / "fits" / "complete_pooling.nc"


def test_fast_settings_override_only_draws_tune_chains(config):
    fast = config.sampler_settings(fast=True)
    assert (fast.draws, fast.tune, fast.chains) == (config.fast.draws, config.fast.tune, config.fast.chains)
    assert fast.seed == config.sampler.seed and fast.engine == config.sampler.engine
    assert config.sampler_settings(fast=False) == config.sampler


def test_relative_paths_resolve_against_the_project_folder(config, tmp_path):
    path = write_config(tmp_path, config.root / "config" / "analysis.yaml")
    assert load_config(path).data_path == tmp_path / "data" / "example" / "schools.csv"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sampler__draws": -5}, "sampler.draws"),
        ({"priors": {"group_sd": {"intercept": 0} } }, "priors.group_sd.intercept"),
        ({"models": ["varying_slopes", "hierarchical"]}, "custom 'hierarchical' not found"),
        ({"models": [{"name": "m", "formula": "score ~ ses +"}]}, "formula 'score ~ ses +' does not parse"),
        ({"models": [{"name": "m"}]}, "give exactly one of 'formula' or 'custom'"),
        ({"models": [{"name": "m", "formula": "score ~ ses", "custom": "varying_slopes"}]}, "exactly one of"),
        ({"models": ["varying_slopes", "varying_slopes"]}, "names must be unique"),
        ({"family": "exponential"}, "family"),
        ({"family": "binomial", "data__trials": None}, "data.trials: the binomial family needs"),
        ({"parameterization": "sideways"}, "parameterization"),
        ({"priors": {"nu": {"alpha": -1, "beta": 1} } }, "priors.nu.alpha"),
        ({"sampler__engine": "stan"}, "sampler.engine"),
        ({"data__colour": "red"}, "data.colour"),
    ],
)
def test_invalid_config_names_the_key(config, tmp_path, changes, expected):
    path = write_config(tmp_path, config.root / "config" / "analysis.yaml", **changes)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_model_shorthand_and_dotted_custom_paths(config, tmp_path):
    models = ["varying_slopes", {"name": "lkj", "custom": "{{ cookiecutter.module_name }}.models.correlated_slopes"}]
    loaded = load_config(write_config(tmp_path, config.root / "config" / "analysis.yaml", models=models))
    assert [spec.name for spec in loaded.models] == ["varying_slopes", "lkj"]
    assert loaded.model("varying_slopes").custom == "varying_slopes"
    assert loaded.primary_model == "varying_slopes"


def test_model_family_overrides_the_default(config, tmp_path):
    models = [{"name": "robust", "custom": "varying_slopes", "family": "student_t"}, "varying_slopes"]
    loaded = load_config(write_config(tmp_path, config.root / "config" / "analysis.yaml", models=models, family="normal"))
    assert loaded.family_of("robust") == "student_t"
    assert loaded.family_of("varying_slopes") == "normal"
