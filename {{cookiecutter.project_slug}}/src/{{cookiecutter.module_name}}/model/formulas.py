"""Models written as formulas (lme4/brms syntax), built by Bambi into PyMC models.

Examples of the syntax (see the README for more)::

    score ~ ses + (1 + ses | school)          # varying intercepts and slopes
    y ~ x + (1 | school/class)                # classes nested in schools
    y ~ x + (1 | rater) + (1 | item)          # crossed factors
    p(successes, trials) ~ x + (1 | site)     # binomial: successes out of trials
    count ~ x + (1 | county) + offset(log(exposure))

Two things make formula models scale like the custom ones: group terms are built from group
codes instead of formulae's dense rows x groups matrices (:func:`indexed_group_terms`), and a
normal model is sampled from sums per group and per pair of levels of crossed or nested
factors (:func:`normal_sufficient_model`). Both give Bambi's own model; the tests compare them with it.
"""

import itertools
import warnings
from contextlib import contextmanager

import formulae
import numpy as np
import pandas as pd
import pymc as pm
from formulae.categorical import ContrastMatrix
from formulae.terms.terms import GroupSpecificTerm
from formulae.terms.variable import Variable
from formulae.utils import row_khatri_rao_sparse

from {{ cookiecutter.module_name }}.families import family_record
from {{ cookiecutter.module_name }}.data.timeline import lags
from {{ cookiecutter.module_name }}.formula_syntax import rw_factor
from {{ cookiecutter.module_name }}.model.measurement import add_latent_predictors, latent_predictor
from {{ cookiecutter.module_name }}.model.spatial import car_prior
from {{ cookiecutter.module_name }}.model.temporal import AR_PRIOR, ar_family, rw_prior
from {{ cookiecutter.module_name }}.names import CENSORING, CENTRED_SUFFIX
from {{ cookiecutter.module_name }}.private_apis import BAMBI_INTERNALS_MISSING, bambi_clean_results


def bambi_prior(spec):
    """A config prior such as ``{dist: Normal, mu: 0, sigma: 1}`` (or with ``sigma: {dist: HalfNormal, ...}``)
    as a ``bmb.Prior``; nested mappings are hyperpriors, numbers are passed as they are."""
    import bambi as bmb  # here, not at the top: importing Bambi costs ~2 s in every notebook

    if not isinstance(spec, dict):
        return spec
    arguments = {key: bambi_prior(value) for key, value in spec.items() if key not in ("dist", "transform")}
    if "transform" in spec:  # by name, e.g. "ordered" (an ordinal model's cut-points)
        arguments["transform"] = getattr(pm.distributions.transforms, spec["transform"])
    return bmb.Prior(spec["dist"], **arguments)


def group_factors(formula: str) -> dict[str, list[str]]:
    """Each group factor of the formula (``"school:class"`` for a nested one) and its columns."""
    factors = {}
    for term in formulae.model_description(formula).group_terms:
        columns = [component.name for component in term.factor.components]
        factors[":".join(columns)] = columns
    return factors


def factor_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The group label of every row for a factor made of one or more columns."""
    labels = frame[columns[0]].astype(str)
    for column in columns[1:]:
        labels = labels + ":" + frame[column].astype(str)
    return labels


class GroupCodes:
    """Which group each row is in, standing in for formulae's dense rows x groups indicator
    matrix: Bambi and formulae only ever ask that matrix for its shape and ``argmax(1)``."""

    def __init__(self, codes: np.ndarray, n_groups: int):
        self.codes, self.shape, self.ndim = codes, (len(codes), n_groups), 2

    def argmax(self, axis):
        assert axis == 1, "only the group of each row is stored"
        return self.codes


class IdentityContrasts(ContrastMatrix):
    """The contrasts of a grouping factor (one column per level: the identity), each row made
    when formulae asks for it to encode new data (predictions); 10k levels would otherwise
    be an 800 MB array."""

    def __init__(self, levels: list):
        self.labels = [str(level) for level in levels]
        self._matrix = self  # formulae indexes ``contrasts.matrix[codes]``
        self.shape = (len(levels), len(levels))

    def __getitem__(self, codes):
        codes = np.asarray(codes)
        rows = np.zeros((*codes.shape, self.shape[1]), dtype=int)
        np.put_along_axis(rows, codes[..., None], 1, axis=-1)
        return rows

    def __eq__(self, other):
        return isinstance(other, IdentityContrasts) and self.labels == other.labels


def _factor_codes(component: Variable) -> tuple[np.ndarray, list]:
    """Codes and levels of one column of a grouping factor, ordered as formulae orders them
    (sorted, or a categorical's own order), with the contrasts formulae would store."""
    x = component._intermediate_data
    if not getattr(x.dtype, "ordered", False):
        x = pd.Categorical(x, categories=sorted(np.unique(x).tolist()), ordered=True)
    else:
        x = pd.Categorical(x)
    component.levels = x.categories.tolist()
    component.contrast_matrix = IdentityContrasts(component.levels)
    component.spans_intercept = True
    return np.asarray(x.codes, dtype=np.int64), component.levels


def _indexed_set_data(self, spans_intercept):
    """``formulae``'s ``GroupSpecificTerm.set_data`` without the dense indicator matrix.

    The group of each row is computed from the factor's columns (an interaction such as
    ``school:class`` numbers every combination of levels, first column slowest, as formulae's
    row-wise Kronecker product does), so a term costs memory in rows, not rows x groups.
    """
    self.expr.set_data(spans_intercept)
    self.kind = self.expr.kind
    codes, n_groups, groups = 0, 1, []
    for component in self.factor.components:
        component_codes, levels = _factor_codes(component)
        codes, n_groups = codes * len(levels) + component_codes, n_groups * len(levels)
        groups.append([str(level) for level in levels])
    self.groups = [":".join(labels) for labels in itertools.product(*groups)]
    self.factor.data = GroupCodes(codes, n_groups)
    predictors = self.expr.data if self.expr.data.ndim == 2 else self.expr.data[:, np.newaxis]
    self.data = row_khatri_rao_sparse(predictors, codes, n_groups)


@contextmanager
def indexed_group_terms():
    """Within this block formulae builds group terms from group codes (see :func:`_indexed_set_data`).

    Formulae builds each group term from a dense rows x groups indicator matrix (1M rows x
    10k groups: 80 GB); Bambi then only keeps which group each row is in. A factor made of
    anything but plain columns (e.g. ``C(g)``) is built the usual way.
    """
    original = GroupSpecificTerm.set_data

    def set_data(self, spans_intercept):
        if all(isinstance(component, Variable) for component in self.factor.components):
            return _indexed_set_data(self, spans_intercept)
        return original(self, spans_intercept)

    GroupSpecificTerm.set_data = set_data
    try:
        yield
    finally:
        GroupSpecificTerm.set_data = original


def has_intercept(formula: str) -> bool:
    """Whether the formula's common part has an intercept (``y ~ 0 + x`` has none)."""
    return any(type(term).__name__ == "Intercept" for term in formulae.model_description(formula).terms)


def formula_priors(formula: str, data, family: str, priors: dict) -> dict:
    """The config's priors by term, with the defaults of ``priors.py`` unless given: the
    ``Intercept`` (an ordinal model's cut-points) and the probability of extra zeros (Bambi's
    ``psi``). Every other term keeps Bambi's scaling to the data.
    """
    from {{ cookiecutter.module_name }}.model.priors import (
        formula_intercept_prior,
        formula_threshold_prior,
        zero_probability_prior,
    )

    if family_record(family).ordinal:  # cut-points instead of an intercept
        defaults = {"threshold": formula_threshold_prior(data, family)}
    else:
        defaults = {"Intercept": formula_intercept_prior(data, family)} if has_intercept(formula) else {}
    for name in family_record(family).complements:  # Bambi's psi = 1 - zi (or 1 - hu): the Beta mirrored
        _, alpha, beta = zero_probability_prior(data.outcome, name)
        defaults[family_record(family).parameters[name]] = {"dist": "Beta", "alpha": beta, "beta": alpha}
    given = {term: prior.model_dump() if hasattr(prior, "model_dump") else prior for term, prior in priors.items()}
    return {**defaults, **given}


def bambi_model(formula: str, data, family: str, priors: dict, centered: bool = False,
                distributional: list[str] | tuple = (), spatial=None, temporal=None, autocorrelation=None,
                measurement=None, imputation=None):
    """The Bambi model of ``formula`` on ``data.frame`` (predictors in their own units), built.

    Bambi applies one parameterisation to all group-specific terms of a model. It centres
    the common predictors inside the PyMC model; :func:`bambi_results` turns the sampled
    ``Intercept`` back into the intercept at predictors = 0, as ``bmb.Model.fit`` does.
    ``distributional``: formulas of the family's own parameters by their own names
    (``"phi ~ (1 | school)"``), each built as Bambi's parameter (``alpha``) with the default
    priors of ``priors.distributional_priors``. ``spatial``: the config's ``car()`` term
    (``config.SpatialTerm``), whose group term ``(1 | region)`` the formula holds: its effects
    are then ``spatial.car_effect``'s on the graph of ``data.adjacency``. ``temporal``: its ``rw()``
    term (``config.TemporalTerm``), carried by ``(1 | time)`` or ``(1 | group:time)``: ``temporal.rw_effect``.
    ``autocorrelation``: its ``ar()`` term (``config.AutocorrelationTerm``): ``temporal.ar_normal`` rows.
    ``measurement``, ``imputation``: its ``me()`` and ``mi()`` terms (``config.MeasurementTerm``,
    ``ImputationTerm``), added to the model by ``measurement.add_latent_predictors``.
    """
    import bambi as bmb  # see bambi_prior

    from {{ cookiecutter.module_name }}.model.priors import distributional_priors

    frame = data.frame
    if data.event is not None:  # times to an event: Bambi's censored(time, status), right-censored where event is 0
        frame = frame.assign(**{CENSORING: np.where(np.asarray(data.event) == 1, "none", "right")})
        response, rest = formula.split("~", 1)
        formula = f"censored({response.strip()}, {CENSORING}) ~{rest}"
    all_priors = {term: bambi_prior(prior) for term, prior in formula_priors(formula, data, family, priors).items()}
    formulas = [formula]
    for written in distributional:
        parameter, right = (part.strip() for part in written.split("~", 1))
        bambi_name = family_record(family).distributional[parameter]
        formulas.append(f"{bambi_name} ~ {right}")
        all_priors[bambi_name] = {term: bambi_prior(prior)
                                  for term, prior in distributional_priors(data, family, parameter, right).items()}
    bambi_family, link = family_record(family).bambi, family_record(family).link
    with indexed_group_terms():
        if autocorrelation is not None:
            # The normal likelihood with AR(1) residuals: its terms' priors scaled as the normal family's
            # (Bambi does not scale a family of its own), and ar's
            normal = bmb.Model(bmb.Formula(*formulas), frame, family=bambi_family, link=link, priors=all_priors,
                               noncentered=not centered)
            component = normal.parameters[normal.family.likelihood.parent]
            all_priors = {**{name: term.prior for name, term in component.terms.items()},
                          "sigma": normal.parameters["sigma"].prior, "ar": bambi_prior(AR_PRIOR)}
            bambi_family, link = ar_family(data.outcome, lags(frame, autocorrelation.time, autocorrelation.group,
                                                               data.source)), None
        model = bmb.Model(
            bmb.Formula(*formulas),
            frame,
            family=bambi_family,
            link=link,
            priors=all_priors,
            noncentered=not centered,
        )
        scale_gp_terms(model, data, family)
        if spatial is not None:
            term = model.parameters[model.family.likelihood.parent].terms[f"1|{spatial.group}"]
            term.prior = car_prior(term.prior, spatial.group, spatial.type, data.adjacency)
        if temporal is not None:
            term = model.parameters[model.family.likelihood.parent].terms[f"1|{rw_factor(temporal)}"]
            term.prior = rw_prior(term.prior, frame, temporal.time, temporal.group, temporal.type, data.source)
        latents = [latent_predictor(frame, term.column, getattr(term, "sd", None), data.source)
                   for term in (measurement, imputation) if term is not None]
        if latents:
            add_latent_predictors(model, data, family, latents)
        model.build()
    return model


def formula_prior_rows(model, given: dict) -> list[list[str]]:
    """Each term's prior as Bambi holds it once scaled to the data (``model``, a ``bmb.Model``):
    ``[parameter, prior, source]``, the source ``config`` for the terms ``given`` a prior there."""
    rows = []
    for name, component in model.parameters.items():
        prefix = "" if name == model.family.likelihood.parent else f"{name}_"
        terms = getattr(component, "terms", None)
        if terms is None:  # a family's own parameter (sigma, phi, ar)
            rows.append([name, str(component.prior), "config" if name in given else "default"])
            continue
        for term_name, term in terms.items():
            if getattr(term, "prior", None) is not None:  # an offset has none
                rows.append([prefix + term_name, str(term.prior), "config" if term_name in given else "default"])
    return rows


def gp_term(name: str) -> dict:
    """Bambi's term ``hsgp(x, by=g, m=10, c=1.5)`` as ``{"alias": "gp_x_by_g", "covariates": ["x"],
    "by": "g"}`` (``by`` None without one). Bambi names the term's dims after it, and nutpie
    splits dimension names at commas: the model uses the alias."""
    arguments, depth, part = [], 0, ""
    for character in name[name.index("(") + 1 : name.rindex(")")] + ",":
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(character, 0)
        if character == "," and depth == 0:
            arguments, part = [*arguments, part.strip()], ""
        else:
            part += character
    covariates = [argument for argument in arguments if "=" not in argument]
    by = next((argument.split("=", 1)[1].strip() for argument in arguments if argument.replace(" ", "").startswith("by=")),
              None)
    alias = "_".join(["gp", *covariates, *([f"by_{by}"] if by else [])])
    return {"alias": alias, "covariates": covariates, "by": by}


def gp_terms(model) -> list[dict]:
    """:func:`gp_term` of each ``hsgp()`` term of the mean's formula of the Bambi ``model``."""
    return [gp_term(name) for name in model.parameters[model.family.likelihood.parent].hsgp_terms]


def scale_gp_terms(model, data, family: str) -> None:
    """Give each ``hsgp()`` term of the mean's formula the default priors of ``priors.gp_priors``
    (in the units of its covariate, which Bambi then leaves unscaled) unless the config set
    them, and its comma-free alias (:func:`gp_term`)."""
    from {{ cookiecutter.module_name }}.model.priors import gp_priors

    aliases = {}
    for name, term in model.parameters[model.family.likelihood.parent].hsgp_terms.items():
        if term.automatic_priors:
            term.prior = {key: bambi_prior(value) for key, value in gp_priors(term.data, data.outcome, family).items()}
            term.automatic_priors = False  # Bambi would otherwise rescale x to a largest distance of 1
        aliases[name] = gp_term(name)["alias"]
    if aliases:
        model.set_alias(aliases)


def bambi_results(model, idata):
    """Bambi's own post-processing of a posterior sampled from ``model.backend.model``:
    the ``Intercept`` at predictors = 0 (Bambi samples it at the predictors' means),
    Bambi's dimension order, and the non-centred ``*_offset`` draws left out; exactly
    what ``bmb.Model.fit`` returns for the same draws. Without that private method (a newer
    Bambi, ``private_apis.py``), :func:`uncentred_results` does the same, with a warning."""
    if bambi_clean_results is not None:
        return bambi_clean_results(model.backend, idata, omit_offsets=True, include_response_params=False)
    warnings.warn(f"{BAMBI_INTERNALS_MISSING}; the Intercept is moved to predictors = 0 from the model's terms",
                  stacklevel=2)
    return uncentred_results(model, idata)


def uncentred_results(model, idata):
    """:func:`bambi_results` from Bambi's public model attributes alone (the fallback when
    ``_clean_results`` is gone): the ``*_offset`` draws left out, the dimensions in Bambi's order
    (the model's coordinates, ``*__factor_dim`` last) and, where Bambi centred the common
    predictors, each component's ``Intercept`` moved from the predictors' means to predictors = 0
    (``Intercept - sum_k mean(x_k) b_k``)."""
    posterior = idata.posterior.to_dataset()
    posterior = posterior.drop_vars([name for name in posterior.data_vars if name.endswith("_offset")])
    used = [dim for dim in model.backend.model.coords if dim in posterior.dims]
    order = ["chain", "draw"] + [dim for dim in used if not dim.endswith("__factor_dim")] + [
        dim for dim in used if dim.endswith("__factor_dim")]
    posterior = posterior.drop_dims([dim for dim in posterior.dims if dim not in order]).transpose(*order)
    if model.center_predictors:
        for component in model.conditional_parameters.values():  # the parameters with a formula
            if not (component.intercept_term and component.common_terms):
                continue
            shift = 0.0
            for term in component.common_terms.values():
                coefficients = posterior[term.alias or term.name]
                means = np.asarray(term.data, dtype=float).reshape(len(term.data), -1).mean(axis=0)
                shift = shift + coefficients.values.reshape(*coefficients.shape[:2], -1) @ means
            name = component.intercept_term.alias or component.intercept_term.name
            posterior[name] = posterior[name] - shift
    idata["posterior"] = posterior
    return idata


# A pair of grouping factors keeps its cross sums as a dense groups x groups array when at least
# this share of the level pairs occurs in the data (crossed factors: a dense entry costs a
# gradient about a tenth of what a listed pair does), and as a list of the pairs that occur
# otherwise (nested factors: each class in one school).
DENSE_PAIR_OCCUPANCY = 0.1
DENSE_PAIR_MAX_ENTRIES = 2**24


def normal_sufficient_model(model, centred_terms: set[str] | None = None):
    """The PyMC model of a built normal-family ``bmb.Model`` with its row-by-row likelihood
    replaced by one from sums over rows, and a function giving those sums for row weights;
    None when the formula does not allow it.

    Row ``i`` has the linear predictor ``c_i'b + sum_f z_fi'u_f[g_f(i)]``: ``c`` the common
    columns (Bambi's centred predictors and the intercept), and for each grouping factor ``f``
    its group ``g_f(i)``, its group terms' columns ``z_f`` and their coefficients ``u_f``. The sum
    of squared residuals is then a quadratic form in ``b`` and the ``u_f`` whose coefficients
    are sums over rows: ``sum c c'``, ``sum c y``, per group of each factor ``sum c z_f'``,
    ``sum z_f z_f'``, ``sum z_f y``, and per pair of levels of two factors (crossed or nested)
    ``sum z_f z_h'``. Each gradient costs O(groups + level pairs) instead of O(rows) and the
    posterior is the same (see ``models.normal_sufficient_likelihood`` for custom models).
    The sums are data of the model: ``weighted_data(weights)`` gives their values with each
    row's terms weighted (0 leaves a row out, as cross-validation does), for the same compiled
    model. Formulas with offsets or smooth terms, and sparse crossed designs (level pairs not
    far fewer than the rows), return None: they are sampled row by row.
    One factor's effects are sampled around the population value (:func:`hierarchically_centred`,
    given the group terms whose data chose centring).

    Returns
    -------
    (pm.Model, callable) or None
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph, model_named, model_potential

    from {{ cookiecutter.module_name }}.model.likelihoods import SUMS, pack, unpack

    component = model.parameters[model.family.likelihood.parent]
    if (model.family.name != "gaussian" or component.offset_terms or component.hsgp_terms
            or set(model.parameters) != {"mu", "sigma"} or "sigma" in model.conditional_parameters):
        return None  # (a formula of sigma: each row's own sd, no per-group sums)
    factors = {}  # grouping factor -> its group terms, e.g. "school" -> [1|school, x|school]
    for term in component.group_specific_terms.values():
        factors.setdefault(term.name.split("|")[1], []).append(term)

    # The data: y (centred when the intercept can absorb its mean), c, and each factor's groups and z.
    y = np.asarray(model.response_term.data, dtype=float).reshape(-1)
    n_rows = len(y)
    has_intercept = component.intercept_term is not None
    y_mean = y.mean() if has_intercept else 0.0
    y = y - y_mean
    common = [term.data.reshape(n_rows, -1) for term in component.common_terms.values()]
    common = np.column_stack(common) if common else np.empty((n_rows, 0))
    if has_intercept and model.center_predictors:
        common = common - common.mean(axis=0)
    c = np.column_stack([np.ones(n_rows)] * has_intercept + [common])
    group = {factor: np.asarray(terms[0].group_index) for factor, terms in factors.items()}
    n_groups = {factor: len(terms[0].groups) for factor, terms in factors.items()}
    z = {factor: np.column_stack([np.asarray(term.predictor, dtype=float).reshape(n_rows, -1) for term in terms])
         for factor, terms in factors.items()}
    pairs = {(f, h): level_pairs(group[f], group[h], n_groups[f], n_groups[h])
             for f, h in itertools.combinations(factors, 2)}
    # A listed pair costs a gradient about what a row does (gathers), a dense pair entry about a
    # tenth (a matrix product: 1M entries 0.2 ms, 1M rows 2.3 ms). In a sparse crossed design
    # (InstEval: 2,972 students x 1,128 lecturers, 2% of the pairs occur) there are about as many
    # pairs as rows, and the rows are cheaper (InstEval: 30 s row by row, 45 s from sums).
    pair_cost = sum(0.1 * n_groups[f] * n_groups[h] if dense else len(first)
                    for (f, h), (_, first, _, dense) in pairs.items())
    if pair_cost > n_rows / 2:
        return None

    def weighted_data(weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The sums over rows, each row's terms times its weight."""
        w = np.ones(n_rows) if weights is None else np.asarray(weights, dtype=float)

        def sums_by(index, size, values):  # (rows, a, b) -> (size, a, b): the weighted sum of each index's rows
            sums = np.column_stack([np.zeros(size)] + [np.bincount(index, weights=w * column, minlength=size)
                                                       for column in values.reshape(n_rows, -1).T])
            return sums[:, 1:].reshape(size, *values.shape[1:])

        wc = c * w[:, None]
        sums = {"rows": np.asarray(w.sum()), "sum_cc": wc.T @ c, "sum_cy": wc.T @ y, "sum_yy": np.asarray(w @ y**2)}
        for f in factors:
            sums[f"sum_cz {f}"] = sums_by(group[f], n_groups[f], c[:, :, None] * z[f][:, None, :])
            sums[f"sum_zz {f}"] = sums_by(group[f], n_groups[f], z[f][:, :, None] * z[f][:, None, :])
            sums[f"sum_zy {f}"] = sums_by(group[f], n_groups[f], z[f] * y[:, None])
        for (f, h), (cell, first, second, dense) in pairs.items():
            cross = sums_by(cell, len(first), z[f][:, :, None] * z[h][:, None, :])  # (pairs, k_f, k_h)
            if dense:  # (k_f, k_h, G_f, G_h): one groups x groups matrix per pair of columns
                full = np.zeros((*cross.shape[1:], n_groups[f], n_groups[h]))
                full[:, :, first, second] = cross.transpose(1, 2, 0)
                cross = full
            sums[f"sum_zz {f} {h}"] = cross
        return sums

    # The graph: Bambi's parameters, by name, in a copy of its model without the observed rows.
    fgraph, _ = fgraph_from_model(model.backend.model, inlined_views=True)
    named = {output.name: output for output in fgraph.outputs}
    hierarchically_centred(fgraph, named, component, centred_terms)
    # The sums as one data vector (models.SUMS), for refits without some rows.
    all_rows = weighted_data()
    values = pack(all_rows.values())
    packed = pytensor.shared(values, name=SUMS, shape=values.shape)  # static shape: compiles faster
    fgraph.add_output(model_named(packed, SUMS), import_missing=True)
    sums = dict(zip(all_rows, unpack(fgraph.outputs[-1], [value.shape for value in all_rows.values()])))
    # The quadratic form by blocks of columns (one per term), each block's coefficients with
    # the sums' rows and columns it multiplies: joining them into one vector per factor would
    # compile about 1.6x slower (PyTensor's Join and Split).
    b = [(pt.atleast_1d(named[name]), columns)
         for name, columns in zip(component.common_terms,
                                  term_columns([term.data for term in component.common_terms.values()], n_rows,
                                               start=int(has_intercept)))]
    if has_intercept:
        b.insert(0, (pt.atleast_1d(named["Intercept"] - y_mean), slice(0, 1)))
    u = {f: [(named[term.name].reshape((n_groups[f], -1)), columns)
             for term, columns in zip(terms, term_columns([term.predictor for term in terms], n_rows))]
         for f, terms in factors.items()}
    squared_residuals = sums["sum_yy"]
    for b_i, i in b:
        squared_residuals += -2 * (b_i @ sums["sum_cy"][i]) + sum(b_i @ sums["sum_cc"][i, j] @ b_j for b_j, j in b)
    for f in factors:
        for u_t, t in u[f]:
            squared_residuals += (-2 * (u_t * sums[f"sum_zy {f}"][:, t]).sum()
                                  + sum(2 * (b_i[None, :, None] * sums[f"sum_cz {f}"][:, i, t] * u_t[:, None, :]).sum()
                                        for b_i, i in b)
                                  + sum((u_t[:, :, None] * sums[f"sum_zz {f}"][:, t, s] * u_s[:, None, :]).sum()
                                        for u_s, s in u[f]))
    for (f, h), (_, first, second, dense) in pairs.items():
        cross = sums[f"sum_zz {f} {h}"]
        for (u_t, t), (u_s, s) in itertools.product(u[f], u[h]):
            if dense:  # u_f' (sum z_f z_h') u_h as matrix products, one per pair of columns
                squared_residuals += sum(2 * (u_t[:, a] @ cross[t.start + a, s.start + c] @ u_s[:, c])
                                         for a in range(t.stop - t.start) for c in range(s.stop - s.start))
            else:
                squared_residuals += 2 * (u_t[first][:, :, None] * cross[:, t, s] * u_s[second][:, None, :]).sum()
    sigma = named["sigma"]
    log_likelihood = -sums["rows"] * (0.5 * np.log(2 * np.pi) + pt.log(sigma)) - squared_residuals / (2 * sigma**2)
    potential = model_potential(log_likelihood, "log_likelihood")
    fgraph.add_output(potential, import_missing=True)
    per_row = [i for i, output in enumerate(fgraph.outputs)
               if isinstance(output.owner.op, ModelObservedRV) or output.name == "mu"]
    for index in reversed(per_row):
        fgraph.remove_output(index)
    return model_from_fgraph(fgraph, mutate_fgraph=True), lambda weights: {SUMS: pack(weighted_data(weights).values())}


def term_columns(arrays, n_rows: int, start: int = 0) -> list[slice]:
    """The columns each term's data array takes in the sums, in order."""
    slices = []
    for values in arrays:
        width = np.asarray(values).reshape(n_rows, -1).shape[1]
        slices.append(slice(start, start + width))
        start += width
    return slices


def level_pairs(first: np.ndarray, second: np.ndarray, n_first: int, n_second: int):
    """The pairs of levels of two grouping factors that occur in the rows: each row's pair,
    each pair's two levels, and whether to keep the pair sums dense (see DENSE_PAIR_OCCUPANCY)."""
    pair_codes, cell = np.unique(first * n_second + second, return_inverse=True)
    entries = n_first * n_second
    dense = len(pair_codes) >= DENSE_PAIR_OCCUPANCY * entries and entries <= DENSE_PAIR_MAX_ENTRIES
    return cell.reshape(-1), pair_codes // n_second, pair_codes % n_second, dense


def around_population_model(model, centred_terms: set[str] | None = None):
    """A copy of a built ``bmb.Model``'s PyMC model, row by row, with group effects drawn around
    the population value (:func:`hierarchically_centred`), or None where that changes nothing.

    The same posterior: the fit samples this model and keeps Bambi's variables. On Poisson
    counts at 100k rows x 1,000 groups (``y ~ x + (x | g)``, intercepts' information ratio 4)
    drawing the intercepts around the population value and the slopes non-centred lifts the
    minimum bulk ESS of 2 chains x 1000 draws from 349 (``1|g_sigma``, all non-centred) to
    646-720 (``x|g_sigma``) in the same sampling time.
    """
    from pymc.model.fgraph import fgraph_from_model, model_from_fgraph

    fgraph, _ = fgraph_from_model(model.backend.model, inlined_views=True)
    named = {output.name: output for output in fgraph.outputs}
    component = model.parameters[model.family.likelihood.parent]
    if not hierarchically_centred(fgraph, named, component, centred_terms):
        return None
    return model_from_fgraph(fgraph, mutate_fgraph=True)


def hierarchically_centred(fgraph, named: dict, component, centred_terms: set[str] | None = None) -> list[str]:
    """Sample one factor's group effects around the population value: ``a_j ~ Normal(b, s)``
    with Bambi's ``u_j = a_j - b`` (or its non-centred ``z_j = (a_j - b) / s``), in place; a
    change of variables, so the same posterior.

    Bambi centres each group's intercept (or slope) at zero and adds the common one, so with
    many well-informed groups the common ``Intercept`` moves only along a narrow ridge with all
    ``u_j`` at once (bulk ESS 66 of 2000 draws at 100k rows x 1000 groups). Centring each group
    at the population value (as ``models.varying_slopes`` does) removes the ridge. Only group
    terms whose expression is the intercept or a common numeric term are changed, and of
    several factors with the same expression (crossed or nested) only the one with the fewest
    groups among those sampled centred (``centred_terms``: the group terms, e.g. ``1|school``,
    whose data chose centring; None: those Bambi built centred): its effects then carry the common value and the
    others stay centred at zero. Centring two crossed factors at ``b`` would move the ridge,
    not remove it: ``b`` is then pinned only by the prior of the factor with fewer groups
    (R-hat 4 for ``Intercept`` at 1M rows x 10,000 schools x 100 raters; centring the raters
    only: 1.00). ``bambi_model`` builds all factors one way (Bambi's ``noncentered``), so a factor that chose
    centring in a model built non-centred (Penicillin's 6 samples beside its 24 plates) is
    sampled centred here, its ``*_offset`` kept as a deterministic. Returns the group terms changed.
    """
    from pymc.model.fgraph import ModelFreeRV, model_deterministic, model_free_rv
    from pytensor.tensor.random.basic import NormalRV

    def free(name):
        output = named.get(name)
        return output if output is not None and isinstance(output.owner.op, ModelFreeRV) else None

    def sampled(term):  # the free variable behind a term's effects: Bambi's centred u_j or non-centred z_j
        centred = free(term.name)
        return centred if centred is not None else free(f"{term.name}_offset")

    chosen = {}  # common term -> the group term centred at it
    for term in component.group_specific_terms.values():
        expression = term.name.split("|")[0]
        common = "Intercept" if expression == "1" else expression
        effects = sampled(term)
        centred = free(term.name) is not None if centred_terms is None else term.name in centred_terms
        if free(common) is None or effects is None or effects.type.ndim != 1 or named[common].type.ndim != 0 \
                or not centred or not isinstance(effects.owner.inputs[0].owner.op, NormalRV):  # e.g. a StudentT prior
            continue
        if common not in chosen or len(term.groups) < len(chosen[common].groups):
            chosen[common] = term
    for common, term in chosen.items():
        output = sampled(term)
        scale = 1 if output is named[term.name] else named[f"{term.name}_sigma"]  # non-centred: z = u / s
        rv, value = output.owner.inputs
        rng, size, mu, sigma = rv.owner.inputs
        around = rv.owner.op.make_node(rng, size, mu + named[common], sigma * scale).outputs[1]
        name = term.name + CENTRED_SUFFIX
        around.name, around_value = name, value.clone()
        around_value.name = name
        centred = model_free_rv(around, around_value, None, name, *output.owner.op.dims)
        difference = model_deterministic((centred - named[common]) / scale, output.name, *output.owner.op.dims)
        fgraph.replace(output, difference, import_missing=True)
        named[output.name] = difference
    return [term.name for term in chosen.values()]
