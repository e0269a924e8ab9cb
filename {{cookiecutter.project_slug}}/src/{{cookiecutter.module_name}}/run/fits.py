"""Fit a model or reuse its saved fit: the fit, its cross-validation and LOO, stored once.

The fit's evaluations that every notebook reads (PSIS-LOO with exact refits of the rows it
cannot trust, LOO-PIT values, leave-groups-out scores) are computed here, once, with the fit.
"""

import json

import xarray as xr

from {{ cookiecutter.module_name }}.config import SamplerSettings
from {{ cookiecutter.module_name }}.evaluate.convergence import save_fit_warnings
from {{ cookiecutter.module_name }}.evaluate.crossval import leave_groups_out, refit_high_pareto_k
from {{ cookiecutter.module_name }}.evaluate.loo import loo_group, psis_loo
from {{ cookiecutter.module_name }}.evaluate.predictive import loo_pit_values
from {{ cookiecutter.module_name }}.files import write_text_atomically
from {{ cookiecutter.module_name }}.fingerprints import fit_key
from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler, fit, refittable_model
from {{ cookiecutter.module_name }}.fit.store import cached_fit, save_fit
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.names import LOO_GROUP, LOO_PIT


def fit_or_load(config, name: str, data, settings: SamplerSettings, staged: bool = False) -> tuple[xr.DataTree, bool]:
    """Load the saved fit of model ``name`` if its inputs are unchanged, otherwise fit and save it.

    With ``staged`` (the pipeline), a new fit is saved under ``artifacts/fits/.staging/`` and
    published only when the whole run succeeds, so an interrupted or failed run leaves the
    earlier fits as they were; a staged fit of an interrupted run with the same inputs is
    reused. Returns the fit and whether it came from the cache; the latter is also written
    next to the fit (``<name>.origin.json``) for the report.
    """
    key = fit_key(config, name, settings)
    published = config.fit_path(name)
    target = config.fits_staging_dir / f"{name}.nc" if staged else published
    fit_data = cached_fit(published, key)
    if fit_data is None and staged:
        fit_data = cached_fit(target, key)
    from_cache = fit_data is not None
    if not from_cache:
        built = build_model(config, name, data)
        sampler = ModelSampler(refittable_model(built), settings.engine)  # one compile: the fit and its refits
        fit_data = fit(built, settings, sampler=sampler)
        cross_validation = config.cross_validation
        if cross_validation.group_folds:
            scores = leave_groups_out(built, data, cross_validation.fold_settings(settings), cross_validation.group_folds,
                                      sampler)
            fit_data["leave_groups_out"] = xr.DataTree(scores)
        psis = estimate = psis_loo(fit_data)  # which rows need exact refits, and (without any) the LOO stored below
        if cross_validation.max_refits:
            exact = refit_high_pareto_k(built, fit_data, cross_validation.fold_settings(settings),
                                        config.diagnostics.pareto_k_max, cross_validation.max_refits, sampler,
                                        pareto_k=psis.pareto_k.to_series())
            fit_data["exact_loo"] = xr.DataTree(exact)
            if exact.sizes.get("obs", 0):
                estimate = psis_loo(fit_data)  # with the exact scores in place
        # Once here, not in every notebook that reads the fit.
        fit_data[LOO_GROUP] = loo_group(estimate)
        fit_data[LOO_GROUP][LOO_PIT] = loo_pit_values(fit_data, built.outcome_name, psis)
        fit_data.attrs["cache_key"] = key
        save_fit(fit_data, target)
        save_fit_warnings(fit_data, config, target)  # here, where the fit is in memory, not in the run's summary
    origin = {"from_cache": from_cache, "sampled_at": fit_data.posterior.attrs.get("created_at")}
    write_text_atomically(target.with_suffix(".origin.json"), json.dumps(origin))
    return fit_data, from_cache


def fit_origin(config, name: str, staged: bool = False) -> dict:
    """Whether the latest run loaded model ``name`` from the cache, and when it was sampled."""
    path = config.fits_staging_dir / f"{name}.origin.json"
    if not (staged and path.is_file()):
        path = config.fit_path(name).with_suffix(".origin.json")
    return json.loads(path.read_text()) if path.is_file() else {"from_cache": None, "sampled_at": None}
