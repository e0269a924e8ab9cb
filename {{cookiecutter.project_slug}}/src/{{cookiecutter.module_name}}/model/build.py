"""Build any candidate model of the config, formula or custom, into a PyMC model."""

import importlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pymc as pm

from {{ cookiecutter.module_name }}.config import PACKAGE, AnalysisConfig, custom_model_location, distributional_parameter
from {{ cookiecutter.module_name }}.data.grouped import GroupedData
from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.model.formulas import (
    around_population_model,
    bambi_model,
    factor_labels,
    formula_prior_rows,
    gp_terms,
    group_factors,
    normal_sufficient_model,
)
from {{ cookiecutter.module_name }}.model.likelihoods import sufficient_statistics_data
from {{ cookiecutter.module_name }}.model.measurement import latent_predictor
from {{ cookiecutter.module_name }}.model.parameterization import Choice, choose
from {{ cookiecutter.module_name }}.model.priors import ModelPriors, model_priors

# From this many rows "auto" samples normal models from sufficient statistics, by kind of model.
# Measured from empty compile caches on the example's 1,191 rows, each model as the fit compiles
# it (with its refits' row weights), three times each: the custom varying_slopes compiles in
# 20.5-21.7 s from sums (written by blocks) against 24.8-34.2 s row by row, and samples faster
# from them at any size, so custom models always take them; Bambi's row-by-row formula
# ``score ~ ses + (1 | school)`` compiles in 15.5-17.2 s against 16.6-20.5 s from sums, so
# formulas keep the earlier 2,000 rows (README "Performance": sampling from sums saves seconds
# from there, 3.1 s against 7.8-9.4 s at 10,079 rows for varying_slopes).
SUFFICIENT_STATISTICS_MIN_ROWS = {"custom": 0, "formula": 2000}


def uses_sufficient_statistics(setting: str | bool, n_rows: int, kind: str, mixed_centring: bool = False) -> bool:
    """Whether ``sampler.sufficient_statistics`` (``"auto"``, true or false) asks for the sums on
    ``n_rows`` rows for a model of ``kind`` (``"custom"`` or ``"formula"``), where a model of the
    normal family can be sampled from them.

    ``"auto"`` also takes them on fewer rows when the group factors are parameterised
    differently (``mixed_centring``): Bambi's row-by-row model, all non-centred, mixed far worse
    there (Penicillin's crossed plates and samples: bulk ESS 457 against 4,705 for the
    intercept; measured before row-by-row fits drew a factor around the population value too,
    ``formulas.around_population_model``).
    """
    return setting is True or (
        setting == "auto" and (n_rows >= SUFFICIENT_STATISTICS_MIN_ROWS[kind] or mixed_centring))



def resolve_custom(path: str) -> Callable:
    """The model function named by ``path`` (a config's ``custom:``, see
    ``config.custom_model_location``), imported."""
    module, function = custom_model_location(path)
    return getattr(importlib.import_module(f"{PACKAGE}.{module}"), function)

@dataclass
class BuiltModel:
    """A PyMC model with what was decided while building it."""

    name: str
    kind: str
    family: str
    outcome_name: str
    model: pm.Model
    obs_labels: list = field(default_factory=list)  # the row label of each observation
    parameterization: list[Choice] = field(default_factory=list)
    # The same posterior, sampled instead of ``model`` when there is one: from sufficient statistics (sums per
    # group and per level pair: models.normal_sufficient_likelihood, formulas.normal_sufficient_model), or for
    # a formula Bambi's model with group effects drawn around the population value (formulas.around_population_model).
    sampling_model: pm.Model | None = None
    # ``sampling_model``'s data for row weights (1 keep, 0 leave out): refits without some rows
    # (cross-validation) sample the same compiled model with these values.
    weighted_data: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
    priors: ModelPriors | None = None  # custom models: the priors used, in the data's units
    bambi: object | None = None        # formula models: the ``bmb.Model`` that built ``model``
    distributional: tuple[str, ...] = ()  # the family's own parameters a formula models (``sigma``)
    spatial: dict | None = None  # a formula's car() term: {"group": column, "type": "bym2" or "icar"}
    temporal: dict | None = None  # a formula's rw() term: {"time": column, "group": column or None, "type": "rw1" or "rw2"}
    autocorrelation: dict | None = None  # a formula's ar() term: {"time": column, "group": column or None}
    measurement: dict | None = None  # a formula's me() term: {"column": predictor, "sd": its standard errors}
    imputation: dict | None = None  # a formula's mi() term: {"column": predictor}
    gp: list[dict] = field(default_factory=list)  # a formula's hsgp() terms (formulas.gp_term)
    # Each prior in the data's units: [parameter, prior, source ("default" or "config")], as the report lists them
    prior_rows: list[list[str]] = field(default_factory=list)

    @property
    def sampled_model(self) -> pm.Model:
        """The model NUTS samples: from sufficient statistics where there is such a version."""
        return self.sampling_model or self.model

    @property
    def group_dims(self) -> set[str]:
        """The dims of group-level effects: ours are named after the factor, Bambi's ``<factor>__factor_dim``."""
        return {name for choice in self.parameterization for name in (choice.factor, f"{choice.factor}__factor_dim")}

    @property
    def centered(self) -> bool:
        return all(choice.centered for choice in self.parameterization)

    def describe(self) -> dict:
        """What the fit artifact and the report record about the model."""
        return {
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "parameterization": [choice.to_dict() for choice in self.parameterization],
            "likelihood": "sufficient statistics" if self.weighted_data is not None else "row by row",
            "distributional": list(self.distributional),
            "spatial": self.spatial,
            "temporal": self.temporal,
            "autocorrelation": self.autocorrelation,
            "measurement": self.measurement,
            "imputation": self.imputation,
            "gp": self.gp,
            "priors": self.prior_rows,
        }

    def attrs(self) -> dict[str, str]:
        return {"model": json.dumps(self.describe())}


def build_model(config: AnalysisConfig, name: str, data: GroupedData) -> BuiltModel:
    """Build the candidate model ``name`` on ``data``.

    The parameterisation of each group factor is chosen from the data unless the config
    forces one (``parameterization`` at the top level or on the model).
    """
    spec = config.model(name)
    family = config.family_of(name)
    forced = spec.parameterization or config.parameterization
    if spec.formula is None:
        factors = {data.group_dim: data.frame[data.group_dim]}
    else:
        factors = {factor: factor_labels(data.frame, columns) for factor, columns in group_factors(spec.formula).items()}
    choices = [
        choose(labels, data.outcome, family, factor, data.trials, data.exposure, forced=forced,
               separate_intercepts=spec.formula is not None)
        for factor, labels in factors.items()
    ]
    centered = all(choice.centered for choice in choices)
    sampling_model = weighted_data = priors = bambi = None
    mixed_centring = len({choice.centered for choice in choices}) > 1
    # Sums per group stand for normal group effects and independent rows: not for spatial or temporal structure
    structured = spec.spatial or spec.temporal or spec.autocorrelation or spec.measurement or spec.imputation
    sums = (not structured and family_record(family).sufficient_statistics
            and uses_sufficient_statistics(config.sampler.sufficient_statistics, len(data.outcome), spec.kind,
                                           mixed_centring))
    if spec.formula is None:
        function = resolve_custom(spec.custom)
        priors = model_priors(data, family, config.priors)
        model = function(data, priors, family=family, centered=centered, **spec.options)
        if sums and accepts_sufficient_statistics(function):
            sampling_model = function(data, priors, family=family, centered=centered, sufficient_statistics=True,
                                      **spec.options)
            weighted_data = partial(sufficient_statistics_data, data)
    else:
        bambi = bambi_model(spec.formula, data, family, spec.priors, centered, spec.distributional, spec.spatial,
                             spec.temporal, spec.autocorrelation, spec.measurement,
                             spec.imputation)
        model = bambi.backend.model
        terms = centred_terms(bambi, choices)
        if sums:
            # None for offsets and sparse crossed designs: they are sampled row by row.
            sampling_model, weighted_data = normal_sufficient_model(bambi, terms) or (None, None)
        if sampling_model is None:
            sampling_model = around_population_model(bambi, terms)  # None where it would be Bambi's model
    return BuiltModel(name, spec.kind, family, data.outcome_name, model, data.coords["obs"], choices, sampling_model,
                      weighted_data, priors, bambi,
                      tuple(distributional_parameter(name, formula) for formula in spec.distributional),
                      spec.spatial.model_dump(include={"group", "type"}) if spec.spatial else None,
                      spec.temporal.model_dump(include={"time", "group", "type"}) if spec.temporal else None,
                      spec.autocorrelation.model_dump(include={"time", "group"}) if spec.autocorrelation else None,
                      spec.measurement.model_dump(include={"column", "sd"}) if spec.measurement else None,
                      spec.imputation.model_dump(include={"column"}) if spec.imputation else None,
                      gp_terms(bambi) if bambi is not None else [], prior_table(spec, data, family, priors, bambi))


def prior_table(spec, data: GroupedData, family: str, priors: ModelPriors | None, bambi) -> list[list[str]]:
    """Every prior of the model in the data's units, ``[parameter, prior, source]``: a custom
    model's :class:`ModelPriors` (the priors it writes itself are in ``models.py``), a formula's
    terms as Bambi scaled them, with its me()/mi() terms' own."""
    if bambi is None:
        return priors.table(data.predictor_names, data.group_predictor_names).reset_index().to_numpy().tolist()
    rows = formula_prior_rows(bambi, spec.priors)
    for term in (spec.measurement, spec.imputation):
        if term is not None:
            rows += latent_predictor(data.frame, term.column, getattr(term, "sd", None), data.source).prior_rows(
                data.outcome, family)
    return rows


def centred_terms(bambi, choices: list[Choice]) -> set[str]:
    """The group terms of a formula model to sample centred: every term of a factor whose data
    chose centring, and the intercept ``1|f`` of a factor whose intercepts did
    (``Choice.intercepts_centered``)."""
    by_factor = {choice.factor: choice for choice in choices}
    component = bambi.parameters[bambi.family.likelihood.parent]
    terms = set()
    for name in component.group_specific_terms:
        expression, factor = name.split("|")
        choice = by_factor.get(factor)
        if choice is not None and (choice.centered or (expression == "1" and choice.intercepts_centered)):
            terms.add(name)
    return terms


def accepts_sufficient_statistics(function) -> bool:
    """Whether a custom model function can build its sufficient-statistics version."""
    return "sufficient_statistics" in inspect.signature(function).parameters
