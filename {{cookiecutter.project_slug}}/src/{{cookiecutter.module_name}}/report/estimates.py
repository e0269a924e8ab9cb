"""Tidy estimates of every fit, named as broom.mixed names lme4's and brms's.

One row per parameter: ``model, effect, group, term, estimate, std.error, conf.low,
conf.high, rhat, ess_bulk``. ``effect`` is ``fixed`` (terms ``(Intercept)``, predictor
names, interactions ``a:b``, factor levels as Bambi names them, e.g. ``period[2]``),
``ran_pars`` (``sd__(Intercept)``, ``sd__<predictor>``, ``cor__(Intercept).<predictor>``
with ``group`` the grouping column, and ``sd__Observation`` with group ``Residual``), or
``dist_pars`` (a family's shape: ``nu`` of Student-t, the negative binomial's dispersion; the
terms of a distributional formula, ``sigma_(Intercept)``, ``sigma_<predictor>``, on the log
scale, with their group sds ``sd__sigma_(Intercept)`` under ``ran_pars``).
``estimate`` is the posterior mean, ``std.error`` the posterior sd and ``conf.*`` the
central interval of the config's ``ci_prob``. Group-level values (each group's effect) are
not rows here; see the report's shrinkage and caterpillar plots.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.files import write_text_atomically
from {{ cookiecutter.module_name }}.fit.summary import convergence_summary
from {{ cookiecutter.module_name }}.model.measurement import latent_names
from {{ cookiecutter.module_name }}.names import SAMPLE_DIMS, is_group_level

COLUMNS = ["model", "effect", "group", "term", "estimate", "std.error", "conf.low", "conf.high", "rhat", "ess_bulk"]
INTERCEPT = "(Intercept)"


def distribution_parameters(family: str) -> dict[str, str]:
    """A family's own parameters (other than the residual sd), by their name in custom
    models and in Bambi -> the term the table gives them (the custom models' name)."""
    own = {name: bambi for name, bambi in family_record(family).parameters.items() if name != "sigma"}
    names = {bambi: name for name, bambi in own.items()}
    return names | {name: name for name in own}


def _element_label(name: str, coords: dict) -> str:
    """ArviZ's label of one element of a variable, e.g. ``mu_beta[Days]``: the key of the
    fit's stored R-hat and ESS table."""
    return f"{name}[{', '.join(str(value) for value in coords.values())}]" if coords else name


def _elements(variable: xr.DataArray):
    """Each element of a variable: its coordinates (without chain and draw) and its draws."""
    dims = [dim for dim in variable.dims if dim not in SAMPLE_DIMS]
    if not dims:
        yield {}, variable
        return
    for index in np.ndindex(*(variable.sizes[dim] for dim in dims)):
        coords = {dim: variable[dim].values[i] for dim, i in zip(dims, index)}
        yield coords, variable.isel(dict(zip(dims, index)))


# The centre and spread of ``models.item_response``'s item difficulties and log discriminations.
ITEM_PARAMETERS = ("mu_difficulty", "sd_difficulty", "mu_log_discrimination", "sd_log_discrimination")


def custom_names(name: str, coords: dict, group_dim: str, family: str = "normal") -> tuple[str, str, str] | None:
    """``(effect, group, term)`` of a custom model's parameter (``varying_slopes`` naming);
    ``None`` for what is not a population-level parameter."""
    value = next(iter(coords.values()), None)
    if family_record(family).ordinal and name in ("mu_alpha", "cutpoint_gaps"):
        return None  # the cut-points less the intercept are the thresholds, brms's Intercept[k]
    if name == "mu_alpha":
        return "fixed", "", INTERCEPT
    if name in ("mu_beta", "gamma"):
        return "fixed", "", str(value)
    if name == "tau_alpha":
        return "ran_pars", group_dim, f"sd__{INTERCEPT}"
    if name == "tau_beta":
        return "ran_pars", group_dim, f"sd__{value}"
    if name == "rho":
        first, second = (INTERCEPT if part == "intercept" else part for part in str(value).split(":"))
        return "ran_pars", group_dim, f"cor__{first}.{second}"
    if name in ("sdcar", "rhocar", "sdrw"):  # spatial effects as brms names them (models.spatial_intercepts), a walk's step
        return "ran_pars", group_dim, name
    latent = re.fullmatch(r"(?P<kind>m[ei])_(?P<column>.+)", name)  # models.corrected_intercepts's slope, as a formula's me(x)
    if latent is not None:
        return "fixed", "", f"{latent['kind']}({latent['column']})"
    if re.fullmatch(r"(mean|sd)m[ei]_.+", name):  # the true values' population
        return "dist_pars", "", name
    if re.fullmatch(r"(sdgp|lscale)_.+", name):  # the curves' amplitude and length scale (models.varying_curves)
        return "ran_pars", group_dim, name
    if name == "ar":  # AR(1) residuals (models.autocorrelated_intercepts): brms's ar[1]
        return "ran_pars", "Residual", "ar[1]"
    if name in ITEM_PARAMETERS:  # the items' population in models.item_response: not slopes (no ratios)
        return "ran_pars", "item", name
    if name == "sigma":
        return "ran_pars", "Residual", "sd__Observation"
    if name in distribution_parameters(family):
        return "dist_pars", "", distribution_parameters(family)[name]
    return None


def formula_names(name: str, coords: dict, dims, family: str = "normal",
                  distributional: list[str] | tuple = (), spatial: dict | None = None,
                  temporal: dict | None = None, measurement: dict | None = None,
                  imputation: dict | None = None, gp: list[dict] | tuple = ()) -> tuple[str, str, str] | None:
    """``(effect, group, term)`` of a Bambi parameter; ``None`` for group-level values.
    ``distributional``: the family's parameters (own names) that a formula models, whose
    terms are named as broom.mixed names brms's: ``sigma_(Intercept)``, ``sigma_x``
    (``dist_pars``) and ``sd__sigma_(Intercept)`` (``ran_pars``). ``spatial``: a ``car(group)``
    term, whose sd and spatial share are brms's ``sdcar`` and ``rhocar``. ``temporal``: an ``rw(time)``
    term, whose step sd is ``sdrw`` (of the factor ``time`` or ``group:time``). ``measurement``: an
    ``me(x, sdx)`` term: its slope ``me(x, sdx)`` and the true values' ``meanme_x`` and ``sdme_x``;
    ``imputation``: an ``mi(x)`` term, likewise ``mi(x)``, ``meanmi_x`` and ``sdmi_x``. ``gp``: the
    ``hsgp(x, by=g)`` terms (``formulas.gp_term``), whose amplitude and length scale are brms's
    ``sdgp_x`` and ``lscale_x`` (of the group column ``g``)."""
    if any(str(dim).endswith("__factor_dim") for dim in dims):
        return None
    if spatial is not None and name in (f"1|{spatial['group']}_sigma", f"1|{spatial['group']}_rho"):
        return "ran_pars", spatial["group"], "sdcar" if name.endswith("_sigma") else "rhocar"
    for kind, term in (("me", measurement), ("mi", imputation)):
        names = latent_names(kind, term["column"]) if term is not None else {}
        if term is not None and name == names["slope"]:
            return "fixed", "", f"{kind}({', '.join(term.values())})"
        if term is not None and name in (names["mean"], names["sd"]):
            return "dist_pars", "", name
    level = f"[{', '.join(str(value) for value in coords.values())}]" if coords else ""
    for term in gp:  # with share_cov=False, a level of ``by`` each: sdgp_x[level]
        suffix = "_".join(term["covariates"])
        if name in (f"{term['alias']}_sigma", f"{term['alias']}_ell"):
            return "ran_pars", term["by"] or "", f"{'sdgp' if name.endswith('_sigma') else 'lscale'}_{suffix}{level}"
        if name.startswith(f"{term['alias']}_"):  # the basis functions' weights: not parameters one reports
            return None
    if temporal is not None:
        factor = f"{temporal['group']}:{temporal['time']}" if temporal["group"] else temporal["time"]
        if name == f"1|{factor}_sigma":
            return "ran_pars", factor, "sdrw"
    for own in distributional:
        prefix = family_record(family).distributional[own] + "_"  # Bambi's name: alpha_x for phi's x
        if name.startswith(prefix):
            return _formula_term(name[len(prefix):], level, own)
    if name == "sigma":
        return "ran_pars", "Residual", "sd__Observation"
    if name == "ar":  # AR(1) residuals (an ar() term): brms's ar[1]
        return "ran_pars", "Residual", "ar[1]"
    if name in distribution_parameters(family):
        return "dist_pars", "", distribution_parameters(family)[name]
    return _formula_term(name, level)


def _formula_term(term: str, level: str, own: str = "") -> tuple[str, str, str] | None:
    """``(effect, group, term)`` of a term of a Bambi formula: of the mean's, or with ``own`` of
    the distributional formula of that parameter (named ``own_<term>``, ``dist_pars``)."""
    prefix = f"{own}_" if own else ""
    if "|" in term and term.endswith("_sigma"):
        expression, group = term[: -len("_sigma")].split("|", 1)
        return "ran_pars", group, f"sd__{prefix}{INTERCEPT if expression == '1' else expression}{level}"
    if "|" in term or term.endswith("_offset"):
        return None
    return "dist_pars" if own else "fixed", "", f"{prefix}{INTERCEPT if term == 'Intercept' else term}{level}"


def named_draws(fit_data: xr.DataTree, group_dim: str):
    """Each population-level parameter's ``(effect, group, term)`` (as :func:`estimates` names it),
    its ArviZ label and its draws (all chains, flattened)."""
    record = json.loads(fit_data.attrs.get("model", "{}"))
    kind, family = record.get("kind", "custom"), record.get("family", "normal")
    for name, variable in fit_data.posterior.data_vars.items():
        if is_group_level(str(name), variable.dims, group_dim):
            continue  # one value per group (or a raw offset): not a population-level parameter
        for coords, draws in _elements(variable):
            if name == "threshold":  # an ordinal model's thresholds (both kinds), numbered from 1 as brms's Intercept[k]
                names = "fixed", "", f"Intercept[{int(next(iter(coords.values()))) + 1}]"
            elif kind == "custom":
                names = custom_names(str(name), coords, group_dim, family)
            else:
                names = formula_names(str(name), coords, variable.dims, family, record.get("distributional", []),
                                      record.get("spatial"), record.get("temporal"), record.get("measurement"),
                                      record.get("imputation"), record.get("gp", []))
            if names is not None:
                yield names, _element_label(str(name), coords), draws.values.ravel()


def estimates(fit_data: xr.DataTree, model_name: str, group_dim: str, ci_prob: float = 0.94) -> pd.DataFrame:
    """The tidy table of one fit (see the module docstring for the conventions).

    Parameters
    ----------
    fit_data : DataTree
        A fit made by ``fit.sampling.fit``.
    model_name : str
        Written into the ``model`` column.
    group_dim : str
        The config's grouping column: the ``group`` of a custom model's sds and correlations.
    ci_prob : float
        Probability mass of the central interval.
    """
    convergence = convergence_summary(fit_data)
    tail = (1 - ci_prob) / 2
    rows = []
    for names, label, values in named_draws(fit_data, group_dim):
        lower, upper = np.quantile(values, [tail, 1 - tail])
        diagnostics = convergence.loc[label] if label in convergence.index else {"r_hat": np.nan, "ess_bulk": np.nan}
        rows.append([model_name, *names, values.mean(), values.std(ddof=1), lower, upper,
                     float(diagnostics["r_hat"]), float(diagnostics["ess_bulk"])])
    record = json.loads(fit_data.attrs.get("model", "{}"))
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Fixed effects first, then sds, then the family's parameters; a distributional formula's
    # terms after the mean's; intercepts first; otherwise the posterior's order.
    own = tuple(record.get("distributional", []))
    modelled = table["term"].str.removeprefix("sd__").str.startswith(tuple(f"{name}_" for name in own)) if own else False
    intercept = table["term"].isin([INTERCEPT, *(f"{name}_{INTERCEPT}" for name in own)]) | table["term"].str.startswith(
        "Intercept[")
    order = table["effect"].map({"fixed": 0, "ran_pars": 1, "dist_pars": 2}) * 4 + modelled * 2 + ~intercept
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def all_estimates(fits: dict[str, xr.DataTree], group_dim: str, ci_prob: float) -> pd.DataFrame:
    """:func:`estimates` of every fit, one table: what ``reports/estimates.csv`` holds."""
    return pd.concat([estimates(fit_data, name, group_dim, ci_prob) for name, fit_data in fits.items()],
                     ignore_index=True)


def effect_ratios(table: pd.DataFrame, family: str) -> pd.DataFrame | None:
    """The fixed effects (but intercepts) of one model's tidy table as the ratios they are on
    the outcome's scale, ``exp(slope)``, named by the family (``odds ratio``, ``rate ratio``,
    ``time ratio``...), with their interval: the exponential of the interval's ends, which is
    exactly the ratio's interval; the estimate is ``exp`` of the posterior mean, the ratio's
    geometric mean. None for links where a slope is a difference (identity, probit), and for a
    model without slopes (``y ~ 1 + (1 | person) + (1 | item)``)."""
    record = family_record(family)
    slopes = table[(table["effect"] == "fixed") & (table["term"] != INTERCEPT) & ~table["term"].str.startswith("Intercept[")]
    if not record.ratio or slopes.empty:
        return None
    return pd.DataFrame({"term": slopes["term"], record.ratio: np.exp(slopes["estimate"]),
                         "conf.low": np.exp(slopes["conf.low"]), "conf.high": np.exp(slopes["conf.high"])}).set_index("term")


# A slope of a predictor with unknown true values: me(x, sdx) or mi(x) (see formula_names).
LATENT_SLOPE = r"^m[ei]\((?P<column>[^,()]+)(?:,[^()]*)?\)$"


def side_by_side(table: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """The posterior means of every model's parameters, a column per model (in ``models``'
    order), a row per parameter. A slope corrected for measurement error, ``me(x, sdx)``, or
    with imputed values, ``mi(x)``, shares the row of ``x``: beside the naive slope of the
    models without that term."""
    terms = table["term"].str.replace(LATENT_SLOPE, lambda found: found["column"].strip(), regex=True)
    wide = table.assign(term=terms).pivot_table(index=["effect", "group", "term"], columns="model",
                                                values="estimate", sort=False)
    return wide[[name for name in models if name in wide]]


def lookup(table: pd.DataFrame, term: str, group: str = "", model: str | None = None) -> pd.Series:
    """The row of ``term`` (and ``group`` for ``ran_pars``) in a tidy table."""
    found = table[(table["term"] == term) & (table["group"] == group)]
    if model is not None:
        found = found[found["model"] == model]
    if len(found) != 1:
        raise KeyError(f"{len(found)} rows for term {term!r}, group {group!r}; terms: {sorted(set(table['term']))}")
    return found.iloc[0]


def write_estimates(config, fits: dict[str, xr.DataTree]) -> Path:
    """Write ``reports/estimates.csv``: the tidy estimates of every fit."""
    table = all_estimates(fits, config.data.group, config.diagnostics.ci_prob)
    path = config.reports_dir / "estimates.csv"
    write_text_atomically(path, table.to_csv(index=False))
    return path


def readable(value: float, digits: int = 3) -> str:
    """A number as a reader wants it: ``digits`` significant digits, whole numbers from
    ``10 ** (digits - 1)`` on (``-1,722``, not ``-1.72e+03``), tiny ones as ``4.2e-10``,
    blank if missing."""
    if pd.isna(value):
        return ""
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    if abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def rounded(table: pd.DataFrame, digits: int = 3, decimals: dict[str, int] | None = None) -> pd.DataFrame:
    """The table with its numbers as :func:`readable` text, for the report; the columns of
    ``decimals`` with that many decimals instead (R-hat: 1.010, against a threshold of 1.01)."""
    decimals = decimals or {}
    numbers = table.select_dtypes("number").columns
    return table.assign(**{column: table[column].map(
        lambda value, places=decimals.get(column): "" if pd.isna(value) else f"{value:.{places}f}" if places is not None
        else readable(value, digits)) for column in numbers})