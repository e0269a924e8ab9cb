"""The README a newcomer reads: short, in short paragraphs, and true to the project it describes
(the make targets it names, the files of its layout tree, what ``make help`` prints)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
MAKEFILE = PROJECT_ROOT / "Makefile"
PACKAGE_DIR = PROJECT_ROOT / "src" / "{{ cookiecutter.module_name }}"
MAX_WORDS = 3000
MAX_PARAGRAPH_WORDS = 100
# A line of the layout tree: its indentation (one "│   " or "    " per level), then the entry.
TREE_LINE = re.compile(r"^((?:│   |    )*)(?:├── |└── )(\S+)(?:\s+#\s*(.*))?$")
GENERATED = "(generated)"


def words(text: str) -> list[str]:
    """What a reader counts as words: tokens with a letter or digit (not table rules, tree lines or #)."""
    return [token for token in text.split() if re.search(r"[A-Za-z0-9]", token)]


def prose_and_code(text: str) -> tuple[list[str], list[list[str]]]:
    """The README's lines outside fenced code blocks, and each fenced block's lines."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
        elif block is None:
            prose.append(line)
        else:
            block.append(line)
    assert block is None, "a code block is not closed"
    return prose, blocks


def paragraphs(lines: list[str]) -> list[str]:
    """Paragraphs and list items of prose lines; headings and tables are not paragraphs."""
    found, current = [], []
    for line in [*lines, ""]:
        starts_item = re.match(r"^\s*(?:[-*]|\d+\.) ", line)
        if not line.strip() or line.startswith(("#", "|")) or starts_item:
            if current:
                found.append(" ".join(current))
            current = [line] if starts_item else []
        else:
            current.append(line)
    return found


def makefile_targets() -> dict[str, str | None]:
    """Each rule's target in the Makefile, with its ``##`` comment (None where it has none)."""
    targets = {}
    for line in MAKEFILE.read_text().splitlines():
        match = re.match(r"^([A-Za-z][\w-]*):(?!=)[^#]*(?:##\s*(.*))?$", line)
        if match:
            targets[match.group(1)] = match.group(2)
    return targets


def phony_targets() -> list[str]:
    line = next(line for line in MAKEFILE.read_text().splitlines() if line.startswith(".PHONY:"))
    return line.removeprefix(".PHONY:").split()


def layout_tree() -> list[tuple[Path, str]]:
    """Every entry of the README's layout tree (the code block drawn with ├──): its path from
    the project root and its comment."""
    _, blocks = prose_and_code(README.read_text())
    trees = [block for block in blocks if any("├── " in line for line in block)]
    assert len(trees) == 1, "the README has one layout tree"
    root, *lines = trees[0]
    assert root.rstrip("/") == PROJECT_ROOT.name or root == "{{ cookiecutter.project_slug }}/"
    entries, parents = [], []
    for line in lines:
        match = TREE_LINE.match(line)
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match.group(1)) // 4
        assert depth <= len(parents), f"{line!r} is indented below no folder"
        parents = parents[:depth]
        name = match.group(2)
        path = Path(*parents, name)
        entries.append((path, match.group(3) or ""))
        parents.append(name.rstrip("/"))
    return entries


def test_the_readme_is_under_3000_words():
    count = len(words(README.read_text()))
    assert count < MAX_WORDS, f"README.md has {count} words; move detail to benchmarks/README.md or the docstrings"


def test_no_paragraph_is_over_100_words():
    prose, _ = prose_and_code(README.read_text())
    long = [(len(words(paragraph)), paragraph[:80]) for paragraph in paragraphs(prose)
            if len(words(paragraph)) > MAX_PARAGRAPH_WORDS]
    assert not long, f"paragraphs over {MAX_PARAGRAPH_WORDS} words: {long}"


def test_the_two_commands_come_first():
    text = README.read_text()
    first_section = text.index("\n## ")
    assert text[first_section:].startswith("\n## Two commands")
    assert text.index("## Your own data") < text.index("## The config") < text.index("## What the pipeline does")


def test_every_make_target_the_readme_names_exists():
    text = README.read_text()
    _, blocks = prose_and_code(text)
    named = set(re.findall(r"`make ([a-z][\w-]*)", text))
    named |= {match.group(1) for block in blocks for line in block if (match := re.match(r"^make ([a-z][\w-]*)", line))}
    assert {"run", "test", "test-fast", "help"} <= named
    missing = named - set(makefile_targets())
    assert not missing, f"the README names make targets the Makefile lacks: {sorted(missing)}"


def test_every_path_in_the_layout_tree_exists():
    gitignore = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    missing = []
    for path, comment in layout_tree():
        if (PROJECT_ROOT / path).exists():
            continue
        # Made by a run or by make, so absent from a fresh project: then git must leave it out.
        ignored = any(pattern.rstrip("/*") == path.as_posix().rstrip("/") for pattern in gitignore)
        if not (GENERATED in comment and ignored):
            missing.append(path.as_posix())
    assert not missing, f"the README's layout tree names what the project lacks: {missing}"


def test_the_layout_tree_lists_every_module_and_notebook():
    listed = {(PROJECT_ROOT / path).resolve() for path, _ in layout_tree()}
    modules = [path for path in PACKAGE_DIR.rglob("*.py")
               if "__pycache__" not in path.parts and not (path.name == "__init__.py" and path.parent != PACKAGE_DIR)]
    notebooks = [path for path in (PROJECT_ROOT / "notebooks").glob("[0-9]*.ipynb")]
    unlisted = sorted(str(path.relative_to(PROJECT_ROOT)) for path in [*modules, *notebooks] if path.resolve() not in listed)
    assert not unlisted, f"add these to the README's layout tree: {unlisted}"


def test_every_target_has_a_comment():
    targets = makefile_targets()
    uncommented = [target for target in phony_targets() if not targets.get(target)]
    assert not uncommented, f"Makefile targets without a ## comment (make help shows none): {uncommented}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target_with_its_comment():
    shown = subprocess.run(["make", "-s", "--no-print-directory", "help"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True, check=True).stdout
    listed = {line.split()[0]: " ".join(line.split()[1:]) for line in shown.splitlines() if line.strip()}
    commented = {target: " ".join(comment.split()) for target, comment in makefile_targets().items() if comment}
    assert listed == commented
