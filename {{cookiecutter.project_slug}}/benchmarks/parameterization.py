"""Centred vs non-centred vs ``parameterization: auto``, measured side by side.

For each data size, the seed-shaped varying-intercept-and-slope model is fitted three
times on the same simulated data with the same sampler settings and seed; the table
gives wall time (compilation and sampling), the minimum bulk ESS over all parameters
(group effects included) and ESS per second. ``auto`` should match the better fixed
choice: it picks one of them, so its ratio to the best is 1 up to timing noise. The
row-by-row model is used (as with ``sampler.sufficient_statistics: false``): the posterior
geometry is the same either way, and sampling time, which the parameterisation changes,
is then not hidden by compilation.

Run with ``make bench`` or ``python benchmarks/parameterization.py``.
"""

import time

import arviz as az
import pandas as pd
import pymc as pm

from {{ cookiecutter.module_name }}.build import build_model
from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.diagnostics import parameter_names
from {{ cookiecutter.module_name }}.sampling import parallel_chains

from common import parser, simulated_case

# (rows, groups): group sizes are drawn uniformly around rows / groups.
CASES = {"1k rows / 40 groups": (40, 3, 47), "100k rows / 1000 groups": (1000, 50, 150)}


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


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    config = load_config(args.config)
    # Untimed warm-up: the first fit in a process pays one-off JIT and import costs.
    run_case(config, 10, 5, 5, draws=50, tune=50, chains=1, seed=args.seed, quiet=True)
    tables = []
    for label, (n_groups, min_size, max_size) in CASES.items():
        print(label, flush=True)
        table, reason = run_case(config, n_groups, min_size, max_size, args.draws, args.tune, args.chains, args.seed)
        print(f"  auto: {reason}")
        tables.append(table)
    print()
    print(pd.concat(tables).to_string(index=False))


if __name__ == "__main__":
    main()
