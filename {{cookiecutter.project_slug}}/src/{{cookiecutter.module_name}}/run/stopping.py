"""Stopping a run: Ctrl-C or SIGTERM ends it, within a bounded time, and never half-publishes.

The first Ctrl-C or SIGTERM raises :class:`KeyboardInterrupt` in the run, which stops its
kernels and queued notebooks and exits 130 (``pipeline.py``): where the run starts threads,
at the points it checks (:func:`deferred_interruptions`), and elsewhere where it lands, but
not inside an import, which it could leave locked for the run's other threads. Should that clean-up itself
wait on something that never comes, the run would not end: a watchdog then ends it by force
after :data:`STOP_GRACE_S`, printing where each thread waited, and a second Ctrl-C ends it at
once. Either way every process the run started is killed, and the published fits and
reports are untouched: while a finished run moves them into place (milliseconds), an
interruption lets it finish.
"""

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time

import psutil

STOP_GRACE_S = 30.0  # an interrupted run's clean-up takes 1-5 s (kernels get 3 s to stop)
INTERRUPTED_EXIT_CODE = 130  # as shells report a SIGINT
IMPORT_PATIENCE_S = 10.0  # an interruption waits at most this long for an import to finish

_publishing = threading.Lock()
_interrupted = threading.Event()
_deferring = threading.Event()


def stop_children(grace_s: float = 3.0) -> None:
    """Terminate every process this one started (the notebooks' kernels), then kill what remains."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


@contextlib.contextmanager
def publishing():
    """While the block moves a run's outputs into place, no forced stop ends the process."""
    with _publishing:
        yield


@contextlib.contextmanager
def deferred_interruptions():
    """In the block, Ctrl-C and SIGTERM are recorded, not raised where they land: code that starts
    threads raises them at safe points with :func:`raise_if_interrupted`.

    A KeyboardInterrupt raised at an arbitrary point of the standard library can leave its state
    half-changed: inside ``ThreadPoolExecutor.submit``, a worker started but not registered for
    shutdown, which the interpreter then waits for at exit, for ever.
    """
    _deferring.set()
    try:
        yield
    finally:
        _deferring.clear()


def raise_if_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` if Ctrl-C or SIGTERM came during :func:`deferred_interruptions`."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def end_by_force(reason: str) -> None:
    """Kill every process this one started and exit 130 at once, once no publishing is under way."""
    _publishing.acquire(timeout=STOP_GRACE_S)  # renames take milliseconds; never wait forever
    print(f"{reason}: ended by force. No published fit or report was changed; fits finished in this run are kept "
          "in artifacts/fits/.staging and the next run reuses them.", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        stop_children(grace_s=1.0)
    os._exit(INTERRUPTED_EXIT_CODE)


def _watch(grace_s: float) -> None:
    time.sleep(grace_s)  # a run that stops as it should has exited by now, and this thread with it
    print(f"The run did not stop within {grace_s:g} s of the interruption. Where each thread waited "
          "(worth reporting: the clean-up takes seconds):", file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    end_by_force(f"Interrupted, and not stopped within {grace_s:g} s")


def _importing(frame) -> bool:
    """Whether ``frame`` (the main thread's, where a signal arrived) is inside an import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def stop_on_interrupt(grace_s: float = STOP_GRACE_S) -> None:
    """Make Ctrl-C and SIGTERM stop this process as described above (call from the main thread)."""
    deferred = {}  # since when an interruption has waited for imports to finish

    def interrupted(signum, frame):
        if _publishing.locked():  # the outputs are being moved into place (milliseconds): the run finishes
            return
        if _interrupted.is_set():  # a second Ctrl-C: the user will not wait for the clean-up
            end_by_force("Interrupted again")
        if (not _deferring.is_set() and _importing(frame)
                and time.monotonic() - deferred.setdefault("since", time.monotonic()) < IMPORT_PATIENCE_S):
            # A KeyboardInterrupt raised inside an import can leave that module's import lock held
            # (CPython), and a thread importing the same module then waits for ever (a kernel
            # starting, the run's clean-up waiting for it): delivered once the import is done.
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        _interrupted.set()
        threading.Thread(target=_watch, args=(grace_s,), daemon=True, name="stop-watchdog").start()
        if not _deferring.is_set():
            raise KeyboardInterrupt  # else where the run next checks (raise_if_interrupted)

    signal.signal(signal.SIGTERM, interrupted)  # `kill`, a scheduler or CI stopping the run: as Ctrl-C
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where Ctrl-C is ignored (a background job)
        signal.signal(signal.SIGINT, interrupted)
