"""Centred vs non-centred vs ``parameterization: auto``, measured side by side.

For each data size, the seed-shaped varying-intercept-and-slope model is fitted three
times on the same simulated data with the same sampler settings and seed; the table
gives wall time (compilation and sampling), the minimum bulk ESS over all parameters
(group effects included) and ESS per second. ``auto`` should match the better fixed
choice: it picks one of them, so its ratio to the best is 1 up to timing noise. The
row-by-row model is used (as with ``sampler.sufficient_statistics: false``): the posterior
geometry is the same either way, and sampling time, which the parameterisation changes,
is then not hidden by compilation.

Then, for formula models, whose intercepts are decided on their own (``Choice.intercepts_centered``:
drawn around the population intercept from a median information ratio of 3, slopes non-centred):
``y ~ x + (x | group)`` on normal, Bernoulli and Poisson outcomes of the same simulated design
at several sizes, Bambi's non-centred model against what the fit samples with ``auto`` and
against the intercepts drawn around the population value whatever the ratio, with the
project's fit path and sampler settings.

Run with ``make bench`` or ``python benchmarks/parameterization.py [--tables custom intercepts]``.
"""

import time
from dataclasses import replace

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from common import parser, simulated_case
from formulas import counts_of, min_bulk_ess

from {{ cookiecutter.module_name }}.config import ModelSpec, load_config
from {{ cookiecutter.module_name }}.fit.sampling import parallel_chains, sample_posterior
from {{ cookiecutter.module_name }}.fit.summary import parameter_names
from {{ cookiecutter.module_name }}.model.build import build_model
from {{ cookiecutter.module_name }}.model.formulas import around_population_model, normal_sufficient_model
from {{ cookiecutter.module_name }}.model.parameterization import information_ratios

# (rows, groups): group sizes are drawn uniformly around rows / groups.
CASES = {"1k rows / 40 groups": (40, 3, 47), "100k rows / 1000 groups": (1000, 50, 150)}
# Formula intercepts: (family, groups, min size, max size), from weakly to well informed intercepts.
INTERCEPT_CASES = [("bernoulli", 40, 3, 47), ("poisson", 40, 3, 47), ("bernoulli", 200, 25, 75),
                   ("normal", 200, 5, 15), ("normal", 40, 3, 47), ("poisson", 1000, 50, 150)]


def run_case(config, n_groups: int, min_size: int, max_size: int, draws: int, tune: int, chains: int, seed: int,
             quiet: bool = False):
    case_config, data = simulated_case(config, n_groups, min_size, max_size, seed)
    rows = []
    for setting in ("non_centered", "centered", "auto"):
        built = build_model(case_config.model_copy(update={"parameterization": setting}), "varying_slopes", data)
        start = time.perf_counter()
        with built.model:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="nutpie",
                              cores=parallel_chains(chains), target_accept=0.9, progressbar=False)
        seconds = time.perf_counter() - start
        ess = az.ess(idata, var_names=parameter_names(idata), method="bulk")
        min_ess = min(float(ess[name].min()) for name in ess.data_vars)
        rows.append({
            "rows": len(data.outcome), "groups": n_groups, "setting": setting,
            "chosen": "centered" if built.centered else "non_centered",
            "divergences": int(idata.sample_stats["diverging"].sum()),
            "wall_s": round(seconds, 1), "min_ess_bulk": round(min_ess), "ess_per_s": round(min_ess / seconds, 1),
        })
        if not quiet:
            print(f"  {setting}: {rows[-1]}", flush=True)
    table = pd.DataFrame(rows)
    best_fixed = table.loc[table["setting"] != "auto", "ess_per_s"].max()
    table["vs_best_fixed"] = (table["ess_per_s"] / best_fixed).round(2)
    return table, built.parameterization[0].reason


def outcome_of(family: str, data):
    """The normal case's rows with an outcome of ``family`` from the same linear predictor."""
    frame = data.frame
    if family == "poisson":
        frame = counts_of(data)
    elif family == "bernoulli":
        eta = 0.3 + (frame["y"] - frame["y"].mean()) / frame["y"].std()
        frame = frame.assign(y=np.random.default_rng(0).binomial(1, 1 / (1 + np.exp(-eta))))
    return replace(data, frame=frame, outcome=frame["y"].to_numpy())


def intercepts_case(config, family: str, n_groups: int, min_size: int, max_size: int, settings) -> list[dict]:
    """``y ~ x + (x | group)``: Bambi's non-centred model, the model ``auto`` samples, and the
    intercepts drawn around the population value whatever the ratio (slopes non-centred)."""
    case_config, normal = simulated_case(config, n_groups, min_size, max_size, seed=settings.seed)
    data = outcome_of(family, normal)
    ratio = round(float(information_ratios(data.frame["group"], data.outcome, family).median()), 1)
    rows = []
    for setting in ("non_centered", "auto", "intercepts_centred"):
        formula_config = case_config.model_copy(update={
            "family": family, "parameterization": "auto" if setting == "auto" else "non_centered",
            "models": [ModelSpec(name="formula", formula="y ~ x + (x | group)")]})
        built = build_model(formula_config, "formula", data)
        model, sampled = built.sampled_model, built.parameterization[0].label
        if setting == "intercepts_centred":
            model = (around_population_model(built.bambi, {"1|group"}) if built.weighted_data is None
                     else normal_sufficient_model(built.bambi, {"1|group"})[0])
            sampled = "non-centred, intercepts centred"
        start = time.perf_counter()
        idata = sample_posterior(model, "formula", settings, "nutpie")
        seconds = time.perf_counter() - start
        rows.append({"family": family, "rows": len(data.outcome), "groups": n_groups, "ratio": ratio,
                     "setting": setting, "sampled": sampled, "divergences": int(idata.sample_stats["diverging"].sum()),
                     "wall_s": round(seconds, 1), "min_ess_bulk": round(min_bulk_ess(idata))})
        rows[-1]["vs_non_centered"] = round(rows[-1]["min_ess_bulk"] / rows[0]["min_ess_bulk"], 2)
    return rows


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--tables", nargs="+", default=["custom", "intercepts"], choices=["custom", "intercepts"])
    args = options.parse_args()
    config = load_config(args.config)
    # Untimed warm-up: the first fit in a process pays one-off JIT and import costs.
    run_case(config, 10, 5, 5, draws=50, tune=50, chains=1, seed=args.seed, quiet=True)
    if "custom" in args.tables:
        tables = []
        for label, (n_groups, min_size, max_size) in CASES.items():
            print(label, flush=True)
            table, reason = run_case(config, n_groups, min_size, max_size, args.draws, args.tune, args.chains,
                                     args.seed)
            print(f"  auto: {reason}")
            tables.append(table)
        print()
        print(pd.concat(tables).to_string(index=False))
    if "intercepts" in args.tables:
        settings = config.sampler_settings().model_copy(update={"draws": args.draws, "tune": args.tune,
                                                                "chains": args.chains, "seed": args.seed})
        rows = [row for case in INTERCEPT_CASES for row in intercepts_case(config, *case, settings)]
        print()
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
