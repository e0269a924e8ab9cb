"""What every notebook starts from: the config, the data, the sampler settings and the saved fits.

Each notebook's setup cell is one call, ``analysis = open_analysis(config_path, fast, staged)``,
with the parameters Papermill sets. The notebooks pass results to each other through files:
``02_fit`` samples (or loads) a model's fit with :func:`run.fits.fit_or_load`; every later
notebook reads the saved fits with :meth:`Analysis.fit` and :meth:`Analysis.fits`, and never
refits.
"""

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from {{ cookiecutter.module_name }}.config import AnalysisConfig, SamplerSettings, load_config
from {{ cookiecutter.module_name }}.data.grouped import GroupedData, load_data
from {{ cookiecutter.module_name }}.evaluate.loo import reported_model
from {{ cookiecutter.module_name }}.fit.store import load_fit
from {{ cookiecutter.module_name }}.run.fits import fit_origin

# The notebooks' figures: sharp in the HTML reports without making them heavy.
FIGURE_DPI = 90


@dataclass
class Analysis:
    """One analysis, as a notebook sees it.

    Attributes
    ----------
    config : AnalysisConfig
    data : GroupedData
        The config's data, validated (``load_data``).
    settings : SamplerSettings
        The config's sampler settings; with ``fast``, its ``fast`` section's.
    config_path : Path
        The config file, resolved.
    fast, staged : bool
        As given to :func:`open_analysis`.
    """

    config: AnalysisConfig
    data: GroupedData
    settings: SamplerSettings
    config_path: Path
    fast: bool = False
    staged: bool = False
    _loaded: dict[str, xr.DataTree] = field(default_factory=dict, repr=False)

    def fit(self, name: str) -> xr.DataTree:
        """The saved fit of model ``name`` (this run's staged fit, where ``staged``), read once.

        Raises
        ------
        FileNotFoundError
            If the model has not been fitted (notebook ``02_fit``).
        """
        if name not in self._loaded:
            self._loaded[name] = load_fit(self.config.fit_path(name, self.staged))
        return self._loaded[name]

    def fits(self) -> dict[str, xr.DataTree]:
        """The saved fit of every model in the config, in the config's order."""
        return {name: self.fit(name) for name in self.config.model_names}

    def reported_model(self, model_name: str = "") -> tuple[str, str]:
        """The model a notebook reports, and why: ``model_name`` if the notebook's parameters
        name one, otherwise the config's ``primary`` or the model PSIS-LOO prefers (``reported_model``).
        The pipeline passes ``primary`` as the parameter: said as the config's choice it is."""
        if model_name and model_name != self.config.primary:
            return model_name, "chosen in the notebook's parameters"
        return reported_model(self.fits(), self.config.primary)

    def calibration(self, name: str | None = None) -> xr.DataTree:
        """The saved simulation-based calibration of model ``name`` (default: the primary model)."""
        return load_fit(self.config.calibration_path(name or self.config.primary_model, self.staged))

    def origins(self) -> dict[str, dict]:
        """For every model: whether the latest run loaded its fit from the cache (``fit_origin``)."""
        return {name: fit_origin(self.config, name, self.staged) for name in self.config.model_names}


def open_analysis(config_path: str | Path, fast: bool = False, staged: bool = False) -> Analysis:
    """Load the config and its data, pick the sampler settings and set the figures' resolution.

    Parameters
    ----------
    config_path : str or Path
        The analysis's config file (``config/analysis.yaml``).
    fast : bool
        Use the config's ``fast`` sampler settings (few draws: tests and quick checks).
    staged : bool
        Read this pipeline run's staged fits (``artifacts/fits/.staging/``) where there are any.

    Returns
    -------
    Analysis

    Raises
    ------
    ConfigError, DataError
        If the config or the data are invalid.
    """
    config = load_config(config_path)
    plt.rcParams["figure.dpi"] = FIGURE_DPI
    return Analysis(config=config, data=load_data(config), settings=config.sampler_settings(fast),
                    config_path=Path(config_path).resolve(), fast=fast, staged=staged)
