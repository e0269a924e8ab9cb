"""Models written as formulas (lme4/brms syntax), built by Bambi into PyMC models.

Examples of the syntax (see the README for more)::

    score ~ ses + (1 + ses | school)          # varying intercepts and slopes
    y ~ x + (1 | school/class)                # classes nested in schools
    y ~ x + (1 | rater) + (1 | item)          # crossed factors
    p(successes, trials) ~ x + (1 | site)     # binomial: successes out of trials
    count ~ x + (1 | county) + offset(log(exposure))
"""

import formulae
import pandas as pd
import pymc as pm

# formulae (Bambi's formula engine) builds each group term as a dense rows x groups matrix
# of 8-byte numbers; above this size a formula model is refused with advice instead.
DENSE_MATRIX_LIMIT_BYTES = 4e9

# Our family names -> Bambi's.
BAMBI_FAMILIES = {
    "normal": "gaussian",
    "student_t": "t",
    "bernoulli": "bernoulli",
    "binomial": "binomial",
    "poisson": "poisson",
    "negative_binomial": "negativebinomial",
}


def bambi_prior(spec):
    """A config prior such as ``{dist: Normal, mu: 0, sigma: 1}`` (or with ``sigma: {dist: HalfNormal, ...}``)
    as a ``bmb.Prior``; nested mappings are hyperpriors, numbers are passed as they are."""
    import bambi as bmb  # here, not at the top: importing Bambi costs ~2 s in every notebook

    if not isinstance(spec, dict):
        return spec
    arguments = {key: bambi_prior(value) for key, value in spec.items() if key != "dist"}
    return bmb.Prior(spec["dist"], **arguments)


def group_factors(formula: str) -> dict[str, list[str]]:
    """Each group factor of the formula (``"school:class"`` for a nested one) and its columns."""
    factors = {}
    for term in formulae.model_description(formula).group_terms:
        columns = [component.name for component in term.factor.components]
        factors[":".join(columns)] = columns
    return factors


def factor_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The group label of every row for a factor made of one or more columns."""
    labels = frame[columns[0]].astype(str)
    for column in columns[1:]:
        labels = labels + ":" + frame[column].astype(str)
    return labels


def check_dense_size(formula: str, frame: pd.DataFrame) -> None:
    """Refuse a formula whose group terms would need more memory than a machine has."""
    for factor, columns in group_factors(formula).items():
        n_levels = factor_labels(frame, columns).nunique()
        size = len(frame) * n_levels * 8
        if size > DENSE_MATRIX_LIMIT_BYTES:
            raise MemoryError(
                f"formula {formula!r}: Bambi builds the group term of {factor!r} as a dense "
                f"{len(frame):,} rows x {n_levels:,} groups matrix ({size / 1e9:.0f} GB). "
                "Fix: for data this size use a custom model from models.py (e.g. custom: varying_slopes), "
                "which indexes groups instead."
            )


def build_formula_model(
    formula: str, frame: pd.DataFrame, family: str, priors: dict, centered: bool
) -> pm.Model:
    """The PyMC model Bambi builds for ``formula`` on ``frame``.

    Bambi applies one parameterisation to all group-specific terms of a model.
    """
    import bambi as bmb  # see bambi_prior

    check_dense_size(formula, frame)
    model = bmb.Model(
        formula,
        frame,
        family=BAMBI_FAMILIES[family],
        priors={term: bambi_prior(prior) for term, prior in priors.items()},
        noncentered=not centered,
    )
    model.build()
    return model.backend.model
