"""Spatial effects (``car()``, ``model/spatial.py``): the ICAR density against PyMC's own, exact
prior draws, BYM2's scale, the formula term, recovery of known values, and North Carolina's
SIDS counts against brms."""

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import ConfigError, load_config
from {{ cookiecutter.module_name }}.data.graph import read_graph
from {{ cookiecutter.module_name }}.data.grouped import load_data
from {{ cookiecutter.module_name }}.fit.sampling import fit
from {{ cookiecutter.module_name }}.formula_syntax import spatial_term
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.spatial import car_effect, icar
from {{ cookiecutter.module_name }}.report.estimates import estimates, lookup

REAL_DATA = Path(__file__).resolve().parents[1] / "real_data"


def lattice(tmp_path, rows: int, columns: int, extra: list[str] = ()) -> tuple[Path, list[str]]:
    """A rows x columns grid of regions, neighbours sharing an edge (rook), plus ``extra`` islands."""
    name = [[f"r{i}_{j}" for j in range(columns)] for i in range(rows)]
    pairs = [(name[i][j], name[i][j + 1]) for i in range(rows) for j in range(columns - 1)]
    pairs += [(name[i][j], name[i + 1][j]) for i in range(rows - 1) for j in range(columns)]
    regions = [region for row in name for region in row] + list(extra)
    lists = pd.DataFrame({"region": regions, "neighbours": [
        " ".join([b for a, b in pairs if a == region] + [a for a, b in pairs if b == region]) for region in regions]})
    path = tmp_path / "adjacency.csv"
    lists.to_csv(path, index=False)
    return path, regions


def test_the_icar_density_is_pymcs_on_a_connected_graph(tmp_path):
    """PyMC's ``pm.ICAR`` (dense W, one global sum-to-zero) and ours (sparse pairs, one per component)
    differ only by a constant on values that sum to zero."""
    path, regions = lattice(tmp_path, 3, 4)
    graph = read_graph(path, regions, "region")
    weights = np.zeros((graph.n_regions,) * 2)
    weights[graph.edges[:, 0], graph.edges[:, 1]] = weights[graph.edges[:, 1], graph.edges[:, 0]] = 1
    with pm.Model() as model:
        ours = icar("ours", graph)
        theirs = pm.ICAR("theirs", W=weights)
    ours_logp, theirs_logp = model.compile_logp(vars=[ours]), model.compile_logp(vars=[theirs])
    rng = np.random.default_rng(1)
    values = [value - value.mean() for value in rng.normal(size=(3, graph.n_regions))]
    point = model.initial_point()
    ours_at = [ours_logp({**point, "ours": value}) for value in values]
    theirs_at = [theirs_logp({**point, "theirs": value}) for value in values]
    np.testing.assert_allclose(np.diff(ours_at), np.diff(theirs_at), rtol=1e-10)


def test_prior_draws_sum_to_zero_per_component_with_the_icar_covariance(tmp_path):
    path, regions = lattice(tmp_path, 2, 3, extra=["island"])
    graph = read_graph(path, regions, "region")
    with pm.Model():
        phi = icar("phi", graph)
    draws = pm.draw(phi, draws=40_000, random_seed=2)
    np.testing.assert_allclose(draws[:, :6].sum(axis=1), 0, atol=1e-9)
    precision = graph.precision()[:6, :6]
    expected = np.zeros((7, 7))
    expected[:6, :6], expected[6, 6] = np.linalg.pinv(precision), 1.0
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.03)


def test_bym2_effects_have_variance_sigma_squared_whatever_rho(tmp_path):
    """The scaling makes ``sigma`` the effects' sd (geometric mean over regions) for any spatial
    share; the spatial part sums to zero, so the regions' mean varies by the unstructured part's
    share only, ``sigma^2 (1 - rho) / n``."""
    path, regions = lattice(tmp_path, 5, 5)
    graph = read_graph(path, regions, "region")
    for rho in (0.1, 0.9):
        with pm.Model():
            effect = car_effect("car", graph, sigma=2.0, rho=rho, kind="bym2")
        draws = pm.draw(effect, draws=20_000, random_seed=3)
        assert np.exp(np.log(draws.var(axis=0)).mean()) == pytest.approx(4.0, rel=0.05)
        assert draws.mean(axis=1).var() == pytest.approx(4.0 * (1 - rho) / 25, rel=0.05)


@pytest.mark.parametrize(("written", "bambi", "term"), [
    ("y ~ x + car(county)", "y ~ x + (1 | county)", {"group": "county", "type": "bym2"}),
    ("y ~ car(county, type = 'icar') + x", "y ~ (1 | county) + x", {"group": "county", "type": "icar"}),
    ('y ~ car( county ,type="bym2")', "y ~ (1 | county)", {"group": "county", "type": "bym2"}),
    ("y ~ x + (1 | county)", "y ~ x + (1 | county)", None),
])
def test_a_car_term_is_bambis_group_term_that_carries_it(written, bambi, term):
    assert spatial_term(written) == (bambi, term)


@pytest.mark.parametrize(("formula", "expected"), [
    ("y ~ car(county, type = 'escar')", "types: bym2, icar"),
    ("y ~ car(county, M)", "car(region)"),
    ("y ~ car(a) + car(b)", "2 car() terms"),
])
def test_a_car_term_brms_has_and_this_does_not_is_refused(formula, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        spatial_term(formula)


def spatial_project(tmp_path, frame: pd.DataFrame, adjacency: Path | None, models: list[dict], predictors=()) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "data" / "areas.csv", index=False)
    raw = {
        "data": {"path": "data/areas.csv", "outcome": "cases", "group": "region", "predictors": list(predictors),
                 "exposure": "expected"},
        "family": "poisson", "models": models,
        "sampler": {"draws": 1000, "tune": 1000, "chains": 4, "seed": 11},
    }
    if adjacency is not None:
        raw["data"]["adjacency"] = str(adjacency)
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "analysis.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_car_without_a_graph_is_refused_naming_the_setting(tmp_path):
    frame = pd.DataFrame({"region": ["a", "b"], "cases": [1, 2], "expected": [1.0, 1.0]})
    path = spatial_project(tmp_path, frame, None, [{"name": "m", "formula": "cases ~ 1 + car(region)"}])
    with pytest.raises(ConfigError, match="data.adjacency"):
        load_config(path)


def nc_sids_project(tmp_path, models: list[dict]) -> Path:
    frame = pd.read_csv(REAL_DATA / "nc_sids.csv").assign(nw=lambda d: d.nonwhite / d.births)
    frame = frame.rename(columns={"county": "region", "sids": "cases", "births": "expected"})
    adjacency = tmp_path / "adjacency.csv"
    pd.read_csv(REAL_DATA / "nc_sids_adjacency.csv").to_csv(adjacency, index=False)
    return spatial_project(tmp_path, frame, adjacency, models, predictors=["nw"])


def test_one_region_per_row_with_spatial_effects_is_not_warned_as_unidentified(tmp_path):
    """Each county is one row: its effect is told apart from the others by its neighbours (car), or
    is the counts' overdispersion (Poisson has no residual sd); spatial_intercepts varies no slope."""
    from {{ cookiecutter.module_name }}.model.design import design_warnings

    config = load_config(nc_sids_project(tmp_path, [
        {"name": "bym2", "formula": "cases ~ 1 + nw + car(region) + offset(log(expected))"},
        {"name": "overdispersed", "formula": "cases ~ 1 + nw + (1 | region) + offset(log(expected))"},
        {"name": "custom", "custom": "spatial_intercepts"}]))
    assert design_warnings(config, load_data(config)) == []
    path = nc_sids_project(tmp_path, [{"name": "m", "formula": "cases ~ 1 + (1 | region)"}])
    path.write_text(path.read_text().replace("family: poisson", "family: normal"))  # a residual sd: warned
    normal = load_config(path)
    (warning,) = design_warnings(normal, load_data(normal))
    assert "100 levels for 100 rows" in warning


def test_a_bad_graph_stops_the_run_with_exit_1_naming_the_file_and_the_regions(tmp_path):
    from typer.testing import CliRunner

    from {{ cookiecutter.module_name }}.cli import app

    config_path = nc_sids_project(tmp_path, [
        {"name": "bym2", "formula": "cases ~ 1 + nw + car(region) + offset(log(expected))"}])
    adjacency = tmp_path / "adjacency.csv"
    pairs = pd.read_csv(adjacency)
    pairs[(pairs["county_a"] != "Ashe") & (pairs["county_b"] != "Ashe")].to_csv(adjacency, index=False)  # no Ashe
    earlier = tmp_path / "reports" / "index.html"
    earlier.parent.mkdir()
    earlier.write_text("<p>an earlier report</p>")
    result = CliRunner().invoke(app, ["run", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    assert str(adjacency) in result.stderr and "'Ashe'" in result.stderr and "column 'region'" in result.stderr
    assert "Fix:" in result.stderr and "Traceback" not in result.output
    assert earlier.read_text() == "<p>an earlier report</p>"


def test_an_edited_graph_is_fitted_again(tmp_path):
    from {{ cookiecutter.module_name }}.fingerprints import fit_key

    config = load_config(nc_sids_project(tmp_path, [
        {"name": "bym2", "formula": "cases ~ 1 + nw + car(region) + offset(log(expected))"}]))
    before = fit_key(config, "bym2", config.sampler)
    adjacency = tmp_path / "adjacency.csv"
    pd.read_csv(adjacency).iloc[:-1].to_csv(adjacency, index=False)  # one pair of neighbours fewer
    assert fit_key(config, "bym2", config.sampler) != before


def simulated_areas(tmp_path, seed: int = 7) -> tuple[pd.DataFrame, Path, dict]:
    """Disease counts on a 12 x 12 grid: BYM2 region effects (sd 0.5, spatial share 0.8), a
    region-level covariate, and expected counts 5-25 (small areas)."""
    path, regions = lattice(tmp_path, 12, 12)
    graph = read_graph(path, regions, "region")
    truth = {"(Intercept)": -0.2, "x": 0.4, "sdcar": 0.5, "rhocar": 0.8}
    with pm.Model():
        effect = car_effect("car", graph, sigma=truth["sdcar"], rho=truth["rhocar"], kind="bym2")
    rng = np.random.default_rng(seed)
    effects = pm.draw(effect, random_seed=seed)
    x, expected = rng.normal(size=len(regions)), rng.uniform(5, 25, size=len(regions))
    rate = np.exp(truth["(Intercept)"] + truth["x"] * x + effects)
    frame = pd.DataFrame({"region": regions, "x": x, "expected": expected, "cases": rng.poisson(expected * rate)})
    return frame, path, truth


@pytest.mark.slow
def test_known_spatial_effects_are_recovered_by_the_formula_and_the_custom_model(tmp_path):
    frame, adjacency, truth = simulated_areas(tmp_path)
    config = load_config(spatial_project(tmp_path, frame, adjacency, [
        {"name": "formula", "formula": "cases ~ 1 + x + car(region) + offset(log(expected))"},
        {"name": "custom", "custom": "spatial_intercepts"},
    ], predictors=["x"]))
    data = load_data(config)
    for name in ("formula", "custom"):
        table = estimates(fit(build_model(config, name, data), config.sampler), name, "region")
        for term, value in truth.items():
            row = lookup(table, term, "region" if term.endswith("car") else "")
            assert row["conf.low"] <= value <= row["conf.high"], (name, term, row.to_dict())
        # BYM2's spatial share mixes slowly: bulk ESS 220-270 of 4 x 1000 draws for rhocar here, its R-hat 1.011-1.022
        # over simulated data sets, the custom model's sdcar's up to 1.012 (the report flags them at the project's
        # 1.01); the chains agree as test_real_data.py asks (1.05)
        slow = table["term"] == "rhocar"
        assert (table.loc[~slow, "rhat"] < 1.02).all() and (table.loc[slow, "rhat"] < 1.05).all(), table
        assert (table.loc[~slow, "ess_bulk"] > 400).all() and (table.loc[slow, "ess_bulk"] > 150).all(), table


# North Carolina's sudden infant deaths of 1974-78 by county (Cressie 1993; spData's nc.sids with
# its ncCR85.nb neighbours: 100 counties, 246 pairs), births as the exposure and the share of
# non-white births as the covariate, as brms 2.18.0 (R 4.2.2, 4 chains x 2000 draws) fits
#   brm(sids ~ 1 + nw + car(W, gr = county, type = "bym2") + offset(log(births)), family = poisson())
# posterior mean (sd); its sdcar prior is student_t(3, 0, 2.5), ours Bambi's HalfNormal scaled to the data.
NC_SIDS_BRMS = {("(Intercept)", ""): (-6.886894, 0.1274817), ("nw", ""): (1.971860, 0.3339510),
                ("sdcar", "county"): (0.2750500, 0.07625152), ("rhocar", "county"): (0.4427466, 0.2697094)}


@pytest.mark.slow
def test_north_carolina_sids_counts_match_brms(tmp_path):
    config = load_config(nc_sids_project(tmp_path, [
        {"name": "bym2", "formula": "cases ~ 1 + nw + car(region) + offset(log(expected))"}]))
    table = estimates(fit(build_model(config, "bym2", load_data(config)), config.sampler), "bym2", "region")
    for (term, group), (mean, sd) in NC_SIDS_BRMS.items():
        row = lookup(table, term, "region" if group else "")
        print(f"NC SIDS | {term} | brms {mean:.4g} ({sd:.2g}) | ours {row['estimate']:.4g} ({row['std.error']:.2g})")
        assert abs(row["estimate"] - mean) <= 0.25 * sd, (term, row.to_dict())
        assert row["std.error"] == pytest.approx(sd, rel=0.2), (term, row.to_dict())


@pytest.mark.slow
def test_spatial_models_run_the_pipeline(tmp_path):
    """North Carolina's counties through every notebook: the prior predictive check draws the ICAR
    exactly, the regions are left out in folds, and the report and estimates.csv name sdcar and rhocar."""
    from conftest import copy_project

    from {{ cookiecutter.module_name }}.run.pipeline import run_pipeline

    config_path = copy_project(tmp_path)
    (tmp_path / "nc").mkdir()
    nc_sids_project(tmp_path / "nc", [])  # writes the data and the graph
    (tmp_path / "nc" / "data" / "areas.csv").replace(tmp_path / "data" / "areas.csv")
    (tmp_path / "nc" / "adjacency.csv").replace(tmp_path / "data" / "adjacency.csv")
    raw = yaml.safe_load(config_path.read_text())
    models = [{"name": "bym2", "formula": "cases ~ 1 + nw + car(region) + offset(log(expected))"},
              {"name": "spatial", "custom": "spatial_intercepts"}]
    raw.update(data={"path": "data/areas.csv", "outcome": "cases", "group": "region", "predictors": ["nw"],
                     "exposure": "expected", "adjacency": "data/adjacency.csv"},
               family="poisson", models=models, primary="bym2", fast={"draws": 200, "tune": 200, "chains": 2})
    raw["priors"] = {}
    raw["cross_validation"].update(group_folds=2, max_refits=0)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    run_pipeline(config_path, fast=True, show_progress=False)
    config = load_config(config_path)
    table = pd.read_csv(config.reports_dir / "estimates.csv", keep_default_na=False)
    for model in ("bym2", "spatial"):
        assert {"(Intercept)", "nw", "sdcar", "rhocar"} <= set(table[table["model"] == model]["term"]), table
    report = (config.reports_dir / "07_report.html").read_text()
    assert "rhocar" in report and "sdcar" in report
