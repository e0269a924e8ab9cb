"""Kernels started, and warmed up, ahead of the notebooks that run in them.

Starting a notebook's kernel and importing PyMC, ArviZ and this package in it takes 2.5-3 s of
CPU on a 2-core machine, for each of the five to eight notebooks of a run: a third of a rerun
after a prior edit. :class:`KernelPool` starts the next notebooks' kernels while the current
notebooks run, and Papermill executes each notebook in a kernel that is ready. The kernels are
forked from one process that has imported the package once (:class:`KernelFactory`): a kernel
then starts in a fraction of a second. A notebook still runs as in a fresh kernel: a new
process, with nothing in its namespace (the imports bind no name), the same cells, the same
outputs, execution counts from 1 (``tests/test_kernels.py``).
"""

import contextlib
import importlib.util
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psutil
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from {{ cookiecutter.module_name }}.private_apis import JUPYTER_CLIENT_HOOKS_MISSING

# What the notebooks import (not Bambi, which only a formula model's build imports), and dask.array,
# which xarray imports when it first opens a fit (0.4 s).
WARM_MODULES = (
    "matplotlib.pyplot", "IPython.display", "arviz_plots", "dask.array",
    *(f"{{ cookiecutter.module_name }}.{module}" for module in (
        "config", "data.grouped", "model.build", "fit.sampling", "fit.store", "fit.pointwise", "evaluate.convergence",
        "evaluate.predictive", "evaluate.loo", "evaluate.crossval", "evaluate.sbc", "report.estimates",
        "report.figures", "report.summary", "report.words", "run.analysis", "run.fits",
    )),
)
# Where jax is installed (NumPyro, the benchmarks' extra) ArviZ registers it as a lazy module, which
# the first plot loads (matplotlib checks whether its data are jax arrays): 0.7 s, taken here instead.
WARM_UP = "; ".join(f"__import__({module!r})" for module in WARM_MODULES) + (
    "; getattr(__import__('sys').modules.get('jax'), 'Array', None)"
)
# What ipykernel sets before anything imports matplotlib: figures are shown in the notebook.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class ForkedKernelProcess:
    """A kernel forked by :class:`KernelFactory`, in the shape of the ``subprocess.Popen`` that
    jupyter_client's provisioner keeps. It is the factory's child, not this process's: it is
    polled rather than waited for, and its exit status is not known (0)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                # A zombie has ended too: a kernel whose factory was killed (an interrupted run) is
                # reaped by init, or never where init does not reap (some containers).
                ended = psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:  # ended, and reaped by the factory
                ended = True
            if ended:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class KernelFactory:
    """A process that imports what the notebooks import once and forks every kernel from itself.

    Each kernel is then an ipykernel started in a process that has already imported the
    package, as a warmed-up kernel had, in a fraction of a second instead of 2.5-3 s of
    imports. The factory serves kernels of this Python only; it stops when this process
    closes it or ends, and its kernels when it stops.
    """

    def __init__(self, cwd: Path, timeout_s: float = 300) -> None:
        self.cwd = Path(cwd).resolve()
        ours, theirs = socket.socketpair()
        with theirs:
            # In the kernels' folder (matplotlib and Numba read their config files from the working
            # folder when imported) and its own session: Ctrl-C reaches it through this process.
            self.process = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import serve_kernels; serve_kernels({theirs.fileno()})"],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, cwd=self.cwd, start_new_session=True,
            )
        ours.settimeout(timeout_s)  # its imports, then each fork
        self._socket, self._channel = ours, ours.makefile("rwb")
        self._lock = threading.Lock()

    def fork(self, argv: list[str], cwd: str, env: dict[str, str]) -> ForkedKernelProcess:
        """A kernel running ``ipykernel_launcher`` with ``argv``, in ``cwd`` with ``env``."""
        request = json.dumps({"argv": argv, "cwd": cwd, "env": env}).encode() + b"\n"
        with self._lock:
            try:
                self._channel.write(request)
                self._channel.flush()
                reply = self._channel.readline()
                if not reply:
                    raise RuntimeError("the kernel factory has stopped")
            except BaseException:
                self.close(kill=True)  # a reply that comes late would answer the next request
                raise
        return ForkedKernelProcess(int(reply))

    def close(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        with contextlib.suppress(OSError):
            self._channel.close()
            self._socket.close()  # the factory reads the end of its requests and exits
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# A factory started ahead of the pool that will use it (:func:`start_factory`).
_started: KernelFactory | None = None


def start_factory(cwd: Path) -> None:
    """Start the factory of the next :class:`KernelPool` (whose kernels run in ``cwd``) now, so
    that its imports overlap the caller's own (the command line's, before a run): 2 s sooner to
    the first notebook."""
    global _started
    if JUPYTER_CLIENT_HOOKS_MISSING is None:  # else no pool forks (KernelPool)
        _started = KernelFactory(cwd)


def stop_started_factory() -> None:
    """Stop a factory :func:`start_factory` started that no pool took (a run with nothing to execute)."""
    global _started
    if _started is not None:
        _started.close(kill=True)
        _started = None


def _next_factory(cwd: Path, timeout_s: float) -> KernelFactory:
    """The factory :func:`start_factory` started, once, if it imported in ``cwd``; else a new one.
    Each run imports the package as it is when the run starts, as fresh kernels would."""
    global _started
    factory, _started = _started, None
    if factory is not None and factory.cwd != Path(cwd).resolve():
        factory.close(kill=True)
        factory = None
    return factory or KernelFactory(cwd, timeout_s)


def _is_this_pythons_ipykernel(kernel_cmd: list[str]) -> bool:
    """Whether a kernel command runs ipykernel in this Python: what the factory can fork."""
    return kernel_cmd[1:3] == ["-m", "ipykernel_launcher"] and os.path.abspath(kernel_cmd[0]) == sys.executable


def serve_kernels(fd: int) -> None:
    """The factory's process: import, then fork a kernel for each request read from socket ``fd``."""
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher: the working folder is not on a kernel's import path
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)  # read when matplotlib is imported, below
    from ipykernel.kernelapp import IPKernelApp

    before = dict(os.environ)
    exec(WARM_UP, {})  # what a kernel started by jupyter_client runs to warm up
    # What the imports set in the environment (jax sets two variables), as they would in the kernel.
    set_by_imports = {name: value for name, value in os.environ.items() if before.get(name) != value}
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels that end are reaped at once
    factory = os.getpid()
    with socket.socket(fileno=fd) as connection, connection.makefile("rwb") as channel:
        for line in channel:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                channel.close()
                connection.close()  # (only now is the socket closed: the channel held it)
                _run_kernel(IPKernelApp, request, set_by_imports, factory)
            channel.write(b"%d\n" % pid)
            channel.flush()
    os._exit(0)  # at once: the interpreter's final collection of what it imported takes 1-1.5 s


def _run_kernel(app, request: dict, set_by_imports: dict[str, str], factory: int) -> None:
    """In a forked child: become the kernel jupyter_client would have launched; never returns."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if os.getppid() != factory:  # the factory ended meanwhile: nothing would stop this kernel
            return
        os.setsid()  # its own session and process group, as jupyter_client starts a kernel
        os.chdir(request["cwd"])
        os.environ.clear()
        # The kernel stops if the factory does, as a kernel jupyter_client starts stops with its parent.
        os.environ.update(request["env"], MPLBACKEND=request["env"].get("MPLBACKEND", INLINE_BACKEND),
                          JPY_PARENT_PID=str(factory))
        os.environ.update(set_by_imports)
        sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["argv"]]
        sys.modules["numpy"].random.seed()  # not the factory's generator state, shared by every kernel
        kernel = app.instance()
        kernel.initialize([*request["argv"], f"--IPKernelApp.parent_handle={factory}"])
        # Log handlers that libraries attached at import (PyMC's, ArviZ's) write to the streams of
        # that moment; in a kernel they import into, those are the kernel's, shown in the notebook.
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(logger, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stderr__, sys.__stdout__):
                    handler.setStream(sys.stderr if handler.stream is sys.__stderr__ else sys.stdout)
        kernel.start()
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


class PrestartedKernel(AsyncKernelManager):
    """A kernel manager that forks its kernel from a :class:`KernelFactory` (where the kernel is
    this Python's ipykernel) and keeps the clients opened on it, so that the pool can close the
    one Papermill opens: Papermill leaves a kernel it did not start, and its client, running."""

    def __init__(self, factory: KernelFactory | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factory = factory
        self.clients = []

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        # jupyter_client's hook for launching kernels differently
        if self.factory is None or not _is_this_pythons_ipykernel(kernel_cmd):
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        # The arguments after "python -m ipykernel_launcher".
        process = self.factory.fork(kernel_cmd[3:], str(kw.get("cwd") or Path.cwd()), dict(kw.get("env") or os.environ))
        self.provisioner.process, self.provisioner.pid, self.provisioner.pgid = process, process.pid, process.pid
        self.provisioner.cwd = kw.get("cwd")
        self._reconcile_connection_info(self.provisioner.connection_info)

    def client(self, **kwargs):
        opened = super().client(**kwargs)
        self.clients.append(opened)
        return opened


class PoolStopped(Exception):
    """A notebook asked :class:`KernelPool` for a kernel after the run was interrupted."""


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
    fork : bool
        Fork the kernels from a :class:`KernelFactory` (where the kernel is this Python's
        ipykernel); False: start each as jupyter_client does, and import the package in it.

    The kernels inherit this process's environment when they start.
    """

    def __init__(self, needed: int, size: int, starting: int, cwd: Path, kernel_name: str,
                 extra_arguments: list[str], timeout_s: float, fork: bool = True) -> None:
        self.cwd, self.kernel_name, self.extra_arguments, self.timeout_s = cwd, kernel_name, extra_arguments, timeout_s
        if fork and needed > 0 and JUPYTER_CLIENT_HOOKS_MISSING is not None:
            warnings.warn(f"{JUPYTER_CLIENT_HOOKS_MISSING}: the notebooks' kernels start as Jupyter starts them, "
                          "not forked (1-3 s more per notebook)", stacklevel=2)
            fork = False
        self._factory = _next_factory(cwd, timeout_s) if fork and needed > 0 else None
        self._left = needed
        self._size = max(1, size)
        self._waiting: list[Future] = []
        self._in_use = 0
        self._lock = threading.Lock()
        self._closed = self._stopped = False
        self._starter = ThreadPoolExecutor(max_workers=max(1, starting), thread_name_prefix="kernel-start")
        self._top_up()

    def take(self) -> PrestartedKernel | None:
        """The next kernel once it is ready; None (Papermill starts its own) if none is left or it failed to start.

        Give it back with :meth:`release`, also when it is None. Raises :class:`PoolStopped` after
        :meth:`stop`: a notebook that has not started does not start a kernel of its own then.
        """
        with self._lock:
            if self._stopped:
                raise PoolStopped("the run was interrupted: no notebook starts")
            future = self._waiting.pop(0) if self._waiting else None
            self._in_use += 1
        if future is None:
            return None
        try:
            kernel = future.result()
        except Exception:  # a kernel that cannot start fails the notebook in Papermill, with its own error
            if self._stopped:  # killed while starting because the run was interrupted
                raise PoolStopped("the run was interrupted: no notebook starts") from None
            return None
        if not run_sync(kernel.is_alive)():  # died while it waited (out of memory, killed): Papermill starts one
            shut_down(kernel)
            if self._stopped:  # killed because the run was interrupted
                raise PoolStopped("the run was interrupted: no notebook starts")
            return None
        return kernel

    def stop(self) -> None:
        """An interrupted run: start no more kernels, and no notebook (:meth:`take` raises). Returns
        at once; the kernels alive are the caller's to kill, then :meth:`close`'s to shut down."""
        with self._lock:
            self._stopped = self._closed = True

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
        if self._factory is not None:
            self._factory.close()

    def _top_up(self) -> None:
        with self._lock:
            while not self._closed and self._left > 0 and len(self._waiting) + self._in_use < self._size:
                self._left -= 1
                self._waiting.append(self._starter.submit(run_sync(self._start)))

    async def _start(self) -> PrestartedKernel:
        kernel = PrestartedKernel(factory=self._factory, kernel_name=self.kernel_name)
        client = None
        try:
            await kernel.start_kernel(cwd=str(self.cwd), extra_arguments=self.extra_arguments)
            client = kernel.client()
            client.start_channels()
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
            if client is not None:
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
