from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }}.config import ConfigError, load_config
from {{ cookiecutter.module_name }}.models import MODELS


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
    assert set(config.models) <= set(MODELS)
    assert config.data_path.is_file()
    assert config.fit_path("no_pooling") == config.root / "artifacts" / "fits" / "no_pooling.nc"


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
        ({"priors__group_sd__sigma": 0}, "priors.group_sd.sigma"),
        ({"models": ["varying_slopes", "hierarchical"]}, "unknown model(s) ['hierarchical']"),
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
