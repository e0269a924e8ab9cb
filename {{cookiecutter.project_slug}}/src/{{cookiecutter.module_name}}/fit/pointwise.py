"""Pointwise draws for LOO and the predictive checks: each observation's log-likelihood
and replicated outcome, for every row or, on large data, for a random subsample of rows.

Both are draws x rows in size: 4 chains x 2000 draws x 1M rows would be 64 GB each. Above
``sampler.pointwise_rows`` rows they are computed for a seeded random subsample of that
many rows. The rows depend only on the row count and the seed, so every model of a run is
checked and compared on the same rows (LOO differences stay paired). They are computed
from at most ``sampler.pointwise_draws`` posterior draws (every k-th draw of each chain):
a few thousand draws are plenty for PSIS-LOO and the checks. The fit records both choices
in ``attrs["pointwise"]`` and the notebooks state them.
"""

import json
import warnings

import numpy as np
import pymc as pm
import xarray as xr
from pymc.model.fgraph import clone_model
from pytensor.graph.replace import graph_replace, vectorize_graph
from pytensor.graph.traversal import ancestors

from {{ cookiecutter.module_name }}.names import LATENT_ROWS

# Names of the helper variables added to a copy of the model (never to the user's model).
REPLICATED, LOG_LIKELIHOOD, ROW_DIM = "pointwise_outcome", "pointwise_log_likelihood", "pointwise_row"
LOG_PRIOR = "pointwise_log_prior"

# How the draw-by-draw functions here are compiled. They run once per fit or fold, where
# compiling with Numba (PyMC's default) costs seconds per function on a first run: measured
# on the example's varying_slopes, the pointwise draws took 8.9 s with Numba and 1.5 s with
# PyTensor's Python linker, each leave-groups-out fold's log-likelihood 0.6-1.5 s and 0.3 s.
ONE_SHOT = {"mode": "FAST_COMPILE"}
# Values per row-level intermediate in one batch of draws of :func:`log_likelihood_at`: 8 MB, which
# measured faster than batches 4 or 16 times as large (memory traffic) or 4 times smaller (calls).
BATCH_VALUES = 2**20


def pointwise_rows(n_obs: int, max_rows: int | None, seed: int) -> np.ndarray:
    """Positions of the rows to keep pointwise draws for: all rows up to ``max_rows``,
    otherwise a random subsample of ``max_rows`` of them (sorted, reproducible by ``seed``)."""
    if max_rows is None or n_obs <= max_rows:
        return np.arange(n_obs)
    return np.sort(np.random.default_rng(seed).choice(n_obs, size=max_rows, replace=False))


def thinned(posterior: xr.Dataset, max_draws: int | None) -> xr.Dataset:
    """Every k-th draw of each chain, with ``k = ceil(draws in all / max_draws)``: about
    ``max_draws`` draws remain (a few more when k does not divide a chain's length)."""
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    if max_draws is None or total <= max_draws:
        return posterior
    return posterior.isel(draw=slice(None, None, -(-total // max_draws)))


def prior_parameters(model: pm.Model, group_dims: set[str]) -> list:
    """The free variables whose priors the analyst chose: all but the group-level effects and the
    like, whose distribution is part of the multilevel model, not a prior to power-scale (as brms's
    ``lprior`` leaves them out): variables on the dims ``group_dims``, variables whose distribution
    has other parameters (centred effects: ``item_response``'s centred items, ``mi()``'s imputed
    values), standard-normal offsets (``z_*``, as ``names.is_group_level`` reads them) and values
    per row (``me()``'s true values)."""
    free = set(model.free_RVs)

    def population_model(variable) -> bool:
        dims = set(model.named_vars_to_dims.get(variable.name, ()))
        return (bool(group_dims & dims) or variable.name.startswith("z_")
                or any(str(dim).endswith(LATENT_ROWS) for dim in dims)
                or bool(free & (set(ancestors(variable.owner.inputs)) - {variable})))

    return [variable for variable in model.free_RVs if not population_model(variable)]


# PyMC's warning where a model has a Potential: an me() term's measurements (model/measurement.py), a
# density of the predictor's measurements that the outcome's replicates do not depend on.
POTENTIALS_IGNORED = "The effect of Potentials on other parameters is ignored"


def _with_row_variables(model: pm.Model, rows: np.ndarray, group_dims: set[str] = frozenset()) -> pm.Model:
    """A copy of ``model`` with the outcome and its log-likelihood at ``rows``, and the log
    prior density of each draw (of :func:`prior_parameters`, for power-scaling sensitivity),
    as deterministics.

    Indexing the graph (rather than building the model on fewer rows) works for custom and
    formula models alike and keeps every group in the model.
    """
    copy = clone_model(model)
    outcome = copy.observed_RVs[0]
    with copy:
        copy.add_coord(ROW_DIM, rows)
        pm.Deterministic(REPLICATED, outcome[rows], dims=ROW_DIM)
        pm.Deterministic(LOG_LIKELIHOOD, _pointwise_log_likelihood(copy)[rows], dims=ROW_DIM)
        # The prior density at the drawn values (no Jacobian: on the parameters' own scale).
        parameters = prior_parameters(copy, set(group_dims))
        pm.Deterministic(LOG_PRIOR, sum(pm.logp(variable, variable).sum() for variable in parameters))
    return copy


def _pointwise_log_likelihood(model: pm.Model):
    """Each row's log-likelihood in terms of the model's own free variables (which
    :func:`at_draws` replaces with draws): ``pm.logp`` of the outcome, or, where that reads
    copies of the parameters that no draw would replace (a censored outcome, ``pm.Censored``),
    the row's term of the joint density."""
    outcome = model.observed_RVs[0]
    with warnings.catch_warnings():
        # PyMC's warning about those copies, which the check below handles.
        warnings.filterwarnings("ignore", message="RandomVariables .* were found in the derived graph", category=UserWarning)
        pointwise = pm.logp(outcome, model.rvs_to_values[outcome])
    free = set(model.free_RVs)
    if not any(variable.name in {free_variable.name for free_variable in free} and variable not in free
               for variable in ancestors([pointwise])):
        return pointwise  # the usual case; the joint density's graph below compiles 5 times slower
    pointwise = model.logp(vars=[outcome], sum=False, jacobian=False)[0]
    # The joint density reads each parameter's value variable: on the sampler's scale for a
    # transformed one (log sd), so the value is that transform of the variable itself.
    values = {}
    for variable in model.free_RVs:
        transform = model.rvs_to_transforms.get(variable)
        value = model.rvs_to_values[variable]
        values[value] = variable if transform is None else transform.forward(variable, *variable.owner.inputs)
    return graph_replace(pointwise, values, strict=False)


def at_draws(model: pm.Model, names: list[str], posterior: xr.Dataset) -> list[np.ndarray]:
    """The deterministic variables ``names`` of ``model`` at every draw of ``posterior``, each
    with one leading axis of draws (chain, then draw order).

    One function of a batch of draws, compiled once, evaluated a batch at a time: a loop over
    the draws (``pm.sample_posterior_predictive``) took 0.27 s per cross-validation fold on the
    example, this 0.05 s. A batch holds about :data:`BATCH_VALUES` values per row-level
    intermediate, since the model computes every row before the chosen rows are picked.
    """
    outputs = [model[name] for name in names]
    # The free variables the outputs read (not those they depend on only through another, which is replaced).
    parameters = [variable for variable in model.free_RVs if variable in ancestors(outputs, blockers=model.free_RVs)]
    # Each parameter's value for a batch of draws: an input with one more (leading) dimension.
    batched = {variable: variable.type.clone(shape=(None, *variable.type.shape))(variable.name)
               for variable in parameters}
    function = pm.pytensorf.compile(list(batched.values()), vectorize_graph(outputs, replace=batched), **ONE_SHOT)
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    # n_draws, not -1: a parameter may have no values (the slopes of a model without predictors)
    draws = [posterior[variable.name].values.reshape(n_draws, *posterior[variable.name].shape[2:])
             for variable in parameters]
    n_rows = len(model.rvs_to_values[model.observed_RVs[0]].eval())
    step = max(1, BATCH_VALUES // n_rows)
    batches = [function(*(values[start:start + step] for values in draws)) for start in range(0, n_draws, step)]
    return [np.concatenate(parts) for parts in zip(*batches)]


def log_likelihood_at(posterior: xr.Dataset, model: pm.Model, rows: np.ndarray,
                      max_draws: int | None = None) -> np.ndarray:
    """The log-likelihood of ``rows`` at (at most ``max_draws``) draws of ``posterior``:
    an array of draws x rows (draws in chain, then draw order; see :func:`at_draws`)."""
    [log_likelihood] = at_draws(_with_row_variables(model, rows), [LOG_LIKELIHOOD], thinned(posterior, max_draws))
    return log_likelihood


def _on_obs(variable: xr.DataArray, labels: list) -> xr.DataArray:
    """A helper variable moved onto the dim ``obs``, labelled with its rows' labels."""
    return variable.rename({ROW_DIM: "obs"}).assign_coords(obs=labels)


def _observed_and_record(tree: xr.DataTree, model: pm.Model, outcome_name: str, labels: list,
                         rows: np.ndarray, n_obs: int, seed: int, draws: tuple[int, int] | None = None) -> None:
    """Add the observed outcome at ``rows`` (aligned with the draws) and record the choices."""
    observed = np.asarray(model.rvs_to_values[model.observed_RVs[0]].data)[rows]
    tree["observed_data"] = xr.DataTree(xr.Dataset({outcome_name: ("obs", observed)}, coords={"obs": labels}))
    record = {"rows": len(rows), "of": n_obs, "seed": seed}
    if draws is not None:
        record |= {"draws": draws[0], "of_draws": draws[1]}
    tree.attrs["pointwise"] = json.dumps(record)


def add_pointwise(idata: xr.DataTree, model: pm.Model, outcome_name: str, obs_labels: list,
                  rows: np.ndarray, seed: int, max_draws: int | None = None,
                  group_dims: set[str] = frozenset()) -> xr.DataTree:
    """Add ``log_likelihood``, ``posterior_predictive`` and ``observed_data`` for ``rows``, and
    ``log_prior`` (the log prior density of each of the same draws).

    Parameters
    ----------
    idata : DataTree
        With the ``posterior`` group.
    model : pm.Model
        The model that was sampled (left unchanged).
    outcome_name : str
        The outcome column: the name of the pointwise variables.
    obs_labels : list
        The row label of every observation (``data.coords["obs"]``).
    rows : ndarray of int
        From :func:`pointwise_rows`.
    seed : int
        For the replicated outcomes.
    max_draws : int, optional
        Use at most this many posterior draws (see :func:`thinned`); all if None.
    group_dims : set of str
        Dims of group-level effects, left out of the log prior (see :func:`prior_parameters`).
    """
    labels = [obs_labels[row] for row in rows]
    posterior = idata.posterior.to_dataset()
    used = thinned(posterior, max_draws)
    with _with_row_variables(model, rows, group_dims) as copy:
        # The replicated outcomes draw by draw (a random variable with the rows' size does not take
        # a batch of draws); the log-likelihood and log prior a batch of draws at a time.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=POTENTIALS_IGNORED, category=UserWarning)
            replicated = pm.sample_posterior_predictive(used, var_names=[REPLICATED], random_seed=seed,
                                                        progressbar=False, compile_kwargs=ONE_SHOT
                                                        ).posterior_predictive[REPLICATED]
    log_likelihood, log_prior = (
        xr.DataArray(values.reshape(used.sizes["chain"], used.sizes["draw"], *values.shape[1:]),
                     dims=["chain", "draw", *[ROW_DIM] * (values.ndim - 1)],
                     coords={"chain": used["chain"], "draw": used["draw"]})
        for values in at_draws(copy, [LOG_LIKELIHOOD, LOG_PRIOR], used)
    )
    idata["posterior_predictive"] = xr.DataTree(_on_obs(replicated, labels).to_dataset(name=outcome_name))
    idata["log_likelihood"] = xr.DataTree(_on_obs(log_likelihood, labels).to_dataset(name=outcome_name))
    idata["log_prior"] = xr.DataTree(log_prior.to_dataset(name="log_prior"))
    n_draws = (used.sizes["chain"] * used.sizes["draw"], posterior.sizes["chain"] * posterior.sizes["draw"])
    _observed_and_record(idata, model, outcome_name, labels, rows, len(obs_labels), seed, n_draws)
    return idata


def prior_predictive(model: pm.Model, parameters: list[str], outcome_name: str, obs_labels: list,
                     rows: np.ndarray, draws: int, seed: int) -> xr.DataTree:
    """``parameters`` drawn from the priors, and replicated outcomes at ``rows``."""
    labels = [obs_labels[row] for row in rows]
    with _with_row_variables(model, rows), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=POTENTIALS_IGNORED, category=UserWarning)
        try:
            prior = pm.sample_prior_predictive(draws=draws, var_names=[*parameters, REPLICATED], random_seed=seed,
                                               compile_kwargs=ONE_SHOT)
        except ValueError:
            # Wide priors of a count model can draw rates above 1e19, where NumPy's Poisson and
            # negative binomial samplers (the Python linker's) raise; Numba's do not.
            prior = pm.sample_prior_predictive(draws=draws, var_names=[*parameters, REPLICATED], random_seed=seed)
    replicated = prior.prior[REPLICATED]
    prior["prior"] = xr.DataTree(prior.prior.to_dataset().drop_vars([REPLICATED, ROW_DIM]))
    prior["prior_predictive"] = xr.DataTree(_on_obs(replicated, labels).to_dataset(name=outcome_name))
    _observed_and_record(prior, model, outcome_name, labels, rows, len(obs_labels), seed)
    return prior


def pointwise_note(fit_data: xr.DataTree) -> str | None:
    """A sentence for the notebooks when LOO and the checks used fewer rows or draws than the fit."""
    record = json.loads(fit_data.attrs.get("pointwise", "null") or "null")
    if not record:
        return None
    parts = []
    if record["rows"] < record["of"]:
        parts.append(
            f"a random subsample of {record['rows']:,} of the {record['of']:,} rows (seed {record['seed']}, "
            "the same rows for every model; ELPD values are sums over those rows)"
        )
    if record.get("draws", 0) < record.get("of_draws", 0):
        parts.append(f"{record['draws']:,} of the {record['of_draws']:,} posterior draws (evenly thinned)")
    return "LOO and the predictive checks use " + " and ".join(parts) + "." if parts else None
