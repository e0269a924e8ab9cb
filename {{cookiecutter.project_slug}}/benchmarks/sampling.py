"""Sampling efficiency of the project's fit path against Stan and PyMC's default NUTS.

The seed-shaped varying-intercept-and-slope model (normal outcome, default priors scaled to the data) is
fitted to the same simulated data, with the same parameterisation (the project's
automatic choice), chains, tuning steps and draws, by

* **project**: the project's fit path, ``sampling.ModelSampler`` (nutpie) on the model as
  ``build_model`` makes it: sampled from per-group sufficient statistics
  (``sampler.sufficient_statistics: auto``, the default, takes them for this custom model on
  any rows), its sampler
  callbacks loaded from Numba's cache when an earlier process compiled the same graph
  (``compiling.py``; the ``cached`` column says whether they were);
* **project_rows**: the same with the row-by-row likelihood (``sufficient_statistics: false``).
  This is also what ``pm.sample()`` does by default, since PyMC 6 picks nutpie when it is
  installed;
* **pymc_nuts**: PyMC's own NUTS (``nuts_sampler="pymc"``) on the row-by-row model, the
  sampler PyMC uses when nutpie is not installed;
* **stan**: the same model in Stan through PyStan (the ``bench`` extra, which ``make bench`` installs);
* **numpyro**: the project's model (sufficient statistics) with NumPyro's NUTS through JAX
  (``nuts_sampler="numpyro"``; also in the ``bench`` extra), to decide between the engines.

Each fit runs in a fresh process of its own, as a user's fit does, with compile caches of its
engine and case's own, measured twice: **first fit**, with those caches empty (a new model: PyTensor
compiles its graph to Numba or C), then **later fit**, with what the first fit left in them
(every fit after a model's first, also after a prior edit: the priors' values are inputs of the
compiled code). Stan and NumPyro compile afresh in every process (PyStan is given a new program
each time; JAX keeps no compile cache on disk by default): their later fit is their first
fit's row. Every engine runs its chains side by side, one per core. (PyMC counts one usable
core on some virtual machines and would otherwise run them one after another.)

For each it prints start-up (interpreter and imports, measured in a fresh process),
compilation (everything but sampling, in the process of the fit, after its imports),
sampling, the minimum bulk ESS over every parameter (group effects included), ESS per second
with and without compilation, and the project's ratio to each, for first and later fits; the
table is kept in ``benchmarks/results/sampling.csv`` for ``targets.py``. Run with
``make bench`` or ``python benchmarks/sampling.py [--cases 1k 100k]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# JAX sees one CPU device unless told otherwise, and NumPyro would then run chains one after another.
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={os.cpu_count()}")

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from common import compile_caches_in, parser, save_results, simulated_case

from {{ cookiecutter.module_name }}.config import load_config
from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler, parallel_chains
from {{ cookiecutter.module_name }}.model.build import build_model

CASES = {"1k": (40, 3, 47), "100k": (1000, 50, 150), "1M": (10_000, 50, 150)}
FITS = ("first fit", "later fit")
UNCACHED = {"stan", "numpyro"}  # compiled afresh in every process: a later fit is the first one again
IMPORTS = {
    "project": "import pymc, nutpie",
    "project_rows": "import pymc, nutpie",
    "pymc_nuts": "import pymc",
    "stan": "import stan",
    "numpyro": "import pymc, numpyro, jax",
}
PARAMETERS = ["mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "sigma", "alpha", "beta"]

STAN_PROGRAM = """
data {
  int<lower=1> N;
  int<lower=1> J;
  array[N] int<lower=1, upper=J> group;
  vector[N] x;
  vector[N] y;
  int<lower=0, upper=1> centered;
  real x_mean;
  real intercept_mu;
  real<lower=0> intercept_sigma;
  real slope_mu;
  real<lower=0> slope_sigma;
  real<lower=0> group_sd_intercept;
  real<lower=0> group_sd_slope;
  real<lower=0> residual_sd;
}
parameters {
  real intercept_at_means;
  real<lower=0> tau_alpha;
  real mu_beta;
  real<lower=0> tau_beta;
  real<lower=0> sigma;
  vector[J] alpha_raw;
  vector[J] beta_raw;
}
transformed parameters {
  real mu_alpha = intercept_at_means - mu_beta * x_mean;
  vector[J] alpha = centered ? alpha_raw : mu_alpha + tau_alpha * alpha_raw;
  vector[J] beta = centered ? beta_raw : mu_beta + tau_beta * beta_raw;
}
model {
  intercept_at_means ~ normal(intercept_mu, intercept_sigma);
  mu_beta ~ normal(slope_mu, slope_sigma);
  tau_alpha ~ normal(0, group_sd_intercept);
  tau_beta ~ normal(0, group_sd_slope);
  sigma ~ student_t(4, 0, residual_sd);
  if (centered) {
    alpha_raw ~ normal(mu_alpha, tau_alpha);
    beta_raw ~ normal(mu_beta, tau_beta);
  } else {
    alpha_raw ~ std_normal();
    beta_raw ~ std_normal();
  }
  y ~ normal(alpha[group] + beta[group] .* x, sigma);
}
"""


def startup_seconds(engine: str) -> float:
    """Interpreter start and imports of the engine, in a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS[engine]], check=True, capture_output=True)
    return time.perf_counter() - started


def min_bulk_ess(posterior: dict[str, np.ndarray]) -> float:
    """Minimum bulk ESS over all elements of all parameters; arrays are (chain, draw, ...)."""
    ess = az.ess(az.from_dict({"posterior": posterior}), method="bulk")
    return min(float(ess[name].min()) for name in ess.data_vars)


def run_pymc(model, settings, sampler: str) -> dict:
    """``pm.sample`` as the project's ``sampling.fit`` calls it, with ``sampler`` as the NUTS engine."""
    started = time.perf_counter()
    with model:
        idata = pm.sample(var_names=PARAMETERS, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                          random_seed=settings.seed, target_accept=settings.target_accept, nuts_sampler=sampler,
                          cores=parallel_chains(settings.chains), progressbar=False, compute_convergence_checks=False)
    total = time.perf_counter() - started
    sample_s = float(idata.posterior.attrs["sampling_time"])
    return {"compile_s": total - sample_s, "sample_s": sample_s, "posterior": pymc_posterior(idata)}


def run_project(model, settings) -> dict:
    """The project's fit path: a ``ModelSampler`` compiles the model once and samples it; as for
    ``pm.sample``, whatever is not sampling counts as compiling."""
    sampler = ModelSampler(model, "nutpie")
    started = time.perf_counter()
    idata = sampler.sample(settings)
    total = time.perf_counter() - started
    sample_s = float(idata.posterior.attrs["sampling_time"])
    return {"compile_s": total - sample_s, "sample_s": sample_s,
            "cached": sampler.compiled().compiled_logp_func.cache_hits > 0, "posterior": pymc_posterior(idata)}


def pymc_posterior(idata) -> dict[str, np.ndarray]:
    """The benchmark's parameters as (chain, draw, ...) arrays."""
    posterior = {name: idata.posterior[name].values for name in PARAMETERS}
    # One predictor: drop its dimension to match the Stan program's scalars and vectors.
    for name in ("mu_beta", "tau_beta", "beta"):
        posterior[name] = posterior[name][..., 0]
    return posterior


def run_stan(data, priors, centered: bool, settings) -> dict:
    import stan

    stan_data = {
        "N": len(data.outcome), "J": len(data.groups), "group": (data.group_codes + 1).tolist(),
        "x": data.predictors[:, 0].tolist(), "y": data.outcome.tolist(), "centered": int(centered),
        "x_mean": float(priors.predictor_means[0]),
        "intercept_mu": priors.intercept_mu, "intercept_sigma": priors.intercept_sigma,
        "slope_mu": float(priors.slope_mu[0]), "slope_sigma": float(priors.slope_sigma[0]),
        "group_sd_intercept": priors.group_sd_intercept, "group_sd_slope": float(priors.group_sd_slopes[0]),
        "residual_sd": priors.residual_sd,
    }
    # A comment unique to this run keeps httpstan from reusing a model compiled earlier,
    # so the compile time is measured, as it is for the other engines.
    started = time.perf_counter()
    program = stan.build(f"{STAN_PROGRAM}// run {uuid.uuid4()}\n", data=stan_data, random_seed=settings.seed)
    compiled_at = time.perf_counter()
    fit = program.sample(num_chains=settings.chains, num_samples=settings.draws, num_warmup=settings.tune,
                         delta=settings.target_accept)
    finished = time.perf_counter()
    posterior = {}
    for name in PARAMETERS:
        values = np.asarray(fit[name])  # (*dims, draws * chains), chain by chain
        values = values.reshape(*values.shape[:-1], settings.chains, settings.draws)
        posterior[name] = np.moveaxis(values, (-2, -1), (0, 1))
    return {"compile_s": compiled_at - started, "sample_s": finished - compiled_at, "posterior": posterior}


def run_engine(config, label: str, engine: str, settings) -> dict:
    """One fit of the case's model by ``engine`` in this process: its timings and minimum bulk ESS."""
    case_config, data = simulated_case(config, *CASES[label], settings.seed)
    if engine == "stan":
        built = build_model(case_config, "varying_slopes", data)
        result = run_stan(data, built.priors, built.centered, settings)
    elif engine in ("project", "numpyro"):
        model = build_model(case_config, "varying_slopes", data).sampled_model
        result = run_project(model, settings) if engine == "project" else run_pymc(model, settings, sampler="numpyro")
    else:
        row_by_row = case_config.model_copy(update={"sampler": settings.model_copy(update={"sufficient_statistics": False})})
        model = build_model(row_by_row, "varying_slopes", data).model
        result = run_pymc(model, settings, sampler="nutpie" if engine == "project_rows" else "pymc")
    ess = min_bulk_ess(result.pop("posterior"))
    row = {"case": label, "engine": engine, "startup_s": startup_seconds(engine), **result, "min_ess_bulk": ess}
    row["ess_per_s"] = ess / (row["compile_s"] + row["sample_s"])
    row["ess_per_s_sampling"] = ess / row["sample_s"]
    return row


def run_in_fresh_process(label: str, engine: str, caches: Path, arguments) -> dict:
    """``run_engine`` in a new Python process whose compile caches live in ``caches``."""
    output = caches.parent / f"{engine}-{label}.json"
    command = [sys.executable, __file__, "--one", engine, label, "--output", str(output),
               "--config", str(Path(arguments.config).resolve()),
               "--draws", str(arguments.draws), "--tune", str(arguments.tune), "--chains", str(arguments.chains),
               "--seed", str(arguments.seed)]
    # In the temporary folder: PyStan builds its extension modules in the working folder's build/.
    subprocess.run(command, env=compile_caches_in(caches), cwd=caches.parent, check=True)
    return json.loads(output.read_text())


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--cases", nargs="+", default=["1k", "100k"], choices=list(CASES))
    options.add_argument("--engines", nargs="+", default=list(IMPORTS), choices=list(IMPORTS))
    options.add_argument("--one", nargs=2, metavar=("ENGINE", "CASE"), help=argparse.SUPPRESS)
    options.add_argument("--output", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.one:  # a child process: one fit, its row written to --output
        config = load_config(args.config)
        settings = config.sampler.model_copy(update={"draws": args.draws, "tune": args.tune, "chains": args.chains,
                                                     "seed": args.seed, "engine": "nutpie"})
        Path(args.output).write_text(json.dumps(run_engine(config, args.one[1], args.one[0], settings)))
        return
    rows, first = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-sampling-") as folder:
        for fit in FITS:
            for label in args.cases:
                for engine in args.engines:
                    if fit == "later fit" and engine in UNCACHED:
                        row = first[label, engine]
                    else:
                        row = run_in_fresh_process(label, engine, Path(folder) / f"{engine}-{label}", args)
                        first.setdefault((label, engine), row)
                        print(f"{label} {fit} {engine}: " + ", ".join(
                            f"{key} {value:.1f}" for key, value in row.items() if isinstance(value, float)), flush=True)
                    rows.append({"fit": fit, **row})
    table = pd.DataFrame(rows)
    save_results(table, "sampling")
    for fit in FITS:
        print(f"\n{fit}" + (" (Stan's and NumPyro's rows: their first fit's)" if fit == "later fit" else ""))
        print(table[table["fit"] == fit].drop(columns="fit").round(2).to_string(index=False))
    if "project" in args.engines:
        print()
        print(pd.concat({fit: ratios(table[table["fit"] == fit]).T for fit in FITS}, axis=1).round(2).to_string())


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """The project's ESS per second over each other engine's, per case, with and without compilation."""
    wide = table.pivot(index="case", columns="engine", values=["ess_per_s", "ess_per_s_sampling"])
    columns = {}
    for other in sorted(set(table["engine"]) - {"project"}):
        columns[f"project / {other} (compile + sampling)"] = wide["ess_per_s"]["project"] / wide["ess_per_s"][other]
        columns[f"project / {other} (sampling)"] = (
            wide["ess_per_s_sampling"]["project"] / wide["ess_per_s_sampling"][other]
        )
    return pd.DataFrame(columns)


if __name__ == "__main__":
    main()
