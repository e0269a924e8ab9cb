"""Figures for the notebooks: thin wrappers that take the tables of the other modules."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record


def predictive_density(
    predictive: xr.DataTree, data: GroupedData, group: str = "posterior_predictive", n_draws: int = 100,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Densities of replicated data sets (thin lines) over the observed data (thick line)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    density_lines(_replicated_draws(predictive, data, group, n_draws), ax, color="C0", alpha=0.1, linewidth=0.8)
    density_lines(data.outcome[None, :], ax, color="black", linewidth=2, label="observed")
    ax.set(xlabel=data.outcome_name, ylabel="density", title=f"{group.replace('_', ' ')}: replicated vs observed")
    ax.legend()
    return ax


def density_lines(samples: np.ndarray, ax: plt.Axes, clip: tuple[float, float] = (-np.inf, np.inf),
                  gridsize: int = 200, **style) -> None:
    """A Gaussian kernel density line for each row of ``samples`` (Scott's bandwidth and a grid
    reaching 3 bandwidths past the data, clipped to ``clip``: seaborn's ``kdeplot`` defaults),
    drawn in one call: 0.3 s for 100 replicated data sets of the example, against 1.1 s with a
    ``kdeplot`` each.
    Rows without spread (a replicated data set of one value) have no density and are skipped."""
    from scipy.stats import gaussian_kde

    kept = [row for row in samples if np.ptp(row) > 0]
    if not kept:
        return
    kdes = [gaussian_kde(row) for row in kept]
    reach = 3 * max(np.sqrt(kde.covariance[0, 0]) for kde in kdes)
    grid = np.linspace(max(min(row.min() for row in kept) - reach, clip[0]),
                       min(max(row.max() for row in kept) + reach, clip[1]), gridsize)
    lines = ax.plot(grid, np.column_stack([kde(grid) for kde in kdes]), **{**style, "label": None})
    if "label" in style:
        lines[0].set_label(style["label"])


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


def kaplan_meier(times: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier estimate of survival: the distinct event times and S(t) just after each.

    ``events`` is 1 where the event was observed and 0 where the time is right-censored."""
    times, events = np.asarray(times, dtype=float), np.asarray(events)
    at = np.unique(times[events == 1])
    at_risk = (times[None, :] >= at[:, None]).sum(axis=1)
    happened = ((times[None, :] == at[:, None]) & (events[None, :] == 1)).sum(axis=1)
    return at, np.cumprod(1 - happened / at_risk)


def predictive_survival(
    predictive: xr.DataTree, data: GroupedData, group: str = "posterior_predictive", ax: plt.Axes | None = None,
) -> plt.Axes:
    """Times to an event: the Kaplan-Meier curve of the data against those of replicated data
    sets. A replicated time is censored where the observed one was and the replicate reached
    its censoring time (the model's censored likelihood draws it there)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    events = np.ones(data.outcome.size, dtype=int) if data.event is None else np.asarray(data.event, dtype=int)
    end = data.outcome.max()  # the end of follow-up: replicated times are censored there too (fit.sampling)
    for draw in _replicated_draws(predictive, data, group, n_draws=100):
        replicated_events = (draw < np.where(events == 1, end, data.outcome)).astype(int)
        ax.step(*kaplan_meier(draw, replicated_events), where="post", color="C0", alpha=0.1, linewidth=0.8)
    ax.step(*kaplan_meier(data.outcome, events), where="post", color="black", linewidth=2, label="observed (Kaplan-Meier)")
    ax.plot([], [], color="C0", label="replicated data sets")
    ax.set(xlabel=data.outcome_name, ylabel="share without the event", ylim=(0, 1.02), xlim=(0, end * 1.02),
           title=f"{group.replace('_', ' ')}: survival curves")
    ax.legend()
    return ax


def predictive_check(
    predictive: xr.DataTree, data: GroupedData, family: str, group: str = "posterior_predictive",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """The predictive check that fits the outcome's type: densities for continuous
    outcomes and proportions of trials, shares for binary outcomes, count bars for counts."""
    check = family_record(family).check
    if check == "survival":
        return predictive_survival(predictive, data, group, ax=ax)
    if check == "share":
        return predictive_proportion(predictive, data, group, ax=ax)
    if check == "counts":
        return predictive_count_bars(predictive, data, group, ax=ax)
    if check == "proportion":
        shares = data.outcome / data.trials
        ax = ax or plt.subplots(figsize=(7, 4))[1]
        density_lines(_replicated_draws(predictive, data, group, n_draws=100) / data.trials, ax, clip=(0, 1),
                      color="C0", alpha=0.1, linewidth=0.8)
        density_lines(shares[None, :], ax, clip=(0, 1), color="black", linewidth=2, label="observed")
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
    """Raw group means vs partial-pooling estimates: arrows show how far each group moves.

    Against group size when sizes differ; when every group has the same size (a balanced
    design, where all would sit on one vertical line), each estimate against its raw mean,
    with the diagonal as no pooling."""
    ax = ax or plt.subplots(figsize=(7, 5))[1]
    ax.axhline(overall_mean, color="grey", linestyle="--", label="overall mean")
    if equal_sizes(table):
        ax.axline((overall_mean, overall_mean), slope=1, color="C1", lw=0.8, label="no pooling (estimate = raw mean)")
        ax.scatter(table["raw_mean"], table["estimate"], color="C0", s=18, label="model estimate")
        ax.set(xlabel=f"raw group mean ({table['n'].iloc[0]} observations in every group)",
               ylabel=f"model estimate: {ylabel}",
               title="Partial pooling: estimates lie between the raw means and the overall mean")
        ax.legend()
        return ax
    ax.scatter(table["n"], table["raw_mean"], color="C1", s=18, label="raw group mean")
    ax.scatter(table["n"], table["estimate"], color="C0", s=18, label="model estimate")
    for n, raw, estimate in table[["n", "raw_mean", "estimate"]].itertuples(index=False):
        ax.annotate("", xy=(n, estimate), xytext=(n, raw), arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.7})
    ax.set(xlabel="observations in the group", ylabel=ylabel,
           title="Partial pooling: small groups are pulled towards the overall mean")
    ax.legend()
    return ax


def equal_sizes(table: pd.DataFrame) -> bool:
    """Whether every group of a shrinkage table has the same number of observations."""
    return table["n"].nunique() == 1


def shrinkage_caption(table: pd.DataFrame, group_dim: str) -> str:
    """The caption of :func:`shrinkage`'s figure, for the layout it chose."""
    if equal_sizes(table):
        return (f"The model's estimate for each {group_dim} (blue) against its raw mean ({table['n'].iloc[0]} "
                "observations each); on the orange diagonal an estimate would equal its raw mean, and the dashed "
                "line is the overall mean. Estimates between the two have been pulled towards the overall mean.")
    return (f"Raw mean of each {group_dim} (orange) and the model's estimate (blue) against its number of "
            "observations; the dashed line is the overall mean. Small groups move furthest towards it.")


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


def over_time(effects: pd.DataFrame, ylabel: str, ax: plt.Axes | None = None) -> plt.Axes:
    """The group effects of groups that are times (an ``rw(time)`` term on the group column, a
    ``trend_`` model) as the line they make over time, with their interval as a band."""
    ordered = effects.assign(time=pd.to_numeric(effects.index)).sort_values("time")
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    ax.fill_between(ordered["time"], ordered["lower"], ordered["upper"], color="C0", alpha=0.25, linewidth=0)
    ax.plot(ordered["time"], ordered["effect"], color="C0", linewidth=1.5)
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel=effects.index.name, ylabel=ylabel, title="The intercept over time, relative to the population")
    return ax


def rank_intervals(ranks: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Each group's rank (median, dot) and its interval (line), by median rank: the groups likely
    in the top or bottom tenth (probability above one half) in colour."""
    ax = ax or plt.subplots(figsize=(7, 0.18 * len(ranks) + 1.5))[1]
    positions = np.arange(len(ranks))[::-1]
    colours = np.select([ranks["p_top_tenth"] > 0.5, ranks["p_bottom_tenth"] > 0.5], ["C2", "C3"], "C0")
    ax.hlines(positions, ranks["rank_low"], ranks["rank_high"], colors=colours, linewidth=1.5)
    ax.scatter(ranks["rank"], positions, c=colours, s=12, zorder=3)
    ax.set_yticks(positions, ranks.index if len(ranks) <= 60 else [""] * len(ranks), fontsize=7)
    ax.set_xlim(0.5, len(ranks) + 0.5)
    ax.set(xlabel="rank (1: the largest intercept)", ylabel=ranks.index.name,
           title="Each group's rank and its interval (green: likely top tenth; red: bottom tenth)")
    return ax


def item_curves(items: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Each item's characteristic curve (a latent-trait model): the chance of answering 1 against
    the ability, ``logistic(discrimination * (ability - difficulty))`` at the posterior means,
    coloured by discrimination; the easiest and hardest items named."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    ability = np.linspace(-3, 3, 121)
    scale = plt.Normalize(items["discrimination"].min(), items["discrimination"].max())
    colour = plt.get_cmap("viridis")
    for label, item in items.iterrows():
        chance = 1 / (1 + np.exp(-item["discrimination"] * (ability - item["difficulty"])))
        ax.plot(ability, chance, color=colour(scale(item["discrimination"])), linewidth=1.2)
    for label in dict.fromkeys([items.index[0], items.index[-1]]):
        ax.annotate(label, (np.clip(items.loc[label, "difficulty"], -3, 3), 0.5), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    plt.colorbar(plt.cm.ScalarMappable(norm=scale, cmap=colour), ax=ax, label="discrimination")
    ax.set(xlabel="ability (people's sd = 1)", ylabel="chance of answering 1", ylim=(0, 1),
           title="Each item's chance of a 1 by ability")
    return ax


def loo_pit_ecdf(pit: xr.DataArray):
    """ArviZ's LOO-PIT plot (``arviz_plots.plot_loo_pit``: the ECDF of the LOO-PIT values less
    the uniform's, with its simultaneous band) of values already computed
    (``evaluate.predictive.loo_pit_values``), which ``plot_loo_pit`` would compute again."""
    import arviz_plots as azp
    from arviz_base import convert_to_datatree

    values = convert_to_datatree(pit.to_dataset(), group="loo_pit")
    visuals = {"ylabel": {}, "remove_axis": False, "xlabel": dict(text="LOO-PIT")}  # plot_loo_pit's
    return azp.plot_ecdf_pit(values, group="loo_pit", sample_dims=list(pit.dims), method="pot_c", visuals=visuals)
