"""Random walks over time (``rw()``, ``model/temporal.py``): exact prior draws, the formula term,
the time columns refused, recovery of known values, and the Nile's flow against brms."""

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.data.timeline import timeline
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.formula_syntax import temporal_term
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.temporal import rw_effect
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

REAL_DATA = Path(__file__).resolve().parents[1] / "real_data"


def structure(line) -> np.ndarray:
    """The walk's precision ``D^T D`` (unit sd), dense, from its differences."""
    index, coefficients = line.differences
    d = np.zeros((len(index), line.n_levels))
    for row, (columns, values) in enumerate(zip(index, coefficients)):
        d[row, columns] += values
    return d.T @ d


@pytest.mark.parametrize(("times", "series", "order"), [
    ([0, 1, 2, 4, 5, 6], None, 1),              # a gap: that step's variance is 2
    ([0, 1, 2, 3, 4, 5, 6], None, 2),
    ([0, 1, 2, 3, 0, 1, 2], ["a"] * 4 + ["b"] * 3, 2),  # a walk per series
])
def test_prior_draws_have_the_walks_covariance_and_its_constraints(times, series, order):
    """The draws' covariance is the generalised inverse of the walk's precision (the intrinsic
    GMRF with its level, and for RW2 its slope, removed per series), as Rue and Held (2005) define it."""
    frame = pd.DataFrame({"t": times, "g": series or ["s"] * len(times)})
    labels = (frame.g + ":" + frame.t.astype(str)).tolist() if series else frame.t.astype(str).tolist()
    line = timeline(labels, frame, "t", "g" if series else None, order, "data.csv")
    with pm.Model():
        effect = rw_effect("rw", line, sigma=2.0)
    draws = pm.draw(effect, draws=40_000, random_seed=5)
    for code in np.unique(line.series):
        members = line.series == code
        np.testing.assert_allclose(draws[:, members].sum(axis=1), 0, atol=1e-9)
        if order == 2:
            np.testing.assert_allclose(draws[:, members] @ (line.time[members] - line.time[members].mean()), 0, atol=1e-8)
    expected = 4.0 * np.linalg.pinv(structure(line))
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.06 * np.abs(expected).max())


@pytest.mark.parametrize(("written", "bambi", "term"), [
    ("y ~ 1 + rw(year)", "y ~ 1 + (1 | year)", {"time": "year", "group": None, "type": "rw1"}),
    ('y ~ x + rw(week, type = "rw2")', "y ~ x + (1 | week)", {"time": "week", "group": None, "type": "rw2"}),
    ("y ~ rw(year, gr = county) + (1 | county)", "y ~ (1 | county:year) + (1 | county)",
     {"time": "year", "group": "county", "type": "rw1"}),
    ("y ~ rw(t, gr = g, type = 'rw2')", "y ~ (1 | g:t)", {"time": "t", "group": "g", "type": "rw2"}),
])
def test_an_rw_term_is_bambis_group_term_that_carries_it(written, bambi, term):
    assert temporal_term(written) == (bambi, term)


@pytest.mark.parametrize(("formula", "expected"), [
    ('y ~ rw(year, type = "rw3")', "types: rw1, rw2"),
    ("y ~ rw(year, by = county)", "rw(time, gr = group)"),
    ("y ~ rw(year) + rw(week)", "2 rw() terms"),
])
def test_an_rw_term_this_does_not_have_is_refused(formula, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        temporal_term(formula)


def series_project(tmp_path, frame: pd.DataFrame, models: list[dict], outcome: str = "y", group: str = "year",
                   predictors=()) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "data" / "series.csv", index=False)
    sampler = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 11}
    raw = {"data": {"path": "data/series.csv", "outcome": outcome, "group": group, "predictors": list(predictors)},
           "family": "normal", "models": models, "sampler": sampler}
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def nile_project(tmp_path, models: list[dict]) -> Path:
    return series_project(tmp_path, pd.read_csv(REAL_DATA / "nile.csv"), models, outcome="flow")


def test_one_time_per_row_with_a_walk_is_not_warned_as_unidentified(tmp_path):
    from {{ cookiecutter.module_name }}.model.design import design_warnings

    config = load_config(nile_project(tmp_path, [{"name": "rw1", "formula": "flow ~ 1 + rw(year)"},
                                                  {"name": "trend", "custom": "trend_intercepts"}]))
    assert design_warnings(config, load_data(config)) == []


def test_uneven_times_for_rw2_stop_the_run_with_exit_1_naming_the_file_and_the_gap(tmp_path):
    from typer.testing import CliRunner

    from {{ cookiecutter.module_name }}.cli import app

    frame = pd.read_csv(REAL_DATA / "nile.csv").query("year != 1900")
    config_path = series_project(tmp_path, frame, [{"name": "m", "formula": 'flow ~ 1 + year + rw(year, type = "rw2")'}],
                                 outcome="flow")
    result = CliRunner().invoke(app, ["run", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    assert "series.csv" in result.stderr and "column 'year'" in result.stderr and "from 1899 to 1901" in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
def test_known_walks_are_recovered_per_group_and_as_a_smooth_trend(tmp_path):
    """Eight sites, 30 weeks each (two weeks missing at one site): a walk per site (RW1, step sd
    0.3) around a common slope; and one RW2 trend over 100 weeks (second differences of sd 0.05)."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame([(site, week) for site in "abcdefgh" for week in range(30)], columns=["site", "week"])
    frame = frame[~((frame.site == "c") & frame.week.isin([10, 11]))].reset_index(drop=True)
    truth = {"(Intercept)": 1.0, "x": 0.5, "sdrw": 0.3, "sd__Observation": 0.4}
    line = timeline((frame.site + ":" + frame.week.astype(str)).tolist(), frame, "week", "site", 1, "data.csv")
    with pm.Model():
        effect = rw_effect("rw", line, sigma=truth["sdrw"])
    frame["x"] = rng.normal(size=len(frame))
    frame["y"] = (truth["(Intercept)"] + truth["x"] * frame.x + pm.draw(effect, random_seed=4)
                  + rng.normal(0, truth["sd__Observation"], len(frame)))
    config = load_config(series_project(tmp_path, frame, [
        {"name": "walks", "formula": "y ~ 1 + x + rw(week, gr = site)"}], group="site", predictors=["x"]))
    table = estimates(fit(build_model(config, "walks", load_data(config)), config.sampler), "walks", "site")
    for term, value in truth.items():
        row = lookup(table, term, {"sdrw": "site:week", "sd__Observation": "Residual"}.get(term, ""))
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    assert (table["rhat"] < 1.01).all() and (table["ess_bulk"] > 400).all(), table

    weeks = pd.DataFrame({"week": np.arange(100), "site": np.repeat(["a", "b"], 50)})
    line = timeline(weeks.week.astype(str).tolist(), weeks, "week", None, 2, "data.csv")
    with pm.Model():
        trend = rw_effect("rw", line, sigma=0.05)
    true_trend = pm.draw(trend, random_seed=6)
    weeks["y"] = 2.0 + 0.02 * weeks.week + true_trend + rng.normal(0, 0.1, len(weeks))
    config = load_config(series_project(tmp_path, weeks, [
        {"name": "smooth", "formula": 'y ~ 1 + week + rw(week, type = "rw2")'}], group="site"))
    fitted = fit(build_model(config, "smooth", load_data(config)), config.sampler)
    table = estimates(fitted, "smooth", "site")
    for term, group, value in [("week", "", 0.02), ("sd__Observation", "Residual", 0.1)]:
        row = lookup(table, term, group)
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    # An RW2's sd is weakly identified under noise twice its steps: over five simulated data sets its
    # 94% interval held the true 0.05 three times (estimates 0.034-0.086), so within 3 posterior sds here
    row = lookup(table, "sdrw", "week")
    assert abs(row["estimate"] - 0.05) < 3 * row["std.error"], row.to_dict()
    curve = fitted.posterior["1|week"].mean(("chain", "draw")).to_numpy()  # levels in the order of the weeks
    assert np.corrcoef(curve, true_trend)[0, 1] > 0.9
    assert (table["rhat"] < 1.02).all(), table


# The Nile's yearly flow at Aswan, 1871-1970 (R's datasets::Nile, 10^8 m^3): the local-level model
# of Durbin and Koopman (2012, ch. 2), whose maximum-likelihood sds are 122.9 (observation) and
# 38.3 (level step). The same model in brms 2.18.0 (R 4.2.2; 4 chains x 4000 draws), an ICAR on
# the chain of years, with our default priors written out (Bambi's, scaled to the data):
#   brm(flow ~ 1 + car(W, gr = year, type = "icar"), prior = c(prior(normal(919.35, 420.9481), class = Intercept),
#       prior(normal(0, 420.9481), class = sdcar), prior(student_t(4, 0, 168.3792), class = sigma)))
# posterior mean (sd); sdcar is sdrw, the sd of a year's step. brms hit its maximum tree depth in 10,290 of
# 16,000 transitions, bulk ESS 667 for sdcar; ours samples the walk's steps (model/temporal.py), ESS 350-460 of 4,000:
NILE_BRMS = {("(Intercept)", ""): (919.48915, 12.19033), ("sdrw", "year"): (44.82513, 16.32406),
             ("sd__Observation", "Residual"): (121.49131, 12.64515)}


@pytest.mark.slow
@pytest.mark.parametrize("model", [{"name": "rw1", "formula": "flow ~ 1 + rw(year)"},
                                   {"name": "trend", "custom": "trend_intercepts"}])
def test_the_nile_s_flow_matches_brms_local_level_model(tmp_path, model):
    config = load_config(nile_project(tmp_path, [model]))
    table = estimates(fit(build_model(config, model["name"], load_data(config)), config.sampler), model["name"], "year")
    for (term, group), (mean, sd) in NILE_BRMS.items():
        row = lookup(table, term, group)
        print(f"Nile | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())
    # the maximum-likelihood estimates (Durbin and Koopman) lie inside the 94% intervals
    for term, group, value in [("sdrw", "year", 38.3), ("sd__Observation", "Residual", 122.9)]:
        row = lookup(table, term, group)
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())


def test_time_block_folds_hold_out_consecutive_times():
    from {{ cookiecutter.module_name }}.evaluate.crossval import time_block_folds

    folds = time_block_folds(["1999", "2001", "2000", "2003", "2002", "2004"], 3)
    assert folds.tolist() == [0, 1, 0, 2, 1, 2]  # 1999-2000, 2001-2002, 2003-2004


@pytest.mark.slow
def test_walks_run_the_pipeline_with_folds_of_consecutive_years(tmp_path):
    """The Nile through every notebook: the prior predictive check draws the walks, the years are
    left out in blocks, and the report and estimates.csv name sdrw."""
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    pd.read_csv(REAL_DATA / "nile.csv").to_csv(tmp_path / "data" / "nile.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "level", "formula": "flow ~ 1 + rw(year)"},
              {"name": "smooth", "formula": 'flow ~ 1 + year + rw(year, type = "rw2")'},
              {"name": "trend", "custom": "trend_intercepts"}]
    raw.update(data={"path": "data/nile.csv", "outcome": "flow", "group": "year", "predictors": []},
               family="normal", models=models, primary="level", fast={"draws": 200, "tune": 200, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=4, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    for model in ("level", "smooth", "trend"):
        assert {"(Intercept)", "sdrw", "sd__Observation"} <= set(table[table["model"] == model]["term"]), table
    folds = load_fit(config.fit_path("level"))["leave_groups_out"]["fold"].to_series()
    assert folds.sort_index(key=lambda years: years.astype(int)).is_monotonic_increasing  # blocks of years
    assert "sdrw" in (config.reports_dir / "07_report.html").read_text()
