"""Skip work whose inputs have not changed.

Two levels, both keyed by SHA-256 hashes of everything that can change a result:

* a **fit** is reused when the data file, the model's specification, family and priors,
  the sampler settings, the package's source and the installed package versions are the
  same as when it was sampled (the key is stored in the fit's attributes);
* a **notebook** is not re-executed when its own source, its parameters, the config, the
  data, the package's source, the versions and the fits it reads are unchanged (the
  fingerprint is stored in the executed notebook's metadata). A notebook about one model
  (its prior predictive check, its fit, its calibration) depends on that model's part of the config only,
  so editing one model's priors re-executes that model's notebooks and those that compare
  or report all fits, not the other models'.

Delete ``artifacts/`` and ``reports/`` (``make clean``) or pass ``--force`` to redo everything.
"""

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
VERSIONED_PACKAGES = ("pymc", "pytensor", "arviz", "bambi", "formulae", "nutpie", "numpy", "pandas", "xarray", "papermill")
METADATA_KEY = "pipeline_fingerprint"


def sha256_of(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_digest() -> str:
    """The package's own code: editing a model or a helper invalidates what it produced."""
    return sha256_of(*(path.read_bytes() for path in sorted(PACKAGE_DIR.rglob("*.py"))))


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def fit_key(config, name: str, settings) -> str:
    """What a fit of model ``name`` depends on."""
    spec = config.model(name)
    return sha256_of(
        spec.model_dump_json(),
        config.family_of(name),
        config.parameterization,
        config.priors.model_dump_json(),
        config.data.model_dump_json(),
        file_sha256(config.data_path),
        file_sha256(config.resolve(config.data.adjacency)) if config.data.adjacency else "",  # the regions' graph
        settings.model_dump_json(),
        config.cross_validation.model_dump_json(),
        str(config.diagnostics.pareto_k_max),  # which observations are refitted exactly
        source_digest(),
        json.dumps(versions(), sort_keys=True),
    )


def step_fingerprint(notebook: Path, parameters: dict, inputs: str, data_path: Path, upstream: list[str]) -> str:
    """What an executed notebook depends on: ``inputs`` is what it reads of the config (the
    config file's hash, or :func:`model_inputs` for a notebook about one model); ``upstream``
    are the fingerprints of the fits it reads."""
    return sha256_of(
        notebook.read_bytes(),
        json.dumps(parameters, sort_keys=True),
        inputs,
        file_sha256(data_path),
        source_digest(),
        json.dumps(versions(), sort_keys=True),
        *upstream,
    )


def model_inputs(config, name: str, settings) -> str:
    """What a notebook about model ``name`` alone (its prior predictive check, its fit, its
    calibration) reads of the config: what its fit depends on, the calibration settings, the
    report's thresholds and the paths. Editing another model's priors leaves it as it is."""
    return sha256_of(fit_key(config, name, settings), config.calibration.model_dump_json(),
                     config.diagnostics.model_dump_json(), config.paths.model_dump_json())


def recorded_fingerprint(executed: Path) -> str | None:
    """The fingerprint an earlier run stored in an executed notebook, if any."""
    if not executed.is_file():
        return None
    try:
        return json.loads(executed.read_text(encoding="utf-8"))["metadata"].get(METADATA_KEY)
    except Exception:  # an unreadable notebook is simply not reused
        return None


def record_fingerprint(executed: Path, fingerprint: str) -> None:
    """Store ``fingerprint`` in the executed notebook's metadata.

    Plain JSON rather than nbformat: importing nbformat costs about a second (its schema
    validator), paid by every notebook that imports this package.
    """
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    notebook["metadata"][METADATA_KEY] = fingerprint
    executed.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
