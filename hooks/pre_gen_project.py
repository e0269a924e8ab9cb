"""Reject answers that would generate a broken project, before anything is written.

Cookiecutter renders this file with the user's answers, then runs it; a non-zero
exit stops the bake and removes the partly created folder.
"""

import keyword
import re
import sys

PROJECT_NAME = "{{ cookiecutter.project_name }}"
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"
MODULE_NAME = "{{ cookiecutter.module_name }}"

# Packages the generated project imports: a module of the same name would shadow them.
DEPENDENCY_NAMES = {
    "arviz", "arviz_base", "arviz_plots", "arviz_stats", "matplotlib", "nbconvert",
    "nbformat", "numpy", "nutpie", "pandas", "papermill", "pydantic", "pymc",
    "pytensor", "pytest", "rich", "scipy", "seaborn", "typer", "xarray", "yaml",
}
# Names that pytest and the project layout already use.
RESERVED_NAMES = {"test", "tests", "src", "notebooks", "config", "data", "reports", "artifacts"}

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def suggestion(name: str) -> str:
    """A valid module name close to ``name``, to offer in the error message."""
    cleaned = re.sub(r"\W+", "_", name.lower()).strip("_") or "analysis"
    if cleaned[0].isdigit():
        cleaned = f"analysis_{cleaned}"
    return f"{cleaned}_analysis"


def problems() -> list[str]:
    found = []
    if not PROJECT_NAME.strip():
        found.append("project_name is empty: type a name such as 'Schools Analysis'.")
    if "/" in PROJECT_SLUG or "\\" in PROJECT_SLUG or ".." in PROJECT_SLUG:
        found.append(
            f"project_slug {PROJECT_SLUG!r} contains a path separator or '..': "
            "type a plain folder name such as 'schools-analysis'."
        )
    elif not SLUG_PATTERN.match(PROJECT_SLUG):
        found.append(
            f"project_slug {PROJECT_SLUG!r} must be lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit: e.g. 'schools-analysis'."
        )
    if not MODULE_NAME.isidentifier() or keyword.iskeyword(MODULE_NAME):
        found.append(
            f"module_name {MODULE_NAME!r} is not a valid Python identifier: "
            f"try {suggestion(MODULE_NAME)!r}."
        )
    elif MODULE_NAME.lower() in DEPENDENCY_NAMES | set(sys.stdlib_module_names):
        found.append(
            f"module_name {MODULE_NAME!r} clashes with the installed package of that name: "
            f"try {suggestion(MODULE_NAME)!r}."
        )
    elif MODULE_NAME.lower() in RESERVED_NAMES:
        found.append(
            f"module_name {MODULE_NAME!r} is reserved by the project layout: "
            f"try {suggestion(MODULE_NAME)!r}."
        )
    return found


if __name__ == "__main__":
    errors = problems()
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    sys.exit(1 if errors else 0)
