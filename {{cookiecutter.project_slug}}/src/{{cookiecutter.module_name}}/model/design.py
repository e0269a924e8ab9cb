"""What each model asks of the data, read before anything is sampled: its group factors and
the predictors whose slopes vary by them, the values a fit will keep, and the designs the
data cannot identify.

``design_warnings`` is shown in the terminal before the notebooks start and as callouts in
the report; ``check_costs`` refuses settings whose draws would not fit in memory, and more
cross-validation folds than groups.
"""

from dataclasses import dataclass

import formulae
import numpy as np
import pandas as pd
import psutil

from {{ cookiecutter.module_name }}.config import AnalysisConfig, ConfigError
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.formula_syntax import rw_factor, term_uses

# A factor with at least this share of the rows as levels leaves nearly every row a group of its own.
NEARLY_ONE_GROUP_PER_ROW = 0.8
# A varying slope is flagged when fewer than this share of the groups have two distinct values of its predictor.
SLOPE_IDENTIFIED_MIN_SHARE = 0.5
SAMPLE_STATS_PER_DRAW = 12  # nutpie's step size, depth, energy, divergences, ...
BYTES = 8
# While a fit is converted and saved its draws are held twice (the sampler's trace and the DataTree).
COPIES_WHILE_SAVING = 2


STRUCTURED_PREFIXES = ("spatial_", "trend_")  # custom models whose intercepts are spatial or temporal effects


@dataclass(frozen=True)
class GroupTerm:
    """Effects that vary by a factor: the factor's columns (two for ``school:class``) and the
    columns whose slopes vary (empty for intercepts only)."""

    factor: tuple[str, ...]
    slopes: tuple[str, ...] = ()
    structured: bool = False  # a car() or rw() term: neighbours, not the rows alone, tell its intercepts apart

    @property
    def label(self) -> str:
        return ":".join(self.factor)


def _columns(term) -> list[str]:
    return [column for component in getattr(term, "components", []) for column in term_uses(component)[0]]


def group_terms(config: AnalysisConfig, name: str) -> list[GroupTerm]:
    """The group terms of model ``name``. Custom models are taken as ``models.py``'s are:
    intercepts and the slopes of every ``data.predictors`` column varying by ``data.group``,
    intercepts only where the function's name ends in ``_intercepts`` (or ``_curves``: the other
    predictors' slopes are common), told apart by their neighbours in space or time where it also
    starts with ``spatial_`` or ``trend_``."""
    spec = config.model(name)
    if spec.formula is None:
        function = spec.custom.rsplit(".", 1)[-1]
        intercepts_only = function.endswith(("_intercepts", "_curves"))
        structured = intercepts_only and function.startswith(STRUCTURED_PREFIXES)
        return [GroupTerm((config.data.group,), () if intercepts_only else tuple(config.data.predictors), structured)]
    found = []
    for term in formulae.model_description(spec.formula).group_terms:
        factor, slopes = tuple(_columns(term.factor)), tuple(_columns(term.expr))
        structured = not slopes and (
            (spec.spatial is not None and factor == (spec.spatial.group,))
            or (spec.temporal is not None and ":".join(factor) == rw_factor(spec.temporal)))
        found.append(GroupTerm(factor, slopes, structured))
    return found


def rows_can_be_groups(family: str) -> bool:
    """Whether a group per row is identified: Poisson counts and binomial proportions have no
    residual sd, so effects of single rows are their overdispersion (lme4's observation-level effects)."""
    record = family_record(family)
    return not record.parameters and (record.trials or record.exposure)


def _labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    labels = frame[columns[0]].astype(str)
    for column in columns[1:]:
        labels = labels + ":" + frame[column].astype(str)
    return labels


def _width(frame: pd.DataFrame, columns) -> int:
    """Coefficients of a term: one per numeric column, levels - 1 per categorical one."""
    width = 1
    for column in columns:
        values = frame[column]
        width *= 1 if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) \
            else max(1, values.nunique() - 1)
    return width


def values_per_draw(config: AnalysisConfig, frame: pd.DataFrame, name: str) -> int:
    """About how many numbers each posterior draw of model ``name`` holds: every group
    effect twice (its standardised offset and itself), the population terms, the sds."""
    total = 0
    for term in group_terms(config, name):
        levels = _labels(frame, term.factor).nunique()
        total += 2 * levels * (1 + _width(frame, term.slopes) * bool(term.slopes))
    spec = config.model(name)
    if spec.formula is None:
        total += 2 * (1 + len(config.data.predictors)) + len(config.data.group_predictors)
    else:
        total += sum(_width(frame, _columns(term)) for term in formulae.model_description(spec.formula).common_terms)
    return total + 5  # intercept, residual sd, family parameters


def fit_bytes(config: AnalysisConfig, frame: pd.DataFrame, name: str, fast: bool) -> int:
    """About the memory a fit of ``name`` needs at its peak (see :data:`COPIES_WHILE_SAVING`)."""
    settings = config.sampler_settings(fast)
    draws = settings.chains * settings.draws
    rows = min(len(frame), settings.pointwise_rows or len(frame))
    pointwise_draws = min(draws, settings.pointwise_draws or draws)
    posterior = draws * (values_per_draw(config, frame, name) + SAMPLE_STATS_PER_DRAW) * BYTES
    pointwise = 2 * rows * pointwise_draws * BYTES  # log-likelihood and replicated outcomes
    return COPIES_WHILE_SAVING * posterior + pointwise


def _gigabytes(count: float) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e8 else f"{count / 1e6:,.0f} MB"


def check_costs(config: AnalysisConfig, data, fast: bool = False, available: int | None = None) -> None:
    """Refuse, before anything runs, settings whose cost is out of bounds.

    Raises
    ------
    ConfigError
        If a fit's draws would not fit in the ``available`` memory (default: what the
        machine has free now), or ``cross_validation.group_folds`` exceeds the groups.
    """
    available = psutil.virtual_memory().available if available is None else available
    settings = config.sampler_settings(fast)
    where = "fast." if fast else "sampler."
    needs = {name: fit_bytes(config, data.frame, name, fast) for name in config.model_names}
    name = max(needs, key=needs.get)
    if needs[name] > available:
        raise ConfigError(
            f"{config.source}: {where}draws {settings.draws:,} x {where}chains {settings.chains}: a fit of "
            f"model {name!r} would need about {_gigabytes(needs[name])} of memory (about "
            f"{values_per_draw(config, data.frame, name):,} values a draw, 8 bytes each, held twice while the fit is "
            f"saved, and the pointwise values), and this machine has {_gigabytes(available)} available. Fix: lower "
            f"{where}draws (1,000 to 4,000 is usual: the effective sample size is what matters) or {where}chains, "
            "or sampler.pointwise_rows / pointwise_draws."
        )
    folds, groups = config.cross_validation.group_folds, len(data.groups)
    if folds > groups:
        raise ConfigError(
            f"{config.source}: cross_validation.group_folds: {folds:,} folds, but data.group {config.data.group!r} has {groups} groups, "
            f"and each fold leaves out at least one. Fix: set cross_validation.group_folds to at most {groups} "
            f"({groups} is leave-one-group-out: {groups} more fits per model; 5 is usual), or 0 to skip it."
        )


def design_warnings(config: AnalysisConfig, data) -> list[str]:
    """Designs the data cannot identify, one sentence each: a factor with nearly as many
    levels as rows, a varying slope whose predictor takes one value in most groups."""
    frame, rows = data.frame, len(data.frame)
    found = []
    for name in config.model_names:
        for term in group_terms(config, name):
            levels = _labels(frame, term.factor)
            count = levels.nunique()
            if count >= NEARLY_ONE_GROUP_PER_ROW * rows and not term.structured and not rows_can_be_groups(
                    config.family_of(name)):
                continuous = any(pd.api.types.is_float_dtype(frame[column]) and
                                 not np.allclose(frame[column], frame[column].round()) for column in term.factor)
                hint = f" Is {term.label!r} a measurement rather than a label? Group by a column of labels." if continuous else ""
                found.append(
                    f"model {name!r}: the factor {term.label!r} has {count:,} levels for {rows:,} rows, so nearly every "
                    f"row is a group of its own and its group effects cannot be told apart from the residual noise.{hint}"
                )
            for column in term.slopes:
                varied = int((frame.groupby(levels, observed=True)[column].nunique() >= 2).sum())
                if varied < SLOPE_IDENTIFIED_MIN_SHARE * count:
                    found.append(
                        f"model {name!r}: the slope of {column!r} varies by {term.label!r}, but only {varied} of its "
                        f"{count:,} groups have two or more distinct values of {column!r}, so the data say nothing of "
                        f"most groups' slopes (they are the prior's). Fix: let only the intercept vary by "
                        f"{term.label!r}, or check the grouping column."
                    )
    return found
