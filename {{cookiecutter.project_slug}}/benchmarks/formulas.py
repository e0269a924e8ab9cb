"""Formula models: the project's fit path against PyMC's default ``pm.sample()`` on the same Bambi model.

For ``y ~ x + (x | g)`` on simulated data (the continuous example's hyperparameters) with a
normal outcome and with Poisson counts, and for the crossed ``y ~ x + (1 | g) + (1 | rater)``
(the same rows plus 50 raters, sd 0.5, normal), it times

* **project**: ``build_model`` (group terms indexed, ``formulas.indexed_group_terms``; for the
  normal family, sampled from sums per group and per level pair, ``formulas.normal_sufficient_model``)
  and the fit path's ``pm.sample`` call (``sampling.sample_posterior``, nutpie);
* **pymc_default**: ``bmb.Model(formula, data).build()`` then ``pm.sample()`` with nothing but
  the draws, chains and seed: what a user gets from PyMC on Bambi's model.

Both from the formula to the posterior (model building and compilation included), with the
same chains, tuning steps and draws; ESS is the minimum bulk ESS over every parameter, group
effects included. Prints ESS per second and the project's ratio, and how far apart the two
posteriors' means of the population-level parameters are in Monte Carlo standard errors (the
same model: they should be within a few); the table is kept in
``benchmarks/results/formulas.csv`` for ``targets.py``. Run with ``make bench`` or
``python benchmarks/formulas.py [--cases 100k]``.
"""

import time
import warnings
from dataclasses import replace

import arviz as az
import bambi as bmb
import numpy as np
import pandas as pd
import pymc as pm
from common import parser, save_results, simulated_case

from {{ cookiecutter.module_name }}.config import ModelSpec, load_config
from {{ cookiecutter.module_name }}.fit.sampling import parallel_chains, sample_posterior
from {{ cookiecutter.module_name }}.model.build import build_model

CASES = {"1k": (40, 3, 47), "100k": (1000, 50, 150), "warm-up": (10, 5, 5)}
FORMULA = "y ~ x + (x | group)"
CROSSED = "y ~ x + (1 | group) + (1 | rater)"
VARIANTS = [("normal", FORMULA), ("poisson", FORMULA), ("normal", CROSSED)]


def min_bulk_ess(idata) -> float:
    """Minimum bulk ESS over all elements of all sampled parameters and group effects."""
    ess = az.ess(idata, group="posterior", method="bulk")
    return min(float(ess[name].min()) for name in ess.data_vars if "__obs__" not in ess[name].dims)


def counts_of(data) -> pd.DataFrame:
    """The normal case's rows with a Poisson outcome from the same linear predictor, scaled down."""
    rng = np.random.default_rng(0)
    eta = 0.5 + 0.3 * (data.frame["y"] - data.frame["y"].mean()) / data.frame["y"].std()
    return data.frame.assign(y=rng.poisson(np.exp(eta)))


def with_raters(data, n_raters: int = 50, sd: float = 0.5):
    """The normal case's rows, each scored by one of ``n_raters`` raters who shift the outcome."""
    rng = np.random.default_rng(1)
    rater = rng.integers(0, n_raters, len(data.frame))
    frame = data.frame.assign(rater=rater, y=data.frame["y"] + rng.normal(0, sd, n_raters)[rater])
    return replace(data, frame=frame, outcome=frame["y"].to_numpy())


def mcse_apart(first, second) -> float:
    """The largest distance between two posteriors' means of a scalar parameter, in combined MCSE."""
    names = [name for name in first.posterior.data_vars if first.posterior[name].ndim == 2
             and name in second.posterior.data_vars]
    a, b = (az.summary(idata, var_names=names) for idata in (first, second))
    return float(((a["mean"] - b["mean"]).abs() / np.hypot(a["mcse_mean"], b["mcse_mean"])).max())


def run_case(config, label: str, settings, quiet: bool = False) -> list[dict]:
    case_config, normal = simulated_case(config, *CASES[label], seed=settings.seed)
    rows = []
    for family, formula in VARIANTS:
        family_config = case_config.model_copy(update={
            "family": family, "models": [ModelSpec(name="formula", formula=formula)]})
        data = normal
        if family == "poisson":
            frame = counts_of(normal)
            data = replace(normal, frame=frame, outcome=frame["y"].to_numpy())
        elif formula == CROSSED:
            data = with_raters(normal)
        started = time.perf_counter()
        built = build_model(family_config, "formula", data)
        idata = sample_posterior(built.sampled_model, "formula", settings, "nutpie")
        project_s = time.perf_counter() - started

        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = bmb.Model(formula, data.frame, family={"normal": "gaussian", "poisson": "poisson"}[family])
            model.build()
            with model.backend.model:
                default = pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                                    cores=parallel_chains(settings.chains), random_seed=settings.seed,
                                    progressbar=False)
        default_s = time.perf_counter() - started
        apart = mcse_apart(idata, default)
        for engine, seconds, result in (("project", project_s, idata), ("pymc_default", default_s, default)):
            ess = min_bulk_ess(result)
            rows.append({"case": label, "family": family, "formula": formula.split(" ~ ")[1], "engine": engine,
                         "seconds": seconds, "min_ess_bulk": ess, "ess_per_s": ess / seconds,
                         "max_mcse_apart": apart})
            if not quiet:
                print("  " + ", ".join(f"{key} {value}" for key, value in rows[-1].items()), flush=True)
    return rows


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--cases", nargs="+", default=["100k"], choices=[case for case in CASES if case != "warm-up"])
    args = options.parse_args()
    config = load_config(args.config)
    settings = config.sampler_settings().model_copy(update={"draws": args.draws, "tune": args.tune,
                                                            "chains": args.chains, "seed": args.seed})
    run_case(config, "warm-up", settings.model_copy(update={"draws": 20, "tune": 20}), quiet=True)
    table = pd.DataFrame([row for label in args.cases for row in run_case(config, label, settings)])
    project = table[table["engine"] == "project"].set_index(["case", "family", "formula"])["ess_per_s"]
    table["project_ratio"] = [project[key] / value for key, value
                              in zip(zip(table["case"], table["family"], table["formula"]), table["ess_per_s"])]
    save_results(table, "formulas")
    print()
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
