"""The names every stage shares: dimensions, fit groups and the variables models create.

One place for each name, so that the data, model, fit, evaluation and report stages agree
on them (and a data column that would clash with one is refused, see ``config.py``).
"""

import xarray as xr

from {{ cookiecutter.module_name }}.families import FAMILIES

SAMPLE_DIMS = ("chain", "draw")
OBS_DIM = "obs"
LATENT_ROWS = "__latent_obs"  # the dim of a latent value per row (model/measurement.py): x__latent_obs
# The fit's group holding its PSIS-LOO (see :func:`loo_group`): written once with the fit, read by
# every notebook, where computing it took 1-1.5 s per fit and notebook on the example.
LOO_GROUP = "loo"
LOO_PIT = "loo_pit"  # the LOO-PIT values' name in a fit's LOO group
# Suffix of the group effects a sampling model draws around their population value (see
# hierarchically_centred); they are not kept in the fit, whose ``1|g`` is Bambi's own.
CENTRED_SUFFIX = "__around_population"
# Bambi's name for the observation dimension; ours is "obs".
BAMBI_OBS_DIM = "__obs__"
# A latent-trait model's items (models.item_response): their dim, and each one's parameters.
ITEM_DIM, ITEM_VARIABLES = "item", ("difficulty", "discrimination")
LEFT_OUT = "left_out"  # the data variable that marks the rows a fit leaves out
# The data variables of AR(1) residuals (model/temporal.ar_normal): each row's previous row, and the steps since it.
LAG_PREVIOUS, LAG_GAP = "lag_previous", "lag_gap"
CENSORING = "censoring_status"  # the column Bambi's censored(time, status) reads: "none" or "right"

# Every dimension, coordinate and variable name the models create (ours below, Bambi's, and
# the pipeline's): a data column of the same name would be confused with them, so the config
# refuses it. tests/test_models.py checks that every built model's names are listed here.
RESERVED_NAMES = {
    "obs": "the observation dimension", "__obs__": "Bambi's observation dimension",
    "chain": "a sampling dimension", "draw": "a sampling dimension", "sample": "a sampling dimension",
    "predictor": "the predictor dimension", "group_predictor": "the group-level predictor dimension",
    "effect": "the effect dimension of correlated_slopes", "effect_pair": "the correlation dimension",
    "predictors": "the predictors' data container", "group_code": "the group codes' data container",
    "group_predictors": "the group-level predictors' data container",
    "intercept_at_means": "a parameter", "mu_alpha": "a parameter", "tau_alpha": "a parameter",
    "mu_beta": "a parameter", "tau_beta": "a parameter", "alpha": "a parameter (also Bambi's negative binomial)",
    "beta": "a parameter", "z_alpha": "a parameter", "z_beta": "a parameter", "gamma": "a parameter",
    "sigma": "the residual sd",
    "chol": "a parameter", "chol_corr": "a parameter", "chol_stds": "a parameter", "effects": "a parameter",
    "z_effects": "a parameter", "rho": "the correlations", "log_likelihood": "a potential",
    "mu": "Bambi's linear predictor", "p": "Bambi's probability", "Intercept": "Bambi's intercept",
    "log_prior": "the fit's log prior", "pointwise_outcome": "a pointwise variable",
    "pointwise_log_likelihood": "a pointwise variable", "pointwise_log_prior": "a pointwise variable",
    "pointwise_row": "a pointwise dimension", CENSORING: "the censoring status of formula models' times",
    "threshold": "an ordinal model's cut-points", "threshold_dim": "the cut-points' dimension",
    "cutpoint_gaps": "an ordinal custom model's cut-point gaps",
    LAG_PREVIOUS: "AR(1) residuals' data", LAG_GAP: "AR(1) residuals' data", "ar": "the AR(1) coefficient",
}
# and each family's own parameters (``phi``, ``nu``, ``shape``), from its record.
RESERVED_NAMES |= {
    name: f"the {family.name} family's parameter"
    for family in FAMILIES.values() for name in family.parameters if name not in RESERVED_NAMES
}


def is_group_level(name: str, dims, group_dim: str) -> bool:
    """Group effects (ours, or Bambi's ``*__factor_dim``), per-observation values, raw offsets and the
    basis weights of a Gaussian process (Bambi's ``hsgp()``: ``*_weights_dim``), which describe its curves."""
    return (
        any(dim in (group_dim, "obs", "__obs__") or str(dim).endswith(("__factor_dim", LATENT_ROWS, "_weights_dim"))
            for dim in dims)
        or name.startswith(("z_", "chol"))
        or name.endswith(("_offset", "_at_means"))  # raw offsets; the intercept where its prior sits
    )


def population_parameters(fit_data: xr.DataTree, group_dim: str) -> list[str]:
    """Posterior variables that do not vary by group: the model's population-level story."""
    return [
        str(name)
        for name, variable in fit_data.posterior.data_vars.items()
        if not is_group_level(str(name), variable.dims, group_dim)
    ]
