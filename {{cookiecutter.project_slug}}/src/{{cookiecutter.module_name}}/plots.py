"""Figures for the notebooks: thin wrappers that take the tables of the other modules."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from {{ cookiecutter.module_name }}.data import GroupedData


def predictive_density(
    predictive: xr.DataTree, data: GroupedData, group: str = "posterior_predictive", n_draws: int = 100,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Densities of replicated data sets (thin lines) over the observed data (thick line)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for draw in _replicated_draws(predictive, data, group, n_draws):
        sns.kdeplot(draw, ax=ax, color="C0", alpha=0.1, linewidth=0.8)
    sns.kdeplot(data.outcome, ax=ax, color="black", linewidth=2, label="observed")
    ax.set(xlabel=data.outcome_name, ylabel="density", title=f"{group.replace('_', ' ')}: replicated vs observed")
    ax.legend()
    return ax


def _replicated_draws(predictive: xr.DataTree, data: GroupedData, group: str, n_draws: int) -> np.ndarray:
    """Up to ``n_draws`` replicated data sets, evenly spaced over the draws: shape (n_draws, n_obs)."""
    replicated = predictive[group][data.outcome_name].stack(sample=("chain", "draw"))
    step = max(1, replicated.sizes["sample"] // n_draws)
    return replicated.isel(sample=slice(None, None, step)).transpose("sample", "obs").values


def predictive_proportion(
    predictive: xr.DataTree, data: GroupedData, group: str = "posterior_predictive", ax: plt.Axes | None = None,
) -> plt.Axes:
    """Binary outcomes: the share of ones in each replicated data set against the observed share."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    shares = _replicated_draws(predictive, data, group, n_draws=1000).mean(axis=1)
    ax.hist(shares, bins=30, color="C0", alpha=0.6, label="replicated")
    ax.axvline(data.outcome.mean(), color="black", linewidth=2, label="observed")
    ax.set(xlabel=f"proportion of {data.outcome_name} = 1", ylabel="replicated data sets",
           title=f"{group.replace('_', ' ')}: replicated vs observed proportion")
    ax.legend()
    return ax


def predictive_count_bars(
    predictive: xr.DataTree, data: GroupedData, group: str = "posterior_predictive", ci_prob: float = 0.94,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Counts: observed frequency of each value (bars) with the replicated frequencies'
    mean and central interval (points and lines), up to the observed 99th percentile."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    top = int(np.quantile(data.outcome, 0.99)) + 1
    values = np.arange(top + 1)
    replicated = _replicated_draws(predictive, data, group, n_draws=500)
    frequencies = np.stack([np.bincount(np.clip(draw, 0, top).astype(int), minlength=top + 1) for draw in replicated])
    tail = (1 - ci_prob) / 2
    lower, upper = np.quantile(frequencies, [tail, 1 - tail], axis=0)
    observed = np.bincount(np.clip(data.outcome, 0, top).astype(int), minlength=top + 1)
    ax.bar(values, observed, color="lightgrey", edgecolor="grey", label="observed")
    ax.vlines(values, lower, upper, color="C0", label=f"replicated {ci_prob * 100:.0f}% interval")
    ax.scatter(values, frequencies.mean(axis=0), color="C0", s=12, zorder=3, label="replicated mean")
    ax.set(xlabel=f"{data.outcome_name} (values above {top - 1} pooled in the last bar)", ylabel="rows",
           title=f"{group.replace('_', ' ')}: count frequencies")
    ax.legend()
    return ax


def predictive_check(
    predictive: xr.DataTree, data: GroupedData, family: str, group: str = "posterior_predictive",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """The predictive check that fits the outcome's type: densities for continuous
    outcomes and proportions of trials, shares for binary outcomes, count bars for counts."""
    if family == "bernoulli":
        return predictive_proportion(predictive, data, group, ax=ax)
    if family in ("poisson", "negative_binomial"):
        return predictive_count_bars(predictive, data, group, ax=ax)
    if family == "binomial":
        shares = data.outcome / data.trials
        ax = ax or plt.subplots(figsize=(7, 4))[1]
        for draw in _replicated_draws(predictive, data, group, n_draws=100):
            sns.kdeplot(draw / data.trials, ax=ax, color="C0", alpha=0.1, linewidth=0.8, clip=(0, 1))
        sns.kdeplot(shares, ax=ax, color="black", linewidth=2, label="observed", clip=(0, 1))
        ax.set(xlabel=f"{data.outcome_name} / trials", ylabel="density",
               title=f"{group.replace('_', ' ')}: replicated vs observed proportions")
        ax.legend()
        return ax
    return predictive_density(predictive, data, group, ax=ax)


def group_mean_intervals(check: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Observed group means against their replicated intervals, groups sorted by size."""
    ordered = check.sort_values("n").reset_index()
    label = check.index.name
    ax = ax or plt.subplots(figsize=(7, max(4, 0.18 * len(ordered))))[1]
    ax.hlines(ordered[label], ordered["lower"], ordered["upper"], color="C0", label="replicated interval")
    colours = ordered["inside"].map({True: "black", False: "C3"})
    ax.scatter(ordered["observed"], ordered[label], color=colours, zorder=3, s=15, label="observed mean")
    ax.set(xlabel="group mean", ylabel=f"{label} (fewest observations at the bottom)")
    ax.tick_params(axis="y", labelsize=6)
    ax.legend(loc="lower right")
    return ax


def shrinkage(
    table: pd.DataFrame, overall_mean: float, ylabel: str = "group mean", ax: plt.Axes | None = None
) -> plt.Axes:
    """Raw group means vs partial-pooling estimates: arrows show how far each group moves."""
    ax = ax or plt.subplots(figsize=(7, 5))[1]
    ax.axhline(overall_mean, color="grey", linestyle="--", label="overall mean")
    ax.scatter(table["n"], table["raw_mean"], color="C1", s=18, label="raw group mean")
    ax.scatter(table["n"], table["estimate"], color="C0", s=18, label="model estimate")
    for n, raw, estimate in table[["n", "raw_mean", "estimate"]].itertuples(index=False):
        ax.annotate("", xy=(n, estimate), xytext=(n, raw), arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.7})
    ax.set(xlabel="observations in the group", ylabel=ylabel,
           title="Partial pooling: small groups are pulled towards the overall mean")
    ax.legend()
    return ax


def recovery(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Posterior intervals of each hyperparameter with its true value marked."""
    lower, upper = [column for column in table.columns if column.startswith("eti")]
    ax = ax or plt.subplots(figsize=(6, 0.5 * len(table) + 1))[1]
    names = table.index.tolist()
    ax.hlines(names, table[lower], table[upper], color="C0", linewidth=3, label="posterior interval")
    ax.scatter(table["mean"], names, color="C0", zorder=3, label="posterior mean")
    ax.scatter(table["true"], names, color="C3", marker="x", zorder=4, s=60, label="true value")
    ax.set(xlabel="value", title="Recovery of the simulation's true values")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return ax


def caterpillar(effects: pd.DataFrame, xlabel: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Every group's effect with its interval, sorted: the groups that clearly differ in colour."""
    ax = ax or plt.subplots(figsize=(7, 0.18 * len(effects) + 1.5))[1]
    positions = np.arange(len(effects))[::-1]
    colours = np.where(effects["differs"], "C3", "C0")
    ax.hlines(positions, effects["lower"], effects["upper"], colors=colours, linewidth=1.5)
    ax.scatter(effects["effect"], positions, c=colours, s=12, zorder=3)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(positions, effects.index if len(effects) <= 60 else [""] * len(effects), fontsize=7)
    ax.set(xlabel=xlabel, ylabel=effects.index.name,
           title="Each group's intercept relative to the population (red: interval excludes 0)")
    return ax
