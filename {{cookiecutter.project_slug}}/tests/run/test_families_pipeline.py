"""The families no example outcome type holds, through the whole pipeline, custom and formula:
positive amounts (Student-t, gamma, lognormal, Weibull without censoring, a normal model
whose residual sd varies by group) and proportions strictly between 0 and 1 (beta). The
template's CI runs every other family beside the example of its outcome type."""

import pandas as pd
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.simulate import simulate_grouped
from {{ cookiecutter.module_name }}.report.estimates import COLUMNS
from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline
from conftest import copy_project

SLOPES = {"mu_alpha": 0.5, "tau_alpha": 0.4, "mu_beta": 0.2, "tau_beta": 0.1}
FORMULA = "y ~ x + (1 | group)"
# data simulated by family -> its hyperparameters and the candidate models run on it
CASES = {
    "gamma": ({"shape": 4.0}, [
        *(model for family in ("gamma", "student_t", "lognormal", "weibull") for model in (
            {"name": family, "custom": "varying_slopes", "family": family},
            {"name": f"{family}_formula", "formula": FORMULA, "family": family})),
        {"name": "spread", "formula": FORMULA, "family": "normal", "distributional": ["sigma ~ (1 | group)"]},
    ]),
    "beta": ({"phi": 20.0}, [
        {"name": "beta", "custom": "varying_slopes", "family": "beta"},
        {"name": "beta_formula", "formula": FORMULA, "family": "beta", "distributional": ["phi ~ (1 | group)"]},
    ]),
}


@pytest.mark.slow
@pytest.mark.parametrize("simulated", list(CASES))
def test_every_family_runs_the_pipeline(simulated, tmp_path):
    hyperparameters, models = CASES[simulated]
    frame, _ = simulate_grouped(simulated, {**SLOPES, **hyperparameters}, n_groups=12, min_size=8, max_size=20, seed=3)
    config_path = copy_project(tmp_path)
    frame.to_csv(tmp_path / "data" / "simulated.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    raw.update(data={"path": "data/simulated.csv", "outcome": "y", "group": "group", "predictors": ["x"]},
               models=models, primary=models[0]["name"], fast={"draws": 200, "tune": 200, "chains": 2})
    raw["cross_validation"].update(group_folds=0, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    index = run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    estimates = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    assert list(estimates.columns) == COLUMNS
    assert set(estimates["model"]) == {model["name"] for model in models}
    for model in models:
        assert config.fit_path(model["name"]).is_file()
        assert (estimates[estimates["model"] == model["name"]]["term"] == "x").any()
    if "distributional" in models[-1]:
        own = models[-1]["distributional"][0].split(" ")[0]
        assert f"{own}_(Intercept)" in set(estimates["term"])
    report = (config.reports_dir / "07_report.html").read_text()
    assert f"family {models[0]['family']});" in report and index.is_file()
