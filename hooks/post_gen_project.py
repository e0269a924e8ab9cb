"""Prune files of options that were not chosen, then print the next steps."""

import shutil
from pathlib import Path

OUTCOME_TYPE = "{{ cookiecutter.outcome_type }}"
LICENSE = "{{ cookiecutter.open_source_license }}"
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"

if LICENSE == "No license":
    Path("LICENSE").unlink()

# Keep the example data set of the chosen outcome type, at the path the config names.
examples = Path("data/example")
for chosen in (examples / OUTCOME_TYPE).iterdir():
    chosen.rename(examples / chosen.name)
for folder in [path for path in examples.iterdir() if path.is_dir()]:
    shutil.rmtree(folder)

print(
    f"""
Created {PROJECT_SLUG}/. Next steps:

    cd {PROJECT_SLUG}
    make run     # create .venv (Python >= {PYTHON_VERSION}), fit the example, write reports/index.html
    make test    # run the project's tests

Point config/analysis.yaml at your own CSV to analyse your data.
Override the interpreter with e.g. `make run PYTHON=/path/to/python{PYTHON_VERSION}`.
"""
)
