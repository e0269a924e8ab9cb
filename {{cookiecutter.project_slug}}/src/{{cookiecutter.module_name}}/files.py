"""Atomic writes: a reader sees the old file or the new one, never half of either.

Each write goes to a temporary file in the target's folder (same file system) and is then
renamed over the target, which POSIX makes atomic. If the write fails or the process is
killed, the previous file is still in place (a killed process leaves its temporary file, which
:func:`remove_unfinished_writes` deletes). The new file gets the permissions any new file
gets here (0644 with the usual umask), not the temporary file's private 0600, so a shared
folder or a web server can serve the reports.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    """The process's umask (read once, at import, before any thread starts: setting and
    restoring it is the only portable way to read it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


FILE_MODE = 0o666 & ~_current_umask()
TEMPORARY_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write to; renamed to ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def is_unfinished_write(path: Path) -> bool:
    """Whether ``path`` is a temporary file of :func:`atomic_path` (as it names them), not a whole file."""
    return path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX)


def remove_unfinished_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` under ``folder``: writes whose process
    was killed (SIGKILL runs no cleanup). Call it only where no write can be under way.

    Returns
    -------
    list of Path
        The files deleted.
    """
    found = sorted(path for path in Path(folder).rglob("*") if path.is_file() and is_unfinished_write(path))
    for path in found:
        path.unlink(missing_ok=True)
    return found
