"""Simulation-based calibration (SBC): does fitting the model recover what its prior generates?

Talts et al. (2018), "Validating Bayesian inference algorithms with simulation-based
calibration". Parameters are drawn from the prior, an outcome is simulated from them at the
data's own predictors and groups, and the model is fitted to that outcome. If the model and
the sampler are right, the rank of each true value among its posterior draws is uniform
across simulations: the true value lands in the posterior's central 90% interval in 90% of
simulations, no more and no less. A pile-up at the ends says the posterior is too narrow
(overconfident); a hump in the middle, too wide; a tilt, biased.

``simuk`` (the ArviZ team's SBC package) refits through ``pm.observe`` and ``pm.sample``,
which compiles the model once per simulation (5-14 s here). This module makes the observed
outcome data, so nutpie compiles once and each simulation only samples; the ranks are stored
as simuk stores them (group ``prior_sbc``) and plotted with ``arviz_plots.plot_ecdf_pit``.
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import xarray as xr
from arviz_stats.base import array_stats
from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph, model_named

from {{ cookiecutter.module_name }}.config import AnalysisConfig, SamplerSettings
from {{ cookiecutter.module_name }}.evaluate.convergence import quiet
from {{ cookiecutter.module_name }}.fingerprints import fit_key, sha256_of
from {{ cookiecutter.module_name }}.fit.pointwise import ONE_SHOT
from {{ cookiecutter.module_name }}.fit.sampling import data_sampler
from {{ cookiecutter.module_name }}.fit.store import cached_fit, save_fit
from {{ cookiecutter.module_name }}.model.build import BuiltModel, build_model

SIMULATED = "simulated_outcome"  # the data variable that holds each simulation's outcome
RANK_DRAWS = 99  # posterior draws each true value is ranked among (thinned evenly)
P_VALUE_MIN = 0.01  # a parameter whose ranks fail the uniformity test below this is flagged


def observed_as_data(model: pm.Model, name: str = SIMULATED) -> pm.Model:
    """A copy of ``model`` whose observed outcome is the data variable ``name``, so the same
    compiled model can be fitted to any outcome of the same shape."""
    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    [node] = [node for node in fgraph.apply_nodes if isinstance(node.op, ModelObservedRV)]
    _, value = node.inputs
    shared = pytensor.shared(np.asarray(value.eval()), name=name)
    fgraph.replace(value, model_named(shared, name), import_missing=True)
    return model_from_fgraph(fgraph, mutate_fgraph=True)


def calibrated_parameters(model: pm.Model, group_dims: set[str]) -> list[str]:
    """The free parameters that are not per group (population means, sds, slopes): those a
    reader interprets. Per-group effects would add one panel per group."""
    dims = model.named_vars_to_dims
    return [variable.name for variable in model.free_RVs if not group_dims & set(dims.get(variable.name, ()))]


def thinned(posterior: xr.Dataset, draws: int = RANK_DRAWS) -> xr.Dataset:
    """``draws`` posterior draws evenly spaced over all chains, on the dim ``sample``."""
    stacked = posterior.stack(sample=("chain", "draw"))
    keep = np.linspace(0, stacked.sizes["sample"] - 1, min(draws, stacked.sizes["sample"])).round().astype(int)
    return stacked.isel(sample=keep)


def simulation_based_calibration(built: BuiltModel, settings: SamplerSettings, simulations: int,
                                 simulate_with: BuiltModel | None = None) -> xr.DataTree:
    """Fit ``built`` to ``simulations`` outcomes drawn from its prior and rank the truth.

    Parameters
    ----------
    built : BuiltModel
        The model (its row-level ``model``) at the data's predictors and groups.
    settings : SamplerSettings
        Engine, chains, tune, draws and seed of every fit; simulation ``i`` samples with ``seed + i``.
    simulations : int
    simulate_with : BuiltModel, optional
        Draw the parameters and outcomes from this model instead (same parameter names): a
        deliberately different model shows what a failed calibration looks like.

    Returns
    -------
    DataTree
        ``prior_sbc``: each parameter's fractional rank (rank + 0.5) / (draws + 1) in (0, 1), on
        dims ``chain`` (1) and ``draw`` (one per simulation), as ``simuk`` lays it out;
        ``truth``: the prior draws; ``sample_stats``: each simulation's divergent transitions.
    """
    model = observed_as_data(built.model)
    simulator = observed_as_data((simulate_with or built).model)
    names = calibrated_parameters(model, built.group_dims)
    outcome = model.observed_RVs[0].name
    with simulator, quiet("pymc"):  # not "Sampling: [...]" in the notebook
        prior = pm.sample_prior_predictive(draws=simulations, var_names=[*names, outcome],
                                           random_seed=settings.seed, compile_kwargs=ONE_SHOT)
    truth = prior.prior.to_dataset()[names].isel(chain=0)
    outcomes = prior.prior_predictive[outcome].values[0]
    sample = data_sampler(model, settings)
    ranks = {name: [] for name in names}
    divergent = []
    for index in range(simulations):
        fitted = sample({SIMULATED: outcomes[index].astype(model[SIMULATED].dtype)}, seed=settings.seed + index)
        draws = thinned(fitted.posterior.to_dataset()[names])
        for name in names:
            below = (draws[name] < truth[name].isel(draw=index)).sum("sample")
            ranks[name].append((below.values + 0.5) / (draws.sizes["sample"] + 1))
        divergent.append(int(fitted.sample_stats["diverging"].sum()))
    coords = {dim: truth[name].coords[dim].values for name in names for dim in truth[name].dims if dim != "draw"}
    ranks_data = xr.Dataset(
        {name: (("chain", "draw", *truth[name].dims[1:]), np.stack(values)[None]) for name, values in ranks.items()},
        coords={"chain": [0], "draw": np.arange(simulations), **coords},
    )
    sbc = xr.DataTree.from_dict({
        "prior_sbc": ranks_data,
        "truth": truth.drop_vars("chain", errors="ignore"),
        "sample_stats": xr.Dataset({"divergent": ("draw", np.array(divergent))}, coords={"draw": np.arange(simulations)}),
    })
    sbc.attrs.update({"model": built.name, "simulations": simulations, "sampler_settings": settings.model_dump_json(),
                      "simulated_with": (simulate_with or built).name})
    return sbc


def calibration_table(sbc: xr.DataTree, p_value_min: float = P_VALUE_MIN) -> pd.DataFrame:
    """One row per calibrated parameter (and coordinate): is its rank distribution uniform?

    Returns
    -------
    DataFrame
        ``p_value`` of the uniformity test ``plot_ecdf_pit`` draws (arviz_stats' default,
        ``pot_c``); ``in_50`` and ``in_90``: the share of simulations whose true value fell in the
        posterior's central 50% and 90% intervals (0.5 and 0.9 when calibrated); ``mean_rank``
        (0.5 when unbiased); ``flagged`` where ``p_value`` < ``p_value_min``, with ``reading``.
    """
    rows = []
    ranks = sbc["prior_sbc"].to_dataset()
    for name, values in ranks.data_vars.items():
        flat = values.isel(chain=0).transpose("draw", ...).values.reshape(values.sizes["draw"], -1)
        labels = _labels(name, values)
        for column, label in enumerate(labels):
            pit = flat[:, column]
            p_value = float(array_stats.uniformity_test(pit, axis=-1)[0])
            row = {
                "parameter": label,
                "p_value": p_value,
                "in_50": float(np.mean(np.abs(pit - 0.5) < 0.25)),
                "in_90": float(np.mean(np.abs(pit - 0.5) < 0.45)),
                "mean_rank": float(pit.mean()),
                "flagged": p_value < p_value_min,
            }
            row["reading"] = _reading(row, len(pit))
            rows.append(row)
    return pd.DataFrame(rows).set_index("parameter")


def _labels(name: str, values: xr.DataArray) -> list[str]:
    extra = [dim for dim in values.dims if dim not in ("chain", "draw")]
    if not extra:
        return [name]
    index = pd.MultiIndex.from_product([values[dim].values for dim in extra])
    return [f"{name}[{', '.join(str(part) for part in entry)}]" for entry in index]


def _reading(row: dict, simulations: int) -> str:
    """What a flagged parameter's ranks say: a mean rank off 0.5 by more than 3 standard errors
    is bias; otherwise too many true values outside the central intervals is overconfidence."""
    if not row["flagged"]:
        return "calibrated"
    if abs(row["mean_rank"] - 0.5) > 3 * np.sqrt(1 / 12 / simulations):
        return "posterior too high (the truth ranks low)" if row["mean_rank"] < 0.5 else \
            "posterior too low (the truth ranks high)"
    if row["in_90"] != 0.9:
        return "posterior too narrow (overconfident)" if row["in_90"] < 0.9 else "posterior too wide"
    if row["in_50"] != 0.5:
        return "posterior too narrow (overconfident)" if row["in_50"] < 0.5 else "posterior too wide"
    return "ranks not uniform"


def calibration_verdict(table: pd.DataFrame, simulations: int) -> str:
    """One sentence for the report."""
    flagged = table[table["flagged"]]
    coverage = f"the true value fell in the 90% interval in {table['in_90'].mean() * 100:.0f}% of simulations on average"
    if flagged.empty:
        return (f"Calibrated: in {simulations} simulations from the prior, every parameter's ranks are consistent "
                f"with uniform (uniformity test p >= {P_VALUE_MIN}); {coverage}.")
    listed = "; ".join(f"{label}: {row.reading}, 90% interval covered {row.in_90 * 100:.0f}%"
                       for label, row in flagged.iterrows())
    return (f"Not calibrated: in {simulations} simulations from the prior, {len(flagged)} of {len(table)} parameters "
            f"have non-uniform ranks (p < {P_VALUE_MIN}): {listed}. The model or the sampler settings do not "
            "recover what the prior generates; see notebook 06.")


def calibrate_or_load(config: AnalysisConfig, name: str, data, fast: bool = False,
                      staged: bool = False) -> tuple[xr.DataTree, bool]:
    """The saved calibration of model ``name`` if its inputs are unchanged, else a new one.

    Inputs are those of the model's fit (``fingerprints.fit_key``) and the number of simulations.
    With ``staged`` (the pipeline) a new calibration waits in ``artifacts/calibration/.staging/``
    until the run succeeds. Returns the calibration and whether it came from the cache.
    """
    settings = config.sampler_settings(fast)
    simulations = config.calibration.count(fast)
    key = sha256_of(fit_key(config, name, settings), str(simulations))
    published = config.calibration_path(name)
    target = published.parent / ".staging" / published.name if staged else published
    for path in (published, target):
        saved = cached_fit(path, key)
        if saved is not None:
            return saved, True
    sbc = simulation_based_calibration(build_model(config, name, data), settings, simulations)
    sbc.attrs["cache_key"] = key
    save_fit(sbc, target)
    return sbc, False
