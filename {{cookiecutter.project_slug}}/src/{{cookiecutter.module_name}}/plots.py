"""Figures for the notebooks: thin wrappers that take the tables of the other modules."""

import matplotlib.pyplot as plt
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
    replicated = predictive[group][data.outcome_name].stack(sample=("chain", "draw"))
    step = max(1, replicated.sizes["sample"] // n_draws)
    for draw in replicated.isel(sample=slice(None, None, step)).transpose("sample", "obs").values:
        sns.kdeplot(draw, ax=ax, color="C0", alpha=0.1, linewidth=0.8)
    sns.kdeplot(data.outcome, ax=ax, color="black", linewidth=2, label="observed")
    ax.set(xlabel=data.outcome_name, ylabel="density", title=f"{group.replace('_', ' ')}: replicated vs observed")
    ax.legend()
    return ax


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


def shrinkage(table: pd.DataFrame, overall_mean: float, ax: plt.Axes | None = None) -> plt.Axes:
    """Raw group means vs partial-pooling estimates: arrows show how far each group moves."""
    ax = ax or plt.subplots(figsize=(7, 5))[1]
    ax.axhline(overall_mean, color="grey", linestyle="--", label="overall mean")
    ax.scatter(table["n"], table["raw_mean"], color="C1", s=18, label="raw group mean")
    ax.scatter(table["n"], table["estimate"], color="C0", s=18, label="model estimate")
    for n, raw, estimate in table[["n", "raw_mean", "estimate"]].itertuples(index=False):
        ax.annotate("", xy=(n, estimate), xytext=(n, raw), arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.7})
    ax.set(xlabel="observations in the group", ylabel="group mean",
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
