"""Each chain's draws reach the pipeline's progress display while a model samples."""

import pymc as pm
import pytest

from {{ cookiecutter.module_name }}.fit import progress
from {{ cookiecutter.module_name }}.fit.progress import PROGRESS_DIR_ENV, ProgressFile, read_progress, reporting


def test_progress_file_is_read_back_per_model(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL_S", 0)
    report = ProgressFile(tmp_path / "varying_slopes.json", chains=2, total=10)
    report.update(1, 4)
    assert read_progress(tmp_path) == {"varying_slopes": [[0, 10], [4, 10]]}


@pytest.mark.parametrize("engine", ["nutpie", "pymc"])
def test_each_chains_draws_are_reported_while_sampling(engine, tmp_path, monkeypatch):
    monkeypatch.setenv(PROGRESS_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(progress, "INTERVAL_S", 0)
    seen = []
    write = ProgressFile.flush

    def recording_flush(self):
        write(self)
        seen.append(read_progress(tmp_path)["tiny"])

    monkeypatch.setattr(ProgressFile, "flush", recording_flush)
    with pm.Model() as model:
        # big enough that sampling spans many of nutpie's progress reports (200 values: as few as 2 in CI)
        pm.Normal("x", 0, 1, shape=2000)
    with reporting("tiny", engine, chains=2, total=600) as arguments:
        if engine == "nutpie":
            import nutpie

            # nutpie reports every 5 ms here (every 100 ms by default: this model samples faster)
            nutpie.sample(nutpie.compile_pymc_model(model), draws=300, tune=300, chains=2, seed=1,
                          progress_bar=False, progress_rate=5, **arguments)
        else:
            with model:
                pm.sample(draws=300, tune=300, chains=2, progressbar=False, random_seed=1, **arguments)
    assert seen[0] == [[0, 600], [0, 600]]
    assert all(total == 600 for snapshot in seen for _, total in snapshot)
    assert any(0 < done < 600 for snapshot in seen for done, _ in snapshot), "no draw counted while sampling"
    assert max(done for snapshot in seen for done, _ in snapshot) == 600
    assert not list(tmp_path.glob("*.json")), "the file goes when sampling ends"


def test_nothing_is_reported_outside_the_pipeline(monkeypatch):
    monkeypatch.delenv(PROGRESS_DIR_ENV, raising=False)
    with reporting("tiny", "nutpie", chains=2, total=10) as arguments:
        assert arguments == {}
