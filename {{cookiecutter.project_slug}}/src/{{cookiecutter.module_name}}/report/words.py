"""The report's sentences: each function returns the Markdown that ``07_report`` displays.

The notebook computes the tables and figures and hands them here; what a reader reads is
built (and tested) in this module. Warnings are Markdown block quotes (``> **Warning:** ...``),
which the HTML report styles as callouts.
"""

from datetime import datetime

import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.evaluate.sbc import calibration_verdict
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.report.estimates import readable
from {{ cookiecutter.module_name }}.report.summary import data_description, link_wording

FAST_MODE = "> **Fast mode:** few draws were taken; these numbers check the pipeline and are not for reporting."


def callouts(problems: dict[str, list[str]], sensitivity: list[str], design: list[str], model_name: str,
             fast: bool) -> list[str]:
    """The warnings at the top of the report, one block quote each, in the order a reader needs them.

    Parameters
    ----------
    problems : dict
        ``{model: [sentence, ...]}``: each fit's diagnostic warnings (``all_problems``).
    sensitivity : list of str
        The reported model's prior-sensitivity warnings.
    design : list of str
        Warnings about the models' design (``design_warnings``).
    model_name : str
        The reported model.
    fast : bool
        The run took few draws: its numbers are not for reporting.
    """
    found = [FAST_MODE] if fast else []
    found += [f"> **Warning — {name}:** " + " ".join(sentences) + " Treat its estimates with caution."
              for name, sentences in problems.items() if sentences]
    found += [f"> **Prior sensitivity — {model_name}:** {problem} (notebook 03 has every model's table.)"
              for problem in sensitivity]
    found += [f"> **Design:** {warning}" for warning in design]
    return found


def data_and_model(data: GroupedData, model_name: str, record: dict, written: datetime | None = None) -> str:
    """The "Data and model" section: when it was written, the data, and the model reported.

    ``record`` is the model's description saved with its fit (``model_record``); ``written``
    defaults to now.
    """
    written = written or datetime.now().astimezone()
    return (
        f"## Data and model\n\nWritten {written:%d %B %Y, %H:%M %Z}. {data_description(data)} "
        f"The model reported is **{model_name}** ({record['kind']}, family {record['family']}); "
        f"the other models are compared with it below. Priors are scaled to the data (see the README's Priors section)."
    )


def calibration_warning(model_name: str, table: pd.DataFrame, simulations: int) -> str:
    """A warning for a model whose simulation-based calibration flags a parameter; "" if none is flagged."""
    if not table["flagged"].any():
        return ""
    return f"> **Warning — calibration of {model_name}:** " + calibration_verdict(table, simulations)


def summary_section(in_words: str, model_name: str, why: str, problems: dict[str, list[str]]) -> str:
    """The "Summary" section: the estimates in words (``summary_in_words``), the model they
    come from and why, and how many diagnostic warnings the fits have."""
    count = sum(len(found) for found in problems.values())
    return (
        f"## Summary\n\n{in_words} These numbers come from **{model_name}**, {why}. "
        + (f"{count} diagnostic warning(s) above say which estimates to treat with caution." if count
           else "Every fit meets the diagnostic thresholds (R-hat, ESS, divergences).")
    )


def estimates_scale(family: str) -> str:
    """The scale the population-level table's intercepts and slopes are on."""
    return f"Intercepts and slopes are {link_wording(family)}, per unit of each predictor."


def rope_words(rule: str, ci_prob: float, overridden: bool) -> str:
    """What the probability of direction and the ROPE table says, and the rule that set the ROPE."""
    return (f"How sure each effect is: `pd`, the probability that it has the sign of its median (0.5: as likely "
            f"either way; 1: certain); `rope`, the half-width of a region of practical equivalence around 0 "
            f"({rule}" + ("; the config's `report.rope` sets some terms'" if overridden else "") + "), "
            f"`in_rope`, the posterior's share inside it, and the decision on the {ci_prob * 100:.0f}% interval: "
            "outside the region, practically non-zero; inside it, practically zero (Kruschke 2018).")


def effect_ratios_words(ratios: pd.DataFrame, family: str, outcome: str, ci_prob: float) -> str:
    """What the fixed effects mean on the outcome's scale (``effect_ratios``): each slope's
    exponential, the factor by which one unit of its predictor (or a level against the
    reference level) multiplies the outcome's mean, odds or times."""
    record = family_record(family)
    listed = "; ".join(f"{term} {readable(row.iloc[0])} ({readable(row['conf.low'])} to {readable(row['conf.high'])})"
                       for term, row in ratios.iterrows())
    return (f"As {record.ratio}s (the exponential of each slope: the factor that multiplies "
            f"{record.ratio_of.format(outcome=outcome)} per unit of the predictor, or for a level against the "
            f"reference level; 1 is no effect), with {ci_prob * 100:.0f}% intervals: {listed}.")


def group_effects_intro(group_dim: str, family: str, ci_prob: float, over_time: bool = False) -> str:
    """The "Group effects" section's heading and what its figure shows (``over_time``: in time order)."""
    order = f"in the order of the {group_dim}s" if over_time else "largest first"
    return (f"## Group effects\n\nEvery {group_dim}'s intercept relative to the population's, "
            f"{link_wording(family)}, with its {ci_prob * 100:.0f}% interval, {order}.")


def group_effects_axis(family: str) -> str:
    """The group effects figure's axis label."""
    return f"intercept relative to the population ({link_wording(family)})"


def group_effects_caption(group_dim: str, model_name: str, ci_prob: float, over_time: bool = False) -> str:
    """The group effects figure's caption (``over_time``: drawn as a line over the times)."""
    if over_time:
        return (f"Each {group_dim}'s intercept minus the population's ({model_name}): posterior mean (line) and "
                f"{ci_prob * 100:.0f}% interval (band), in the order of the {group_dim}s.")
    return (f"Each {group_dim}'s intercept minus the population's ({model_name}), posterior mean and "
            f"{ci_prob * 100:.0f}% interval, sorted. Red: the interval excludes 0, so the {group_dim} differs "
            "clearly from the average.")


def ranks_section(ranks: pd.DataFrame, group_dim: str, ci_prob: float) -> str:
    """The "Groups that stand out" section: the groups whose intercept is above or below the
    population's with probability at least 0.95 (with their sizes), and how uncertain the ranking is."""
    def listed(table: pd.DataFrame, at_most: int = 6) -> str:
        named = [f"**{label}**" + (f" ({int(row['n'])} rows)" if "n" in row else "")
                 for label, row in table.head(at_most).iterrows()]
        return ", ".join(named) + (f" and {len(table) - at_most} more (`reports/ranks.csv`)" if len(table) > at_most else "")

    above = ranks[ranks["p_above_average"] >= 0.95]
    below = ranks[ranks["p_above_average"] <= 0.05].iloc[::-1]  # the lowest first
    width = float((ranks["rank_high"] - ranks["rank_low"]).median())
    text = (f"## Groups that stand out\n\nEach {group_dim}'s rank among the {len(ranks)} {group_dim}s (1: the largest "
            f"intercept relative to the population), computed in every posterior draw: its median and "
            f"{ci_prob * 100:.0f}% interval, and the probabilities of being in the top or bottom tenth and above the "
            f"population's average (Goldstein and Spiegelhalter 1996). ")
    if len(above) or len(below):
        text += " ".join(part for part in (
            f"Above the average with probability at least 0.95: {listed(above)}." if len(above) else "",
            f"Below it: {listed(below)}." if len(below) else ""))
    else:
        text += f"No {group_dim} is above or below the average with probability 0.95."
    text += (f" The median rank interval spans {width:.0f} places of {len(ranks)}"
             + (": most ranks are uncertain, so read the order of neighbouring groups as a tie." if width >= len(ranks) / 4
                else "."))
    return text


def ranks_caption(group_dim: str, model_name: str, ci_prob: float) -> str:
    return (f"Each {group_dim}'s rank ({model_name}): median (dot) and {ci_prob * 100:.0f}% interval (line), by median "
            "rank; in colour those more likely than not in the top (green) or bottom (red) tenth. Every group's "
            "ranks are in reports/ranks.csv.")


def items_section(items: pd.DataFrame, group_dim: str, ci_prob: float) -> str:
    """The "Items" section of a latent-trait model: what difficulty and discrimination mean, and
    which items are the easiest, the hardest, the most and the least telling."""
    easiest, hardest = items.index[0], items.index[-1]
    by_discrimination = items["discrimination"].sort_values()
    weakest, strongest = by_discrimination.index[0], by_discrimination.index[-1]
    return (
        f"## Items\n\nThe model measures one trait of each {group_dim} (the ability, on a scale whose "
        f"{group_dim}s have mean 0 and sd 1) by their answers to {len(items)} items. An item's **difficulty** is "
        f"the ability at which half the {group_dim}s answer 1; its **discrimination**, how sharply the chance of a 1 "
        f"rises with ability there: items of high discrimination tell abilities apart best, and one near 0 says "
        f"little about the trait. The easiest item is **{easiest}** (difficulty {items.loc[easiest, 'difficulty']:.2f}), "
        f"the hardest **{hardest}** ({items.loc[hardest, 'difficulty']:.2f}); the most discriminating **{strongest}** "
        f"({by_discrimination[strongest]:.2f}), the least **{weakest}** ({by_discrimination[weakest]:.2f}). Posterior "
        f"means with {ci_prob * 100:.0f}% intervals, the easiest first; each {group_dim}'s ability is `theta` in the fit."
    )


def items_caption(model_name: str) -> str:
    return (f"Each item's chance of a 1 against the ability ({model_name}, posterior means): where a curve crosses "
            "the dashed line is its difficulty, its steepness there its discrimination (the colour).")


def recovery_intro(recovered: pd.DataFrame, ci_prob: float, named: str, model_name: str) -> str:
    """The "Recovery of known values" section: how many true hyperparameters lie inside their
    intervals (``recovery_table``), in model ``named``, which names them as the simulation does
    (said when it is not the reported ``model_name``)."""
    return (
        f"## Recovery of known values\n\nThe example data were simulated, so the true hyperparameters are known: "
        f"{recovered['inside'].sum()} of {len(recovered)} lie inside their {ci_prob * 100:.0f}% intervals"
        + (f" (model **{named}**, which names them as the simulation does)." if named != model_name else ".")
    )


def recovery_caption(ci_prob: float) -> str:
    """The recovery figure's caption."""
    return f"The simulation's true values (crosses) against posterior means and {ci_prob * 100:.0f}% intervals."


def waic_words(comparison: pd.DataFrame, waic: pd.DataFrame) -> str:
    """WAIC beside PSIS-LOO: whether it ranks the models alike, and why LOO is the one read."""
    loo_order, waic_order = list(comparison.index), list(waic.index)
    high = waic["n_p_waic_high"][waic["n_p_waic_high"] > 0]
    caveat = (" Observations with a WAIC penalty above 0.4, where WAIC is unreliable: "
              + ", ".join(f"{name} {count}" for name, count in high.items()) + "." if len(high) else "")
    if loo_order == waic_order:
        return f"WAIC ranks the models as PSIS-LOO does.{caveat}"
    return (f"WAIC ranks the models differently ({', '.join(waic_order)}) from PSIS-LOO ({', '.join(loo_order)}). "
            "The comparison reads PSIS-LOO: both estimate the same predictive accuracy, but WAIC's approximation "
            "fails silently where single observations are influential, while LOO's Pareto-k values flag them "
            f"(Vehtari, Gelman and Gabry 2017).{caveat}")


def comparison_section(comparison: pd.DataFrame, k_table: pd.DataFrame, k_max: float, note: str | None = None) -> str:
    """The "Model comparison" section: the model PSIS-LOO prefers, each model's count of
    observations with a high Pareto-k and of those scored exactly, and ``note`` (``pointwise_note``).

    ``comparison`` is ``loo_table``'s (best first), ``k_table`` is ``pareto_k_table``'s.
    """
    high_k, refitted = k_table[f"n_k_above_{k_max}"], k_table["refitted"]
    text = (
        f"## Model comparison\n\nBy PSIS-LOO, **{comparison.index[0]}** predicts new observations best; "
        f"the table gives each model's ELPD difference from it and the standard error of that difference. "
        f"Observations with Pareto-k above {k_max} (LOO less reliable for them): "
        + ", ".join(f"{name} {count}" for name, count in high_k.items()) + ". "
    )
    if refitted.any():
        text += ("Observations PSIS-LOO could not score reliably were scored exactly, each from a fit without it: "
                 + ", ".join(f"{name} {count}" for name, count in refitted.items() if count) + ". ")
    return text + (note or "")


def leave_groups_out_words(logo: pd.DataFrame, group_dim: str) -> str:
    """Which model predicts a new group best (``leave_groups_out_table``, best first), and
    how far behind the others are."""
    return (
        f"Predicting a {group_dim} the model has not seen (leave-groups-out cross-validation: each model "
        f"fitted again without a random part of the {group_dim}s, fold by fold), **{logo.index[0]}** does best"
        + "".join(f"; {name} {row.elpd_diff:.3g} (SE {row.dse:.2g})" for name, row in logo.iloc[1:].iterrows())
        + ". This is the comparison to go by when the question is about new groups; PSIS-LOO above is about "
        "new observations of these groups."
    )


def parameterization_intro(setting: str) -> str:
    """The heading of how group effects were sampled, with the config's ``parameterization``."""
    return ("### How group effects were sampled\n\nCentred or non-centred per group factor, chosen from the data "
            f"(`parameterization: {setting}` in the config) and recorded with each fit:")


def parameterization_list(choices: pd.DataFrame) -> str:
    """One bullet per model and group factor (``parameterization_table``): the choice and why."""
    return "\n".join(
        f"- **{row.model}**, {row.factor}: {row.parameterization}; {row.reason}." for row in choices.itertuples()
    ) or "- No model has group effects."


def fit_sources(fits: dict[str, xr.DataTree], origins: dict[str, dict]) -> str:
    """Where each fit came from: loaded from the cache or sampled in the latest run
    (``origins``, from ``fit_origin``), and when it was sampled."""
    return "### Where the fits came from\n\n" + "\n".join(
        f"- **{name}**: "
        + ("loaded from the cache (inputs unchanged)" if origins[name]["from_cache"] else "sampled in the latest run")
        + f", sampled at {datetime.fromisoformat(fitted.posterior.attrs['created_at']):%Y-%m-%d %H:%M:%S %Z}"
        for name, fitted in fits.items()
    )


def calibration_section(model_name: str, table: pd.DataFrame, simulations: int) -> str:
    """The "Calibration" section: how the model was calibrated (notebook 06) and the verdict."""
    return (
        f"## Calibration\n\nSimulation-based calibration of **{model_name}**: fitted "
        f"{simulations} times, with this run's sampler settings, to outcomes simulated from its priors at "
        "these data's predictors and groups (notebook 06). " + calibration_verdict(table, simulations)
    )


def _cell(value) -> str:
    """A Markdown table cell's text: Bambi's ``1|g`` would end the cell."""
    return str(value).replace("|", "\\|")


def priors_section(record: dict, model_name: str) -> str:
    """The "Priors" section: every prior of the reported model (``BuiltModel.prior_rows``), in the
    data's units, and whether it is the default rule's or the config's."""
    rows = record.get("priors")
    if not rows:
        return ""
    text = [f"## Priors\n\nThe priors of **{model_name}**, in the units of the data (the README's Priors section "
            "gives the default rule; `config` marks the config's own):", "", "| parameter | prior | source |",
            "| --- | --- | --- |"]
    text += [f"| {_cell(parameter)} | {_cell(prior)} | {source} |" for parameter, prior, source in rows]
    if record.get("kind") == "custom":
        text.append("\nThe priors a custom model writes itself (its structured terms') are in `models.py`; notebook 01 "
                    "shows the whole model.")
    return "\n".join(text)


def provenance_section(record: dict) -> str:
    """The "Provenance" section: ``summary.provenance``'s record as tables (files and seed; each
    model's kind and sampler settings; the package versions)."""
    files = [("data", f"`{record.get('data_file', '')}`", record.get("data_sha256", "")),
             ("config", f"`{record.get('config_file', '')}`", record.get("config_sha256", ""))]
    text = ["## Provenance", "", "What reproduces this report:", "", "| input | file | sha256 |", "| --- | --- | --- |"]
    text += [f"| {name} | {file} | `{digest}` |" for name, file, digest in files if digest]
    text += ["", f"Seed: {record.get('seed', '')}."]
    settings, models = record.get("sampler_settings", {}), record.get("models", {})
    if settings:
        text += ["", "| model | kind, family | engine | chains x draws (tuning) | target_accept | other settings |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for name, used in settings.items():
            model = models.get(name, {})
            other = ", ".join(f"{key} {value}" for key, value in used.items()
                              if key not in ("engine", "chains", "draws", "tune", "target_accept", "seed"))
            text.append(f"| {name} | {model.get('kind', '')}, {model.get('family', '')} | {used.get('engine', '')} | "
                        f"{used.get('chains', '')} x {used.get('draws', '')} ({used.get('tune', '')}) | "
                        f"{used.get('target_accept', '')} | {other} |")
    versions = record.get("versions", {})
    if versions:
        text += ["", "| package | version |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in versions.items())]
    return "\n".join(text)


def config_section(text: str) -> str:
    """The config file's text as a YAML block, folded (a click opens it)."""
    return "<details><summary>The config used</summary>\n\n```yaml\n" + text + "\n```\n\n</details>"
