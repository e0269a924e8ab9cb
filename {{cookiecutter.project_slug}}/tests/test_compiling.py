"""The sampler callbacks of ``compiling.py``: nutpie's own, but cached on disk by Numba."""

import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pymc as pm

from {{ cookiecutter.module_name }}.compiling import compile_model


def grouped_model(prior_sd: float = 1.0, n_rows: int = 30) -> pm.Model:
    """A small varying-intercept model whose data (float outcome, integer groups, a 0-d scale) are ``pm.Data``."""
    rng = np.random.default_rng(1)
    with pm.Model(coords={"school": range(4)}) as model:
        group = pm.Data("group", rng.integers(0, 4, n_rows))
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


SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, TESTS)
    from test_compiling import callback_values, grouped_model
    from {{ cookiecutter.module_name }}.compiling import compile_model
    out = dict()
    import nutpie
    for prior_sd in PRIOR_SDS:
        compiled = compile_model(grouped_model(prior_sd))
        reference = nutpie.compile_pymc_model(grouped_model(prior_sd))
        x = np.linspace(-1, 1, compiled.n_dim)
        out[str(prior_sd)] = dict(logp_hits=compiled.compiled_logp_func.cache_hits,
                                  expand_hits=compiled.compiled_expand_func.cache_hits,
                                  logp=callback_values(compiled, x)[1], nutpie=callback_values(reference, x)[1])
    print(json.dumps(out))
""")


def compile_in_new_process(prior_sds: list[float], compile_dir) -> dict:
    """Compile ``grouped_model(prior_sd)`` for each in a fresh Python with its own PyTensor compile folder."""
    script = SCRIPT.replace("TESTS", repr(os.path.dirname(__file__))).replace("PRIOR_SDS", repr(prior_sds))
    environment = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compile_dir}"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_later_process_loads_both_callbacks_from_the_cache_and_a_changed_model_gets_its_own(tmp_path):
    first = compile_in_new_process([1.0], tmp_path)
    later = compile_in_new_process([1.0, 5.0], tmp_path)
    assert first["1.0"]["logp_hits"] == first["1.0"]["expand_hits"] == 0
    assert later["1.0"]["logp_hits"] == later["1.0"]["expand_hits"] == 1
    assert later["1.0"]["logp"] == first["1.0"]["logp"] == first["1.0"]["nutpie"]
    # Another prior is another log density: compiled afresh, not the first model's callback. (Its
    # draws' callback, which maps the sampler's vector to the named variables, is the same function.)
    assert later["5.0"]["logp_hits"] == 0
    assert later["5.0"]["logp"] == later["5.0"]["nutpie"] != later["1.0"]["logp"]
