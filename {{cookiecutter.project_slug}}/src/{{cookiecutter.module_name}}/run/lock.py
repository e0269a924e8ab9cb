"""One run at a time on a project's outputs.

Two runs of one project (two terminals, an editor task, ``make run`` beside ``make run``)
would delete each other's staging folders. A run holds an operating-system lock
(:mod:`filelock`: ``flock`` on Unix) on ``<artifacts>/run.lock`` from before it clears its
staging folders until it has published; ``run.json`` beside it says who holds it. The system
releases the lock when its process ends, however it ends, so a run killed with SIGKILL
leaves no lock behind, only its ``run.json``, which the next run reports and replaces.

Sweep variants have outputs of their own (``artifacts/sweeps/<sweep>/<variant>/``) and so
locks of their own: they run side by side, and beside a run of the project's own config.
"""

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from {{ cookiecutter.module_name }}.files import write_text_atomically

LOCK_NAME = "run.lock"
HOLDER_NAME = "run.json"
HOLDER_PATIENCE_S = 2.0  # how long a refused run waits for the running one's record


class RunLocked(RuntimeError):
    """Another run holds the lock on these outputs; the message names it and the fix."""


def holder(folder: Path) -> dict | None:
    """What ``run.json`` says of the run that holds (or last held) the lock, if anything."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads((folder / HOLDER_NAME).read_text())
    return None


def running_holder(folder: Path, patience_s: float = HOLDER_PATIENCE_S) -> dict | None:
    """The record of the run that holds the lock now. A run writes ``run.json`` just after it takes
    the lock, so a run refused in between finds none, or a killed run's: it waits up to
    ``patience_s`` for a record of a live process."""
    deadline = time.monotonic() + patience_s
    while True:
        record = holder(folder)
        if (record and _alive(record.get("pid"))) or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def describe(record: dict | None) -> str:
    if not record:
        return "another run"
    return f"the run with pid {record.get('pid')}, started {record.get('started')} ({record.get('config')})"


@contextlib.contextmanager
def holding_outputs(folder: Path, config_path: Path, wait: bool = False,
                    say: Callable[[str], None] = lambda line: None) -> Iterator[None]:
    """Hold the lock on the outputs under ``folder`` (the config's ``paths.artifacts``) while the block runs.

    Parameters
    ----------
    folder : Path
        Where the lock file lives (created if missing).
    config_path : Path
        Recorded, so that a refused run can say which config the running one uses.
    wait : bool
        Wait for the running one to finish instead of refusing at once.
    say : callable
        Receives one line when a run waits or takes over a killed run's record.

    Raises
    ------
    RunLocked
        If another process holds the lock and ``wait`` is false.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        running = running_holder(folder)
        if not wait:
            raise RunLocked(
                f"{folder / LOCK_NAME}: {describe(running)} is writing this project's fits and reports. Fix: wait for "
                "it to finish, run again with --wait to start when it has, or give this config other paths.artifacts "
                "and paths.reports."
            ) from None
        say(f"waiting for {describe(running)} to finish ...")
        lock = FileLock(folder / LOCK_NAME, timeout=-1)
        lock.acquire()
    else:
        left = holder(folder)
        if left and left.get("pid") != os.getpid():
            say(f"{describe(left)} ended without finishing (killed?); its lock is taken over and its unfinished "
                "fits in .staging are reused where their inputs match.")
    try:
        write_text_atomically(folder / HOLDER_NAME, json.dumps({
            "pid": os.getpid(), "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "config": str(config_path)}))
        yield
    finally:
        (folder / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()
