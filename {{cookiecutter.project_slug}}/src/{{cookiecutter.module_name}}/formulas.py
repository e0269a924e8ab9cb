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


def build_formula_model(
    formula: str, frame: pd.DataFrame, family: str, priors: dict, centered: bool
) -> pm.Model:
    """The PyMC model Bambi builds for ``formula`` on ``frame``.

    Bambi applies one parameterisation to all group-specific terms of a model.
    """
    import bambi as bmb  # see bambi_prior

    model = bmb.Model(
        formula,
        frame,
        family=BAMBI_FAMILIES[family],
        priors={term: bambi_prior(prior) for term, prior in priors.items()},
        noncentered=not centered,
    )
    model.build()
    return model.backend.model
