"""Load and validate ``config/analysis.yaml``, the single source of truth of an analysis."""

import ast
import difflib
import re
from pathlib import Path
from typing import Literal

import formulae
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from {{ cookiecutter.module_name }}.families import FAMILIES, LINKS, family_key
from {{ cookiecutter.module_name }}.formula_syntax import (CAR_TYPES, FUNCTIONS, RW_TYPES, autocorrelation_term,
                                                           imputation_term, measurement_term, spatial_term,
                                                           temporal_term, unknown_functions)
from {{ cookiecutter.module_name }}.names import RESERVED_NAMES

Family = Literal[tuple(FAMILIES)]
LinkName = Literal[tuple(LINKS)]
Parameterization = Literal["auto", "centered", "non_centered"]

DEFAULT_CONFIG_PATH = Path("config/analysis.yaml")


class ConfigError(ValueError):
    """The config file is missing or does not describe a valid analysis."""


class _Strict(BaseModel):
    # Unknown keys are typos more often than not: reject them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepareConfig(_Strict):
    """The data preparation (``data/preparation.py``): a function of ``prepare.py`` that turns the
    raw files into the tidy table at ``data.path``."""

    function: str = "tidy"              # a function in src/<package>/prepare.py
    raw: dict[str, Path] = Field(min_length=1)  # the function's argument -> the raw CSV it is read from

    @model_validator(mode="after")
    def _matches_function(self):
        parameters = preparation_parameters(self.function)
        required = {name for name, has_default in parameters.items() if not has_default}
        if not set(self.raw) <= set(parameters) or not required <= set(self.raw):
            raise ValueError(
                f"raw names {', '.join(self.raw)}, but {self.function}() in src/{PACKAGE}/prepare.py takes "
                f"({', '.join(parameters)}). Fix: name each raw file after the argument it is passed as"
            )
        return self


class DataConfig(_Strict):
    path: Path
    outcome: str
    group: str
    predictors: list[str] = []          # observation-level numeric predictors, in their own units
    group_predictors: list[str] = []     # group-level columns, constant within each group
    trials: str | None = None            # binomial: the number of trials of each row
    exposure: str | None = None          # Poisson / negative binomial: log(exposure) is an offset
    event: str | None = None             # times to an event: 1 if it was observed, 0 if the time is right-censored
    # Ordinal outcomes: the categories in order, lowest first ([poor, fair, good]); null: whole numbers in numeric order.
    categories: list[str | int] | None = None
    # Areal data: the graph of neighbouring regions (CSV) of a formula's car(region) term or of a
    # custom model's spatial effects (data/graph.py)
    adjacency: Path | None = None
    drop_missing: bool = False           # drop rows with a missing value in a used column (else an error)
    true_parameters: Path | None = None
    prepare: PrepareConfig | None = None  # made from raw files by prepare.py; null: path is read as it is


class NormalPrior(_Strict):
    mu: float = 0.0
    sigma: float = Field(gt=0)


class HalfNormalPrior(_Strict):
    sigma: float = Field(gt=0)


class GammaPrior(_Strict):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)


class BetaPrior(_Strict):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)


# An optional prior for each family's own parameter (``priors.nu``, ``priors.phi``,
# ``priors.shape``: Gamma(alpha, beta); ``priors.zi``, ``priors.hu``: Beta(alpha, beta)),
# named as in the family's record: a new family's parameter takes its config key from families.py.
_FamilyParameterPriors = create_model(
    "_FamilyParameterPriors", __base__=_Strict,
    **{name: ({"Gamma": GammaPrior, "Beta": BetaPrior}[default[0]] | None, None)
       for family in FAMILIES.values() for name, default in family.parameter_priors.items()},
)


class PriorOverrides(_FamilyParameterPriors):
    """Priors of the custom models that replace the defaults scaled to the data (``model/priors.py``).

    Every entry is optional and in the data's units (link scale for non-normal families).
    Formula models take theirs by term from ``models[].priors``. Each family parameter's
    default (``nu``, ``phi``, ``shape``: Gamma(alpha, beta)) is in its record in ``families.py``.
    """

    intercept: NormalPrior | None = None                  # at the predictors' means
    slopes: dict[str, NormalPrior] = {}                   # by predictor or group-level predictor
    group_sd: dict[str, PositiveFloat] = {}               # HalfNormal scale by "intercept" or predictor
    residual_sd: HalfNormalPrior | None = None            # HalfStudentT(4) scale (normal, Student-t)
    lkj_eta: float = Field(default=2.0, gt=0)             # correlated_slopes: LKJ shape


PACKAGE = __name__.rpartition(".")[0]
PACKAGE_DIR = Path(__file__).parent


# The user's code is read, not imported, to check a config: loading a config runs none of it
# (and needs no PyMC). model/build.py and data/preparation.py import the functions named here.
def defined_functions(module: str) -> dict[str, dict[str, bool]]:
    """The functions defined at the top of ``src/<package>/<module>.py``: each one's
    parameters, and whether each has a default. Raises ``ValueError`` if the file does not
    parse, ``FileNotFoundError`` if there is none."""
    path = PACKAGE_DIR / f"{module}.py"
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        raise ValueError(f"src/{PACKAGE}/{module}.py cannot be imported: SyntaxError: {error}") from error
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            defaults = [False] * (len(positional) - len(arguments.defaults)) + [True] * len(arguments.defaults)
            functions[node.name] = {
                **{argument.arg: has for argument, has in zip(positional, defaults)},
                **{argument.arg: default is not None for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults)},
            }
    return functions


def custom_model_location(path: str) -> tuple[str, str]:
    """``(module, function)`` of the custom model ``path`` names: ``function`` in ``models.py``,
    or ``module.function`` for a module of this project's package (``src/<package>/module.py``).
    The package's own name may lead (``<package>.module.function``). Nothing outside the
    package is allowed: a config names a model, it does not run code."""
    module, _, function = path.removeprefix(f"{PACKAGE}.").rpartition(".")
    module = module or "models"
    if "." in module or not module.isidentifier() or not (PACKAGE_DIR / f"{module}.py").is_file():
        raise ValueError(
            f"{path!r} is not in this project: a custom model is a function in models.py (custom: function) "
            f"or in another module of src/{PACKAGE}/ (custom: module.function)"
        )
    if function not in defined_functions(module):
        raise ValueError(f"no function {function!r} in {PACKAGE}.{module}")
    return module, function


# The arguments the pipeline gives every custom model; a model's other arguments are its ``options``.
MODEL_ARGUMENTS = ("data", "priors", "family", "centered", "sufficient_statistics")


def custom_model_names() -> list[str]:
    """Model functions defined in ``models.py``: those taking a ``centered`` argument."""
    return [name for name, parameters in defined_functions("models").items() if "centered" in parameters]


def preparation_parameters(name: str) -> dict[str, bool]:
    """The parameters of the function ``name`` of ``prepare.py`` (which ``data.prepare``
    names), and whether each has a default."""
    functions = defined_functions("prepare")
    if name not in functions:
        raise ValueError(f"function: no function {name!r} in src/{PACKAGE}/prepare.py; its functions: "
                         f"{', '.join(functions) or 'none'}")
    return functions[name]


# Model names become file names (artifacts/fits/<name>.nc, reports/02_fit_<name>.html).
MODEL_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class BambiPrior(_Strict):
    """A Bambi prior: a PyMC distribution's name and its parameters, numbers or nested priors."""

    model_config = ConfigDict(extra="allow", frozen=True)
    dist: str

    @model_validator(mode="after")
    def _known(self):
        import pymc as pm

        if not isinstance(getattr(pm, self.dist, None), type) or not issubclass(getattr(pm, self.dist), pm.Distribution):
            close = difflib.get_close_matches(self.dist, [name for name in dir(pm) if name[:1].isupper()], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown distribution {self.dist!r}: use a PyMC distribution name such as Normal.{hint}")
        for key, value in (self.model_extra or {}).items():
            if isinstance(value, dict):
                BambiPrior.model_validate(value)
            elif isinstance(value, bool) or not isinstance(value, (int, float, list)):
                raise ValueError(f"{self.dist}.{key}: expected a number, a list of numbers or a nested prior")
        return self


class SpatialTerm(_Strict):
    """A formula's ``car(group, type = ...)`` term (set from the formula: see :func:`spatial_term`)."""

    group: str
    type: Literal[CAR_TYPES] = "bym2"
    written: str  # the formula as the config gives it, car() and all


class TemporalTerm(_Strict):
    """A formula's ``rw(time, type = ..., gr = group)`` term (see :func:`temporal_term`)."""

    time: str
    group: str | None = None  # a walk per group; None: one walk shared by all
    type: Literal[RW_TYPES] = "rw1"
    written: str


class AutocorrelationTerm(_Strict):
    """A formula's ``ar(time = ..., gr = group)`` term (see :func:`autocorrelation_term`)."""

    time: str
    group: str | None = None  # a series per group; None: the rows are one series
    written: str


class MeasurementTerm(_Strict):
    """A formula's ``me(column, sd)`` term (see :func:`measurement_term`)."""

    column: str  # the measured predictor
    sd: str      # each measurement's standard error
    written: str


class ImputationTerm(_Strict):
    """A formula's ``mi(column)`` term (see :func:`imputation_term`)."""

    column: str  # the predictor whose missing values are imputed
    written: str


class ModelSpec(_Strict):
    """One candidate model: a formula (built by Bambi) or a custom PyMC function."""

    name: str                                   # letters, digits, _ and -; starts with a letter (a file name)
    formula: str | None = None
    custom: str | None = None
    # Custom models: keyword arguments of the function, e.g. {item: question} for item_response(..., item=...)
    options: dict[str, str | int | float | bool | None] = {}
    family: Family | None = None                # overrides the top-level family
    link: LinkName | None = None                # overrides the top-level link
    priors: dict[str, BambiPrior] = {}          # formula models: Bambi priors by term
    parameterization: Parameterization | None = None  # overrides the top-level choice
    # Formula models: formulas of the family's own parameters, e.g. ["sigma ~ (1 | school)"]
    # (Bambi's bmb.Formula("y ~ ...", "sigma ~ ..."), brms's bf(y ~ ..., sigma ~ ...)), on the log scale.
    distributional: list[str] = []
    # Its car() term; ``formula`` is then Bambi's, with the group term (1 | region) that carries it.
    spatial: SpatialTerm | None = None
    # Its rw() term, carried by the group term (1 | time) or (1 | group:time).
    temporal: TemporalTerm | None = None
    # Its ar() term, taken out of ``formula``: AR(1) residuals, built into the likelihood.
    autocorrelation: AutocorrelationTerm | None = None
    # Its me() term, taken out of ``formula``: a predictor measured with error, built as a latent one.
    measurement: MeasurementTerm | None = None
    # Its mi() term, taken out of ``formula``: a predictor whose missing values are imputed in the fit.
    imputation: ImputationTerm | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        # `- varying_slopes` is short for a custom model of that name.
        value = {"name": value, "custom": value} if isinstance(value, str) else value
        if isinstance(value, dict) and isinstance(value.get("formula"), str) and not {"spatial", "temporal", "autocorrelation", "measurement", "imputation"} & value.keys():
            formula = value["formula"]
            for key, rewrite in (("spatial", spatial_term), ("temporal", temporal_term),
                                 ("autocorrelation", autocorrelation_term), ("measurement", measurement_term),
                                 ("imputation", imputation_term)):
                try:
                    formula, term = rewrite(formula)
                except ValueError as error:
                    raise ValueError(f"model {value.get('name')!r}: {error}") from None
                if term is not None:
                    value = {**value, key: dict(term, written=value["formula"])}
            value = {**value, "formula": formula}
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not re.fullmatch(MODEL_NAME_PATTERN, name):
            raise ValueError(
                f"model name {name!r} must start with a letter and hold only letters, digits, '_' and '-' "
                "(at most 64): it names the fit's file and its report page. Fix: e.g. 'varying_slopes'"
            )
        return name

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.formula is None) == (self.custom is None):
            raise ValueError(f"model {self.name!r}: give exactly one of 'formula' or 'custom'")
        if self.custom is not None:
            try:
                custom_model_location(self.custom)
            except (OSError, ValueError) as error:
                raise ValueError(
                    f"model {self.name!r}: custom {self.custom!r} not found ({error}); "
                    f"functions in models.py: {', '.join(custom_model_names())}"
                ) from error
            module, function = custom_model_location(self.custom)
            accepted = sorted(set(defined_functions(module)[function]) - set(MODEL_ARGUMENTS))
            unknown = sorted(set(self.options) - set(accepted))
            if unknown:
                raise ValueError(f"model {self.name!r}: options {unknown} are not arguments of {self.custom}; "
                                 f"it takes {', '.join(accepted) or 'none'}. Fix: correct the option's name in the config")
        elif self.options:
            raise ValueError(f"model {self.name!r}: options are a custom model's arguments; a formula says its "
                             "columns in its terms")
        if self.formula is not None:
            try:
                terms = formula_terms(self.formula)
            except Exception as error:  # formulae raises several types
                raise ValueError(f"model {self.name!r}: formula {self.formula!r} does not parse: {error}") from error
            for term, function in unknown_functions(self.formula):
                raise ValueError(
                    f"model {self.name!r}: the term {term!r} calls {function!r}, which formulas cannot use. Allowed: "
                    f"{', '.join(sorted(FUNCTIONS, key=lambda name: (name.lower(), name)))}, and numpy's element-wise functions as np.<name> "
                    "(np.log1p, np.sqrt). Fix: correct the name, or add the transformed column to the CSV"
                )
            unknown = sorted(set(self.priors) - terms - FAMILY_PARAMETERS)
            if unknown:
                raise ValueError(
                    f"model {self.name!r}: priors on {unknown}, which the formula does not have; "
                    f"its terms: {', '.join(sorted(terms))} (and the family's: {', '.join(sorted(FAMILY_PARAMETERS))})"
                )
            parameters = [distributional_parameter(self.name, formula) for formula in self.distributional]
            repeated = sorted({name for name in parameters if parameters.count(name) > 1})
            if repeated:
                raise ValueError(f"model {self.name!r}: distributional has more than one formula of {repeated}")
        elif self.priors:
            raise ValueError(f"model {self.name!r}: priors by term are for formula models; "
                             "a custom model's priors go in the top-level priors section")
        elif self.distributional:
            raise ValueError(f"model {self.name!r}: distributional formulas are for formula models; a custom "
                             f"model writes its parameters' structure in PyMC (models.py)")
        return self

    @property
    def kind(self) -> str:
        return "formula" if self.formula is not None else "custom"


# Parameters of Bambi's families that take a prior by name.
FAMILY_PARAMETERS = {bambi for family in FAMILIES.values() for bambi in family.parameters.values()}


def distributional_parameter(model: str, formula: str) -> str:
    """The parameter a distributional formula models (``sigma`` of ``"sigma ~ (1 | school)"``),
    once the formula is checked as :class:`ModelSpec` checks the model's own."""
    parameter, _, right = formula.partition("~")
    parameter = parameter.strip()
    if not right.strip() or not parameter.isidentifier():
        raise ValueError(f"model {model!r}: distributional formula {formula!r} must read 'parameter ~ terms', "
                         "e.g. 'sigma ~ (1 | school)'")
    try:
        formula_terms(f"y ~ {right}")
    except Exception as error:  # formulae raises several types
        raise ValueError(f"model {model!r}: distributional formula {formula!r} does not parse: {error}") from error
    for term, function in unknown_functions(formula):
        raise ValueError(f"model {model!r}: the term {term!r} of {formula!r} calls {function!r}, which formulas "
                         "cannot use")
    return parameter


def formula_terms(formula: str) -> set[str]:
    """The names Bambi gives the terms of ``formula``: what a prior may be set on."""
    return {term.name for term in formulae.model_description(formula).terms}


class SamplerSettings(_Strict):
    engine: Literal["nutpie", "pymc"] = "nutpie"
    draws: PositiveInt = 1000
    tune: PositiveInt = 1000
    chains: PositiveInt = 4
    target_accept: float = Field(default=0.9, gt=0, lt=1)
    seed: int = 20261124
    # Rows whose log-likelihood and replicated outcomes are kept (LOO, checks); a random
    # subsample above this. See fit/pointwise.py. null keeps every row.
    pointwise_rows: PositiveInt | None = 5000
    pointwise_draws: PositiveInt | None = 2000  # ... computed from at most this many draws
    # Normal-family models are sampled from sufficient statistics (sums per group, and per pair
    # of levels of crossed or nested factors) where they can be (custom models that support it,
    # formulas without offsets whose level pairs are far fewer than the rows): the same posterior,
    # much faster on many rows (models.py, model/formulas.py). "auto": custom models always, formulas
    # from 2,000 rows (build.SUFFICIENT_STATISTICS_MIN_ROWS: below, Bambi's row-by-row model
    # compiles a little faster). true: always where they can; false: never.
    sufficient_statistics: Literal["auto"] | bool = "auto"


class FastSettings(_Strict):
    draws: PositiveInt = 300
    tune: PositiveInt = 300
    chains: PositiveInt = 2


class CrossValidation(_Strict):
    """Leave-groups-out cross-validation and exact LOO of the observations PSIS cannot
    score (``evaluate/crossval.py``): ``group_folds`` fits per model (0: none), ``max_refits`` at most
    (0: none), each with these chains, tune and draws (at most the run's own)."""

    group_folds: NonNegativeInt = 5
    # Observations whose Pareto-k is above diagnostics.pareto_k_max are refitted exactly, at most this many.
    max_refits: NonNegativeInt = 20
    chains: PositiveInt = 2
    tune: PositiveInt = 500
    draws: PositiveInt = 500

    def fold_settings(self, settings: "SamplerSettings") -> "SamplerSettings":
        return settings.model_copy(update={"chains": min(self.chains, settings.chains),
                                           "tune": min(self.tune, settings.tune),
                                           "draws": min(self.draws, settings.draws)})


class Calibration(_Strict):
    """Simulation-based calibration of the primary model (``evaluate/sbc.py``, notebook 06):
    ``simulations`` fits to outcomes drawn from the prior, with the run's own sampler
    settings. Off unless ``enabled`` or asked for with ``run --calibration`` (``make calibration``)."""

    enabled: bool = False
    simulations: PositiveInt = 100
    fast_simulations: PositiveInt = 20  # with ``run --fast``

    def count(self, fast: bool) -> int:
        return min(self.fast_simulations, self.simulations) if fast else self.simulations


class DiagnosticThresholds(_Strict):
    rhat_max: float = Field(default=1.01, gt=1)
    ess_bulk_min: float = Field(default=400, gt=0)
    ess_tail_min: float = Field(default=400, gt=0)
    pareto_k_max: float = Field(default=0.7, gt=0)
    e_bfmi_min: float = Field(default=0.3, gt=0)  # each chain's energy Bayesian fraction of missing information
    ci_prob: float = Field(default=0.94, gt=0, lt=1)


class ReportSettings(_Strict):
    # Half-widths of the region of practical equivalence around 0 (report/rope.py), by term as
    # estimates.csv names it, in the term's units (link scale); other terms take the default rule.
    rope: dict[str, PositiveFloat] = {}


class Paths(_Strict):
    artifacts: Path = Path("artifacts")
    reports: Path = Path("reports")


def check_column_names(data: DataConfig) -> None:
    """Refuse column names that the models also use for their own dimensions and variables
    (a group column called ``obs`` would be taken for the observation dimension), and one
    column in two roles."""
    roles = {"data.outcome": [data.outcome], "data.group": [data.group], "data.predictors": data.predictors,
             "data.group_predictors": data.group_predictors, "data.trials": [data.trials] if data.trials else [],
             "data.exposure": [data.exposure] if data.exposure else [],
             "data.event": [data.event] if data.event else []}
    seen = {}
    for role, columns in roles.items():
        for column in columns:
            if column in RESERVED_NAMES:
                raise ValueError(
                    f"{role}: the column name {column!r} is also the models' name for {RESERVED_NAMES[column]}. "
                    f"Fix: rename the column in the CSV and the config (e.g. {column + '_value'!r})"
                )
            if column in seen and seen[column] != role:
                raise ValueError(f"{role}: column {column!r} is already {seen[column]}; a column has one role")
            seen[column] = role


class AnalysisConfig(_Strict):
    data: DataConfig
    family: Family = "normal"
    link: LinkName | None = None  # null: the family's own (logit, log, identity); probit for bernoulli, binomial
    parameterization: Parameterization = "auto"
    models: list[ModelSpec] = Field(min_length=1)
    # The model the report describes; null: the one PSIS-LOO prefers (evaluate.loo.reported_model).
    primary: str | None = None
    priors: PriorOverrides = PriorOverrides()
    sampler: SamplerSettings = SamplerSettings()
    fast: FastSettings = FastSettings()
    cross_validation: CrossValidation = CrossValidation()
    calibration: Calibration = Calibration()
    diagnostics: DiagnosticThresholds = DiagnosticThresholds()
    report: ReportSettings = ReportSettings()
    paths: Paths = Paths()
    # The project folder; relative paths above are resolved against it.
    root: Path = Path(".")
    _source: Path | None = PrivateAttr(default=None)  # the file it was read from (load_config)

    @property
    def source(self) -> Path | str:
        """The config file, for messages (``"the config"`` if it was not read from one)."""
        return self._source or "the config"

    @model_validator(mode="after")
    def _consistent(self):
        names = [spec.name for spec in self.models]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"models: names must be unique; repeated: {duplicated}")
        if self.primary is not None and self.primary not in names:
            raise ValueError(f"primary: {self.primary!r} is not a model name; models: {', '.join(names)}")
        columns = [*self.data.predictors, *self.data.group_predictors]
        unknown = sorted(set(self.priors.slopes) - set(columns))
        if unknown:
            raise ValueError(f"priors.slopes: {unknown} are not predictors; predictors: {', '.join(columns) or 'none'}")
        unknown = sorted(set(self.priors.group_sd) - {"intercept", *self.data.predictors})
        if unknown:
            raise ValueError(f"priors.group_sd: {unknown} are not 'intercept' or a predictor")
        check_column_names(self.data)
        if self.data.prepare is not None:
            for name, raw in self.data.prepare.raw.items():
                if self.resolve(raw).resolve() == self.data_path.resolve():
                    raise ValueError(f"data.prepare.raw.{name} is data.path ({raw}): the preparation would overwrite "
                                     "the file it reads. Fix: set data.path to a file in data/processed/")
        for spec in self.models:
            family, link = spec.family or self.family, spec.link or self.link
            allowed = (FAMILIES[family].link, *FAMILIES[family].links)
            if link is not None and link not in allowed:
                where = f"models[{spec.name}].link" if spec.link else "link"
                raise ValueError(f"{where}: the {family} family takes the link {' or '.join(allowed)}, not {link!r}")
        for spec in self.models:
            family = spec.family or self.family
            for formula in spec.distributional:
                parameter = distributional_parameter(spec.name, formula)
                if parameter not in FAMILIES[family].distributional:
                    allowed = ", ".join(FAMILIES[family].distributional) or "none"
                    raise ValueError(f"models[{spec.name}].distributional: the {family} family has no parameter "
                                     f"{parameter!r} a formula can model; it has: {allowed}")
                if FAMILIES[family].distributional[parameter] in spec.priors:
                    raise ValueError(f"models[{spec.name}].priors.{FAMILIES[family].distributional[parameter]}: "
                                     f"{parameter} is modelled by {formula!r}, so it has no prior of its own. Fix: "
                                     "remove that prior (its terms get the defaults of README 'Priors')")
        for spec in self.models:
            family = spec.family or self.family
            if spec.autocorrelation is not None and not FAMILIES[family].autocorrelation:
                usable = ", ".join(name for name, record in FAMILIES.items() if record.autocorrelation)
                raise ValueError(f"models[{spec.name}]: ar() models autocorrelated residuals, which family {family} "
                                 f"does not have. Fix: use family {usable}, or rw(time) for effects of time that drift "
                                 "(README 'Effects in space and time')")
            latent = [f"{term}()" for term, given in (("me", spec.measurement), ("mi", spec.imputation)) if given]
            if latent and FAMILIES[family].ordinal:
                raise ValueError(f"models[{spec.name}]: {' and '.join(latent)} are not built for ordinal families yet. "
                                 "Fix: remove them, or use the column as it is")
            if spec.autocorrelation is not None and (spec.measurement or spec.imputation):
                raise ValueError(f"models[{spec.name}]: ar() cannot be combined with me() or mi() yet (both change the "
                                 "normal likelihood). Fix: keep one of them in this model, another in a second model")
            if spec.autocorrelation is not None and spec.distributional:
                raise ValueError(f"models[{spec.name}]: ar() and distributional formulas cannot be combined yet. Fix: "
                                 "remove one of them")
            if spec.spatial is not None and self.data.adjacency is None:
                raise ValueError(f"models[{spec.name}]: car({spec.spatial.group}) needs the graph of neighbouring "
                                 "regions. Fix: set data.adjacency to a CSV of neighbour pairs (region_a,region_b), "
                                 "see README 'Effects in space and time'")
        if self.data.categories is not None:
            ordinal = [family for family in {spec.family or self.family for spec in self.models} if FAMILIES[family].ordinal]
            if not ordinal:
                raise ValueError("data.categories: the order of ordinal categories, for family cumulative only. Fix: "
                                 "remove it, or set family: cumulative")
            labels = [str(label) for label in self.data.categories]
            if len(set(labels)) < len(labels) or len(labels) < 3:
                raise ValueError(f"data.categories: {self.data.categories} must name at least 3 categories, each once, "
                                 "lowest first")
        for family in sorted({spec.family or self.family for spec in self.models}):
            if self.data.event and not FAMILIES[family].censoring:
                raise ValueError(f"data.event: the {family} family takes no censored times. Fix: family weibull, or "
                                 "remove data.event (every time then counts as observed)")
            if FAMILIES[family].trials and self.data.trials is None:
                raise ValueError(f"data.trials: the {family} family needs the column with the number of trials")
        return self

    @property
    def model_names(self) -> list[str]:
        return [spec.name for spec in self.models]

    @property
    def primary_model(self) -> str:
        """The model the prior predictive check describes: ``primary``, else the first listed.
        (The report describes ``primary``, else the model PSIS-LOO prefers.)"""
        return self.primary or self.models[0].name

    def model(self, name: str) -> ModelSpec:
        """The candidate model called ``name``."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(f"no model {name!r} in the config; models: {', '.join(self.model_names)}")

    def family_of(self, name: str) -> str:
        """The family of model ``name`` with its link: a key of ``families.family_record``
        (``bernoulli``, ``bernoulli_probit``)."""
        spec = self.model(name)
        return family_key(spec.family or self.family, spec.link or self.link)

    def resolve(self, path: Path) -> Path:
        """``path`` made absolute against the project folder."""
        return path if path.is_absolute() else self.root / path

    @property
    def data_path(self) -> Path:
        return self.resolve(self.data.path)

    @property
    def fits_dir(self) -> Path:
        return self.resolve(self.paths.artifacts) / "fits"

    @property
    def reports_dir(self) -> Path:
        return self.resolve(self.paths.reports)

    @property
    def fits_staging_dir(self) -> Path:
        """Where a pipeline run keeps the fits it makes until every notebook has succeeded."""
        return self.fits_dir / ".staging"

    def fit_path(self, model_name: str, staged: bool = False) -> Path:
        """The saved fit of ``model_name``; with ``staged``, this run's staged fit if there is one."""
        if staged and (self.fits_staging_dir / f"{model_name}.nc").is_file():
            return self.fits_staging_dir / f"{model_name}.nc"
        return self.fits_dir / f"{model_name}.nc"

    def calibration_path(self, model_name: str, staged: bool = False) -> Path:
        """The saved simulation-based calibration of ``model_name`` (staged: this run's, if any)."""
        folder = self.resolve(self.paths.artifacts) / "calibration"
        if staged and (folder / ".staging" / f"{model_name}.nc").is_file():
            return folder / ".staging" / f"{model_name}.nc"
        return folder / f"{model_name}.nc"

    def sampler_settings(self, fast: bool = False) -> SamplerSettings:
        """Sampler settings, with the ``fast`` section's draws, tune and chains if asked."""
        if not fast:
            return self.sampler
        return self.sampler.model_copy(update=self.fast.model_dump())


# Bounds on what a config file may hold: aliases can make a few lines expand into gigabytes.
MAX_CONFIG_BYTES = 1_000_000
MAX_YAML_ALIASES = 50


def project_root(config_path: Path) -> Path:
    """The folder relative paths in a config refer to (see :func:`load_config`)."""
    for folder in config_path.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return config_path.parent.parent


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> AnalysisConfig:
    """Read and validate an analysis config.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative paths in it refer to the project folder: the nearest
        folder at or above the config's that holds ``pyproject.toml``, else the config's
        folder's parent (``config/analysis.yaml`` -> the folder holding ``config/``).

    Returns
    -------
    AnalysisConfig

    Raises
    ------
    ConfigError
        With the file, the key path and what is allowed, if the file is missing or invalid.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found. Pass --config with the path to analysis.yaml.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}). "
                          "Fix: save the file as UTF-8 (most editors: Save with encoding).") from error
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(text):,} characters; a config is a few kilobytes. Fix: point --config at analysis.yaml.")
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
        if aliases > MAX_YAML_ALIASES:
            raise ConfigError(f"{path}: {aliases} YAML aliases (*name); at most {MAX_YAML_ALIASES} are allowed, so the "
                              "file cannot expand into more than it shows. Fix: write the values out.")
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys data, models, sampler (and optionally priors).")
    try:
        config = AnalysisConfig.model_validate({**raw, "root": project_root(path)})
        config._source = path
        return config
    except ValidationError as error:
        lines = []
        for issue in error.errors():
            where = ".".join(str(part) for part in issue["loc"])
            message = issue["msg"].removeprefix("Value error, ")  # pydantic's words for a validator's ValueError
            lines.append(f"  {where}: {message}" if where else f"  {message}")
        raise ConfigError(f"{path}: invalid config:\n" + "\n".join(lines)) from error
