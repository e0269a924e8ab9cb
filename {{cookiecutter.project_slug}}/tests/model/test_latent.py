"""A latent trait measured by several items: the custom 2PL model (``models.item_response``),
known abilities and item parameters recovered, and VerbAgg against brms."""

import numpy as np
import pandas as pd
import pytest
from test_temporal import series_project

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.models import ITEM_COLUMN
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

pytestmark = pytest.mark.slow  # each test samples a 2PL model

MODEL = {"name": "twopl", "custom": "item_response"}


def two_pl_project(tmp_path, frame: pd.DataFrame, outcome: str, person: str):
    path = series_project(tmp_path, frame, [MODEL], outcome=outcome, group=person)
    # The abilities' mean and the typical difficulty trade off (only the abilities' prior places
    # them): a slow direction for NUTS, given twice the default draws and tuning here.
    path.write_text(path.read_text().replace("family: normal", "family: bernoulli")
                    .replace("draws: 1000", "draws: 2000").replace("tune: 1000", "tune: 2000"))
    return load_config(path)


def interval(draws: np.ndarray, prob: float = 0.94) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0))


def test_known_abilities_difficulties_and_discriminations_are_recovered(tmp_path):
    rng = np.random.default_rng(3)
    n_people, n_items = 250, 12
    ability = rng.normal(0, 1, n_people)
    difficulty = np.linspace(-1.5, 1.5, n_items)
    discrimination = np.exp(rng.normal(0.2, 0.3, n_items))
    person, item = np.meshgrid(np.arange(n_people), np.arange(n_items), indexing="ij")
    chance = 1 / (1 + np.exp(-discrimination[item] * (ability[person] - difficulty[item])))
    frame = pd.DataFrame({"person": person.ravel(), ITEM_COLUMN: [f"q{k:02d}" for k in item.ravel()],
                          "answer": rng.binomial(1, chance.ravel())})
    config = two_pl_project(tmp_path, frame, "answer", "person")
    result = fit(build_model(config, "twopl", load_data(config)), config.sampler)
    posterior = result.posterior.to_dataset().stack(sample=("chain", "draw"))
    for name, truth in (("difficulty", difficulty), ("discrimination", discrimination)):
        draws = posterior[name].transpose("sample", "item").values
        low, high = interval(draws)
        assert np.sum((low <= truth) & (truth <= high)) >= n_items - 2, (name, low, high, truth)
    abilities = posterior["theta"].transpose("sample", "person").values.mean(axis=0)
    assert np.corrcoef(abilities, ability)[0, 1] > 0.85
    table = estimates(result, "twopl", "person")
    assert set(table["term"]) == {"mu_difficulty", "sd_difficulty", "mu_log_discrimination", "sd_log_discrimination"}
    row = lookup(table, "mu_difficulty", "")
    assert row["conf.low"] <= difficulty.mean() <= row["conf.high"]
    assert (table["rhat"] < 1.02).all(), table
