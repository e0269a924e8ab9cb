"""The package's shape: stages that import only downward, and families named only in their registry."""

import ast
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.families import FAMILIES
from {{ cookiecutter.module_name }}.names import RESERVED_NAMES

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "{{ cookiecutter.module_name }}"
PACKAGE = PACKAGE_DIR.name
# The order data flows in: a module may import its own stage and those before it. The shared
# modules come first; the user's prepare.py sits with the data, models.py with the models;
# the command line is the entry point over everything.
STAGES = ["shared", "data", "model", "fit", "evaluate", "report", "run", "entry"]
SHARED = {"config", "families", "names", "files", "fingerprints", "formula_syntax", "private_apis", "__init__"}
USER_MODULES = {"prepare": "data", "models": "model"}
ENTRY = {"cli", "__main__"}


def stage_of(module: str) -> str:
    """The stage of a module given by its dotted name inside the package (``fit.sampling``)."""
    top = module.split(".")[0]
    if top in SHARED:
        return "shared"
    if top in ENTRY:
        return "entry"
    if top in USER_MODULES:
        return USER_MODULES[top]
    assert top in STAGES, f"{module}: not in a stage; add it to a stage folder or to SHARED in this test"
    return top


def package_modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts).removesuffix(".__init__") or "__init__": path
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def imported_modules(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, anywhere in the file (also inside
    functions and ``TYPE_CHECKING`` blocks: an import there still ties the two modules)."""
    found, modules = set(), package_modules()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            module = node.module.removeprefix(PACKAGE).lstrip(".")
            for alias in node.names:  # ``from package.fit import sampling`` imports fit.sampling
                child = f"{module}.{alias.name}" if module else alias.name
                found.add(child if child in modules else module or "__init__")
        elif isinstance(node, ast.Import):
            found |= {alias.name.removeprefix(f"{PACKAGE}.") for alias in node.names if alias.name.startswith(f"{PACKAGE}.")}
    return found


def import_graph() -> dict[str, set[str]]:
    return {module: imported_modules(path) for module, path in package_modules().items()}


def test_every_import_points_to_the_same_stage_or_one_below():
    upward = [
        f"{module} ({stage_of(module)}) imports {target} ({stage_of(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if STAGES.index(stage_of(target)) > STAGES.index(stage_of(module))
    ]
    assert not upward, "imports that point up the stages:\n" + "\n".join(upward)


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    circles = []

    def visit(module, path):
        for target in graph.get(module, ()):
            if target == path[0]:
                circles.append(" -> ".join([*path, target]))
            elif target not in path and len(path) < len(graph):
                visit(target, [*path, target])

    for module in graph:
        visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles))[:20])


def family_spellings(path: Path) -> list[str]:
    """Family names used to branch or to key a table in ``path``: compared with, listed in
    a tuple, list or set, or used as a dict key. A family as a default argument or a call's
    argument (``family: str = "normal"``, the example data's family) is not branching, and
    a name that is also a model variable's (``gamma``, the group-level predictors'
    coefficients) is read as the variable."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        literals = []
        if isinstance(node, ast.Compare):
            literals = [node.left, *node.comparators]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            literals = node.elts
        elif isinstance(node, ast.Dict):
            literals = [key for key in node.keys if key is not None]
        for literal in literals:
            if isinstance(literal, ast.Constant) and literal.value in FAMILIES and literal.value not in RESERVED_NAMES:
                found.append(f"{path.relative_to(PACKAGE_DIR)}:{literal.lineno}: {literal.value!r}")
    return found


def test_families_are_spelled_only_in_their_registry():
    spelled = [
        line for path in sorted(PACKAGE_DIR.rglob("*.py")) if path.name != "families.py"
        for line in family_spellings(path)
    ]
    assert not spelled, "family names outside families.py (give the record a field instead):\n" + "\n".join(spelled)


def test_the_checks_see_what_they_look_for(tmp_path):
    """The two checks above find an upward import and a family branch when there is one."""
    module = tmp_path / "fake.py"
    module.write_text(f"from {PACKAGE}.run.pipeline import run_pipeline\nif family == 'poisson':\n    pass\n")
    assert "run.pipeline" in imported_modules(module)
    assert STAGES.index(stage_of("run.pipeline")) > STAGES.index(stage_of("model.build"))
    global PACKAGE_DIR
    saved, PACKAGE_DIR = PACKAGE_DIR, tmp_path
    try:
        assert family_spellings(module) == ["fake.py:2: 'poisson'"]
    finally:
        PACKAGE_DIR = saved


@pytest.mark.parametrize("stage", STAGES[1:-2])
def test_each_stage_is_a_folder_with_modules(stage):
    assert (PACKAGE_DIR / stage / "__init__.py").is_file()
    assert len(list((PACKAGE_DIR / stage).glob("*.py"))) > 1
