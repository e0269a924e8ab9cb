"""The report's sentences, on small hand-made inputs: the numbers and names they must state."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.report import words


def small_data(group_predictors: bool = False) -> GroupedData:
    """Five rows of ``score`` in two schools (2 and 3 rows), one predictor ``ses``."""
    return GroupedData(
        outcome=np.arange(5.0), predictors=np.zeros((5, 1)), group_codes=np.array([0, 0, 1, 1, 1]),
        coords={"school": ["a", "b"], "predictor": ["ses"], "obs": list(range(5)),
                **({"group_predictor": ["size"]} if group_predictors else {})},
        outcome_name="score", group_dim="school", scaling={}, frame=pd.DataFrame(),
        group_predictors=np.zeros((2, 1 if group_predictors else 0)),
    )


def calibration_summary(flagged: bool) -> pd.DataFrame:
    """A ``calibration_table`` of two parameters, the second flagged if ``flagged``."""
    return pd.DataFrame(
        {"p_value": [0.5, 0.001 if flagged else 0.4], "in_50": [0.5, 0.2], "in_90": [0.9, 0.6],
         "mean_rank": [0.5, 0.5], "flagged": [False, flagged],
         "reading": ["calibrated", "posterior too narrow (overconfident)" if flagged else "calibrated"]},
        index=pd.Index(["mu_alpha", "tau_alpha"], name="parameter"),
    )


def test_callouts_say_fast_mode_then_each_warning_in_order():
    found = words.callouts(
        {"varying_slopes": ["R-hat up to 1.05 > 1.01 for 3 parameter(s).", "2 divergent transitions."],
         "complete_pooling": []},
        ["mu_alpha: the prior decides."], ["model 'by_ses': the factor 'ses' has 30 levels for 30 rows"],
        "varying_slopes", fast=True,
    )
    assert found == [
        words.FAST_MODE,
        "> **Warning — varying_slopes:** R-hat up to 1.05 > 1.01 for 3 parameter(s). 2 divergent transitions. "
        "Treat its estimates with caution.",
        "> **Prior sensitivity — varying_slopes:** mu_alpha: the prior decides. (notebook 03 has every model's table.)",
        "> **Design:** model 'by_ses': the factor 'ses' has 30 levels for 30 rows",
    ]
    assert words.FAST_MODE.startswith("> **Fast mode:**")


def test_no_callout_when_the_fits_are_clean_and_the_run_is_not_fast():
    assert words.callouts({"varying_slopes": [], "complete_pooling": []}, [], [], "varying_slopes", fast=False) == []


def test_data_and_model_states_the_date_the_data_and_the_model():
    record = {"kind": "custom", "family": "normal"}
    text = words.data_and_model(small_data(), "varying_slopes", record, datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc))
    assert text.startswith("## Data and model\n\nWritten 04 March 2026, 05:06 UTC. ")
    assert "5 observations of **score** in 2 groups (**school**), 2 to 3 per group." in text
    assert "Predictors (in their own units): ses." in text and "Group-level predictors" not in text
    assert "The model reported is **varying_slopes** (custom, family normal)" in text
    assert "Group-level predictors (one value per group): size." in words.data_and_model(
        small_data(group_predictors=True), "m", record)


def test_calibration_warning_only_for_a_flagged_parameter():
    assert words.calibration_warning("varying_slopes", calibration_summary(flagged=False), 20) == ""
    text = words.calibration_warning("varying_slopes", calibration_summary(flagged=True), 20)
    assert text.startswith("> **Warning — calibration of varying_slopes:** Not calibrated: in 20 simulations")
    assert "1 of 2 parameters" in text and "tau_alpha: posterior too narrow (overconfident), 90% interval covered 60%" in text


def test_calibration_section_says_how_often_the_model_was_fitted_and_the_verdict():
    text = words.calibration_section("varying_slopes", calibration_summary(flagged=False), 20)
    assert text.startswith("## Calibration\n\nSimulation-based calibration of **varying_slopes**: fitted 20 times")
    assert "(notebook 06). Calibrated: in 20 simulations from the prior" in text
    assert "90% interval in 75% of simulations on average" in text  # (0.9 + 0.6) / 2


def test_summary_section_counts_the_warnings_or_says_there_are_none():
    problems = {"varying_slopes": ["R-hat too high.", "ESS too low."], "complete_pooling": ["1 divergence."]}
    text = words.summary_section("Groups differ.", "varying_slopes", "PSIS-LOO prefers it", problems)
    assert text == ("## Summary\n\nGroups differ. These numbers come from **varying_slopes**, PSIS-LOO prefers it. "
                    "3 diagnostic warning(s) above say which estimates to treat with caution.")
    clean = words.summary_section("Groups differ.", "m", "the only model fitted", {"m": []})
    assert clean.endswith("**m**, the only model fitted. Every fit meets the diagnostic thresholds (R-hat, ESS, divergences).")


def test_group_effect_sentences_name_the_groups_the_scale_and_the_interval():
    family = "bernoulli"
    scale = family_record(family).scale_words
    assert words.estimates_scale(family) == f"Intercepts and slopes are {scale}, per unit of each predictor."
    intro = words.group_effects_intro("school", family, 0.94)
    assert intro == (f"## Group effects\n\nEvery school's intercept relative to the population's, {scale}, "
                     "with its 94% interval, largest first.")
    assert words.group_effects_axis(family) == f"intercept relative to the population ({scale})"
    caption = words.group_effects_caption("hospital", "varying_slopes", 0.9)
    assert caption.startswith("Each hospital's intercept minus the population's (varying_slopes)")
    assert "90% interval" in caption and "so the hospital differs clearly from the average" in caption


def test_recovery_counts_the_true_values_inside_their_intervals():
    recovered = pd.DataFrame({"inside": [True, False, True]}, index=["mu_alpha", "tau_alpha", "sigma"])
    text = words.recovery_intro(recovered, 0.94, "varying_slopes", "varying_slopes")
    assert text.endswith("known: 2 of 3 lie inside their 94% intervals.")
    other = words.recovery_intro(recovered, 0.9, "varying_slopes", "varying_intercepts")
    assert other.endswith("2 of 3 lie inside their 90% intervals (model **varying_slopes**, which names them as "
                          "the simulation does).")
    assert words.recovery_caption(0.9) == ("The simulation's true values (crosses) against posterior means and "
                                           "90% intervals.")


def test_comparison_names_the_best_model_and_counts_high_pareto_k_and_refits():
    comparison = pd.DataFrame({"elpd": [-10.0, -20.0]}, index=["varying_slopes", "complete_pooling"])
    k_table = pd.DataFrame({"n_k_above_0.7": [0, 3], "refitted": [0, 2]}, index=["complete_pooling", "varying_slopes"])
    text = words.comparison_section(comparison, k_table, 0.7, "LOO uses a subsample.")
    assert text.startswith("## Model comparison\n\nBy PSIS-LOO, **varying_slopes** predicts new observations best;")
    assert "Pareto-k above 0.7 (LOO less reliable for them): complete_pooling 0, varying_slopes 3. " in text
    assert "scored exactly, each from a fit without it: varying_slopes 2. LOO uses a subsample." in text
    plain = words.comparison_section(comparison, k_table.assign(refitted=0), 0.7)
    assert "scored exactly" not in plain and plain.endswith("complete_pooling 0, varying_slopes 3. ")


def test_leave_groups_out_names_the_best_model_and_the_others_differences():
    logo = pd.DataFrame({"elpd_diff": [0.0, -6.671, -185.2], "dse": [0.0, 5.4, 52.3]},
                        index=["varying_slopes", "varying_intercepts", "complete_pooling"])
    text = words.leave_groups_out_words(logo, "school")
    assert text.startswith("Predicting a school the model has not seen")
    assert "without a random part of the schools" in text
    assert ("**varying_slopes** does best; varying_intercepts -6.67 (SE 5.4); complete_pooling -185 (SE 52). "
            "This is the comparison") in text


def test_parameterization_lists_each_model_and_factor_or_says_there_are_none():
    assert "(`parameterization: auto` in the config)" in words.parameterization_intro("auto")
    choices = pd.DataFrame({"model": ["varying_slopes", "varying_intercepts"], "factor": ["school", "school"],
                            "parameterization": ["non-centred", "centred"], "reason": ["few rows", "many rows"]})
    assert words.parameterization_list(choices) == ("- **varying_slopes**, school: non-centred; few rows.\n"
                                                    "- **varying_intercepts**, school: centred; many rows.")
    assert words.parameterization_list(choices.iloc[:0]) == "- No model has group effects."


def test_fit_sources_say_cached_or_sampled_and_when():
    def sampled_at(when: str) -> xr.DataTree:
        return xr.DataTree.from_dict({"posterior": xr.Dataset(attrs={"created_at": when})})

    fits = {"a": sampled_at("2026-03-04T05:06:07+00:00"), "b": sampled_at("2026-03-05T10:00:00+00:00")}
    origins = {"a": {"from_cache": True}, "b": {"from_cache": None} }  # None: no origin recorded
    text = words.fit_sources(fits, origins)
    assert text == ("### Where the fits came from\n\n"
                    "- **a**: loaded from the cache (inputs unchanged), sampled at 2026-03-04 05:06:07 UTC\n"
                    "- **b**: sampled in the latest run, sampled at 2026-03-05 10:00:00 UTC")


def test_provenance_is_tables_and_the_config_a_folded_block():
    record = {"data_file": "data/schools.csv", "data_sha256": "ab12", "config_file": "config/analysis.yaml",
              "config_sha256": "cd34", "seed": 7,
              "sampler_settings": {"m": dict(engine="nutpie", draws=500, tune=300, chains=2, target_accept=0.9, seed=7,
                                             pointwise_rows=5000)},
              "models": {"m": dict(kind="custom", family="normal")}, "versions": dict(pymc="6.4.0")}
    text = words.provenance_section(record)
    assert "| data | `data/schools.csv` | `ab12` |" in text and "| config | `config/analysis.yaml` | `cd34` |" in text
    assert "Seed: 7." in text and "| pymc | 6.4.0 |" in text
    assert "| m | custom, normal | nutpie | 2 x 500 (300) | 0.9 | pointwise_rows 5000 |" in text
    assert "{" not in text, "no JSON"
    folded = words.config_section("seed: 7\n")
    assert folded.startswith("<details><summary>The config used</summary>") and "```yaml\nseed: 7\n" in folded


def test_ratios_are_said_in_the_outcome_s_terms():
    """Each slope's ratio and interval, with what it multiplies in the family's words."""
    ratios = pd.DataFrame({"odds ratio": [1.4567], "conf.low": [1.2], "conf.high": [1.75]},
                          index=pd.Index(["ses"], name="term"))
    text = words.effect_ratios_words(ratios, "bernoulli", "passed", 0.94)
    assert text.startswith("As odds ratios (the exponential of each slope: the factor that multiplies the odds of passed = 1 "
                           "per unit of the predictor")
    assert "94% intervals: ses 1.46 (1.2 to 1.75)." in text
    count = words.effect_ratios_words(ratios.rename(columns={"odds ratio": "time ratio"}), "weibull", "months", 0.9)
    assert "multiplies the mean months (and every quantile of it) per unit" in count and "90% intervals" in count
