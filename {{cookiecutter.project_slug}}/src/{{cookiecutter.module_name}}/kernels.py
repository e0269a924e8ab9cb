"""Kernels started, and warmed up, ahead of the notebooks that run in them.

Starting a notebook's kernel and importing PyMC, ArviZ and this package in it takes 5-7 s on a
2-core machine: half of what a notebook that reads the fits spends. :class:`KernelPool` starts
the next notebooks' kernels and imports the package in them while the current notebooks run
(after a prior edit, one model refits and the other core is idle), and Papermill executes each
notebook in a kernel that is ready. The import binds no name, so a notebook still runs as in a
fresh kernel: the same cells, the same outputs, execution counts from 1.
"""

import contextlib
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

# What the notebooks import (not Bambi, which only a formula model's build imports), and dask.array,
# which xarray imports when it first opens a fit (0.4 s).
WARM_MODULES = (
    "matplotlib.pyplot", "IPython.display", "arviz_plots", "dask.array",
    *(f"{{ cookiecutter.module_name }}.{module}" for module in (
        "build", "calibration", "checks", "compare", "config", "crossval", "data", "diagnostics",
        "estimates", "plots", "pointwise", "report", "sampling",
    )),
)
# Where jax is installed (NumPyro, the benchmarks' extra) ArviZ registers it as a lazy module, which
# the first plot loads (matplotlib checks whether its data are jax arrays): 0.7 s, taken here instead.
WARM_UP = "; ".join(f"__import__({module!r})" for module in WARM_MODULES) + (
    "; getattr(__import__('sys').modules.get('jax'), 'Array', None)"
)


class PrestartedKernel(AsyncKernelManager):
    """A kernel manager that keeps the clients opened on it, so that the pool can close the
    one Papermill opens: Papermill leaves a kernel it did not start, and its client, running."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clients = []

    def client(self, **kwargs):
        opened = super().client(**kwargs)
        self.clients.append(opened)
        return opened


class KernelPool:
    """Kernels started ahead of the notebooks: at most ``size`` alive at once (running a
    notebook, ready or starting), ``needed`` in all.

    Parameters
    ----------
    needed : int
        How many notebooks this run executes: no kernel is started that none will use.
    size : int
        Kernels alive at once. Twice the notebooks that run side by side lets the next ones
        start while those run (each idle kernel holds about 250 MB).
    starting : int
        Kernels starting at once: the notebooks that run side by side, so that the first
        notebooks' kernels do not share the cores with the later ones'.
    cwd : Path
        The kernels' working folder (the notebooks').
    kernel_name, extra_arguments, timeout_s
        As Papermill's ``kernel_name``, ``extra_arguments`` and ``start_timeout``.

    The kernels inherit this process's environment when they start.
    """

    def __init__(self, needed: int, size: int, starting: int, cwd: Path, kernel_name: str,
                 extra_arguments: list[str], timeout_s: float) -> None:
        self.cwd, self.kernel_name, self.extra_arguments, self.timeout_s = cwd, kernel_name, extra_arguments, timeout_s
        self._left = needed
        self._size = max(1, size)
        self._waiting: list[Future] = []
        self._in_use = 0
        self._lock = threading.Lock()
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=max(1, starting), thread_name_prefix="kernel-start")
        self._top_up()

    def take(self) -> PrestartedKernel | None:
        """The next kernel once it is ready; None (Papermill starts its own) if none is left or it failed to start.

        Give it back with :meth:`release`, also when it is None.
        """
        with self._lock:
            future = self._waiting.pop(0) if self._waiting else None
            self._in_use += 1
        if future is None:
            return None
        try:
            kernel = future.result()
        except Exception:  # a kernel that cannot start fails the notebook in Papermill, with its own error
            return None
        if not run_sync(kernel.is_alive)():  # died while it waited (out of memory, killed): Papermill starts one
            shut_down(kernel)
            return None
        return kernel

    def release(self, kernel: PrestartedKernel | None) -> None:
        """Shut down a kernel that :meth:`take` gave (and close its clients), and start the next one."""
        if kernel is not None:
            shut_down(kernel)
        with self._lock:
            self._in_use -= 1
        self._top_up()

    def close(self) -> None:
        """Shut down the kernels no notebook took (a failed or interrupted run) and start no more."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.cancel():  # already starting or started
                with contextlib.suppress(Exception):
                    shut_down(future.result())
        self._starter.shutdown(wait=True, cancel_futures=True)

    def _top_up(self) -> None:
        with self._lock:
            while not self._closed and self._left > 0 and len(self._waiting) + self._in_use < self._size:
                self._left -= 1
                self._waiting.append(self._starter.submit(run_sync(self._start)))

    async def _start(self) -> PrestartedKernel:
        kernel = PrestartedKernel(kernel_name=self.kernel_name)
        await kernel.start_kernel(cwd=str(self.cwd), extra_arguments=self.extra_arguments)
        client = kernel.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=self.timeout_s)
            request = client.execute(WARM_UP, silent=True, store_history=False)
            while True:
                try:
                    reply = await client.get_shell_msg(timeout=1)
                except queue.Empty:
                    if not await kernel.is_alive():  # killed (Ctrl-C stops every kernel): do not wait on
                        raise RuntimeError("the kernel stopped while importing") from None
                    continue
                if reply["parent_header"].get("msg_id") == request:
                    break
        except BaseException:
            with contextlib.suppress(Exception):
                await kernel.shutdown_kernel(now=True)
            raise
        finally:
            client.stop_channels()
            kernel.clients.remove(client)
        return kernel


def shut_down(kernel: PrestartedKernel) -> None:
    """Close the kernel's clients and stop it."""
    for opened in kernel.clients:
        with contextlib.suppress(Exception):
            opened.stop_channels()
    with contextlib.suppress(Exception):
        run_sync(kernel.shutdown_kernel)(now=True)
