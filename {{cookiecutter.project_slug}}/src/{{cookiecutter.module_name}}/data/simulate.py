"""Simulate grouped data with known true parameters: the example data set and test data.

The generating model is the template's ``varying_slopes`` model::

    alpha_j = mu_alpha + gamma * u_j + tau_alpha * z_j    # group intercepts (u: group-level predictor)
    beta_j  ~ Normal(mu_beta, tau_beta)                   # group slopes on x
    eta_i   = alpha_j[i] + beta_j[i] * x_i                # linear predictor, on the link scale
    y_i     ~ family(link^-1(eta_i), ...)

``x`` (and ``u``) are written as z-scores (mean 0, sd 1).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.families import family_record

SEED = 20261124


def standardise(values: pd.Series) -> pd.Series:
    """Centre on the mean and divide by the sample sd."""
    return (values - values.mean()) / values.std()
OUTCOME_TYPE = "{{ cookiecutter.outcome_type }}"  # the example this project was generated with


@dataclass(frozen=True)
class Example:
    """One example design: its family, column names and true hyperparameters."""

    family: str
    outcome: str
    hyperparameters: dict
    trials: str | None = None     # column with the number of trials (binomial)
    exposure: str | None = None   # column with the exposure (counts)
    event: str | None = None      # times to an event: 1 if it happened before censor_at, else 0
    censor_at: float | None = None  # the end of follow-up: later times are censored there
    columns: dict = field(default_factory=lambda: {"group": "school", "unit": "student", "x": "ses"})


EXAMPLES = {
    "continuous": Example("normal", "score", {"mu_alpha": 0.5, "tau_alpha": 0.6, "mu_beta": 0.35, "tau_beta": 0.2, "sigma": 1.0}),
    "binary": Example("bernoulli", "passed", {"mu_alpha": 0.4, "tau_alpha": 0.7, "mu_beta": 0.6, "tau_beta": 0.2}),
    "count": Example("poisson", "absences", {"mu_alpha": -2.5, "tau_alpha": 0.5, "mu_beta": 0.3, "tau_beta": 0.15},
                     exposure="days_enrolled"),
    "proportion": Example("binomial", "correct", {"mu_alpha": 0.5, "tau_alpha": 0.6, "mu_beta": 0.35, "tau_beta": 0.2},
                          trials="n_items"),
    # 0, 1, 2: below, at or above the expected level; cut-points 0 and 1.5 on the latent logit scale
    "ordinal": Example("cumulative", "rating", {"mu_alpha": 0.5, "tau_alpha": 0.6, "mu_beta": 0.5, "tau_beta": 0.2,
                                                "cutpoint_gaps": 1.5}),
    # A quarter of the students never miss a day whatever their school (zi): extra zeros
    # Months to leaving school, followed for 36 months: a student still enrolled then is censored
    "time_to_event": Example("weibull", "months", {"mu_alpha": 3.5, "tau_alpha": 0.4, "mu_beta": 0.3, "tau_beta": 0.1,
                                                   "shape": 1.5}, event="left_school", censor_at=36.0),
    "zero_inflated_count": Example("zero_inflated_poisson", "absences", {"mu_alpha": -2.5, "tau_alpha": 0.5, "mu_beta": 0.3,
                                                                         "tau_beta": 0.15, "zi": 0.25},
                                   exposure="days_enrolled"),
}
TRUE_HYPERPARAMETERS = EXAMPLES[OUTCOME_TYPE].hyperparameters


def draw_outcome(rng: np.random.Generator, family: str, eta: np.ndarray, hyperparameters: dict,
                 trials=None, exposure=None) -> np.ndarray:
    """Outcomes of ``family`` given the linear predictor ``eta`` on its link scale (the
    family's ``simulate`` in ``families.py``)."""
    return family_record(family).simulate(rng, eta, hyperparameters, trials, exposure)


def simulate_grouped(
    family: str,
    hyperparameters: dict,
    n_groups: int = 40,
    min_size: int = 3,
    max_size: int = 60,
    seed: int = SEED,
    group_predictor_effect: float | None = None,
    trials: int = 20,
    names: dict | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Simulate observations nested in groups from the ``varying_slopes`` model.

    Parameters
    ----------
    family : str
        A key of ``families.FAMILIES``.
    hyperparameters : dict
        ``mu_alpha``, ``tau_alpha``, ``mu_beta``, ``tau_beta`` and the family's own
        (the record's ``parameters``: ``sigma``; ``nu`` for Student-t; ``phi`` for negative
        binomial; ``shape`` for gamma).
    n_groups, min_size, max_size : int
        Group sizes are drawn uniformly between ``min_size`` and ``max_size``, so some
        groups have few observations and their estimates are shrunk the most.
    seed : int
    group_predictor_effect : float, optional
        If given, a group-level predictor ``u`` shifts the intercepts by this much per sd
        (recorded as ``gamma``).
    trials : int
        Maximum number of trials per row (binomial); rows get 5 to ``trials``.
    names : dict, optional
        Column names: ``group``, ``unit``, ``x``, ``outcome``, ``trials``, ``exposure``, ``u``.

    Returns
    -------
    frame : DataFrame
    truth : dict
        ``hyperparameters`` (named as in the model), the per-group ``alpha`` and
        ``beta``, and the simulation settings.
    """
    names = {"group": "group", "unit": "unit", "x": "x", "outcome": "y", "trials": "trials",
             "exposure": "exposure", "u": "u", **(names or {})}
    rng = np.random.default_rng(seed)
    h = dict(hyperparameters)
    labels = [f"{names['group']}_{number:02d}" for number in range(1, n_groups + 1)]
    sizes = rng.integers(min_size, max_size + 1, size=n_groups)
    alpha = rng.normal(h["mu_alpha"], h["tau_alpha"], size=n_groups)
    beta = rng.normal(h["mu_beta"], h["tau_beta"], size=n_groups)
    index = np.repeat(np.arange(n_groups), sizes)
    x = standardise(pd.Series(rng.normal(size=index.size))).to_numpy()
    if group_predictor_effect is not None:
        u = standardise(pd.Series(rng.normal(size=n_groups))).to_numpy()
        h["gamma"] = group_predictor_effect
        alpha = alpha + group_predictor_effect * u
    eta = alpha[index] + beta[index] * x
    columns = {names["group"]: np.asarray(labels)[index], names["unit"]: np.arange(1, index.size + 1), names["x"]: x.round(6)}
    row_trials = row_exposure = None
    if family_record(family).trials:
        row_trials = columns[names["trials"]] = rng.integers(5, trials + 1, size=index.size)
    if family_record(family).exposure:
        row_exposure = columns[names["exposure"]] = rng.integers(20, 181, size=index.size)
    if group_predictor_effect is not None:
        columns[names["u"]] = u[index].round(6)
    outcome = draw_outcome(rng, family, eta, h, row_trials, row_exposure)
    columns[names["outcome"]] = outcome.round(6) if family_record(family).link == "identity" else outcome

    truth = {
        "family": family,
        "hyperparameters": h,
        "alpha": dict(zip(labels, alpha.round(6).tolist())),
        "beta": dict(zip(labels, beta.round(6).tolist())),
        "settings": {"n_groups": n_groups, "min_size": min_size, "max_size": max_size, "seed": seed},
    }
    return pd.DataFrame(columns), truth


def simulate_schools(outcome_type: str = OUTCOME_TYPE, n_schools: int = 40, seed: int = SEED,
                     **settings) -> tuple[pd.DataFrame, dict]:
    """The example data: students in schools, with the outcome of ``outcome_type``."""
    example = EXAMPLES[outcome_type]
    names = {**example.columns, "outcome": example.outcome}
    if example.trials:
        names["trials"] = example.trials
    if example.exposure:
        names["exposure"] = example.exposure
    frame, truth = simulate_grouped(example.family, example.hyperparameters, n_groups=n_schools, min_size=3,
                                    max_size=60, seed=seed, names=names, **settings)
    if example.event:  # follow-up ends at censor_at: the times after it are only known to be later
        frame[example.event] = (frame[example.outcome] < example.censor_at).astype(int)
        frame[example.outcome] = frame[example.outcome].clip(upper=example.censor_at)
    return frame, truth


def write_example(csv_path: Path, truth_path: Path, outcome_type: str = OUTCOME_TYPE, **settings) -> pd.DataFrame:
    """Simulate and write the example CSV and its true parameters as JSON."""
    frame, truth = simulate_schools(outcome_type, **settings)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv_path, index=False)
    truth_path.write_text(json.dumps(truth, indent=2) + "\n")
    return frame


def load_truth(path: Path) -> dict:
    """The true parameter values written by :func:`write_example`."""
    return json.loads(Path(path).read_text())
