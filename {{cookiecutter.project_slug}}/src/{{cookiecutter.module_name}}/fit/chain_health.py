"""Chains that stopped exploring: found while nutpie samples, and in a finished fit.

nutpie's adaptation can leave one chain with a step size thousands of times smaller than the
others' (seen on real data: mlmRev's Contraception, a logit model with a squared age term,
step size 1e-5 against 0.38). That chain runs every trajectory to the maximum tree depth and
barely moves: minutes where the others took a second, then draws no diagnostic can use
(PSIS-LOO fails on them). No draw diverges, so divergences alone do not find it.

:class:`ChainWatch` reads nutpie's progress (a few times a second) and flags such a chain as
soon as another chain has adapted, during the warm-up: the sampler then stops it and samples
again (``sampling.ModelSampler``). :func:`stuck_chains` checks a finished fit the same way.
"""

import numpy as np
import xarray as xr

# nutpie's default maximum tree depth is 10: a trajectory of 2**10 - 1 leapfrog steps.
MAX_TREE_STEPS = 2**10 - 1
# A chain at the maximum tree depth with a step size below this share of an adapted chain's is stuck.
STEP_SIZE_COLLAPSE = 0.01
DIVERGENT_SHARE = 0.5  # ... and so is a chain that diverges on more than this share of its draws
MIN_DRAWS = 20  # draws a chain must have taken before it is judged


class ChainsStuck(RuntimeError):
    """Sampling was stopped because chains stopped exploring; ``reasons``: chain -> why."""

    def __init__(self, reasons: dict[int, str]) -> None:
        super().__init__(describe(reasons))
        self.reasons = reasons


def describe(reasons: dict[int, str]) -> str:
    return "; ".join(f"chain {chain}: {reason}" for chain, reason in sorted(reasons.items()))


class ChainWatch:
    """A ``progress_callback`` for ``nutpie.sample``: records stuck chains in ``stuck``.

    A chain is stuck when, after :data:`MIN_DRAWS` draws, its trajectories reach the maximum
    tree depth with a step size under :data:`STEP_SIZE_COLLAPSE` of an adapted chain's, or it
    diverges on more than :data:`DIVERGENT_SHARE` of its draws after the warm-up.
    """

    def __init__(self, tune: int) -> None:
        self.tune = tune
        self.stuck: dict[int, str] = {}

    def __call__(self, states) -> None:
        adapted = [state.step_size for state in states if state.started and not state.tuning]
        reference = max(adapted, default=None)
        for chain, state in enumerate(states):
            if not state.started or state.finished_draws < MIN_DRAWS:
                continue
            if (reference and state.latest_num_steps >= MAX_TREE_STEPS
                    and state.step_size < STEP_SIZE_COLLAPSE * reference):
                self.stuck[chain] = (f"step size {state.step_size:.2g} at the maximum tree depth, against "
                                     f"{reference:.2g} for an adapted chain")
            sampled = state.finished_draws - self.tune
            if sampled >= MIN_DRAWS and state.divergences > DIVERGENT_SHARE * sampled:
                self.stuck[chain] = f"divergent on {state.divergences} of {sampled} draws"


def stuck_chains(idata: xr.DataTree) -> dict[int, str]:
    """Chains of a finished fit that did not explore: divergent on most draws, or whose median
    step size collapsed (below :data:`STEP_SIZE_COLLAPSE` of another chain's) while their
    trajectories reached the maximum tree depth on most draws."""
    stats = idata.sample_stats
    chains = stats["chain"].values
    found = {}
    divergent = stats["diverging"].mean(dim="draw").values
    for chain, share in zip(chains, divergent):
        if share > DIVERGENT_SHARE:
            found[int(chain)] = f"divergent on {100 * share:.0f}% of its draws"
    if "step_size" in stats and ("maxdepth_reached" in stats or "reached_max_treedepth" in stats):
        saturated = (stats["maxdepth_reached"] if "maxdepth_reached" in stats else stats["reached_max_treedepth"])
        saturated = saturated.mean(dim="draw").values
        step = stats["step_size"].median(dim="draw").values
        for position, chain in enumerate(chains):
            others = np.delete(step, position)
            if others.size and saturated[position] > 0.5 and step[position] < STEP_SIZE_COLLAPSE * others.max():
                found[int(chain)] = (f"step size {step[position]:.2g} at the maximum tree depth on "
                                     f"{100 * saturated[position]:.0f}% of its draws, against {others.max():.2g}")
    return found
