"""Load and validate ``config/analysis.yaml``, the single source of truth of an analysis."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from {{ cookiecutter.module_name }}.models import MODELS

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
    predictors: list[str] = Field(min_length=1)
    true_parameters: Path | None = None


class NormalPrior(_Strict):
    mu: float = 0.0
    sigma: float = Field(gt=0)


class HalfNormalPrior(_Strict):
    sigma: float = Field(gt=0)


class Priors(_Strict):
    intercept: NormalPrior
    slope: NormalPrior
    group_sd: HalfNormalPrior
    residual_sd: HalfNormalPrior


class SamplerSettings(_Strict):
    engine: Literal["nutpie", "pymc"] = "nutpie"
    draws: PositiveInt = 1000
    tune: PositiveInt = 1000
    chains: PositiveInt = 4
    target_accept: float = Field(default=0.9, gt=0, lt=1)
    seed: int = 20261124


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
    models: list[str] = Field(min_length=1)
    priors: Priors
    sampler: SamplerSettings = SamplerSettings()
    fast: FastSettings = FastSettings()
    diagnostics: DiagnosticThresholds = DiagnosticThresholds()
    paths: Paths = Paths()
    # The project folder; relative paths above are resolved against it.
    root: Path = Path(".")

    @field_validator("models")
    @classmethod
    def _known_models(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; allowed: {sorted(MODELS)}")
        return names

    @property
    def primary_model(self) -> str:
        """The model the prior/posterior predictive checks and the report describe."""
        return self.models[0]

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
        raise ConfigError(f"{path}: expected a mapping with keys data, models, priors, sampler.")
    try:
        return AnalysisConfig.model_validate({**raw, "root": path.parent.parent})
    except ValidationError as error:
        lines = [
            f"  {'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        ]
        raise ConfigError(f"{path}: invalid config:\n" + "\n".join(lines)) from error
