"""Kernels started ahead of the notebooks: warm, yet a notebook runs in one as in a fresh kernel."""

import importlib.util
import json
import time

import nbformat
import papermill
import psutil

from {{ cookiecutter.module_name }}.kernels import WARM_MODULES, KernelPool
from {{ cookiecutter.module_name }}.pipeline import KERNEL_ARGUMENTS, KERNEL_NAME

PROBE = """import json, os, sys
print(json.dumps({"imported": [name for name in WARM_MODULES if name in sys.modules], "cwd": os.getcwd(),
                  "names": sorted(name for name in globals() if not name.startswith("_"))}))"""


def kernel_processes() -> list[psutil.Process]:
    """This process's kernels that are running (a stopped one, not yet reaped, is not)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel_launcher" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def probe_notebook(path) -> None:
    kernelspec = dict(name="python3", language="python", display_name="Python 3")
    notebook = nbformat.v4.new_notebook(metadata=dict(kernelspec=kernelspec))
    notebook.cells = [nbformat.v4.new_code_cell(f"WARM_MODULES = {list(WARM_MODULES)!r}"),
                      nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(notebook, path)


def pool(tmp_path, needed: int, size: int) -> KernelPool:
    return KernelPool(needed, size, 1, tmp_path, KERNEL_NAME, KERNEL_ARGUMENTS, 300)


def test_a_notebook_runs_in_a_warm_kernel_as_in_a_fresh_one(tmp_path):
    probe_notebook(tmp_path / "probe.ipynb")
    runs = {}
    for run in ("fresh", "warm"):
        kernels = pool(tmp_path, needed=1, size=1)
        kernel = kernels.take() if run == "warm" else None
        runs[run] = papermill.execute_notebook(tmp_path / "probe.ipynb", tmp_path / f"{run}.ipynb", cwd=tmp_path,
                                               kernel_name=KERNEL_NAME, progress_bar=False, km=kernel)
        kernels.release(kernel)
        kernels.close()
    fresh, warm = (json.loads(runs[run].cells[1].outputs[0]["text"]) for run in ("fresh", "warm"))

    assert warm["imported"] == list(WARM_MODULES), "the package was imported before the notebook ran"
    assert "{{ cookiecutter.module_name }}.sampling" not in fresh["imported"]
    assert warm["cwd"] == fresh["cwd"] == str(tmp_path)
    assert warm["names"] == fresh["names"], "the warm-up bound no name"
    assert [cell.execution_count for cell in runs["warm"].cells] == [1, 2], "the warm-up is not counted"
    assert not kernel_processes(), "a released kernel is shut down"


def test_a_pool_starts_only_the_kernels_needed_and_close_stops_the_untaken(tmp_path):
    kernels = pool(tmp_path, needed=3, size=2)
    first = kernels.take()
    deadline = time.monotonic() + 120
    while len(kernel_processes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)
    assert len(kernel_processes()) == 2, "no more than `size` kernels alive at once"

    kernels.release(first)  # the third and last kernel starts now
    kernels.close()  # ... and is stopped with the second, which nobody took
    assert not kernel_processes()
    assert kernels.take() is None, "a closed pool starts no kernel"


def test_a_kernel_that_died_while_it_waited_is_not_handed_out(tmp_path):
    """Papermill then starts a fresh kernel, rather than failing on a dead one."""
    kernels = pool(tmp_path, needed=2, size=2)
    first = kernels.take()
    ready = kernels._waiting[0].result(timeout=120)  # started and warmed up, not yet taken
    waiting = [process for process in kernel_processes() if process.pid == ready.provisioner.pid]
    assert len(waiting) == 1
    waiting[0].kill()
    waiting[0].wait(10)
    assert kernels.take() is None
    kernels.release(None)
    kernels.release(first)
    kernels.close()
    assert not kernel_processes()


def test_warm_modules_exist():
    """A renamed module would silently stop being imported ahead."""
    assert not [name for name in WARM_MODULES if importlib.util.find_spec(name) is None]
