"""The sampler callbacks of ``compiling.py``: nutpie's own, but cached on disk by Numba."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from {{ cookiecutter.module_name }}.fit.compiling import compile_model, near_initial_point, with_prior_values_as_data
from {{ cookiecutter.module_name }}.model.build import build_model


def grouped_model(prior_sd: float = 1.0, n_groups: int = 4, n_rows: int = 30) -> pm.Model:
    """A small varying-intercept model whose data (float outcome, integer groups, a 0-d scale) are ``pm.Data``."""
    rng = np.random.default_rng(1)
    with pm.Model(coords={"school": range(n_groups)}) as model:
        group = pm.Data("group", rng.integers(0, n_groups, n_rows))
        scale = pm.Data("scale", 2.0)
        mu = pm.Normal("mu", 0, prior_sd)
        tau = pm.HalfNormal("tau", 1)
        effect = pm.Normal("effect", mu, tau, dims="school")
        outcome = pm.Data("outcome", rng.normal(1.0, 2.0, n_rows))
        pm.Normal("y", effect[group], scale, observed=outcome, shape=group.shape)
    return model


def callback_values(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """Return code, log density and gradient from the compiled C callback at ``x``, as nutpie calls it."""
    gradient, logp = np.zeros_like(x), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        len(x), x.ctypes.data_as(pointer), gradient.ctypes.data_as(pointer), logp.ctypes.data_as(pointer),
        ctypes.c_void_p(compiled.user_data.ctypes.data))
    return code, float(logp), gradient


def flat_point(compiled) -> np.ndarray:
    """The sampler's vector for one fixed point (each variable's values 0.1, 0.2, ... by name): the
    same point whatever order the compiled model lays its variables out in."""
    names, slices, shapes = compiled.shape_info
    x = np.zeros(compiled.n_dim)
    for rank, name in enumerate(sorted(names)):
        position = names.index(name)
        x[slices[position]] = np.full(int(np.prod(shapes[position])), 0.1 * (rank + 1))
    return x


def test_draws_are_nutpie_s_own_draw_for_draw_also_with_new_data():
    import nutpie

    model = grouped_model()
    ours, theirs = compile_model(model), nutpie.compile_pymc_model(model)
    new_data = {"group": np.arange(50) % 4, "outcome": np.linspace(-3.0, 5.0, 50)}
    for name, (mine, reference) in {"fit": (ours, theirs),
                                    "new data": (ours.with_data(**new_data), theirs.with_data(**new_data))}.items():
        draws = [nutpie.sample(compiled, draws=100, tune=100, chains=2, seed=3, progress_bar=False).posterior
                 for compiled in (mine, reference)]
        for variable in ("mu", "tau", "effect"):
            np.testing.assert_array_equal(draws[0][variable].values, draws[1][variable].values, err_msg=name)



def test_chains_started_near_the_initial_point_sample_where_nutpie_s_unjittered_start_fails():
    """The stuck-chain fallback (sampling.py). At the initial point itself a centred group mean's
    gradient is exactly 0, which nutpie refuses ("All initialization points failed")."""
    import nutpie

    model = grouped_model()
    centre = np.concatenate([np.ravel(value) for value in model.initial_point().values()])
    assert [model.rvs_to_values[variable].name for variable in model.free_RVs] == list(model.initial_point())
    near = near_initial_point(compile_model(model), model, spread=1e-3)
    starts = [near.initial_point_func(seed) for seed in (1, 2)]
    assert not np.array_equal(*starts)
    for start in starts:
        assert 0 < np.abs(start - centre).max() <= 1e-3
    with pytest.raises(RuntimeError, match="initializ"):
        nutpie.sample(nutpie.compile_pymc_model(model, jitter_rvs=set()), draws=50, tune=50, chains=2, seed=3,
                      progress_bar=False)
    draws = nutpie.sample(near, draws=200, tune=200, chains=2, seed=3, progress_bar=False)
    assert (draws.posterior["mu"].std("draw") > 0.05).all()  # both chains explore
    # the data's mean is 1.0: the chains move from the start (0) to it
    assert 0.3 < float(draws.posterior["mu"].mean()) < 1.7

def test_log_density_and_gradient_equal_nutpie_s_at_random_points():
    import nutpie

    model = grouped_model()
    ours, theirs = compile_model(model), nutpie.compile_pymc_model(model)
    for x in np.random.default_rng(0).normal(size=(5, ours.n_dim)):
        code, logp, gradient = callback_values(ours, x)
        expected = callback_values(theirs, x)
        assert code == expected[0] == 0
        assert logp == expected[1]
        np.testing.assert_array_equal(gradient, expected[2])


def thawed_parameters(model: pm.Model) -> list[str]:
    """The shared variables ``with_prior_values_as_data`` put in ``model``'s graph."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors

    return sorted({variable.name for variable in ancestors(model.free_RVs)
                   if isinstance(variable, SharedVariable) and "_parameter_" in (variable.name or "")})


def assert_same_density(model: pm.Model, thawed: pm.Model, rtol: float = 1e-12) -> None:
    """Log density and gradient equal at a few points (up to rounding: constants are no longer folded)."""
    start = model.initial_point(0)
    for step in np.random.default_rng(0).normal(0, 0.3, size=3):
        point = {key: value + step for key, value in start.items()}
        np.testing.assert_allclose(thawed.compile_logp()(point), model.compile_logp()(point), rtol=rtol)
        np.testing.assert_allclose(thawed.compile_dlogp()(point), model.compile_dlogp()(point), rtol=rtol)


def test_prior_values_as_data_keep_every_model_s_log_density(config, example_data):
    for name in config.model_names:
        model = build_model(config, name, example_data).sampled_model
        thawed = with_prior_values_as_data(model)
        assert [variable.name for variable in thawed.free_RVs] == [variable.name for variable in model.free_RVs]
        assert thawed_parameters(thawed), name  # the priors' values are inputs now
        assert_same_density(model, thawed)


# Interpolated's spline: PyTensor's own warnings about it.
@pytest.mark.filterwarnings("ignore:Numba will use object mode", "ignore:SplineWrapper should implement")
def test_priors_whose_density_reads_their_values_stay_constants():
    with pm.Model() as model:
        pm.Normal("mu", 0.5, 2.0)
        pm.TruncatedNormal("positive", 0.0, 1.0, lower=0.0)
        pm.Interpolated("interpolated", np.linspace(0.0, 1.0, 5), np.linspace(1.0, 2.0, 5))
    thawed = with_prior_values_as_data(model)
    assert thawed_parameters(thawed) == ["mu_parameter_2", "mu_parameter_3"]
    assert_same_density(model, thawed)


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, TESTS)
    sys.path.insert(0, CONFTEST)
    from test_compiling import callback_values, flat_point, grouped_model
    from {{ cookiecutter.module_name }}.fit.compiling import (compile_model, near_initial_point, with_prior_values_as_data)
    import nutpie
    out = dict()
    for prior_sd, n_groups in CASES:
        compiled = compile_model(with_prior_values_as_data(grouped_model(prior_sd, n_groups)))
        reference = nutpie.compile_pymc_model(grouped_model(prior_sd, n_groups))
        values = [callback_values(model, flat_point(model)) for model in (compiled, reference)]
        gradients = [dict((name, gradient[part].tolist()) for name, part in zip(*model.shape_info[:2]))
                     for model, (_, _, gradient) in zip((compiled, reference), values)]
        out[f"{prior_sd} {n_groups}"] = dict(
            logp_hits=compiled.compiled_logp_func.cache_hits, expand_hits=compiled.compiled_expand_func.cache_hits,
            logp=values[0][1], nutpie=values[1][1], gradient=gradients[0], nutpie_gradient=gradients[1])
    print(json.dumps(out))
""")


def compile_in_new_process(cases: list[tuple[float, int]], compile_dir, package: Path | None = None) -> dict:
    """Compile ``grouped_model(prior_sd, n_groups)`` for each case as the fits do, in a fresh Python
    with its own PyTensor compile folder; the callbacks' cache hits and log densities, and nutpie's.
    ``package``: a copy of this package under another name, compiled with instead (another project)."""
    script = SCRIPT.replace("TESTS", repr(os.path.dirname(__file__))).replace("CONFTEST", repr(os.path.dirname(os.path.dirname(__file__)))).replace("CASES", repr(cases))
    if package is not None:
        script = f"import sys; sys.path.insert(0, {str(package.parent)!r})\n" + script.replace(
            "from {{ cookiecutter.module_name }}.", f"from {package.name}.")
    environment = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compile_dir}"}
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", script], capture_output=True,
                            text=True, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_later_process_loads_the_callbacks_also_after_a_prior_edit_but_not_for_another_model(tmp_path):
    first = compile_in_new_process([(1.0, 4)], tmp_path)["1.0 4"]
    later = compile_in_new_process([(1.0, 4), (5.0, 4), (1.0, 5)], tmp_path)
    assert first["logp_hits"] == first["expand_hits"] == 0
    np.testing.assert_allclose(first["logp"], first["nutpie"], rtol=1e-12)
    # The same model, and the same model with another prior: both callbacks from the cache, each
    # with its own prior's log density (the values are read when it runs, not compiled in).
    for case in ("1.0 4", "5.0 4"):
        assert later[case]["logp_hits"] == later[case]["expand_hits"] == 1
        np.testing.assert_allclose(later[case]["logp"], later[case]["nutpie"], rtol=1e-12)
        assert later[case]["gradient"].keys() == later[case]["nutpie_gradient"].keys()
        for variable, gradient in later[case]["gradient"].items():
            np.testing.assert_allclose(gradient, later[case]["nutpie_gradient"][variable], rtol=1e-12, atol=1e-12)
    assert later["5.0 4"]["logp"] != later["1.0 4"]["logp"]
    # Five groups instead of four is another graph: compiled afresh.
    assert later["1.0 5"]["logp_hits"] == later["1.0 5"]["expand_hits"] == 0
    np.testing.assert_allclose(later["1.0 5"]["logp"], later["1.0 5"]["nutpie"], rtol=1e-12)


@pytest.mark.slow
def test_another_project_s_cached_callbacks_are_compiled_afresh_not_loaded(tmp_path):
    """Two projects on one machine share PyTensor's cache folder. A callback cached by another
    package (another project's name) would import that package when loaded: it must not be found
    here (it once was: a warning, and the callback compiled without the cache)."""
    import {{ cookiecutter.module_name }} as ours

    other = tmp_path / "elsewhere" / "other_analysis"
    shutil.copytree(Path(ours.__file__).parent, other, ignore=shutil.ignore_patterns("__pycache__"))
    for path in other.rglob("*.py"):
        path.write_text(path.read_text().replace("{{ cookiecutter.module_name }}", other.name))
    theirs = compile_in_new_process([(1.0, 4)], tmp_path / "cache", package=other)["1.0 4"]
    shutil.rmtree(other.parent)  # as for a project on another path: its package cannot be imported here
    here = compile_in_new_process([(1.0, 4)], tmp_path / "cache")["1.0 4"]  # UserWarnings are errors
    assert theirs["logp_hits"] == here["logp_hits"] == here["expand_hits"] == 0
    np.testing.assert_allclose(here["logp"], here["nutpie"], rtol=1e-12)


MISSING_NAME_SCRIPT = textwrap.dedent("""
    import importlib, sys, types, warnings
    import numpy as np
    import nutpie
    # The module as a release that renamed NAME would have it, for this package's imports only.
    real = importlib.import_module(MODULE)

    class Renamed(types.ModuleType):
        def __getattr__(self, attribute):
            if attribute == NAME:
                raise AttributeError(attribute)
            return getattr(real, attribute)

    sys.modules[MODULE] = Renamed(MODULE)
    import {{ cookiecutter.module_name }}.fit.compiling
    sys.modules[MODULE] = real
    sys.path.insert(0, TESTS)
    sys.path.insert(0, CONFTEST)
    from test_compiling import grouped_model
    from {{ cookiecutter.module_name }}.config import SamplerSettings
    from {{ cookiecutter.module_name }}.fit.sampling import ModelSampler
    from {{ cookiecutter.module_name }}.fit.compiling import compile_model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = compile_model(grouped_model())
        fit = ModelSampler(grouped_model(), "nutpie").sample(SamplerSettings(draws=100, tune=100, chains=2, seed=3))
    draws, reference = (nutpie.sample(model, draws=100, tune=100, chains=2, seed=3, progress_bar=False).posterior
                        for model in (compiled, nutpie.compile_pymc_model(grouped_model())))
    print([str(warning.message) for warning in caught if "compiled in every process" in str(warning.message)])
    print(np.array_equal(draws["mu"].values, reference["mu"].values), dict(fit.posterior.sizes))
""")


@pytest.mark.parametrize("module, name", [("nutpie.compile_pymc", "_make_functions"),
                                          ("pytensor.link.numba.cache", "compile_numba_function_src")])
@pytest.mark.slow
def test_a_missing_private_name_falls_back_to_nutpie_s_public_compile_with_a_warning(module, name, tmp_path):
    """What a release of nutpie or PyTensor that renames an internal (``private_apis.py``) does to a fit."""
    script = (MISSING_NAME_SCRIPT.replace("TESTS", repr(os.path.dirname(__file__))).replace("CONFTEST", repr(os.path.dirname(os.path.dirname(__file__)))).replace("CONFTEST", repr(os.path.dirname(os.path.dirname(__file__))))
              .replace("MODULE", repr(module)).replace("NAME", repr(name)))
    environment = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    messages, same = result.stdout.strip().splitlines()[-2:]
    assert name in messages and "written against nutpie" in messages and messages.count("compiled in every") == 2
    assert same == "True {'chain': 2, 'draw': 100, 'school': 4}", "nutpie's own draws, and a fit through the sampler"
