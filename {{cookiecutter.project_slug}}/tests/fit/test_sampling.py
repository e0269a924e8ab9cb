import numpy as np
import pytest
import xarray as xr

from {{ cookiecutter.module_name }}.data.simulate import load_truth
from {{ cookiecutter.module_name }}.fit.store import load_fit, save_fit
from {{ cookiecutter.module_name }}.report.summary import recovery_table


def test_fit_holds_every_group_later_notebooks_read(example_fit, example_data):
    for group in ("posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data", "convergence"):
        assert group in example_fit.children
    assert "warmup_posterior" not in example_fit.children
    assert example_fit.posterior.sizes["school"] == len(example_data.groups)
    assert example_fit.posterior_predictive[example_data.outcome_name].sizes["obs"] == len(example_data.outcome)


def test_short_fit_recovers_true_hyperparameters(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    # 99%: five parameters are checked at once, and in this draw of the example data the
    # school intercepts happen to average high, putting mu_alpha's truth near the 3% tail.
    table = recovery_table(example_fit, truth, ci_prob=0.99)
    assert list(table.index) == list(truth["hyperparameters"])
    assert table["inside"].all(), table


def test_short_fit_recovers_most_group_intercepts(example_fit, config):
    truth = load_truth(config.resolve(config.data.true_parameters))
    alpha = example_fit.posterior["alpha"]
    lower, upper = alpha.quantile([0.03, 0.97], dim=("chain", "draw")).values
    true_alpha = np.array([truth["alpha"][school] for school in alpha["school"].values])
    # 94% intervals: expect about 94% of 40 groups covered; fewer than 33 would be very unlikely.
    assert ((lower <= true_alpha) & (true_alpha <= upper)).sum() >= 33


def test_same_seed_gives_identical_draws(config, example_data, example_fit):
    from {{ cookiecutter.module_name }}.fit.sampling import fit
    from {{ cookiecutter.module_name }}.model.build import build_model

    settings = config.sampler_settings(fast=True).model_copy(update={"draws": 500, "tune": 500})
    again = fit(build_model(config, config.primary_model, example_data), settings)
    xr.testing.assert_equal(again.posterior["mu_alpha"], example_fit.posterior["mu_alpha"])


def test_save_and_load_round_trip(example_fit, tmp_path):
    path = save_fit(example_fit, tmp_path / "fits" / "model.nc")
    loaded = load_fit(path)
    xr.testing.assert_allclose(loaded.posterior.to_dataset(), example_fit.posterior.to_dataset())
    assert loaded.attrs["sampler_settings"] == example_fit.attrs["sampler_settings"]


def test_loading_some_groups_reads_those_and_the_attributes(example_fit, tmp_path):
    path = save_fit(example_fit, tmp_path / "model.nc")
    whole = load_fit(path)
    some = load_fit(path, ("posterior", "sample_stats", "no_such_group"))
    assert set(some.children) == {"posterior", "sample_stats"}
    assert some.attrs == whole.attrs
    for group in some.children:
        xr.testing.assert_identical(some[group].to_dataset(), whole[group].to_dataset())


def test_failed_save_keeps_the_previous_fit(example_fit, tmp_path, monkeypatch):
    path = save_fit(example_fit, tmp_path / "model.nc")
    before = path.read_bytes()

    def broken_write(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_fit(example_fit, path)
    assert path.read_bytes() == before
    assert [file.name for file in tmp_path.iterdir()] == ["model.nc"]


def test_loading_a_missing_fit_says_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run notebooks/02_fit.ipynb"):
        load_fit(tmp_path / "varying_slopes.nc")


def test_stored_convergence_table_is_arviz_summary(example_fit):
    import arviz as az

    from {{ cookiecutter.module_name }}.fit.summary import convergence_summary, parameter_names

    stored = convergence_summary(example_fit)
    fresh = az.summary(example_fit, var_names=parameter_names(example_fit), kind="diagnostics", round_to="none")
    assert list(stored.index) == list(fresh.index)
    np.testing.assert_allclose(stored[["r_hat", "ess_bulk", "ess_tail"]].to_numpy(),
                               fresh[["r_hat", "ess_bulk", "ess_tail"]].to_numpy().astype(float))


# Stuck chains (chain_health.py): nutpie's progress as it reports it, a chain at a time
def chain_state(draws, tuning, step_size, steps, divergences=0):
    from types import SimpleNamespace

    return SimpleNamespace(started=True, finished_draws=draws, tuning=tuning, step_size=step_size,
                           latest_num_steps=steps, divergences=divergences)


def test_a_chain_whose_step_size_collapsed_is_found_during_its_warm_up():
    """As nutpie reported mlmRev's Contraception (seed 2): chain 0 at 1.3e-05 and 1023 leapfrog
    steps from its 10th warm-up draw, chain 1 adapted to 0.38 and finished in 0.6 s."""
    from {{ cookiecutter.module_name }}.fit.chain_health import ChainWatch

    watch = ChainWatch(tune=300)
    watch([chain_state(10, True, 0.0, 1023), chain_state(309, False, 0.37, 15)])
    assert watch.stuck == {}, "too few draws to judge"
    watch([chain_state(24, True, 1.3e-5, 1023), chain_state(600, False, 0.38, 15)])
    assert list(watch.stuck) == [0] and "step size 1.3e-05 at the maximum tree depth" in watch.stuck[0]


def test_healthy_chains_are_left_alone():
    """Small step sizes in early warm-up, long trajectories with a normal step size, a few divergences."""
    from {{ cookiecutter.module_name }}.fit.chain_health import ChainWatch

    watch = ChainWatch(tune=300)
    watch([chain_state(30, True, 0.001, 255), chain_state(40, True, 0.002, 255)])  # nobody adapted yet
    watch([chain_state(400, False, 0.05, 1023), chain_state(500, False, 0.3, 31, divergences=3)])
    watch([chain_state(400, False, 0.2, 63), chain_state(600, False, 0.3, 1023)])
    assert watch.stuck == {}


def test_a_chain_divergent_on_most_draws_is_found():
    from {{ cookiecutter.module_name }}.fit.chain_health import ChainWatch

    watch = ChainWatch(tune=100)
    watch([chain_state(150, False, 0.3, 7, divergences=40), chain_state(150, False, 0.3, 7, divergences=1)])
    assert list(watch.stuck) == [0] and "divergent on 40 of 50 draws" in watch.stuck[0]


def test_a_finished_fit_with_a_collapsed_chain_is_flagged(example_fit):
    from {{ cookiecutter.module_name }}.fit.chain_health import stuck_chains

    assert stuck_chains(example_fit) == {}
    stats = example_fit.sample_stats.to_dataset()
    depth_name = "maxdepth_reached" if "maxdepth_reached" in stats else "reached_max_treedepth"  # nutpie's, PyMC's
    step, depth = stats["step_size"].copy(), stats[depth_name].copy()
    step[0] = 1e-5
    depth[0] = True
    broken = xr.DataTree.from_dict({"sample_stats": stats.assign({"step_size": step, depth_name: depth})})
    assert list(stuck_chains(broken)) == [0]


def test_a_stuck_sampler_is_stopped_at_once_and_cancelled():
    from {{ cookiecutter.module_name }}.fit.chain_health import ChainsStuck, ChainWatch
    from {{ cookiecutter.module_name }}.fit.sampling import wait_unless_stuck

    class Running:
        cancelled, polls = False, 0

        def wait(self, timeout):
            self.polls += 1
            if self.polls == 3:
                watch.stuck[1] = "step size 1e-05 at the maximum tree depth"
            raise TimeoutError

        def cancel(self):
            self.cancelled = True

    watch, running = ChainWatch(tune=10), Running()
    with pytest.raises(ChainsStuck, match="chain 1: step size 1e-05"):
        wait_unless_stuck(running, watch, poll_s=0)
    assert running.cancelled and running.polls == 3


    class PanicException(BaseException):  # pyo3's, raised by nutpie's abort when a chain failed to start
        pass

    class Panicking(Running):
        def cancel(self):
            raise PanicException("called `Result::unwrap()` on an `Err` value: Invalid initial point")

    watch = ChainWatch(tune=10)
    with pytest.raises(ChainsStuck):
        wait_unless_stuck(Panicking(), watch, poll_s=0)


def test_a_stuck_fit_is_sampled_again_without_jitter_then_with_pymc(example_fit, monkeypatch):
    """What is done is recorded on the draws (and shown as a fit warning, evaluate/convergence.py)."""
    from {{ cookiecutter.module_name }}.config import SamplerSettings
    from {{ cookiecutter.module_name }}.fit.chain_health import ChainsStuck
    from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler

    calls = []

    def sample_once(self, settings, data, seed, name, engine, progressbar, jitter=True, in_process=False):
        calls.append((seed, engine, jitter, in_process))
        if len(calls) < stuck_attempts + 1:
            raise ChainsStuck({0: "step size 1e-05 at the maximum tree depth"})
        return xr.DataTree.from_dict({"posterior": example_fit.posterior.to_dataset(),
                                      "sample_stats": example_fit.sample_stats.to_dataset()})

    monkeypatch.setattr(ModelSampler, "_sample", sample_once)
    settings = SamplerSettings(engine="nutpie", seed=7)
    stuck_attempts = 1
    draws = ModelSampler(None, "nutpie").sample(settings)
    assert calls == [(7, "nutpie", True, False), (7, "nutpie", False, False)]
    assert draws.attrs["sampler_fallback"] == (
        "nutpie stopped: chain 0: step size 1e-05 at the maximum tree depth; sampled again with nutpie from within "
        "0.001 of the initial point")
    calls.clear()
    stuck_attempts = 2
    draws = ModelSampler(None, "nutpie").sample(settings)
    # PyMC's chains one after another in this process: none forked from a process nutpie's threads ran in.
    assert calls == [(7, "nutpie", True, False), (7, "nutpie", False, False), (7, "pymc", False, True)]
    assert "sampled again with PyMC's NUTS from the initial point" in draws.attrs["sampler_fallback"]
    calls.clear()
    stuck_attempts = 0
    assert "sampler_fallback" not in ModelSampler(None, "nutpie").sample(settings).attrs and len(calls) == 1


def test_pymc_s_chains_in_process_are_not_forked(monkeypatch):
    """``in_process``: ``pm.sample`` with one core (no chain processes); else one per core."""
    import pymc as pm

    from {{ cookiecutter.module_name }}.config import SamplerSettings
    from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler, parallel_chains

    cores = []

    def sample(**arguments):
        cores.append(arguments["cores"])
        raise StopIteration  # what follows the call is not under test

    monkeypatch.setattr(pm, "sample", sample)
    with pm.Model() as model:
        pm.Normal("mu")
    settings = SamplerSettings(engine="pymc", seed=1, chains=4)
    for in_process in (True, False):
        with pytest.raises(StopIteration):
            ModelSampler(model, "pymc")._sample(settings, None, 1, None, "pymc", False, in_process=in_process)
    assert cores == [1, parallel_chains(4)]
