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


def has_intercept(formula: str) -> bool:
    """Whether the formula's common part has an intercept (``y ~ 0 + x`` has none)."""
    return any(type(term).__name__ == "Intercept" for term in formulae.model_description(formula).terms)


def formula_priors(formula: str, data, family: str, priors: dict) -> dict:
    """The config's priors by term, with the default ``Intercept`` of ``priors.py`` unless given.

    Every other term keeps Bambi's scaling to the data.
    """
    from {{ cookiecutter.module_name }}.priors import formula_intercept_prior

    defaults = {"Intercept": formula_intercept_prior(data, family)} if has_intercept(formula) else {}
    given = {term: prior.model_dump() if hasattr(prior, "model_dump") else prior for term, prior in priors.items()}
    return {**defaults, **given}


def bambi_model(formula: str, data, family: str, priors: dict, centered: bool = False):
    """The Bambi model of ``formula`` on ``data.frame`` (predictors in their own units), built.

    Bambi applies one parameterisation to all group-specific terms of a model. It centres
    the common predictors inside the PyMC model; :func:`bambi_results` turns the sampled
    ``Intercept`` back into the intercept at predictors = 0, as ``bmb.Model.fit`` does.
    """
    import bambi as bmb  # see bambi_prior

    check_dense_size(formula, data.frame)
    model = bmb.Model(
        formula,
        data.frame,
        family=BAMBI_FAMILIES[family],
        priors={term: bambi_prior(prior) for term, prior in formula_priors(formula, data, family, priors).items()},
        noncentered=not centered,
    )
    model.build()
    return model


def bambi_results(model, idata):
    """Bambi's own post-processing of a posterior sampled from ``model.backend.model``:
    the ``Intercept`` at predictors = 0 (Bambi samples it at the predictors' means),
    Bambi's dimension order, and the non-centred ``*_offset`` draws left out; exactly
    what ``bmb.Model.fit`` returns for the same draws."""
    return model.backend._clean_results(idata, omit_offsets=True, include_response_params=False)
