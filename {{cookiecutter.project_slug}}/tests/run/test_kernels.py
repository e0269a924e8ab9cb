"""Kernels started ahead of the notebooks: warm, yet a notebook runs in one as in a fresh kernel."""

import importlib.util
import json
import time

import nbformat
import papermill
import psutil
import pytest
from jupyter_core.utils import run_sync

from {{ cookiecutter.module_name }}.run.kernels import WARM_MODULES, ForkedKernelProcess, KernelPool, PoolStopped
from {{ cookiecutter.module_name }}.run.pipeline import KERNEL_ARGUMENTS, KERNEL_NAME
from {{ cookiecutter.module_name }}.run.stopping import stop_children

pytestmark = pytest.mark.slow  # starts kernels and runs notebooks: make test-fast leaves it out

PROBE = """import json, os, signal, sys, threading
import matplotlib
print(json.dumps({"imported": [name for name in WARM_MODULES if name in sys.modules], "cwd": os.getcwd(),
                  "names": sorted(name for name in globals() if not name.startswith("_")),
                  "path": sys.path, "launcher": sys.argv[0], "environment": sorted(os.environ),
                  "threads": sorted(thread.name for thread in threading.enumerate()),
                  "own session": os.getsid(0) == os.getpid(), "backend": matplotlib.get_backend(),
                  "interrupt": str(signal.getsignal(signal.SIGINT)), "child": str(signal.getsignal(signal.SIGCHLD)),
                  "hooks": dict((event, len(hooks)) for event, hooks in get_ipython().events.callbacks.items())}))"""
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);"
# PyMC's log handler, attached when it is imported, writes to the notebook (not the terminal).
LOG = "import logging\nlogging.getLogger('pymc').info('logged by PyMC')"


def kernel_processes() -> list[psutil.Process]:
    """This process's kernels that are running (a stopped one, not yet reaped, is not): started
    as ``ipykernel_launcher`` or forked from the pool's kernel factory."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command, parent = " ".join(child.cmdline()), " ".join(child.parent().cmdline())
            forked = "serve_kernels" in command and "serve_kernels" in parent
            if child.status() != psutil.STATUS_ZOMBIE and ("ipykernel_launcher" in command or forked):
                found.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def probe_notebook(path) -> None:
    kernelspec = dict(name="python3", language="python", display_name="Python 3")
    notebook = nbformat.v4.new_notebook(metadata=dict(kernelspec=kernelspec))
    notebook.cells = [nbformat.v4.new_code_cell(f"WARM_MODULES = {list(WARM_MODULES)!r}"),
                      nbformat.v4.new_code_cell(PLOT), nbformat.v4.new_code_cell(PROBE),
                      nbformat.v4.new_code_cell(LOG)]
    nbformat.write(notebook, path)


def pool(tmp_path, needed: int, size: int, fork: bool = True) -> KernelPool:
    return KernelPool(needed, size, 1, tmp_path, KERNEL_NAME, KERNEL_ARGUMENTS, 300, fork=fork)


def test_a_notebook_runs_in_a_warm_kernel_as_in_a_fresh_one(tmp_path):
    """A kernel Papermill starts (fresh), one the pool starts and warms up, and one the pool
    forks from its factory: the same process state for the notebook."""
    probe_notebook(tmp_path / "probe.ipynb")
    runs = {}
    for run in ("fresh", "started", "forked"):
        kernels = pool(tmp_path, needed=1, size=1, fork=run == "forked")
        kernel = kernels.take() if run != "fresh" else None
        assert (kernel is None) == (run == "fresh")
        runs[run] = papermill.execute_notebook(tmp_path / "probe.ipynb", tmp_path / f"{run}.ipynb", cwd=tmp_path,
                                               kernel_name=KERNEL_NAME, progress_bar=False, km=kernel)
        kernels.release(kernel)
        kernels.close()
    fresh, started, forked = (json.loads(runs[run].cells[2].outputs[0]["text"]) for run in runs)

    assert forked == started, "a forked kernel is in the state of one started and warmed up"
    assert started.pop("imported") == list(WARM_MODULES), "the package was imported before the notebook ran"
    assert "{{ cookiecutter.module_name }}.fit.sampling" not in fresh.pop("imported")
    # Papermill's own kernel runs other threads (its history and output capture start later), and
    # has not imported what sets environment variables (jax sets two).
    assert {**started, "threads": None, "environment": None} == {**fresh, "threads": None, "environment": None}
    assert set(fresh["environment"]) <= set(started["environment"])
    assert started["cwd"] == str(tmp_path) and started["own session"] and "inline" in started["backend"]
    for run in ("started", "forked"):
        assert [cell.execution_count for cell in runs[run].cells] == [1, 2, 3, 4], "the warm-up is not counted"
        assert [output.get("text") for output in runs[run].cells[3].outputs] == ["logged by PyMC\n"]
    figures = [["image/png" in output.get("data", {}) for output in runs[run].cells[1].outputs] for run in runs]
    assert figures == [[True]] * 3, "the plot is shown inline"
    assert not kernel_processes(), "a released kernel is shut down"


def test_a_forked_kernel_stops_with_its_factory(tmp_path):
    """Kernels are the factory's children; one whose factory is killed ends by itself (as a
    kernel jupyter_client starts ends with its parent), and closing the pool stops the factory."""
    kernels = pool(tmp_path, needed=1, size=1)
    kernel = kernels.take()
    forked = psutil.Process(kernel.provisioner.pid)
    assert forked.parent().pid == kernels._factory.process.pid != psutil.Process().pid
    kernels._factory.process.kill()
    forked.wait(15)
    assert not run_sync(kernel.is_alive)()
    kernels.release(kernel)
    kernels.close()
    assert not kernel_processes() and kernels._factory.process.poll() is not None


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


def test_an_interrupted_run_s_pool_starts_no_notebook_and_closes_at_once(tmp_path):
    """Ctrl-C as kernels start: a notebook that asks for a kernel then is refused, rather than
    given none (Papermill would start its own and run the whole notebook before the run exits)."""
    kernels = pool(tmp_path, needed=3, size=2)
    first = kernels.take()
    kernels.stop()
    stop_children()  # the run kills its kernels, the one starting among them
    started = time.monotonic()
    with pytest.raises(PoolStopped):
        kernels.take()
    kernels.release(first)
    kernels.close()
    assert time.monotonic() - started < 30, "waited for a killed kernel as for one starting"
    assert not kernel_processes()


def test_a_killed_kernel_not_yet_reaped_has_ended():
    """A forked kernel whose factory was killed is reaped by init, or, where init does not reap
    (some containers), stays a zombie: waiting for it to answer would wait for the timeout."""
    import subprocess

    child = subprocess.Popen(["true"])  # not waited for: a zombie once it exits
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    assert ForkedKernelProcess(child.pid).poll() == 0
    child.wait()


def test_warm_modules_exist():
    """A renamed module would silently stop being imported ahead."""
    assert not [name for name in WARM_MODULES if importlib.util.find_spec(name) is None]


def test_without_jupyter_client_s_launch_hooks_kernels_start_unforked_with_a_warning(tmp_path, monkeypatch):
    """What a jupyter_client release that renamed the private hooks PrestartedKernel overrides
    (``private_apis.py``) does to a run: one warning, kernels started as Jupyter starts them."""
    from jupyter_client.manager import AsyncKernelManager

    from {{ cookiecutter.module_name }} import private_apis
    from {{ cookiecutter.module_name }}.run import kernels

    with monkeypatch.context() as renamed:
        renamed.setattr(AsyncKernelManager, "_async_launch_kernel", None)  # defined on a base class: hidden here
        missing = private_apis._jupyter_client_hooks()["JUPYTER_CLIENT_HOOKS_MISSING"]
    assert missing == ("jupyter_client.manager.AsyncKernelManager has no _async_launch_kernel "
                       "(written against jupyter_client 8.10.0)")
    monkeypatch.setattr(kernels, "JUPYTER_CLIENT_HOOKS_MISSING", missing)
    kernels.start_factory(tmp_path)
    assert kernels._started is None, "no factory is started ahead for a pool that cannot fork"
    probe_notebook(tmp_path / "probe.ipynb")
    with pytest.warns(UserWarning, match="has no _async_launch_kernel .*: the notebooks' kernels start as Jupyter"):
        unforked = pool(tmp_path, needed=1, size=1, fork=True)
    assert unforked._factory is None
    kernel = unforked.take()
    run = papermill.execute_notebook(tmp_path / "probe.ipynb", tmp_path / "run.ipynb", cwd=tmp_path,
                                     kernel_name=KERNEL_NAME, progress_bar=False, km=kernel)
    unforked.release(kernel)
    unforked.close()
    assert json.loads(run.cells[2].outputs[0]["text"])["imported"] == list(WARM_MODULES), "started and warmed up"
    assert not kernel_processes()
