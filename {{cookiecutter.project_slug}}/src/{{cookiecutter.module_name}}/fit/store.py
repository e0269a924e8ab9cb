"""The fit store: one netCDF file per fit, written atomically and read whole or in part."""

from collections.abc import Sequence
from pathlib import Path

import h5netcdf
import xarray as xr

from {{ cookiecutter.module_name }}.files import atomic_path


def save_fit(fit_data: xr.DataTree, path: Path) -> Path:
    """Write the fit to ``path`` atomically: a reader never sees a half-written file,
    and a failed write leaves the previous fit in place."""
    with atomic_path(path) as temporary:
        fit_data.to_netcdf(temporary, engine="h5netcdf")
    return path


def load_fit(path: Path, groups: Sequence[str] | None = None) -> xr.DataTree:
    """Read a fit written by :func:`save_fit` into memory (the file is closed).

    ``groups``: only these groups, where the fit has them, and the fit's attributes. The
    pointwise groups (draws x rows) are most of a fit: its ``posterior`` and ``convergence``
    alone read in a tenth of the time.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no fit found. Run notebooks/02_fit.ipynb for this model first.")
    if groups is None:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return tree.load()
    with h5netcdf.File(path, "r") as handle:
        present = set(handle.groups)
    parts = {}
    for group in ("/", *(group for group in groups if group in present)):
        with xr.open_dataset(path, group=group, engine="h5netcdf") as part:
            parts[group] = part.load()
    return xr.DataTree.from_dict(parts)


def cached_fit(path: Path, key: str) -> xr.DataTree | None:
    """The fit at ``path`` if it was made from exactly these inputs (see ``fingerprints.fit_key``)."""
    if not Path(path).is_file():
        return None
    try:
        if load_fit(path, groups=()).attrs.get("cache_key") != key:  # its attributes only: a stale fit is not read
            return None
        return load_fit(path)
    except (OSError, ValueError):  # unreadable: refit
        return None
