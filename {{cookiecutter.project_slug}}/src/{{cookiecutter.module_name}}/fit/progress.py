"""Draws per chain while a model samples, for the pipeline's one progress display.

The notebooks sample in their own kernels, so the pipeline cannot see PyMC's progress bar.
It sets :data:`PROGRESS_DIR_ENV` for the kernels; while a model samples, :func:`reporting`
keeps ``<dir>/<model>.json`` up to date (each chain's finished and total draws, warm-up
included, at most a few times a second) and removes it when sampling ends. Run outside the
pipeline (JupyterLab, a script), nothing is written.
"""

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from {{ cookiecutter.module_name }}.files import write_text_atomically

PROGRESS_DIR_ENV = "{{ cookiecutter.module_name.upper() }}_PROGRESS_DIR"
INTERVAL_S = 0.25  # the display polls a few times a second; more writes would cost sampling time


class ProgressFile:
    """``{"chains": [[finished, total], ...]}`` in a file, rewritten at most every :data:`INTERVAL_S`."""

    def __init__(self, path: Path, chains: int, total: int) -> None:
        self.path = path
        self.chains = [[0, total] for _ in range(chains)]
        self.written_at = 0.0
        self.flush()

    def update(self, chain: int, finished: int, total: int | None = None) -> None:
        self.chains[chain] = [finished, self.chains[chain][1] if total is None else total]
        if time.monotonic() - self.written_at >= INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        write_text_atomically(self.path, json.dumps({"chains": self.chains}))
        self.written_at = time.monotonic()


def read_progress(folder: Path) -> dict[str, list[list[int]]]:
    """``{model: [[finished, total], ...]}`` of every model sampling now."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):  # removed or replaced while reading
            found[path.stem] = json.loads(path.read_text())["chains"]
    return found


@contextlib.contextmanager
def reporting(model_name: str, engine: str, chains: int, total: int) -> Iterator[dict]:
    """Keyword arguments for the engine's sampling call that report each chain's progress to
    the pipeline: ``callback`` for ``pm.sample`` (PyMC's NUTS calls it after every draw),
    ``progress_callback`` for ``nutpie.sample`` (called with every chain's state a few times
    a second). Outside the pipeline there is nothing to report: ``{}``.
    """
    folder = os.environ.get(PROGRESS_DIR_ENV)
    if not folder:
        yield {}
        return
    report = ProgressFile(Path(folder) / f"{model_name}.json", chains, total)

    def nutpie_progress(states) -> None:
        for chain, state in enumerate(states):
            report.update(chain, state.finished_draws, state.total_draws)

    try:
        if engine == "pymc":
            yield {"callback": lambda trace, draw: report.update(draw.chain, draw.draw_idx + 1)}
        else:
            yield {"progress_callback": nutpie_progress}
    finally:
        Path(report.path).unlink(missing_ok=True)
