"""nutpie's compiled model, with its C callbacks cached on disk like the rest of the model's code.

nutpie compiles a PyMC model in two steps. PyTensor turns the log density and its gradient into
a Numba function, which it caches on disk (a second process loads it). nutpie then wraps that
function in two C callbacks (``numba.cfunc``) that its Rust sampler calls, and those hold the
model's data arrays as constants, which Numba refuses to cache: every process compiled them
again, 2-4 s per model on the example and most of a fit when PyTensor's cache is warm.

:func:`compile_model` builds the same callbacks from generated source that reads every array
through nutpie's user-data pointer, as nutpie's do at run time, and names them by PyTensor's
cache key of the function they wrap, so Numba caches them too. Everything else is nutpie's:
the sampler, ``with_data`` and the draws (tested to be identical, draw for draw).

:func:`with_prior_values_as_data` makes the values of the priors inputs of the compiled code
rather than constants in it, so that a model whose priors changed (an edited prior, or the
priors scaled to new data of the same shape) is the same graph and loads from the caches too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import numba
import numpy as np
import pytensor
from pymc.initial_point import make_initial_point_fn

from {{ cookiecutter.module_name }}.private_apis import NUTPIE_INTERNALS_MISSING

if not NUTPIE_INTERNALS_MISSING:
    from {{ cookiecutter.module_name }}.private_apis import (  # noqa: F401 (address_as_void_pointer: called by the generated callbacks)
        CACHED_SRC_FUNCTIONS,
        CompiledPyMCModel,
        _make_functions,
        _prepare_dims_and_coords,
        _wrap_with_lock,
        address_as_void_pointer,
        compile_numba_function_src,
        make_user_data,
    )

# Part of every cache key: change it when the generated source changes meaning.
WRAPPER_VERSION = "2"  # 2: the module moved to fit/compiling.py (a cached entry names its module)

# The priors whose values become inputs: distributions whose log density uses its parameters
# only symbolically. Others are left as they are, e.g. Interpolated (its log density reads the
# points' values when the graph is built) and truncated or censored ones (a bound at infinity
# is a simpler graph, recognised only as a constant).
PRIOR_DISTRIBUTIONS = frozenset({
    "NormalRV", "HalfNormalRV", "StudentTRV", "HalfStudentTRV", "CauchyRV", "HalfCauchyRV", "ExponentialRV",
    "GammaRV", "InvGammaRV", "LogNormalRV", "BetaRV", "_LKJCholeskyCovRV", "LKJCorrRV",
})

LOGP_SIGNATURE = numba.types.int64(
    numba.types.uint64, numba.types.CPointer(numba.types.double), numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double), numba.types.voidptr,
)
EXPAND_SIGNATURE = numba.types.int64(
    numba.types.uint64, numba.types.uint64, numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double), numba.types.voidptr,
)

# nutpie's return codes: 0 fine, -1 wrong size, 1 an error, 3 a non-finite gradient, 4 a non-finite log density.
LOGP_SOURCE = """
def logp_numba(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        shared = numba.carray(user_data_, (), USER_DATA)["shared"]
{arrays}
        logp_value, gradient = INNER(x{arguments})
        logp[()] = logp_value
        out[...] = gradient
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_value):
            return 4
    except Exception:
        return 1
    return 0
"""

EXPAND_SOURCE = """
def expand_numba(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        shared = numba.carray(user_data_, (), USER_DATA)["shared"]
{arrays}
        (values,) = INNER(x{arguments})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def compile_model(model, var_names=None) -> CompiledPyMCModel:
    """What ``nutpie.compile_pymc_model(model, var_names=var_names)`` returns (numba backend, its
    default initial points), with callbacks that Numba loads from its cache in later processes:
    nutpie's own where the internals this builds on are missing (see ``private_apis.py``)."""
    if NUTPIE_INTERNALS_MISSING:
        import nutpie

        warnings.warn(f"nutpie's callbacks are compiled in every process: {NUTPIE_INTERNALS_MISSING}", stacklevel=2)
        return nutpie.compile_pymc_model(model, var_names=var_names)
    initial_point = _wrap_with_lock(make_initial_point_fn(
        model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs), return_transformed=True))
    n_dim, n_expanded, logp_fn, expand_fn, initial_point, shape_info, reparameterized = _make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True, pymc_initial_point_fn=initial_point,
        var_names=var_names)

    # Keys in order of appearance (nutpie draws random ones), so that the same model gives the same source.
    keys, shared_data = {}, {}
    for variable in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if variable not in keys:
            keys[variable] = f"shared{len(keys)}"
            shared_data[keys[variable]] = np.array(variable.get_value(), order="C", copy=True)
            shared_data[keys[variable]].flags.writeable = False
    user_data = make_user_data(keys, shared_data)

    def callback(template, function_name, signature, function):
        arrays = [keys[variable] for variable in function.get_shared()]
        source = template.format(n_dim=n_dim, n_expanded=n_expanded, arrays=array_lines(arrays, shared_data),
                                 arguments="".join(f", {array}" for array in arrays))
        constants = {f"{array}_dtype": shared_data[array].dtype for array in arrays}
        constants["USER_DATA"] = user_data.dtype
        return cached_cfunc(source, function_name, signature, function.vm.jit_fn, constants)

    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    return CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords, _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=callback(LOGP_SOURCE, "logp_numba", LOGP_SIGNATURE, logp_fn),
        compiled_expand_func=callback(EXPAND_SOURCE, "expand_numba", EXPAND_SIGNATURE, expand_fn),
        initial_point_func=initial_point, shared_data=shared_data, shared_var_keys=keys, user_data=user_data,
        n_expanded=n_expanded, shape_info=shape_info, logp_func=logp_fn, expand_func=expand_fn,
        reparameterized_names=reparameterized,
    )


def near_initial_point(compiled: CompiledPyMCModel, model, spread: float = 1e-3) -> CompiledPyMCModel:
    """``compiled`` with each chain starting within ``spread`` of the model's initial point (PyMC's
    support points, on the unconstrained scale) rather than nutpie's default, that point moved by
    up to 1 in each coordinate: a coefficient of a large predictor (``I(age ** 2)``) moved that far
    saturates the linear predictor, and a chain started there can fail to find its way back.

    Not at the point itself: there a centred group mean's gradient is exactly 0 (its groups'
    effects equal it), which nutpie refuses as an initial point.
    """
    point = make_initial_point_fn(model=model, default_strategy="support_point", jitter_rvs=set(),
                                  return_transformed=True)(None)
    # nutpie's order of the unconstrained values: the model's free variables, each flattened.
    centre = np.concatenate([np.ravel(point[model.rvs_to_values[variable].name]) for variable in model.free_RVs])
    centre = centre.astype("float64")

    def initial_point(seed=None) -> np.ndarray:
        return centre + np.random.default_rng(seed).uniform(-spread, spread, centre.shape)

    return dataclasses.replace(compiled, initial_point_func=initial_point)


def array_lines(names: list[str], shared_data: dict[str, np.ndarray]) -> str:
    """Source lines that view each shared array in the user data, with its current shape."""
    lines = []
    for name in names:
        shape = "".join(f"int({name}_shape[{axis}]), " for axis in range(shared_data[name].ndim))
        lines.append(f'        {name}_shape = shared["shape"]["{name}"]')
        lines.append(f'        {name} = numba.carray(address_as_void_pointer(shared["data"]["{name}"][()]), '
                     f"({shape}), {name}_dtype)")
    return "\n".join(lines)


def cached_cfunc(source: str, name: str, signature, inner, constants: dict):
    """``numba.cfunc`` of function ``name`` in ``source``, calling ``inner``, cached under a key made of
    PyTensor's key for ``inner``, the source and the constants (no key: compiled, not cached)."""
    inner_key = CACHED_SRC_FUNCTIONS.get(inner.py_func)  # None when PyTensor does not cache the graph
    key = None
    if inner_key is not None:
        described = repr({constant: getattr(value, "descr", value) for constant, value in sorted(constants.items())})
        # The module's name too: a cached entry imports the module that made it, and two projects
        # on one machine (another package name) share PyTensor's cache folder.
        key = hashlib.sha256(f"{WRAPPER_VERSION}\n{__name__}\n{inner_key}\n{source}\n{described}".encode()).hexdigest()
    # The module's globals, so that Numba can rebuild the function's environment when it loads it.
    environment = globals() | constants | {"INNER": inner}
    function = compile_numba_function_src(source, name, environment, cache_key=key)
    if key is None:
        return numba.cfunc(signature)(function)
    try:
        with warnings.catch_warnings():
            # A graph holding large constant arrays cannot be cached: compiled as before, as nutpie says nothing.
            warnings.filterwarnings("ignore", message="Cannot cache compiled function .* as it uses dynamic globals",
                                    category=numba.NumbaWarning)
            return numba.cfunc(signature, cache=True)(function)
    except Exception as error:  # e.g. an unreadable cache entry: compile without the cache
        warnings.warn(f"Numba's cache of the sampler callback failed ({error}); compiling it without the cache.",
                      stacklevel=2)
        return numba.cfunc(signature)(function)


def with_prior_values_as_data(model):
    """``model`` with every floating-point constant parameter of a free variable's prior (one of
    :data:`PRIOR_DISTRIBUTIONS`: its mean, scale, ...) a shared variable holding the same value:
    the same log density (up to rounding), from a graph that does not depend on those values.
    A model PyMC cannot rebuild from its graph, or one built with ``check_bounds=False`` (which
    the rebuilt model would lose), is returned as it is: it samples the same, only a changed
    prior compiles again."""
    from pymc.model.fgraph import ModelFreeRV, fgraph_from_model, model_from_fgraph
    from pytensor.graph.basic import Constant

    if not model.check_bounds:
        return model
    try:
        fgraph, _ = fgraph_from_model(model, inlined_views=True)
    except Exception:  # e.g. a variable type the rebuild does not know: an optimisation lost, nothing else
        return model
    for node in fgraph.toposort():
        if not isinstance(node.op, ModelFreeRV):
            continue
        distribution = node.inputs[0].owner
        if type(distribution.op).__name__ not in PRIOR_DISTRIBUTIONS:
            continue
        parameters = distribution.op.dist_params(distribution)
        for index, parameter in enumerate(distribution.inputs):
            if any(parameter is given for given in parameters) and isinstance(parameter, Constant) \
                    and parameter.dtype.startswith("float"):
                value = pytensor.shared(parameter.data, name=f"{node.outputs[0].name}_parameter_{index}",
                                        shape=parameter.type.shape)
                fgraph.change_node_input(distribution, index, value, import_missing=True)
    try:
        thawed = model_from_fgraph(fgraph, mutate_fgraph=True)
    except Exception:  # as above
        return model
    return in_order_of(model, thawed)


def in_order_of(model, rebuilt):
    """``rebuilt``, a copy of ``model`` made from its graph (which lists its variables in graph
    order), with ``model``'s order of free variables and deterministics: nutpie's vector, and so
    its initial points and draws, as they are for ``model``."""
    for listed in ("free_RVs", "deterministics"):
        order = {variable.name: position for position, variable in enumerate(getattr(model, listed))}
        getattr(rebuilt, listed).sort(key=lambda variable: order[variable.name])
    return rebuilt
