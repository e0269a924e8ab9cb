"""The private names of other packages that this package uses, imported here and nowhere else.

Written against nutpie 0.16.11, PyTensor 3.3.8 and Bambi 0.21.0 (:data:`WRITTEN_AGAINST`). A
release that renames any of them must not break a fit, so each group has a fallback on public
APIs, taken with a one-line warning:

- ``compiling.py`` builds nutpie's compiled model from nutpie's and PyTensor's internals, to
  cache its C callbacks on disk. If a name is missing, :data:`NUTPIE_INTERNALS_MISSING` says
  which, and ``compiling.compile_model`` uses nutpie's public ``compile_pymc_model`` (the same
  draws, compiled again in every process).
- ``formulas.bambi_results`` post-processes a formula model's draws with Bambi's own
  ``_clean_results`` (what ``bmb.Model.fit`` returns). If it is missing,
  :data:`BAMBI_INTERNALS_MISSING` says so, and ``formulas.uncentred_results`` does the same from
  the model's public terms.
"""

import bambi.backend.pymc

WRITTEN_AGAINST = {"nutpie": "0.16.11", "pytensor": "3.3.8", "bambi": "0.21.0"}

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

# An unbound method: called as bambi_clean_results(model.backend, idata, ...).
bambi_clean_results = getattr(bambi.backend.pymc.PyMCModel, "_clean_results", None)
BAMBI_INTERNALS_MISSING = None if bambi_clean_results is not None else (
    f"bambi.backend.pymc.PyMCModel._clean_results is missing (written against Bambi {WRITTEN_AGAINST['bambi']})")
