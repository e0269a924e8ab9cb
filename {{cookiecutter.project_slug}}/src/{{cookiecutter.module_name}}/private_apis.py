"""The private names of other packages that this package uses, imported here and nowhere else.

``compiling.py`` builds nutpie's compiled model from nutpie's and PyTensor's internals, to
cache its C callbacks on disk. Written against nutpie 0.16.11 and PyTensor 3.3.8
(:data:`WRITTEN_AGAINST`). A release that renames any of them must not break a fit: if a name is
missing, :data:`NUTPIE_INTERNALS_MISSING` says which, and ``compiling.compile_model`` falls back
to nutpie's public ``compile_pymc_model`` (the same draws, compiled again in every process) with
a one-line warning.
"""

WRITTEN_AGAINST = {"nutpie": "0.16.11", "pytensor": "3.3.8"}

try:
    from nutpie.compile_pymc import (  # noqa: F401 (re-exported to compiling.py)
        CompiledPyMCModel,
        _make_functions,
        _prepare_dims_and_coords,
        _wrap_with_lock,
        address_as_void_pointer,
        make_user_data,
    )
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src  # noqa: F401
except ImportError as error:
    NUTPIE_INTERNALS_MISSING = f"{error} (written against nutpie {WRITTEN_AGAINST['nutpie']}, " \
                               f"PyTensor {WRITTEN_AGAINST['pytensor']})"
else:
    NUTPIE_INTERNALS_MISSING = None
