"""Where the performance targets stand, from the tables the other benchmarks kept.

``make bench`` runs ``sampling.py``, ``formulas.py`` and ``pipeline.py``, which keep their
tables in ``benchmarks/results/``, then this script, which prints one row per target and case:
the goal, what was measured, and whether it is met. The targets:

1. formula models at 1M rows x 10,000 groups (``y ~ x + (1 | g)``, ``y ~ x + (x | g)`` and the
   crossed ``y ~ x + (1 | g1) + (1 | g2)``) fit, check and report end to end in 10 minutes and
   8 GB each, with estimates equal to the same model written by hand (``varying_slopes``) within
   Monte Carlo error (``pipeline.py``'s 1M cases);
2. formula models at 100k rows x 1,000 groups: 10x the minimum bulk ESS per second of
   ``pm.sample()`` on Bambi's model, compilation included (``formulas.py``);
3. the example's first run after a bake, in a new environment with empty compile caches:
   45 s (``pipeline.py``);
4. the example rerun after one prior of one model was edited: 15 s (``pipeline.py``);
5. no engine gets more ESS per second than the fit path, compilation included, at 1k and 100k
   rows, on a model's first fit (empty compile caches) and on later fits (``sampling.py``).

A target whose benchmark has not run says which command measures it. The results' files are
listed with the time they were written: the targets are comparable only within one run of
``make bench`` (timings on a shared machine are noisy). ``python benchmarks/targets.py``.
"""

import datetime
from pathlib import Path

import pandas as pd
from common import RESULTS

MINUTES_1M, MEMORY_GB_1M = 10, 8
MCSE_APART = 3.0  # "equal within Monte Carlo error": every population-level parameter within 3 MCSE
ESS_RATIO_100K = 10.0
FIRST_RUN_S, PRIOR_EDIT_S = 45.0, 15.0
FORMULAS_1M = {"1M intercepts": "score ~ ses + (1 | school)", "1M slopes": "score ~ ses + (ses | school)",
               "1M crossed": "score ~ ses + (1 | school) + (1 | rater)"}
COMMANDS = {"pipeline": "python benchmarks/pipeline.py --cases {case}", "formulas": "python benchmarks/formulas.py",
            "sampling": "python benchmarks/sampling.py"}


def read(results: Path, name: str) -> pd.DataFrame | None:
    path = results / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else None


def not_measured(benchmark: str, case: str = "") -> str:
    command = COMMANDS[benchmark].format(case=f"'{case}'" if " " in case else case)
    return f"not measured: {command}"


def verdict(met: bool) -> str:
    return "met" if met else "not met"


def formulas_at_1m(pipeline: pd.DataFrame | None) -> list[dict]:
    target = "1. formula models, 1M rows x 10k groups"
    rows = []
    for case, formula in FORMULAS_1M.items():
        row = {"target": target, "case": formula, "goal": f"<= {MINUTES_1M} min and {MEMORY_GB_1M} GB"}
        run = None if pipeline is None else pipeline[(pipeline["case"] == case) & (pipeline["run"] == "cold")]
        if run is None or run.empty:
            rows.append({**row, "measured": "", "met": not_measured("pipeline", case)})
            continue
        minutes, memory = run["wall_s"].iloc[0] / 60, run["peak_memory_gb"].iloc[0]
        rows.append({**row, "measured": f"{minutes:.1f} min, {memory:.1f} GB",
                     "met": verdict(minutes <= MINUTES_1M and memory <= MEMORY_GB_1M)})
    row = {"target": target, "case": "(ses | school) against varying_slopes",
           "goal": f"estimates within {MCSE_APART:g} MCSE"}
    run = None if pipeline is None else pipeline[pipeline["case"] == "1M formulas"]
    if run is None or run.empty or "max_mcse_apart" not in run:
        rows.append({**row, "measured": "", "met": not_measured("pipeline", "1M formulas")})
    else:
        apart = run["max_mcse_apart"].max()
        rows.append({**row, "measured": f"at most {apart:.2f} MCSE apart", "met": verdict(apart <= MCSE_APART)})
    return rows


def formulas_at_100k(formulas: pd.DataFrame | None) -> list[dict]:
    target = "2. formula models, 100k rows x 1k groups"
    goal = f">= {ESS_RATIO_100K:g}x pm.sample()'s ESS/s"
    default = None if formulas is None else formulas[(formulas["case"] == "100k")
                                                      & (formulas["engine"] == "pymc_default")]
    if default is None or default.empty:
        return [{"target": target, "case": "", "goal": goal, "measured": "", "met": not_measured("formulas")}]
    return [{"target": target, "case": f"{row.family}: y ~ {row.formula}", "goal": goal,
             "measured": f"{row.project_ratio:.1f}x", "met": verdict(row.project_ratio >= ESS_RATIO_100K)}
            for row in default.itertuples()]


def example_runs(pipeline: pd.DataFrame | None) -> list[dict]:
    rows = []
    for target, run, limit in (("3. first run after a bake", "cold", FIRST_RUN_S),
                               ("4. one prior edited, rerun", "prior edited", PRIOR_EDIT_S)):
        row = {"target": target, "case": "the example", "goal": f"<= {limit:g} s"}
        measured = None if pipeline is None else pipeline[(pipeline["case"] == "example") & (pipeline["run"] == run)]
        if measured is None or measured.empty:
            rows.append({**row, "measured": "", "met": not_measured("pipeline", "example")})
            continue
        seconds, environment = measured["wall_s"].iloc[0], measured["environment"].iloc[0]
        met = verdict(seconds <= limit) if environment == "new" else "not as a user meets it: --environment new"
        rows.append({**row, "measured": f"{seconds:.1f} s", "met": met})
    return rows


def engines(sampling: pd.DataFrame | None) -> list[dict]:
    target, goal = "5. no engine faster than the fit path", ">= 1x every engine's ESS/s"
    if sampling is None or "project" not in set(sampling["engine"]):
        return [{"target": target, "case": "", "goal": goal, "measured": "", "met": not_measured("sampling")}]
    rows = []
    for (fit, case), table in sampling.groupby(["fit", "case"], sort=False):
        ess_per_s = table.set_index("engine")["ess_per_s"]
        ratios = (ess_per_s["project"] / ess_per_s.drop("project")).sort_values()
        measured = ", ".join(f"{engine} {ratio:.2f}x" for engine, ratio in ratios.items())
        rows.append({"target": target, "case": f"{case}, {fit}", "goal": goal, "measured": measured,
                     "met": verdict(bool((ratios >= 1).all()))})
    return rows


def targets(results: Path = RESULTS) -> pd.DataFrame:
    """One row per target and case: goal, measured value and verdict."""
    pipeline = read(results, "pipeline")
    rows = [*formulas_at_1m(pipeline), *formulas_at_100k(read(results, "formulas")), *example_runs(pipeline),
            *engines(read(results, "sampling"))]
    return pd.DataFrame(rows, columns=["target", "case", "goal", "measured", "met"])


def main() -> None:
    for name in ("sampling", "formulas", "pipeline"):
        path = RESULTS / f"{name}.csv"
        written = datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(" ", "minutes") if path.exists() else "-"
        print(f"{path.name:>13}: {written}")
    print()
    with pd.option_context("display.max_colwidth", 120, "display.width", 250):
        print(targets().to_string(index=False))


if __name__ == "__main__":
    main()
