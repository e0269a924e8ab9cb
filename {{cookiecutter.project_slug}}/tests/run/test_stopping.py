"""Ctrl-C and SIGTERM end a run within a bounded time, and never while its outputs are published."""

import contextlib
import signal
import subprocess
import sys
import textwrap
import time

import psutil

# A process set up as `run` sets itself up, with a child it started (a kernel), doing ``work``;
# what it does on KeyboardInterrupt is ``clean_up``.
SCRIPT = """
import subprocess, sys, threading, time
from {{ cookiecutter.module_name }}.run.stopping import publishing, stop_on_interrupt

stop_on_interrupt(grace_s=1.0)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
try:
    print(child.pid, flush=True)
{work}
except KeyboardInterrupt:
{clean_up}
    sys.exit(130)
print("finished", flush=True)
"""


def script_of(work: str, clean_up: str) -> str:
    return SCRIPT.format(work=textwrap.indent(work, "    "), clean_up=textwrap.indent(clean_up, "    "))


def started(work: str, clean_up: str) -> tuple[subprocess.Popen, psutil.Process]:
    process = subprocess.Popen([sys.executable, "-c", script_of(work, clean_up)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return process, psutil.Process(int(process.stdout.readline()))


def ended(process: subprocess.Popen, child: psutil.Process) -> tuple[float, str, str]:
    begun = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        for left in (process, child):  # a test that failed leaves nothing running
            with contextlib.suppress(psutil.NoSuchProcess):
                left.kill()
    return time.monotonic() - begun, stdout, stderr


def test_a_clean_up_that_never_ends_is_ended_by_force_with_where_it_waited():
    stuck = "threading.Event().wait()  # a clean-up stuck for ever"
    process, child = started("time.sleep(60)", stuck)
    line = next(number for number, text in enumerate(script_of("time.sleep(60)", stuck).splitlines(), 1) if stuck in text)
    process.send_signal(signal.SIGTERM)
    seconds, _, stderr = ended(process, child)
    assert process.returncode == 130, stderr
    assert 1.0 <= seconds < 10, seconds
    assert "The run did not stop within 1 s of the interruption" in stderr
    assert f'File "<string>", line {line} in <module>' in stderr, stderr  # where the main thread waited
    assert "ended by force. No published fit or report was changed" in stderr
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, "the run's kernel outlived it"


def test_a_second_ctrl_c_ends_the_run_at_once():
    process, child = started("time.sleep(60)", "time.sleep(60)  # a clean-up slower than the user's patience")
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    seconds, _, stderr = ended(process, child)
    assert process.returncode == 130, stderr
    assert seconds < 0.9, "the watchdog's grace (1 s) was waited for"
    assert "Interrupted again: ended by force" in stderr and "did not stop within" not in stderr
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_one_ctrl_c_and_a_clean_up_that_ends_exits_as_the_run_does():
    process, child = started("time.sleep(60)", "child.kill()")
    process.send_signal(signal.SIGINT)
    _, _, stderr = ended(process, child)
    assert process.returncode == 130 and "by force" not in stderr, stderr


def test_an_interruption_while_outputs_are_published_lets_the_run_finish():
    work = """with publishing():
    import os
    os.kill(os.getpid(), signal.SIGTERM)  # as the renames run
    time.sleep(0.3)
    print("published", flush=True)
child.kill()"""
    process, child = started("import signal\n" + work, "pass")
    _, stdout, stderr = ended(process, child)
    assert process.returncode == 0, stderr
    assert stdout.split() == ["published", "finished"]


def test_an_interruption_during_an_import_waits_for_it_and_leaves_it_usable(tmp_path):
    """A KeyboardInterrupt raised inside an import can leave the module's import lock held, and
    another thread importing it then waits for ever (1 in 60 interrupted imports of Papermill
    here): the run's clean-up waited so for a starting kernel. The interruption comes after."""
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\nos.kill(os.getpid(), signal.SIGTERM)  # the user, during the import\n"
        "time.sleep(0.3)\nloaded = True\n"
    )
    work = "import slow_module\ntime.sleep(60)  # the run goes on"
    clean_up = """print("in sys.modules:", "slow_module" in sys.modules, flush=True)
other = threading.Thread(target=__import__, args=("slow_module",), daemon=True)
other.start()
other.join(5)
print("another thread's import waited:", other.is_alive(), flush=True)
child.kill()"""
    process = subprocess.Popen([sys.executable, "-c", script_of(work, clean_up)], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = psutil.Process(int(process.stdout.readline()))
    _, stdout, stderr = ended(process, child)
    assert process.returncode == 130, stderr
    assert stdout.splitlines() == ["in sys.modules: True", "another thread's import waited: False"], stdout + stderr


def test_where_the_run_starts_threads_an_interruption_is_raised_where_it_checks():
    work = """import os, signal
from {{ cookiecutter.module_name }}.run.stopping import deferred_interruptions, raise_if_interrupted
with deferred_interruptions():
    os.kill(os.getpid(), signal.SIGTERM)  # as an executor starts a worker
    time.sleep(0.3)
    print("recorded, not raised", flush=True)
    raise_if_interrupted()
    print("not reached", flush=True)"""
    process, child = started(work, "child.kill()")
    _, stdout, stderr = ended(process, child)
    assert process.returncode == 130 and "by force" not in stderr, stderr
    assert stdout.splitlines() == ["recorded, not raised"]
