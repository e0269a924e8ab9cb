"""Structured terms at scale: each against the same model with plain independent effects.

Times the fit path (``build_model`` and ``fit``: compile, sampling and the pointwise
log-likelihood) of a formula with a spatial, temporal or latent-predictor term (a custom latent-trait model), and of the
same formula with that term replaced by what a user would write without it, on simulated data:

* **car**: BYM2 on a 32 x 32 grid of regions (1,024), Poisson counts, ``cases ~ x + car(region)``,
  against ``(1 | region)``;
* **ar**: AR(1) residuals over 10,000 rows (100 series of 100 times), ``y ~ x + (1 | g) + ar(time = t, gr = g)``,
  against ``y ~ x + (1 | g)``;
* **rw**: an RW1 over 1,000 times (10 rows each), ``y ~ x + rw(t)``, against ``(1 | t)``;
* **hsgp**: a curve of ``x`` in each of 10 groups over 10,000 rows, ``y ~ 1 + g + hsgp(x, by=g, m=15, c=1.5)``,
  against varying slopes, ``y ~ 1 + x + (1 + x | g)``;
* **me**: 10,000 rows with ``x`` measured with error, ``y ~ me(x, sdx) + (1 | g)`` (normal: the true
  values integrated out), against ``y ~ x + (1 | g)``;
* **irt**: 1,000 people's answers to 20 items (20,000 rows), the custom 2PL ``item_response``, against
  the Rasch formula ``answer ~ 1 + (1 | person) + (1 | item)``.

Each case's first fit runs in a fresh process with empty compile caches (a user's first run),
then a second fit of the same model (the compiled model reused). ESS is the minimum bulk ESS
over ``estimates.csv``'s rows (population-level parameters, group sds and the terms' own). Prints seconds, ESS per second and
the structured model's cost relative to the plain one, measured in one run; the table is kept in
``benchmarks/results/structured.csv``. Run with ``make bench`` or
``python benchmarks/structured.py [--cases car ar]``.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from common import compile_caches_in, parser, save_results

CASES = ("car", "ar", "rw", "hsgp", "me", "irt")


def grid_pairs(side: int) -> pd.DataFrame:
    name = [[f"r{i}_{j}" for j in range(side)] for i in range(side)]
    pairs = [(name[i][j], name[i][j + 1]) for i in range(side) for j in range(side - 1)]
    pairs += [(name[i][j], name[i + 1][j]) for i in range(side - 1) for j in range(side)]
    return pd.DataFrame(pairs, columns=["region_a", "region_b"])


def case_data(case: str, folder: Path, seed: int) -> tuple[dict, list[tuple[str, str]]]:
    """The case's data (written under ``folder``), its ``data:`` config and its two formulas
    (``"custom: <function>"`` for a custom model)."""
    rng = np.random.default_rng(seed)
    if case == "car":
        pairs = grid_pairs(32)
        pairs.to_csv(folder / "adjacency.csv", index=False)
        regions = sorted(set(pairs.region_a) | set(pairs.region_b))
        x, expected = rng.normal(size=len(regions)), rng.uniform(5, 25, len(regions))
        smooth = np.cumsum(rng.normal(0, 0.1, len(regions)))  # effects that drift across the grid
        frame = pd.DataFrame({"region": regions, "x": x, "expected": expected,
                              "cases": rng.poisson(expected * np.exp(-0.2 + 0.4 * x + smooth - smooth.mean()))})
        data = {"outcome": "cases", "group": "region", "exposure": "expected", "adjacency": "adjacency.csv"}
        formulas = [("structured", "cases ~ 1 + x + car(region) + offset(log(expected))"),
                    ("plain", "cases ~ 1 + x + (1 | region) + offset(log(expected))")]
    elif case == "ar":
        g, t = np.repeat(np.arange(100), 100), np.tile(np.arange(100), 100)
        residual = np.zeros(len(g))
        for row in range(len(g)):
            residual[row] = (0.6 * residual[row - 1] if t[row] else 0.0) + rng.normal(0, 0.5)
        x = rng.normal(size=len(g))
        frame = pd.DataFrame({"g": [f"s{v}" for v in g], "t": t, "x": x,
                              "y": 1 + 0.5 * x + rng.normal(0, 0.5, 100)[g] + residual})
        data = {"outcome": "y", "group": "g"}
        formulas = [("structured", "y ~ 1 + x + (1 | g) + ar(time = t, gr = g)"), ("plain", "y ~ 1 + x + (1 | g)")]
    elif case == "rw":
        t = np.repeat(np.arange(1000), 10)
        x = rng.normal(size=len(t))
        frame = pd.DataFrame({"t": t, "x": x, "y": 0.5 * x + np.cumsum(rng.normal(0, 0.1, 1000))[t]
                              + rng.normal(0, 0.5, len(t)), "g": t % 7})
        data = {"outcome": "y", "group": "g"}
        formulas = [("structured", "y ~ 1 + x + rw(t)"), ("plain", "y ~ 1 + x + (1 | t)")]
    elif case == "hsgp":
        g = rng.integers(0, 10, 10_000)
        x = rng.uniform(0, 10, len(g))
        frame = pd.DataFrame({"g": [f"g{v}" for v in g], "x": x,
                              "y": np.sin(x + g / 3) + 0.1 * g + rng.normal(0, 0.5, len(g))})
        data = {"outcome": "y", "group": "g"}
        formulas = [("structured", "y ~ 1 + g + hsgp(x, by=g, m=15, c=1.5)"), ("plain", "y ~ 1 + x + (1 + x | g)")]
    elif case == "irt":
        person, item = np.meshgrid(np.arange(1000), np.arange(20), indexing="ij")
        ability, difficulty = rng.normal(size=1000), np.linspace(-1.5, 1.5, 20)
        discrimination = np.exp(rng.normal(0.2, 0.3, 20))
        chance = 1 / (1 + np.exp(-discrimination[item] * (ability[person] - difficulty[item])))
        frame = pd.DataFrame({"person": [f"p{v}" for v in person.ravel()], "item": [f"q{v:02d}" for v in item.ravel()],
                              "answer": rng.binomial(1, chance.ravel())})
        data = {"outcome": "answer", "group": "person"}
        formulas = [("structured", "custom: item_response"), ("plain", "answer ~ 1 + (1 | person) + (1 | item)")]
    else:
        g = rng.integers(0, 100, 10_000)
        true_x, sdx = rng.normal(size=len(g)), rng.uniform(0.2, 0.8, len(g))
        frame = pd.DataFrame({"g": [f"g{v}" for v in g], "x": true_x + rng.normal(0, sdx), "sdx": sdx,
                              "y": 1 + 2 * true_x + rng.normal(0, 0.5, 100)[g] + rng.normal(0, 0.5, len(g))})
        data = {"outcome": "y", "group": "g"}
        formulas = [("structured", "y ~ 1 + me(x, sdx) + (1 | g)"), ("plain", "y ~ 1 + x + (1 | g)")]
    frame.to_csv(folder / "data.csv", index=False)
    family = {"car": "poisson", "irt": "bernoulli"}.get(case, "normal")
    return {"data": {"path": "data.csv", "predictors": [], **data}, "family": family}, formulas


def fit_twice(config_path: Path, name: str) -> dict:
    """The first and second fit of model ``name``: seconds and minimum population-level bulk ESS."""
    from {{ cookiecutter.module_name }}.config import load_config
    from {{ cookiecutter.module_name }}.data.grouped import load_data
    from {{ cookiecutter.module_name }}.fit.sampling import fit
    from {{ cookiecutter.module_name }}.model.build import build_model
    from {{ cookiecutter.module_name }}.report.estimates import estimates

    config = load_config(config_path)
    data = load_data(config)
    row = {}
    for run in ("first", "second"):
        start = time.perf_counter()
        fitted = fit(build_model(config, name, data), config.sampler)
        row[f"{run}_s"] = time.perf_counter() - start
        row[f"{run}_ess"] = float(estimates(fitted, name, config.data.group)["ess_bulk"].min())
    return row


def main() -> None:
    options = parser(__doc__.split("\n")[0])
    options.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    options.add_argument("--child", nargs=3, help="internal: a config, a model and the JSON file of its fits")
    args = options.parse_args()
    if args.child:  # one model's fits, in a process of its own
        config_path, name, out = args.child
        Path(out).write_text(json.dumps(fit_twice(Path(config_path), name)))
        return
    rows = []
    for case in args.cases:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            raw, formulas = case_data(case, folder, args.seed)
            raw["models"] = [{"name": name, "custom": formula.removeprefix("custom: ")} if formula.startswith("custom: ")
                             else {"name": name, "formula": formula} for name, formula in formulas]
            raw["sampler"] = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
            config_path = folder / "config" / "analysis.yaml"  # data paths are read from the config's parent folder
            config_path.parent.mkdir()
            config_path.write_text(yaml.safe_dump(raw))
            for name, formula in formulas:
                out = folder / f"{name}.json"
                result = subprocess.run([sys.executable, __file__, "--child", str(config_path), name, str(out)],
                                        env=compile_caches_in(folder / f"caches-{name}"), capture_output=True,
                                        text=True, check=False)
                if result.returncode:
                    sys.exit(f"{case} {name} failed:\n{result.stderr[-3000:]}")
                measured = json.loads(out.read_text())
                rows.append({"case": case, "model": name, "formula": formula, **measured})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    for run in ("first", "second"):
        table[f"{run}_ess_per_s"] = table[f"{run}_ess"] / table[f"{run}_s"]
    plain = table[table.model == "plain"].set_index("case")
    table["time_vs_plain"] = table["second_s"] / table["case"].map(plain["second_s"])
    table["ess_per_s_vs_plain"] = table["second_ess_per_s"] / table["case"].map(plain["second_ess_per_s"])
    save_results(table, "structured")
    print(f"\n{os.cpu_count()} CPUs, {args.chains} chains x {args.draws} draws (+{args.tune} tuning)")
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
