"""``python -m {{ cookiecutter.module_name }}`` and the ``{{ cookiecutter.project_slug }}`` command: the command line (``cli.py``)."""

import gc
import sys
from pathlib import Path


def main() -> None:
    # jsonschema (which Papermill and nbconvert import through nbformat) imports rfc3987_syntax,
    # where installed, for an "iri" format that no notebook schema uses; that import builds ~35
    # parsers, 1 s of every run (python-jsonschema/jsonschema#1428). Without it jsonschema checks
    # every other format as before.
    sys.modules.setdefault("rfc3987_syntax", None)
    from {{ cookiecutter.module_name }}.run.kernels import start_factory, stop_started_factory

    if sys.argv[1:2] == ["run"] and Path("notebooks").is_dir():
        # The notebooks' kernels are forked from it: its imports overlap the command's. Where the
        # config is elsewhere, the run starts another in its notebooks' folder.
        start_factory(Path("notebooks"))
    from {{ cookiecutter.module_name }}.cli import app

    try:
        app()
    finally:
        stop_started_factory()
        # The interpreter's final garbage collection walks every object PyMC, PyTensor and Jupyter's
        # client made: 1-1.5 s after the run has finished. Frozen objects are left to the OS.
        gc.freeze()


if __name__ == "__main__":
    main()
