"""Fit a model with NUTS and keep everything later steps need in one netCDF file."""

import contextlib
import os
import time
import warnings

import numpy as np
import pymc as pm
import xarray as xr
from pymc.model.fgraph import clone_model

from {{ cookiecutter.module_name }}.config import SamplerSettings
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.fit.chain_health import ChainsStuck, ChainWatch, describe, stuck_chains
from {{ cookiecutter.module_name }}.fit.pointwise import add_pointwise, pointwise_rows, prior_predictive
from {{ cookiecutter.module_name }}.fit.progress import reporting
from {{ cookiecutter.module_name }}.fit.summary import convergence_summary
from {{ cookiecutter.module_name }}.model.build import BuiltModel
from {{ cookiecutter.module_name }}.model.formulas import bambi_results
from {{ cookiecutter.module_name }}.names import BAMBI_OBS_DIM, CENTRED_SUFFIX, LEFT_OUT


def without_rows(model: pm.Model, rows: np.ndarray | None = None) -> pm.Model:
    """A copy of ``model`` whose likelihood leaves out ``rows``.

    Which rows are left out is data (``LEFT_OUT``: 1 for a row left out, else 0), so one
    compiled copy serves every fold: compiling takes seconds, sampling a fold a fraction of that.
    With none left out it is ``model`` (the same log density, variables in the same order).
    """
    from {{ cookiecutter.module_name }}.fit.compiling import in_order_of  # here: Numba only when a model samples

    copy = in_order_of(model, clone_model(model))
    # Each row's log-likelihood in terms of the value variables, as the joint density has it.
    pointwise = copy.logp(vars=copy.observed_RVs[:1], sum=False)[0]
    observed = copy.rvs_to_values[copy.observed_RVs[0]]
    left_out = np.zeros(len(observed.eval()))
    if rows is not None:
        left_out[rows] = 1.0
    with copy:
        weights = pm.Data(LEFT_OUT, left_out)
        pm.Potential("left_out_rows", -(weights * pointwise).sum())
    return copy


def refittable_model(built: BuiltModel) -> pm.Model:
    """What a fit samples so that its refits without some rows reuse its compiled code: the
    sufficient-statistics model (refitted with the sums over the other rows), else a
    :func:`without_rows` copy of the row-by-row model it samples that leaves out no row."""
    return built.sampled_model if built.weighted_data is not None else without_rows(built.sampled_model)


def standard_names(idata: xr.DataTree, built: BuiltModel) -> xr.DataTree:
    """Give formula and custom fits the same names: dim ``obs``, outcome named after its column.

    Per-observation deterministics (Bambi's ``mu``) are dropped from the posterior if
    present: they are draws x observations in size and can be recomputed.
    """
    observed = built.model.observed_RVs[0].name
    for path in list(idata.children):
        dataset = idata[path].to_dataset()
        if BAMBI_OBS_DIM in dataset.dims:
            dataset = dataset.rename_dims({BAMBI_OBS_DIM: "obs"}).rename_vars({BAMBI_OBS_DIM: "obs"})
        if observed != built.outcome_name and observed in dataset:
            dataset = dataset.rename_vars({observed: built.outcome_name})
        if path == "posterior":
            dataset = dataset.drop_vars([name for name, variable in dataset.data_vars.items() if "obs" in variable.dims])
        idata[path] = xr.DataTree(dataset)
    return idata


def parallel_chains(chains: int) -> int:
    """Chains to run at once: one per usable core. (PyMC's own count can say 1 where the
    process may use more, which would run the chains one after another.)"""
    return max(1, min(chains, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()))


def traced_variables(model: pm.Model) -> list[str]:
    """Variables to keep from sampling: all but per-observation deterministics (such as
    Bambi's ``mu``), which would hold draws x observations numbers and are recomputed when
    needed, and the group effects a sampling model draws around their population value."""
    per_observation = {"obs", BAMBI_OBS_DIM}
    return [
        variable.name for variable in model.unobserved_RVs
        if not per_observation & set(model.named_vars_to_dims.get(variable.name, ()))
        and not variable.name.endswith(CENTRED_SUFFIX)  # a sampling model's own reparameterisation
    ]


def fit(built: BuiltModel, settings: SamplerSettings, progressbar: bool = False,
        sampler: "ModelSampler | None" = None) -> xr.DataTree:
    """Sample the posterior, then add the pointwise log-likelihood (for LOO) and
    posterior predictive draws (for checks).

    Parameters
    ----------
    built : BuiltModel
        From :func:`model.build.build_model`; formula and custom models are treated the same.
    settings : SamplerSettings
        ``engine`` is ``"nutpie"`` (compiled, fast) or ``"pymc"`` (PyMC's own NUTS);
        ``pointwise_rows`` and ``pointwise_draws`` bound the pointwise values (see
        ``pointwise.py``). ``built.sampling_model`` (from sufficient statistics, or reparameterised), when there is
        one, is what gets sampled; the pointwise values come from ``built.model``. If a
        nutpie chain gets stuck (see ``chain_health.py``) the model is sampled again
        (:meth:`ModelSampler.sample`), with a warning, and the fit's ``sampler_fallback`` attribute says so.
    progressbar : bool
    sampler : ModelSampler, optional
        Of :func:`refittable_model` ``(built)`` (compiled once for the fit and its refits:
        ``built.sampled_model``, or for a model sampled row by row a copy that can leave rows
        out, leaving none out here); made here if None.

    Returns
    -------
    DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``,
        ``posterior_predictive``, ``observed_data``, ``constant_data`` and
        ``convergence`` (R-hat and ESS of every parameter).
    """
    sampler = sampler or ModelSampler(refittable_model(built), settings.engine)
    idata = sampler.sample(settings, name=built.name, progressbar=progressbar)
    # A stuck nutpie chain (seen on real data: Poisson with crossed factors, a logit with a
    # squared term) is sampled again; the fit records how.
    fallback = idata.attrs.get("sampler_fallback")
    if fallback:
        warnings.warn(f"{built.name}: {fallback}", stacklevel=2)
    # Warm-up draws are not used downstream and would double the file size; the observed
    # data are added back for the rows that get pointwise draws, aligned with them.
    for group in ("warmup_posterior", "warmup_sample_stats", "observed_data"):
        if group in idata.children:
            del idata[group]
    if "constant_data" in idata.children:  # only the model's own data, not a refit copy's row weights
        constant = idata.constant_data.to_dataset()
        constant = constant.drop_vars([name for name in constant.data_vars if name not in built.model.named_vars])
        if constant.data_vars:
            idata["constant_data"] = constant
        else:
            del idata["constant_data"]
    idata = standard_names(idata, built)
    rows = pointwise_rows(len(built.obs_labels), settings.pointwise_rows, settings.seed)
    add_pointwise(idata, built.model, built.outcome_name, built.obs_labels, rows, settings.seed,
                  max_draws=settings.pointwise_draws, group_dims=built.group_dims)
    if family_record(built.family).censoring:
        # Follow-up ends at the last observed time: replicated times beyond it are censored there, as
        # the data's are (a censored row's own time already bounds its draws). Every comparison of a
        # replicate with an observed time (LOO-PIT, the checks) is unchanged; the replicates look like the data.
        end = float(idata.observed_data[built.outcome_name].max())
        idata["posterior_predictive"] = idata.posterior_predictive.to_dataset().clip(max=end)
    if built.bambi is not None:
        # After the pointwise values, which need the draws as the PyMC model defines them:
        # the Intercept at predictors = 0 and no offsets, as bmb.Model.fit returns them.
        idata = bambi_results(built.bambi, idata)
    idata["posterior"] = xr.DataTree(family_record(built.family).own_names(idata.posterior.to_dataset()))
    convergence_summary(idata)  # stored with the fit: the diagnostics notebooks read it
    idata.attrs["sampler_settings"] = settings.model_dump_json()
    if fallback:
        idata.attrs["sampler_fallback"] = fallback
    idata.attrs.update(built.attrs())
    return idata


class ModelSampler:
    """NUTS on one model, compiled once and sampled as often as needed: the fit, then refits
    with other values of the model's ``pm.Data`` (cross-validation folds, exact leave-one-out,
    calibration's simulated outcomes).

    With nutpie, compiling takes seconds (tens on a first run, before the compile caches hold
    the model's functions; under a second from them, see ``compiling.py``) and sampling a small
    model a fraction of that, so one compile for all of a model's fits is most of the saving.
    PyMC's NUTS takes new data through ``pm.set_data`` and compiles in every ``pm.sample``.
    """

    def __init__(self, model: pm.Model, engine: str) -> None:
        self.model, self.engine = model, engine
        self._compiled = None

    def compiled(self):
        """nutpie's compiled model (made on first use)."""
        if self._compiled is None:
            from {{ cookiecutter.module_name }}.fit.compiling import (  # here: Numba only when a model samples
                compile_model,
                with_prior_values_as_data,
            )

            self._compiled = compile_model(with_prior_values_as_data(self.model), var_names=traced_variables(self.model))
        return self._compiled

    def sample(self, settings: SamplerSettings, data: dict[str, np.ndarray] | None = None, seed: int | None = None,
               name: str | None = None, engine: str | None = None, progressbar: bool = False) -> xr.DataTree:
        """Draws with the settings' draws, tune, chains and target_accept (``seed`` in place
        of theirs if given), with ``data`` in place of those ``pm.Data`` values, reporting each
        chain's draws to the pipeline's display as ``name`` if given. ``engine`` overrides the sampler's.

        A nutpie chain that stops exploring (``chain_health.py``) is found while it samples,
        usually in the warm-up: sampling stops, and is done again with every chain starting
        within 0.001 of the model's initial point rather than within 1 (the usual cause: see
        ``compiling.near_initial_point``), then, if a chain gets stuck again, with PyMC's NUTS
        from the initial point itself (``init="adapt_diag"``), its chains one after another in this
        process: PyMC's chains in forked processes could hang on state nutpie's threads left
        (seen once in a notebook's cross-validation refits). The draws' ``sampler_fallback``
        attribute then says what happened and what was used.
        """
        engine = engine or self.engine
        seed = settings.seed if seed is None else seed
        if engine != "nutpie":
            return self._sample(settings, data, seed, name, engine, progressbar)
        notes = []
        attempts = {"nutpie": ("nutpie", True), "nutpie from within 0.001 of the initial point": ("nutpie", False),
                    "PyMC's NUTS from the initial point": ("pymc", False)}
        for attempt, (attempt_engine, jitter) in attempts.items():
            try:
                idata = self._sample(settings, data, seed, name, attempt_engine, progressbar, jitter=jitter,
                                     in_process=attempt_engine != "nutpie")
            except ChainsStuck as stuck:
                notes.append(f"{attempt} stopped: {stuck}")
                continue
            found = stuck_chains(idata) if attempt_engine == "nutpie" else {}
            if not found:
                break
            notes.append(f"{attempt} stuck: {describe(found)}")
        if notes:
            idata.attrs["sampler_fallback"] = "; ".join(notes) + f"; sampled again with {attempt}"
        return idata

    def _sample(self, settings: SamplerSettings, data: dict[str, np.ndarray] | None, seed: int, name: str | None,
                engine: str, progressbar: bool, jitter: bool = True, in_process: bool = False) -> xr.DataTree:
        """One call of the engine (see :meth:`sample`), its chains started at jittered initial
        points or (``jitter=False``) at or near the model's own, PyMC's one after another in this
        process if ``in_process``; raises ChainsStuck when nutpie was stopped."""
        total = settings.tune + settings.draws
        progress = reporting(name, engine, settings.chains, total) if name else contextlib.nullcontext({})
        with progress as progress_arguments:
            if engine == "nutpie":
                import nutpie
                from pymc.backends.arviz import patch_nutpie_idata

                from {{ cookiecutter.module_name }}.fit.compiling import near_initial_point

                compiled = self.compiled() if jitter else near_initial_point(self.compiled(), self.model)
                if data:
                    # Data the compiled code does not read (folded away: a sum of size 0) is left out.
                    read = {variable.name for variable in compiled.shared_var_keys}
                    compiled = compiled.with_data(**{key: value for key, value in data.items() if key in read})
                started = time.time()
                watch = ChainWatch(settings.tune)
                report = progress_arguments.get("progress_callback")

                def follow(states) -> None:
                    watch(states)
                    if report:
                        report(states)

                running = nutpie.sample(
                    compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                    cores=parallel_chains(settings.chains), seed=pymc_seed(seed, settings.chains),
                    target_accept=settings.target_accept, save_warmup=False, progress_bar=progressbar,
                    blocking=False, progress_callback=follow,
                )
                idata = wait_unless_stuck(running, watch)
                patch_nutpie_idata(idata, self.model, sampling_time=time.time() - started)
            else:
                with self.model:
                    if data:
                        pm.set_data(data)
                    idata = pm.sample(
                        var_names=traced_variables(self.model), draws=settings.draws, tune=settings.tune,
                        chains=settings.chains, target_accept=settings.target_accept, random_seed=seed,
                        nuts_sampler=engine, cores=1 if in_process else parallel_chains(settings.chains),
                        progressbar=progressbar,
                        init="jitter+adapt_diag" if jitter else "adapt_diag", **progress_arguments,
                    )
        # nutpie keeps every free variable, whatever var_names says.
        sampling_only = [name for name in idata.posterior.data_vars if name.endswith(CENTRED_SUFFIX)]
        idata["posterior"] = idata.posterior.to_dataset().drop_vars(sampling_only)
        return idata


def wait_unless_stuck(running, watch: ChainWatch, poll_s: float = 0.25) -> xr.DataTree:
    """nutpie's draws once it has finished; stopped, with ChainsStuck, as soon as ``watch``
    finds a stuck chain (nutpie's ``wait`` raises TimeoutError while it samples)."""
    try:
        while True:
            try:
                return running.wait(timeout=poll_s)
            except TimeoutError:
                if watch.stuck:
                    raise ChainsStuck(dict(watch.stuck)) from None
    except BaseException:  # stuck, Ctrl-C or SIGTERM: no chain goes on sampling in the background
        try:
            running.cancel()
        except BaseException as error:  # nutpie panics (pyo3's PanicException) aborting a chain that failed to start
            if isinstance(error, KeyboardInterrupt):
                raise
        raise


def pymc_seed(seed: int, chains: int) -> int:
    """The seed ``pm.sample(random_seed=seed, nuts_sampler="nutpie")`` hands nutpie, so a fit
    drawn here equals PyMC's (and ``bmb.Model.fit``'s) draw for draw."""
    return int(np.random.default_rng(seed).spawn(chains)[0].integers(2**30))


def sample_posterior(model: pm.Model, name: str, settings: SamplerSettings, engine: str,
                     progressbar: bool = False) -> xr.DataTree:
    """One fit of ``model`` (see :class:`ModelSampler`)."""
    return ModelSampler(model, engine).sample(settings, name=name, progressbar=progressbar)


def data_sampler(model: pm.Model, settings: SamplerSettings):
    """``sample(data, seed=None) -> DataTree`` (posterior, sample_stats) for ``model`` with new
    values of its ``pm.Data`` variables, compiled once (see :class:`ModelSampler`)."""
    sampler = ModelSampler(model, settings.engine)
    return lambda data, seed=None: sampler.sample(settings, data=data, seed=seed)


def sample_prior_predictive(built: BuiltModel, draws: int, seed: int, max_rows: int | None = 5000) -> xr.DataTree:
    """Draws of parameters and outcomes from the priors alone (outcomes for at most
    ``max_rows`` rows, as in :func:`fit`)."""
    rows = pointwise_rows(len(built.obs_labels), max_rows, seed)
    prior = prior_predictive(built.model, traced_variables(built.model), built.outcome_name, built.obs_labels,
                             rows, draws, seed)
    return standard_names(prior, built)
