"""The private names of other packages that this package uses, imported here and nowhere else.

Written against nutpie 0.16.11, PyTensor 3.3.8, Bambi 0.21.0 and jupyter_client 8.10.0
(:data:`WRITTEN_AGAINST`). A
release that renames any of them must not break a fit, so each group has a fallback on public
APIs, taken with a one-line warning:

- ``fit/compiling.py`` builds nutpie's compiled model from nutpie's and PyTensor's internals, to
  cache its C callbacks on disk. If a name is missing, :data:`NUTPIE_INTERNALS_MISSING` says
  which, and ``compiling.compile_model`` uses nutpie's public ``compile_pymc_model`` (the same
  draws, compiled again in every process).
- ``model.formulas.bambi_results`` post-processes a formula model's draws with Bambi's own
  ``_clean_results`` (what ``bmb.Model.fit`` returns). If it is missing,
  :data:`BAMBI_INTERNALS_MISSING` says so, and ``formulas.uncentred_results`` does the same from
  the model's public terms.
- ``kernels.PrestartedKernel`` forks the notebooks' kernels from a process that imported the
  package once, through jupyter_client's private launch hooks. If one is missing,
  :data:`JUPYTER_CLIENT_HOOKS_MISSING` says which, and ``kernels.KernelPool`` starts each kernel
  as jupyter_client does (1-3 s more per notebook, the same notebooks).

Each group is imported when one of its names is first asked for (a module ``__getattr__``), so
that ``run/kernels.py``, which the command line imports before anything heavy, does not import
nutpie, PyTensor and Bambi with it.
"""

WRITTEN_AGAINST = {"nutpie": "0.16.11", "pytensor": "3.3.8", "bambi": "0.21.0", "jupyter_client": "8.10.0"}


def _nutpie_internals() -> dict:
    try:
        from nutpie.compile_pymc import (
            CompiledPyMCModel,
            _make_functions,
            _prepare_dims_and_coords,
            _wrap_with_lock,
            address_as_void_pointer,
            make_user_data,
        )
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
    except ImportError as error:
        return {"NUTPIE_INTERNALS_MISSING": f"{error} (written against nutpie {WRITTEN_AGAINST['nutpie']}, "
                                            f"PyTensor {WRITTEN_AGAINST['pytensor']})"}
    return {"NUTPIE_INTERNALS_MISSING": None, "CompiledPyMCModel": CompiledPyMCModel,
            "_make_functions": _make_functions, "_prepare_dims_and_coords": _prepare_dims_and_coords,
            "_wrap_with_lock": _wrap_with_lock, "address_as_void_pointer": address_as_void_pointer,
            "make_user_data": make_user_data, "CACHED_SRC_FUNCTIONS": CACHED_SRC_FUNCTIONS,
            "compile_numba_function_src": compile_numba_function_src}


def _bambi_internals() -> dict:
    import bambi.backend.pymc

    # An unbound method: called as bambi_clean_results(model.backend, idata, ...).
    clean_results = getattr(bambi.backend.pymc.PyMCModel, "_clean_results", None)
    return {"bambi_clean_results": clean_results, "BAMBI_INTERNALS_MISSING": None if clean_results else (
        f"bambi.backend.pymc.PyMCModel._clean_results is missing (written against Bambi {WRITTEN_AGAINST['bambi']})")}


def _jupyter_client_hooks() -> dict:
    from jupyter_client.manager import AsyncKernelManager

    # Overridden (_async_launch_kernel) and called (_reconcile_connection_info) by kernels.PrestartedKernel.
    missing = [name for name in ("_async_launch_kernel", "_reconcile_connection_info")
               if not callable(getattr(AsyncKernelManager, name, None))]
    return {"JUPYTER_CLIENT_HOOKS_MISSING": None if not missing else (
        f"jupyter_client.manager.AsyncKernelManager has no {' or '.join(missing)} "
        f"(written against jupyter_client {WRITTEN_AGAINST['jupyter_client']})")}


_GROUPS = {
    _nutpie_internals: ("NUTPIE_INTERNALS_MISSING", "CompiledPyMCModel", "_make_functions", "_prepare_dims_and_coords",
                        "_wrap_with_lock", "address_as_void_pointer", "make_user_data", "CACHED_SRC_FUNCTIONS",
                        "compile_numba_function_src"),
    _bambi_internals: ("bambi_clean_results", "BAMBI_INTERNALS_MISSING"),
    _jupyter_client_hooks: ("JUPYTER_CLIENT_HOOKS_MISSING",),
}


def __getattr__(name: str):
    group = next((load for load, names in _GROUPS.items() if name in names), None)
    values = group() if group else {}
    if name not in values:  # not ours, or a name of a group whose import failed
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals().update(values)  # imported once
    return values[name]
