"""Sweeps: variants of the config, each a full pipeline run on a Dask cluster."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from conftest import PROJECT_ROOT, copy_project

from {{ cookiecutter.module_name }}.config import ConfigError
from {{ cookiecutter.module_name }}.fit.store import load_fit
from {{ cookiecutter.module_name }}.run.sweep import Sweep, Variant, load_sweep, run_sweep, with_override

pytestmark = pytest.mark.slow  # runs the pipeline or sweeps: make test-fast leaves it out


def test_a_grid_expands_to_every_combination_with_readable_names():
    sweep = Sweep(name="s", grid={"priors.group_sd.intercept": [0.5, 2], "sampler.seed": [1, 2]},
                  variants=[Variant(name="extra", set={"family": "student_t"})])
    names = [variant.name for variant in sweep.expanded()]
    assert names == ["intercept-0.5_seed-1", "intercept-0.5_seed-2", "intercept-2_seed-1", "intercept-2_seed-2", "extra"]
    assert sweep.expanded()[1].set == {"priors.group_sd.intercept": 0.5, "sampler.seed": 2}
    with pytest.raises(ConfigError, match="repeated"):
        Sweep(name="s", variants=[Variant(name="a"), Variant(name="a")]).expanded()
    with pytest.raises(ConfigError, match="no variants"):
        Sweep(name="s").expanded()
    with pytest.raises(ValueError, match="folder name"):
        Variant(name="../escape")


def test_dotted_overrides_reach_nested_keys_and_list_items():
    config = {"priors": {}, "models": [{"name": "a", "formula": "y ~ x"}]}
    with_override(config, "priors.group_sd.intercept", 0.5)
    with_override(config, "models.0.formula", "y ~ x + (1 | g)")
    assert config == {"priors": {"group_sd": {"intercept": 0.5} }, "models": [{"name": "a", "formula": "y ~ x + (1 | g)"}]}


@pytest.fixture(scope="module")
def lean_project(tmp_path_factory):
    """A copy of the project whose config has one formula model and no cross-validation: each
    variant's fast pipeline then takes well under a minute."""
    config_path = copy_project(tmp_path_factory.mktemp("sweep_project"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", config_path.parents[1])  # marks the project folder
    base = yaml.safe_load(config_path.read_text())
    base["models"] = [model for model in base["models"] if "formula" in model][:1]
    base["cross_validation"] = {"group_folds": 0, "max_refits": 0}
    config_path.write_text(yaml.safe_dump(base, sort_keys=False))
    return config_path.parents[1]


def test_a_sweep_runs_its_variants_on_two_workers_and_reports_the_one_that_fails(lean_project):
    """Four variants on a LocalCluster with two workers: two seeds, a subset of the rows, and one
    naming a column the data lack. The three run; the fourth is reported with the column's
    name; the overview has every variant; a second sweep reuses every fit."""
    sweep_file = lean_project / "sweeps" / "check.yaml"
    sweep_file.parent.mkdir(exist_ok=True)
    sweep_file.write_text(yaml.safe_dump({
        "base": "config/analysis.yaml", "fast": True,
        "grid": {"sampler.seed": [1, 2]},
        "variants": [{"name": "low_ses", "subset": "ses < 0"},
                     {"name": "broken", "set": {"data.outcome": "no_such_column"} }],
    }))
    sweep, root = load_sweep(sweep_file)
    assert root == lean_project and [variant.name for variant in sweep.expanded()] == ["seed-1", "seed-2", "low_ses",
                                                                                       "broken"]
    index = run_sweep(sweep_file, workers=2)
    folder = lean_project / "reports" / "sweeps" / "check"
    assert index == folder / "index.html"
    results = json.loads((folder / "results.json").read_text())["variants"]
    assert [(name, result["status"]) for name, result in results.items()] == [
        ("seed-1", "ok"), ("seed-2", "ok"), ("low_ses", "ok"), ("broken", "failed")], "in the sweep file's order"
    assert "no_such_column" in results["broken"]["error"]
    for name in ("seed-1", "seed-2", "low_ses"):
        assert (folder / name / "index.html").is_file() and (folder / name / "07_report.html").is_file()
        assert yaml.safe_load((folder / name / "config.yaml").read_text())["paths"]["artifacts"] == \
            f"artifacts/sweeps/check/{name}"

    overview = pd.read_csv(folder / "overview.csv")
    assert set(overview["variant"]) == {"seed-1", "seed-2", "low_ses", "broken"}
    assert overview.loc[overview["variant"] == "broken", "status"].eq("failed").all()
    ok = overview[overview["status"] == "ok"]
    assert ok["estimate"].notna().all() and ok["loo_rank"].eq(1).all()
    slopes = ok[ok["term"] == "ses"].set_index("variant")["estimate"]
    assert slopes["seed-1"] == pytest.approx(slopes["seed-2"], rel=0.05), "seeds differ by Monte Carlo error only"
    assert slopes["low_ses"] != pytest.approx(slopes["seed-1"], rel=1e-6), "the subset is another data set"
    page = index.read_text()
    assert page.count("<tr><td>") == 4 and "no_such_column" in page and 'src="data:image/png;base64,' in page

    fits = {path: path.stat().st_mtime_ns for path in (lean_project / "artifacts" / "sweeps").rglob("*.nc")}
    assert len(fits) == 3
    run_sweep(sweep_file, workers=2)
    assert {path: path.stat().st_mtime_ns for path in fits} == fits, "unchanged variants are not refitted"


# A cluster started by hand, as on several machines (README, Sweeps), here on 127.0.0.1 only.
DASK = Path(sys.executable).with_name("dask")
STARTUP_S = 60  # a process's imports on a busy 2-core machine


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll ``condition`` until it returns something true, which is returned; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval_s)
    pytest.fail(f"not within {timeout_s:.0f} s: {what}")


@pytest.fixture
def dask_cluster(tmp_path):
    """Start ``dask scheduler`` and ``dask worker`` processes: call it with the number of
    workers and, optionally, the scheduler's ``allowed-failures``; it returns the scheduler's
    address and the workers' processes. Every process it started, and any process a test adds
    to ``dask_cluster.leftovers`` (the sweep, a killed worker's kernels), is stopped afterwards,
    also when the test fails."""
    started: list[subprocess.Popen] = []
    leftovers: list[psutil.Process] = []

    def start(workers: int, allowed_failures: int | None = None) -> tuple[str, list[subprocess.Popen]]:
        environment = dict(os.environ)
        if allowed_failures is not None:
            environment["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
        scheduler_file = tmp_path / "scheduler.json"

        def launch(name: str, *arguments: str) -> subprocess.Popen:
            with open(tmp_path / f"{name}.log", "wb") as log:
                started.append(subprocess.Popen([str(DASK), *arguments], stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, cwd=tmp_path, env=environment))
            return started[-1]

        scheduler = launch("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                           "--scheduler-file", str(scheduler_file))

        def written_address() -> str | None:
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
            with contextlib.suppress(OSError, ValueError):  # not yet written, or half
                return json.loads(scheduler_file.read_text())["address"]
            return None

        address = wait_for(written_address, STARTUP_S, "the scheduler wrote its address")
        assert address.startswith("tcp://127.0.0.1:")
        # No nanny: a worker is one process, which the test kills and nothing restarts.
        processes = [launch(f"worker-{number}", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                            "--no-nanny", "--no-dashboard", "--name", f"worker-{number}")
                     for number in range(workers)]
        from dask.distributed import Client

        with Client(address, timeout=STARTUP_S) as client:
            client.wait_for_workers(workers, timeout=STARTUP_S)
        return address, processes

    start.leftovers = leftovers
    yield start
    for process in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    for process in reversed(started):  # workers first, then the scheduler
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def start_sweep(project: Path, name: str, seeds: list[int], address: str,
                leftovers: list[psutil.Process]) -> tuple[Path, subprocess.Popen]:
    """``python -m {{ cookiecutter.module_name }} sweep`` of a fast sweep over ``seeds`` on the scheduler at
    ``address``, in the background; its file and its process (output in ``<name>.log`` beside the file),
    which is added to ``leftovers``."""
    sweep_file = project / "sweeps" / f"{name}.yaml"
    sweep_file.parent.mkdir(exist_ok=True)
    sweep_file.write_text(yaml.safe_dump({"base": "config/analysis.yaml", "fast": True,
                                          "grid": {"sampler.seed": seeds},
                                          }))
    with open(sweep_file.with_suffix(".log"), "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.module_name }}", "sweep", str(sweep_file),
                                    "--scheduler", address], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=project)
    leftovers.append(psutil.Process(process.pid))
    return sweep_file, process


def worker_running(project: Path, sweep: str, variant: str, workers: list[subprocess.Popen],
                   sweep_process: subprocess.Popen, staged_fit: bool) -> subprocess.Popen:
    """The worker process running ``variant`` (the pid in its run lock's ``run.json``), once the
    variant has started or, with ``staged_fit``, once its fit is sampled but not yet published."""
    artifacts = project / "artifacts" / "sweeps" / sweep / variant

    def running():
        assert sweep_process.poll() is None, "the sweep ended before the worker was killed"
        try:
            pid = json.loads((artifacts / "run.json").read_text())["pid"]
        except (OSError, ValueError):
            return None
        if staged_fit and not list((artifacts / "fits" / ".staging").glob("*.nc")):
            return None
        return next((worker for worker in workers if worker.pid == pid), None)

    return wait_for(running, 240, f"variant {variant} runs on one of the workers")


def kill_worker(worker: subprocess.Popen, leftovers: list[psutil.Process]) -> list[psutil.Process]:
    """SIGKILL the worker; returns the processes it had started (its kernels), left to end on their own."""
    started = psutil.Process(worker.pid).children(recursive=True)
    leftovers.extend(started)  # stopped by the fixture if they outlive the test
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    return started


def assert_outputs_whole(*folders: Path) -> None:
    """Every file written under ``folders`` is complete: no temporary file of an unfinished write,
    every fit opens, every page ends, every JSON, notebook and CSV parses."""
    files = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    assert files
    assert not [path for path in files if path.name.endswith(".tmp")], "a write was left unfinished"
    for path in files:
        if path.suffix == ".nc":
            assert len(load_fit(path).posterior.draw) > 0, path
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), path
        elif path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            assert not pd.read_csv(path).empty, path


def test_a_variant_whose_worker_is_killed_runs_again_on_the_other_worker(lean_project, dask_cluster):
    """A scheduler and two workers started as separate processes; the worker running one of two
    variants is killed (SIGKILL) after it has sampled the variant's fit, before the variant is
    published. Dask runs that variant again on the other worker; both variants finish, every
    file they wrote is whole, and the killed worker's kernels end with it."""
    address, workers = dask_cluster(workers=2)
    artifacts = lean_project / "artifacts" / "sweeps" / "cluster"
    # What a worker killed in the middle of writing a fit leaves (the kill below cannot be timed to
    # land in a write): the sweep deletes it.
    unfinished = artifacts / "seed-2" / "fits" / ".staging" / ".model.nc.k1ll3d.tmp"
    unfinished.parent.mkdir(parents=True)
    unfinished.write_bytes(b"\x89HDF\r\n")
    sweep_file, sweep = start_sweep(lean_project, "cluster", [1, 2], address, dask_cluster.leftovers)

    killed = worker_running(lean_project, "cluster", "seed-1", workers, sweep, staged_fit=True)
    kernels = kill_worker(killed, dask_cluster.leftovers)
    assert sweep.wait(timeout=300) == 0, sweep_file.with_suffix(".log").read_text()

    folder = lean_project / "reports" / "sweeps" / "cluster"
    results = json.loads((folder / "results.json").read_text())["variants"]
    assert {name: result["status"] for name, result in results.items()} == {"seed-1": "ok", "seed-2": "ok"}
    survivor = next(worker for worker in workers if worker is not killed)
    assert survivor.poll() is None, "seed-1 ran again on the one worker left"
    for name in ("seed-1", "seed-2"):
        assert (folder / name / "07_report.html").is_file() and list((artifacts / name / "fits").glob("*.nc"))
        assert not (artifacts / name / "run.json").exists()
    assert_outputs_whole(folder, artifacts)
    assert not unfinished.exists() and not list(artifacts.rglob(unfinished.name))
    _, alive = psutil.wait_procs(kernels, timeout=15)
    assert not alive, f"the killed worker's processes outlived it: {alive}"


def test_a_variant_whose_workers_keep_dying_is_reported_failed_with_the_reason(lean_project, dask_cluster):
    """With ``allowed-failures: 0`` the scheduler gives up on a variant when its first worker
    dies: the sweep reports it as failed, in one line naming KilledWorker, and writes its overview."""
    address, workers = dask_cluster(workers=1, allowed_failures=0)
    sweep_file, sweep = start_sweep(lean_project, "killed", [1], address, dask_cluster.leftovers)

    kill_worker(worker_running(lean_project, "killed", "seed-1", workers, sweep, staged_fit=False),
                dask_cluster.leftovers)
    sweep.wait(timeout=120)
    output = sweep_file.with_suffix(".log").read_text()
    assert sweep.returncode == 1, output
    assert "variant seed-1 failed: KilledWorker: the Dask worker running this variant died" in output, output
    assert "Traceback" not in output

    folder = lean_project / "reports" / "sweeps" / "killed"
    result = json.loads((folder / "results.json").read_text())["variants"]["seed-1"]
    assert result["status"] == "failed" and result["error"].startswith("KilledWorker: ") and "\n" not in result["error"]
    assert pd.read_csv(folder / "overview.csv")[["variant", "status"]].values.tolist() == [["seed-1", "failed"]]
    assert "KilledWorker" in (folder / "index.html").read_text()
    assert not (lean_project / "artifacts" / "sweeps" / "killed" / "seed-1" / "run.json").exists()


def test_a_scheduler_that_does_not_answer_is_one_line_and_exit_1(lean_project):
    """``--scheduler`` at an address where nothing listens: the fix in one line, no traceback, no
    variant started."""
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago, closed again
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sweep_file = lean_project / "sweeps" / "nowhere.yaml"
    sweep_file.parent.mkdir(exist_ok=True)
    sweep_file.write_text(yaml.safe_dump({"base": "config/analysis.yaml", "fast": True, "grid": {"sampler.seed": [1]},
                                          }))
    result = subprocess.run([sys.executable, "-m", "{{ cookiecutter.module_name }}", "sweep", str(sweep_file),
                             "--scheduler", f"tcp://127.0.0.1:{port}"], cwd=lean_project, capture_output=True, text=True,
                            env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}, timeout=120)
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: --scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered"), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    folder = lean_project / "reports" / "sweeps" / "nowhere"
    assert not (folder / "results.json").exists() and not (folder / "index.html").exists()
    assert not list((lean_project / "artifacts").rglob("nowhere/*/*.nc")), "no variant was fitted"
