import numpy as np
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.data.simulate import load_truth
from {{ cookiecutter.module_name }}.report.summary import file_sha256, population_parameters, population_table, provenance, shrinkage_table


def test_population_table_lists_hyperparameters_with_intervals(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    assert set(population_parameters(example_fit, "school")) == set(truth["hyperparameters"])
    table = population_table(example_fit, "school", ci_prob=0.9)
    assert {"mean", "sd", "eti90_lb", "eti90_ub"} <= set(table.columns)
    assert (table["eti90_lb"] < table["eti90_ub"]).all()


def test_small_groups_are_shrunk_more_than_large_ones(example_fit, example_data):
    table = shrinkage_table(example_fit, example_data)
    population_mean = (table["raw_mean"] * table["n"]).sum() / table["n"].sum()
    moved = (table["raw_mean"] - table["estimate"]).abs()
    distance = (table["raw_mean"] - population_mean).abs()
    share_moved = moved / distance
    small, large = table["n"] < 10, table["n"] >= 40
    assert small.any() and large.any()
    assert share_moved[small].median() > share_moved[large].median()


def test_provenance_records_hashes_seed_and_versions(config, example_fit):
    config_path = config.root / "config" / "analysis.yaml"
    record = provenance(config, config_path, {"varying_slopes": example_fit})
    assert record["data_sha256"] == file_sha256(config.data_path)
    assert len(record["data_sha256"]) == 64
    assert record["seed"] == config.sampler.seed
    assert {"python", "pymc", "arviz"} <= set(record["versions"])
    assert record["sampler_settings"]["varying_slopes"]["draws"] == 500  # settings, not a JSON string
    assert record["config_file"] == "config/analysis.yaml"  # the project's path, not the machine's
    assert not any(str(config.root.resolve()) in str(value) for value in record.values())


def test_formula_model_population_parameters_exclude_group_effects():
    import numpy as np
    import xarray as xr

    posterior = xr.Dataset({
        "Intercept": (("chain", "draw"), np.zeros((1, 2))),
        "1|school_sigma": (("chain", "draw"), np.ones((1, 2))),
        "1|school": (("chain", "draw", "school__factor_dim"), np.zeros((1, 2, 3))),
        "1|school_offset": (("chain", "draw", "school__factor_dim"), np.zeros((1, 2, 3))),
        # hsgp(x, by=g): the curves' amplitude and length scale are the population's; the basis weights are not
        "gp_x_by_g_sigma": (("chain", "draw"), np.ones((1, 2))),
        "gp_x_by_g_weights": (("chain", "draw", "gp_x_by_g_weights_dim", "gp_x_by_g_by"), np.zeros((1, 2, 10, 3))),
        "gp_x_by_g_weights_raw": (("chain", "draw", "gp_x_by_g_weights_dim", "gp_x_by_g_by"), np.zeros((1, 2, 10, 3))),
    })
    tree = xr.DataTree.from_dict({"posterior": posterior})
    assert population_parameters(tree, "school") == ["Intercept", "1|school_sigma", "gp_x_by_g_sigma"]


def test_group_effects_are_each_groups_intercept_relative_to_the_population(example_fit, example_data):
    from {{ cookiecutter.module_name }}.report.summary import group_effects

    effects = group_effects(example_fit, "school", ci_prob=0.9)
    assert len(effects) == len(example_data.groups) and effects["effect"].is_monotonic_decreasing
    expected = (example_fit.posterior["alpha"] - example_fit.posterior["mu_alpha"]).mean(("chain", "draw"))
    np.testing.assert_allclose(effects.loc[example_data.groups, "effect"], expected.sel(school=example_data.groups))
    assert (effects["lower"] < effects["effect"]).all() and (effects["effect"] < effects["upper"]).all()
    assert effects["differs"].tolist() == ((effects["lower"] > 0) | (effects["upper"] < 0)).tolist()


def test_group_effects_of_a_formula_fit_are_bambis_group_intercepts():
    from {{ cookiecutter.module_name }}.report.summary import group_effects

    draws = np.random.default_rng(0).normal([[[3.0, 0.0, -3.0]]], 1.0, size=(2, 500, 3))
    fit_data = xr.DataTree.from_dict({"posterior": xr.Dataset(
        {"1|g": (("chain", "draw", "g__factor_dim"), draws)}, coords={"g__factor_dim": ["a", "b", "c"]})})
    effects = group_effects(fit_data, "g", ci_prob=0.94)
    assert effects.index.tolist() == ["a", "b", "c"] and effects["differs"].tolist() == [True, False, True]


def test_summary_in_words_states_the_between_group_variation(example_fit, config):
    from {{ cookiecutter.module_name }}.report.estimates import estimates
    from {{ cookiecutter.module_name }}.report.summary import group_effects, summary_in_words

    table = estimates(example_fit, "varying_slopes", "school", 0.94)
    effects = group_effects(example_fit, "school", 0.94)
    text = summary_in_words(table, effects, config.family, "score", "school", 0.94)
    tau = float(example_fit.posterior["tau_alpha"].mean())
    assert f"between-group sd of the intercept is {tau:.3g}" in text
    assert f"{int(effects['differs'].sum())} of 40 groups" in text
    if config.family == "normal":
        sigma = float(example_fit.posterior["sigma"].mean())
        assert f"About {tau**2 / (tau**2 + sigma**2) * 100:.0f}% of the variance of score" in text


def test_data_description_states_group_sizes_once_when_equal(example_data):
    from dataclasses import replace

    from {{ cookiecutter.module_name }}.report.summary import data_description

    sizes = np.bincount(example_data.group_codes)
    assert sizes.min() < sizes.max()
    assert data_description(example_data) == (
        f"{len(example_data.outcome)} observations of **score** in 40 groups (**school**), "
        f"{sizes.min()} to {sizes.max()} per group. Predictors (in their own units): ses.")

    balanced = replace(example_data, outcome=example_data.outcome[:400], group_codes=np.arange(400) % 40,
                       predictors=example_data.predictors[:400, :0], coords={**example_data.coords, "predictor": []})
    assert data_description(balanced) == "400 observations of **score** in 40 groups (**school**), 10 per group."

    with_group_level = replace(example_data, coords={**example_data.coords, "group_predictor": ["mean_ses"]})
    assert data_description(with_group_level).endswith(
        "Predictors (in their own units): ses. Group-level predictors (one value per group): mean_ses.")


def test_truth_model_is_the_reported_model_if_it_names_the_truth_else_the_first_that_does():
    from {{ cookiecutter.module_name }}.report.summary import truth_model

    def fit_with(*names):
        return xr.DataTree.from_dict({"posterior": xr.Dataset({name: ("draw", np.zeros(2)) for name in names})})

    fits = {"pooled": fit_with("Intercept"), "slopes": fit_with("mu_alpha", "tau_alpha"), "intercepts": fit_with("mu_alpha")}
    truth = {"hyperparameters": {"mu_alpha": 0.0, "tau_alpha": 1.0} }
    assert truth_model(truth, "intercepts", fits) == "intercepts"
    assert truth_model(truth, "pooled", fits) == "slopes"
    assert truth_model({"hyperparameters": {"sigma": 1.0} }, "pooled", fits) is None


def test_the_share_between_groups_of_a_binary_outcome_uses_its_link_s_latent_variance():
    """pi^2/3 on the logit scale, 1 on the probit scale (no residual sd to compare with)."""
    import pandas as pd

    from {{ cookiecutter.module_name }}.report.summary import summary_in_words

    table = pd.DataFrame({"model": ["m"], "effect": ["ran_pars"], "group": ["school"], "term": ["sd__(Intercept)"],
                          "estimate": [1.0], "std.error": [0.1], "conf.low": [0.8], "conf.high": [1.2]})
    logit = summary_in_words(table, None, "bernoulli", "passed", "school", 0.94)
    probit = summary_in_words(table, None, "bernoulli_probit", "passed", "school", 0.94)
    assert f"About {100 / (1 + np.pi**2 / 3):.0f}% of the variance" in logit and "logistic latent variance, pi^2/3" in logit
    assert "About 50% of the variance" in probit and "the probit's latent variance, 1)" in probit


def test_item_parameters_are_each_item_s_difficulty_and_discrimination_easiest_first():
    from {{ cookiecutter.module_name }}.report import words
    from {{ cookiecutter.module_name }}.report.figures import item_curves
    from {{ cookiecutter.module_name }}.report.summary import item_parameters

    rng = np.random.default_rng(1)
    difficulty = rng.normal([[[1.0, -2.0, 0.0]]], 0.1, size=(2, 400, 3))
    discrimination = rng.normal([[[0.5, 1.0, 2.0]]], 0.05, size=(2, 400, 3))
    coords = {"item": ["q1", "q2", "q3"], "person": ["p1", "p2"]}
    fit_data = xr.DataTree.from_dict({"posterior": xr.Dataset(
        {"difficulty": (("chain", "draw", "item"), difficulty), "discrimination": (("chain", "draw", "item"), discrimination),
         "theta": (("chain", "draw", "person"), np.zeros((2, 400, 2)))}, coords=coords)})
    items = item_parameters(fit_data, 0.9)
    assert items.index.tolist() == ["q2", "q3", "q1"]  # by difficulty
    np.testing.assert_allclose(items.loc[["q1", "q2", "q3"], "difficulty"], difficulty.mean(axis=(0, 1)))
    low, high = np.quantile(discrimination[..., 2], [0.05, 0.95])
    assert items.loc["q3", ["discrimination low", "discrimination high"]].tolist() == pytest.approx([low, high])
    text = words.items_section(items, "person", 0.9)
    assert "easiest item is **q2**" in text and "hardest **q1**" in text
    assert "most discriminating **q3**" in text and "the least **q1**" in text and "90% intervals" in text
    ax = item_curves(items)
    assert len(ax.lines) == 3 + 1  # a curve per item, and the line at one half
    crossing = [np.interp(0.5, line.get_ydata(), line.get_xdata()) for line in ax.lines[:3]]
    np.testing.assert_allclose(crossing, items["difficulty"], atol=0.05)  # a curve crosses one half at its difficulty

    varying = xr.DataTree.from_dict({"posterior": fit_data.posterior.to_dataset()[["theta"]]})
    assert item_parameters(varying, 0.9) is None  # no items: no section
