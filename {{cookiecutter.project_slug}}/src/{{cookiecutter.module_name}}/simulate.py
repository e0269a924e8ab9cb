"""Simulate the example data set: students' scores in schools, with known true parameters.

The generating model is the primary model of the template::

    alpha_j ~ Normal(mu_alpha, tau_alpha)        # school intercepts
    beta_j  ~ Normal(mu_beta, tau_beta)          # school slopes on SES
    score_i ~ Normal(alpha_j[i] + beta_j[i] * ses_i, sigma)

SES is written as a z-score (mean 0, sd 1), so the standardisation applied before
fitting leaves it unchanged and the true values are on the scale the model estimates.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.data import standardise

TRUE_HYPERPARAMETERS = {
    "mu_alpha": 0.5,
    "tau_alpha": 0.6,
    "mu_beta": 0.35,
    "tau_beta": 0.2,
    "sigma": 1.0,
}
SEED = 20261124


def simulate_schools(
    n_schools: int = 40,
    min_students: int = 3,
    max_students: int = 60,
    seed: int = SEED,
) -> tuple[pd.DataFrame, dict]:
    """Simulate test scores of students nested in schools.

    Parameters
    ----------
    n_schools : int
    min_students, max_students : int
        School sizes are drawn uniformly between these, so some schools have few
        students and their estimates are shrunk the most.
    seed : int

    Returns
    -------
    frame : DataFrame
        Columns ``school``, ``student``, ``ses``, ``score``.
    truth : dict
        ``hyperparameters`` (named as in the model), the per-school ``alpha`` and
        ``beta``, and the simulation settings.
    """
    rng = np.random.default_rng(seed)
    h = TRUE_HYPERPARAMETERS
    schools = [f"school_{number:02d}" for number in range(1, n_schools + 1)]
    sizes = rng.integers(min_students, max_students + 1, size=n_schools)
    alpha = rng.normal(h["mu_alpha"], h["tau_alpha"], size=n_schools)
    beta = rng.normal(h["mu_beta"], h["tau_beta"], size=n_schools)

    school_index = np.repeat(np.arange(n_schools), sizes)
    ses = standardise(pd.Series(rng.normal(size=school_index.size))).to_numpy()
    score = alpha[school_index] + beta[school_index] * ses + rng.normal(0, h["sigma"], school_index.size)

    frame = pd.DataFrame(
        {
            "school": np.asarray(schools)[school_index],
            "student": np.arange(1, school_index.size + 1),
            "ses": ses.round(6),
            "score": score.round(6),
        }
    )
    truth = {
        "hyperparameters": dict(h),
        "alpha": dict(zip(schools, alpha.round(6).tolist())),
        "beta": dict(zip(schools, beta.round(6).tolist())),
        "settings": {"n_schools": n_schools, "min_students": min_students, "max_students": max_students, "seed": seed},
    }
    return frame, truth


def write_example(csv_path: Path, truth_path: Path, **settings) -> pd.DataFrame:
    """Simulate and write the example CSV and its true parameters as JSON."""
    frame, truth = simulate_schools(**settings)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv_path, index=False)
    truth_path.write_text(json.dumps(truth, indent=2) + "\n")
    return frame


def load_truth(path: Path) -> dict:
    """The true parameter values written by :func:`write_example`."""
    return json.loads(Path(path).read_text())
