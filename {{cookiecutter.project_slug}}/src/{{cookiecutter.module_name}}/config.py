"""Load and validate ``config/analysis.yaml``, the single source of truth of an analysis."""

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import formulae
import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError, model_validator

from {{ cookiecutter.module_name }} import models

Family = Literal["normal", "student_t", "bernoulli", "binomial", "poisson", "negative_binomial"]
Parameterization = Literal["auto", "centered", "non_centered"]

DEFAULT_CONFIG_PATH = Path("config/analysis.yaml")


class ConfigError(ValueError):
    """The config file is missing or does not describe a valid analysis."""


class _Strict(BaseModel):
    # Unknown keys are typos more often than not: reject them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    path: Path
    outcome: str
    group: str
    predictors: list[str] = []          # observation-level numeric predictors, in their own units
    group_predictors: list[str] = []     # group-level columns, constant within each group
    trials: str | None = None            # binomial: the number of trials of each row
    exposure: str | None = None          # Poisson / negative binomial: log(exposure) is an offset
    drop_missing: bool = False           # drop rows with a missing value in a used column (else an error)
    true_parameters: Path | None = None


class NormalPrior(_Strict):
    mu: float = 0.0
    sigma: float = Field(gt=0)


class HalfNormalPrior(_Strict):
    sigma: float = Field(gt=0)


class GammaPrior(_Strict):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)


class PriorOverrides(_Strict):
    """Priors of the custom models that replace the defaults scaled to the data (``priors.py``).

    Every entry is optional and in the data's units (link scale for non-normal families).
    Formula models take theirs by term from ``models[].priors``.
    """

    intercept: NormalPrior | None = None                  # at the predictors' means
    slopes: dict[str, NormalPrior] = {}                   # by predictor or group-level predictor
    group_sd: dict[str, PositiveFloat] = {}               # HalfNormal scale by "intercept" or predictor
    residual_sd: HalfNormalPrior | None = None            # HalfStudentT(4) scale (normal, Student-t)
    nu: GammaPrior = GammaPrior(alpha=2, beta=0.1)        # Student-t degrees of freedom
    phi: GammaPrior = GammaPrior(alpha=2, beta=0.1)       # negative binomial dispersion
    lkj_eta: float = Field(default=2.0, gt=0)             # correlated_slopes: LKJ shape


def resolve_custom(path: str) -> Callable:
    """The model function named by ``path``: a function in ``models.py`` or ``package.module.function``."""
    module_name, _, function_name = path.rpartition(".")
    module = importlib.import_module(module_name) if module_name else models
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"no function {function_name!r} in {module.__name__}")
    return function


class ModelSpec(_Strict):
    """One candidate model: a formula (built by Bambi) or a custom PyMC function."""

    name: str
    formula: str | None = None
    custom: str | None = None
    family: Family | None = None                # overrides the top-level family
    priors: dict[str, Any] = {}                 # formula models: Bambi priors by term
    parameterization: Parameterization | None = None  # overrides the top-level choice

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        # `- varying_slopes` is short for a custom model of that name.
        return {"name": value, "custom": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.formula is None) == (self.custom is None):
            raise ValueError(f"model {self.name!r}: give exactly one of 'formula' or 'custom'")
        if self.custom is not None:
            try:
                resolve_custom(self.custom)
            except (ImportError, ValueError) as error:
                raise ValueError(
                    f"model {self.name!r}: custom {self.custom!r} not found ({error}); "
                    f"functions in models.py: {', '.join(custom_model_names())}"
                ) from error
        if self.formula is not None:
            try:
                formulae.model_description(self.formula)
            except Exception as error:  # formulae raises several types
                raise ValueError(f"model {self.name!r}: formula {self.formula!r} does not parse: {error}") from error
        return self

    @property
    def kind(self) -> str:
        return "formula" if self.formula is not None else "custom"


def custom_model_names() -> list[str]:
    """Model functions defined in ``models.py``: those taking a ``centered`` argument."""
    return [
        name for name, value in vars(models).items()
        if inspect.isfunction(value) and value.__module__ == models.__name__
        and "centered" in inspect.signature(value).parameters
    ]


class SamplerSettings(_Strict):
    engine: Literal["nutpie", "pymc"] = "nutpie"
    draws: PositiveInt = 1000
    tune: PositiveInt = 1000
    chains: PositiveInt = 4
    target_accept: float = Field(default=0.9, gt=0, lt=1)
    seed: int = 20261124
    # Rows whose log-likelihood and replicated outcomes are kept (LOO, checks); a random
    # subsample above this. See pointwise.py. null keeps every row.
    pointwise_rows: PositiveInt | None = 5000
    pointwise_draws: PositiveInt | None = 2000  # ... computed from at most this many draws
    # Normal-family custom models that support it are sampled from per-group sufficient
    # statistics: the same posterior, much faster on many rows (models.py).
    sufficient_statistics: bool = True


class FastSettings(_Strict):
    draws: PositiveInt = 300
    tune: PositiveInt = 300
    chains: PositiveInt = 2


class DiagnosticThresholds(_Strict):
    rhat_max: float = Field(default=1.01, gt=1)
    ess_bulk_min: float = Field(default=400, gt=0)
    ess_tail_min: float = Field(default=400, gt=0)
    pareto_k_max: float = Field(default=0.7, gt=0)
    ci_prob: float = Field(default=0.94, gt=0, lt=1)


class Paths(_Strict):
    artifacts: Path = Path("artifacts")
    reports: Path = Path("reports")


class AnalysisConfig(_Strict):
    data: DataConfig
    family: Family = "normal"
    parameterization: Parameterization = "auto"
    models: list[ModelSpec] = Field(min_length=1)
    # The model the report describes; null: the one PSIS-LOO prefers (compare.reported_model).
    primary: str | None = None
    priors: PriorOverrides = PriorOverrides()
    sampler: SamplerSettings = SamplerSettings()
    fast: FastSettings = FastSettings()
    diagnostics: DiagnosticThresholds = DiagnosticThresholds()
    paths: Paths = Paths()
    # The project folder; relative paths above are resolved against it.
    root: Path = Path(".")

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
        families = {spec.family or self.family for spec in self.models}
        if "binomial" in families and self.data.trials is None:
            raise ValueError("data.trials: the binomial family needs the column with the number of trials")
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
        return self.model(name).family or self.family

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

    def fit_path(self, model_name: str) -> Path:
        return self.fits_dir / f"{model_name}.nc"

    def sampler_settings(self, fast: bool = False) -> SamplerSettings:
        """Sampler settings, with the ``fast`` section's draws, tune and chains if asked."""
        if not fast:
            return self.sampler
        return self.sampler.model_copy(update=self.fast.model_dump())


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> AnalysisConfig:
    """Read and validate an analysis config.

    Parameters
    ----------
    path : str or Path
        The YAML file. Its folder's parent is the project folder that relative paths
        in the file refer to.

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
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys data, models, sampler (and optionally priors).")
    try:
        return AnalysisConfig.model_validate({**raw, "root": path.parent.parent})
    except ValidationError as error:
        lines = [
            f"  {'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        ]
        raise ConfigError(f"{path}: invalid config:\n" + "\n".join(lines)) from error
