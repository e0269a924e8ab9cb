"""Prune files of options that were not chosen, start a git repository, then print the next steps."""

import re
import shutil
import subprocess
from pathlib import Path

OUTCOME_TYPE = "{{ cookiecutter.outcome_type }}"
LICENSE = "{{ cookiecutter.open_source_license }}"
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"
INIT_GIT = "{{ cookiecutter.init_git }}"
FIRST_COMMIT_MESSAGE = "Initial commit from the Bayesian multilevel template"
# uv.lock is copied unrendered (it is large and not a template); its project entry names the project here.
LOCK_NAME_PLACEHOLDER = 'name = "{{ "{{" }} cookiecutter.project_slug {{ "}}" }}"'


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True)


def has_git_identity() -> bool:
    """Whether the user set a name and email (git config or GIT_AUTHOR_*/GIT_COMMITTER_*), not one git would guess."""
    try:
        for ident in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            git("-c", "user.useConfigOnly=true", "var", ident)
    except subprocess.CalledProcessError:
        return False
    return True


def start_repository() -> str:
    """git init, stage everything .gitignore lets through and commit it; one line saying what was done."""
    if shutil.which("git") is None:
        return "git was not found on PATH: no repository was started (run `git init` when you have it)."
    if subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True).returncode == 0:
        return "This folder is inside a git repository already: no repository of its own was started."
    try:
        git("init", "-q")
        git("add", "-A")
        if not has_git_identity():
            return (
                "Started a git repository with every file staged. Set your name and email "
                f'(git config --global user.name / user.email), then: git commit -m "{FIRST_COMMIT_MESSAGE}"'
            )
        # --no-verify: the hooks of a global template must not block the template's own files.
        git("-c", "user.useConfigOnly=true", "commit", "-q", "--no-verify", "-m", FIRST_COMMIT_MESSAGE)
    except subprocess.CalledProcessError as error:
        reason = (error.stderr or "").strip().splitlines()[-1:] or [f"exit status {error.returncode}"]
        return f"`{' '.join(error.cmd)}` failed ({reason[0]}); the project is complete, set up git yourself."
    except OSError as error:
        return f"git could not run ({error}); the project is complete, set up git yourself."
    return "Started a git repository with one commit; artifacts/ and reports/ are left out by .gitignore."


def name_the_locked_project() -> None:
    """Write the project's name into uv.lock as uv spells it (PEP 503: lowercase, runs of -_. as one -)."""
    lock = Path("uv.lock")
    normalized = re.sub(r"[-_.]+", "-", PROJECT_SLUG).lower()
    lock.write_text(lock.read_text().replace(LOCK_NAME_PLACEHOLDER, f'name = "{normalized}"', 1))


name_the_locked_project()

if LICENSE == "No license":
    Path("LICENSE").unlink()

# Keep the example data of the chosen outcome type, at the paths the config names: the tidy
# table in data/example/, and the raw students file that prepare.py joins to data/raw/schools.csv.
for examples in (Path("data/example"), Path("data/raw")):
    for chosen in (examples / OUTCOME_TYPE).iterdir():
        chosen.rename(examples / chosen.name)
    for folder in [path for path in examples.iterdir() if path.is_dir()]:
        shutil.rmtree(folder)

created = f"Created {PROJECT_SLUG}/."
if INIT_GIT == "yes":
    created += "\n" + start_repository()

print(
    f"""
{created}

Next steps:

    cd {PROJECT_SLUG}
    make run     # create .venv from uv.lock (Python >= {PYTHON_VERSION}), fit the example, write reports/index.html
    make test    # run the project's tests
    make lab     # work in the notebooks in JupyterLab, on the kernel "Python ({PROJECT_SLUG})"

Point config/analysis.yaml at your own CSV to analyse your data (or at raw files to prepare: data.prepare).
Override the interpreter with e.g. `make run PYTHON=/path/to/python{PYTHON_VERSION}`.
"""
)
