"""Tables for the stakeholder report: population effects, shrinkage, recovery, provenance."""

import html
import json
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from IPython.display import HTML

from {{ cookiecutter.module_name }}.config import AnalysisConfig
from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.fingerprints import file_sha256, versions
from {{ cookiecutter.module_name }}.names import ITEM_DIM, ITEM_VARIABLES, SAMPLE_DIMS, population_parameters


def link_wording(family: str) -> str:
    """What a number on the family's linear-predictor scale is, e.g. "on the log-odds scale"."""
    return family_record(family).scale_words


def outcome_wording(family: str, outcome: str) -> str:
    """What a group mean of the outcome is, in words, e.g. ``"proportion with passed = 1"``."""
    return family_record(family).mean_words.format(outcome=outcome)


def model_record(fit_data: xr.DataTree) -> dict:
    """The model description saved with a fit: name, kind, family and parameterisation."""
    return json.loads(fit_data.attrs.get("model", "{}"))


def groups_are_times(record: dict, custom: str | None, group_dim: str) -> bool:
    """Whether the model's groups are times whose effects follow each other: an ``rw(time)`` term
    on the group column (``record``'s ``temporal``) or a custom ``trend_`` model."""
    temporal = record.get("temporal") or {}
    walk = temporal.get("time") == group_dim and not temporal.get("group")
    return walk or (custom or "").rsplit(".", 1)[-1].startswith("trend_")


def parameterization_table(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """For every fit and group factor: centred or non-centred, and why."""
    rows = [
        {"model": name, "factor": choice["factor"],
         "parameterization": choice.get("label", "centred" if choice["centered"] else "non-centred"),  # older fits: no label
         "reason": choice["reason"]}
        for name, fit_data in fits.items()
        for choice in model_record(fit_data).get("parameterization", [])
    ]
    return pd.DataFrame(rows, columns=["model", "factor", "parameterization", "reason"])


def population_table(fit_data: xr.DataTree, group_dim: str, ci_prob: float) -> pd.DataFrame:
    """Posterior mean, sd and central ``ci_prob`` interval of the population-level parameters."""
    return az.summary(
        fit_data, var_names=population_parameters(fit_data, group_dim), kind="stats", ci_prob=ci_prob,
        round_to="none",
    )


def interval_columns(ci_prob: float) -> tuple[str, str]:
    """Names ArviZ gives the lower and upper equal-tailed interval bounds."""
    percent = round(ci_prob * 100)
    return f"eti{percent}_lb", f"eti{percent}_ub"


def recovery_table(fit_data: xr.DataTree, truth: dict, ci_prob: float) -> pd.DataFrame:
    """True hyperparameters of simulated data against their posterior intervals.

    Parameters
    ----------
    fit_data : DataTree
    truth : dict
        As written by ``simulate.write_example``; its ``hyperparameters`` are matched to
        posterior variables of the same name (one-element dims such as a single
        predictor are squeezed).
    ci_prob : float

    Returns
    -------
    DataFrame
        ``true``, ``mean``, interval bounds and ``inside`` for each hyperparameter the
        model has.
    """
    lower_name, upper_name = interval_columns(ci_prob)
    tail = (1 - ci_prob) / 2
    rows = []
    for name, true_value in truth["hyperparameters"].items():
        if name not in fit_data.posterior:
            continue
        draws = fit_data.posterior[name].squeeze(drop=True)
        lower, upper = draws.quantile([tail, 1 - tail], dim=SAMPLE_DIMS).values
        rows.append(
            {"parameter": name, "true": true_value, "mean": float(draws.mean()), lower_name: lower,
             upper_name: upper, "inside": bool(lower <= true_value <= upper)}
        )
    return pd.DataFrame(rows).set_index("parameter")


def truth_model(truth: dict, model_name: str, fits: dict[str, xr.DataTree]) -> str | None:
    """The model to compare with the simulation's true values: ``model_name`` if its posterior
    names any of the truth's hyperparameters (as the simulating model names them), otherwise
    the first of ``fits`` that does; ``None`` if none does."""
    known = set(truth["hyperparameters"])
    return next((name for name in [model_name, *fits] if known & set(fits[name].posterior.data_vars)), None)


def shrinkage_table(fit_data: xr.DataTree, data: GroupedData) -> pd.DataFrame:
    """Raw mean of each group next to the model's estimate of it.

    The estimate is the posterior predictive mean of the group's average outcome, so both
    columns describe the same quantity whatever the model's parameters are called; small
    groups move the most towards the overall mean. ``data`` must hold the rows of the
    draws (``data.aligned_with(fit_data)``); groups without rows there are left out.
    """
    replicated = fit_data.posterior_predictive[data.outcome_name].mean(dim=SAMPLE_DIMS).values
    outcome = data.outcome
    if data.trials is not None:  # binomial: proportions of trials, comparable across rows
        outcome, replicated = outcome / data.trials, replicated / data.trials
    frame = pd.DataFrame({"group": data.group_codes, "outcome": outcome, "replicated": replicated})
    by_group = frame.groupby("group")
    return pd.DataFrame(
        {
            "n": by_group.size().to_numpy(),
            "raw_mean": by_group["outcome"].mean().to_numpy(),
            "estimate": by_group["replicated"].mean().to_numpy(),
        },
        index=pd.Index([data.groups[code] for code in by_group.size().index], name=data.group_dim),
    )


def provenance(config: AnalysisConfig, config_path: Path, fits: dict[str, xr.DataTree]) -> dict:
    """What a reader needs to reproduce the report: versions, data hash, seed, config, settings.
    Paths are the project's (relative to its folder, where they are inside it), never the machine's."""

    def shown(path: Path) -> str:
        path = Path(path).resolve()
        return str(path.relative_to(config.root.resolve())) if path.is_relative_to(config.root.resolve()) else path.name

    return {
        "data_file": shown(config.data_path),
        "data_sha256": file_sha256(config.data_path),
        "config_file": shown(config.resolve(config_path)),
        "config_sha256": file_sha256(config.resolve(config_path)),
        "seed": config.sampler.seed,
        "sampler_settings": {name: json.loads(fit_data.attrs.get("sampler_settings", "{}")) for name, fit_data in fits.items()},
        "models": {name: model_record(fit_data) for name, fit_data in fits.items()},
        "versions": versions(),
    }


def group_deviation_draws(fit_data: xr.DataTree, group_dim: str) -> xr.DataArray | None:
    """The draws of each group's intercept relative to the population's, on ``group_dim``:
    custom models' ``alpha`` less ``mu_alpha`` (less the group-level predictors' shift, where the
    fit's ``constant_data`` holds them), a formula's ``1|<group>``; ``None`` for neither."""
    posterior = fit_data.posterior
    if "alpha" in posterior and group_dim in posterior["alpha"].dims:
        deviations = posterior["alpha"] - posterior["mu_alpha"]
        if "gamma" in posterior and "group_predictors" in fit_data.get("constant_data", {}):
            shift = (fit_data.constant_data["group_predictors"] * posterior["gamma"]).sum("group_predictor")
            deviations = deviations - shift
        return deviations
    if f"1|{group_dim}" in posterior:
        return posterior[f"1|{group_dim}"].rename({f"{group_dim}__factor_dim": group_dim})
    return None


def group_effects(fit_data: xr.DataTree, group_dim: str, ci_prob: float) -> pd.DataFrame | None:
    """Each group's intercept relative to the population's, with its central interval, largest first.

    On the link scale (the outcome's units for normal families), from :func:`group_deviation_draws`;
    ``None`` if the model has no group intercepts.
    """
    deviations = group_deviation_draws(fit_data, group_dim)
    if deviations is None:
        return None
    tail = (1 - ci_prob) / 2
    draws = deviations.stack(sample=SAMPLE_DIMS).transpose(group_dim, "sample").values
    lower, upper = np.quantile(draws, [tail, 1 - tail], axis=1)
    table = pd.DataFrame({"effect": draws.mean(axis=1), "lower": lower, "upper": upper},
                         index=pd.Index([str(label) for label in deviations[group_dim].values], name=group_dim))
    table["differs"] = (table["lower"] > 0) | (table["upper"] < 0)
    return table.sort_values("effect", ascending=False)


def item_parameters(fit_data: xr.DataTree, ci_prob: float) -> pd.DataFrame | None:
    """Each item's difficulty and discrimination (a latent-trait model, ``models.item_response``):
    posterior mean and central interval, the easiest item first; ``None`` for other models."""
    posterior = fit_data.posterior
    if not all(name in posterior and posterior[name].dims[2:] == (ITEM_DIM,) for name in ITEM_VARIABLES):
        return None
    tail = (1 - ci_prob) / 2
    columns = {}
    for name in ITEM_VARIABLES:
        draws = posterior[name].stack(sample=SAMPLE_DIMS).transpose(ITEM_DIM, "sample").values
        low, high = np.quantile(draws, [tail, 1 - tail], axis=1)
        columns |= {name: draws.mean(axis=1), f"{name} low": low, f"{name} high": high}
    index = pd.Index([str(label) for label in posterior[ITEM_DIM].values], name=ITEM_DIM)
    return pd.DataFrame(columns, index=index).sort_values("difficulty")


def data_description(data: GroupedData) -> str:
    """The report's sentences on the data: rows, outcome, groups and their sizes, predictors."""
    sizes = np.bincount(data.group_codes, minlength=len(data.groups))
    per_group = f"{sizes.min()} per group" if sizes.min() == sizes.max() else f"{sizes.min()} to {sizes.max()} per group"
    text = (f"{len(data.outcome)} observations of **{data.outcome_name}** in {len(data.groups)} groups "
            f"(**{data.group_dim}**), {per_group}.")
    if data.predictor_names:
        text += f" Predictors (in their own units): {', '.join(data.predictor_names)}."
    if data.group_predictor_names:
        text += f" Group-level predictors (one value per group): {', '.join(data.group_predictor_names)}."
    return text


def summary_in_words(estimates: pd.DataFrame, effects: pd.DataFrame | None, family: str, outcome: str,
                     group_dim: str, ci_prob: float) -> str:
    """A few sentences a reader can take away: how much groups differ, in the outcome's units
    (or on the link scale), the share of variance between groups, and how many groups differ
    clearly from the average. ``estimates`` is the reported model's tidy table."""
    sentences = []
    between = estimates[(estimates["term"] == "sd__(Intercept)") & (estimates["group"] == group_dim)]
    if len(between):
        row = between.iloc[0]
        scale = link_wording(family)
        sentences.append(
            f"Groups ({group_dim}) differ: the between-group sd of the intercept is {row['estimate']:.3g} "
            f"({ci_prob * 100:.0f}% interval {row['conf.low']:.3g} to {row['conf.high']:.3g}) {scale}."
        )
        residual = estimates[estimates["term"] == "sd__Observation"]
        within = float(residual["estimate"].iloc[0]) ** 2 if len(residual) else family_record(family).latent_variance
        if within is not None:
            share = row["estimate"] ** 2 / (row["estimate"] ** 2 + within)
            latent = {"logit": "the logistic latent variance, pi^2/3", "probit": "the probit's latent variance, 1"}
            basis = "" if len(residual) else f" (against {latent.get(family_record(family).link, f'{within:.3g}')})"
            sentences.append(f"About {share * 100:.0f}% of the variance of {outcome} lies between groups{basis}.")
    if effects is not None:
        sentences.append(
            f"{int(effects['differs'].sum())} of {len(effects)} groups have an intercept clearly above or below the "
            f"population's ({ci_prob * 100:.0f}% interval excluding it)."
        )
    return " ".join(sentences)


class FigureNumbers:
    """Numbered figure captions: ``caption = FigureNumbers()`` once, then
    ``display(caption("What the figure shows."))`` under each figure, in order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, text: str) -> HTML:
        self.count += 1
        return HTML(f'<p class="caption"><strong>Figure {self.count}.</strong> {html.escape(text)}</p>')
