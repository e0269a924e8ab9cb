"""Prune files of options that were not chosen, then print the next steps."""

from pathlib import Path

LICENSE = "{{ cookiecutter.open_source_license }}"
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"

if LICENSE == "No license":
    Path("LICENSE").unlink()

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
