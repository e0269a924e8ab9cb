"""What a formula may name, checked before any model is built.

Bambi evaluates a formula's calls with formulae: its transforms, Bambi's own, and whatever
the calling module can reach. A config names a model, it does not run code, so a call is
allowed only if it is one of those transforms or an element-wise numpy function
(``np.log``); the names a formula reads are columns of the data, and its response is the
config's outcome. Every term is checked here, so a typo fails before the first notebook,
with the term and the fix, not as a ``KeyError`` inside a fit.
"""

import re

import formulae
import numpy as np
from formulae.terms.call_resolver import LazyCall, LazyOperator, LazyValue, LazyVariable
from formulae.transforms import TRANSFORMS

from {{ cookiecutter.module_name }}.families import family_record

# bambi.transformations.transformations_namespace, and hsgp, which Bambi adds to formulae's
# transforms when imported: written out so that checking a config does not import Bambi (and
# PyMC, seconds); tests/test_formulas.py checks they agree.
BAMBI_TRANSFORMS = ("c", "counts", "censored", "constrained", "truncated", "weighted",
                    "log", "log2", "log10", "exp", "exp2", "abs", "hsgp")
FUNCTIONS = frozenset(TRANSFORMS) | frozenset(BAMBI_TRANSFORMS)

# brms's spatial term, built here rather than by Bambi (which has none): ``car(region)`` or
# ``car(region, type = "icar")``; see ``model/spatial.py``.
CAR_TYPES = ("bym2", "icar")
CAR_CALL = re.compile(r"\bcar\(([^()]*)\)")
CAR_ARGUMENTS = re.compile(r"\s*(?P<group>[A-Za-z_][\w.]*)\s*(?:,\s*type\s*=\s*(?P<q>['\"])(?P<type>\w+)(?P=q)\s*)?")


def spatial_term(formula: str) -> tuple[str, dict | None]:
    """``formula`` with its ``car(region, type = "bym2")`` term written as the group term
    ``(1 | region)`` that carries it, and ``{"group": region, "type": type}`` (None without one).

    Raises
    ------
    ValueError
        For a ``car()`` that does not read ``car(column)`` or ``car(column, type = "icar" | "bym2")``,
        or more than one.
    """
    calls = CAR_CALL.findall(formula)
    if not calls:
        return formula, None
    if len(calls) > 1:
        raise ValueError(f"formula {formula!r} has {len(calls)} car() terms; a model takes one (one graph, data.adjacency)")
    match = CAR_ARGUMENTS.fullmatch(calls[0])
    kind = (match.group("type") or "bym2") if match else None
    if match is None or kind not in CAR_TYPES:
        raise ValueError(f"formula {formula!r}: write the spatial term as car(region) or car(region, type = \"icar\"), "
                         f"with region the data's column of areas; types: {', '.join(CAR_TYPES)} (default bym2)")
    return CAR_CALL.sub(f"(1 | {match.group('group')})", formula), {"group": match.group("group"), "type": kind}


# A random walk over time (INLA's rw1/rw2, written as brms writes its ar() terms): ``rw(year)``,
# ``rw(year, type = "rw2")``, ``rw(year, gr = county)`` for a walk per county; see ``model/temporal.py``.
RW_TYPES = ("rw1", "rw2")
RW_CALL = re.compile(r"\brw\(([^()]*)\)")
RW_OPTION = re.compile(r"\s*(?P<key>type|gr)\s*=\s*(?P<value>['\"]\w+['\"]|[A-Za-z_][\w.]*)\s*")
NAME = re.compile(r"\s*[A-Za-z_][\w.]*\s*")


def temporal_term(formula: str) -> tuple[str, dict | None]:
    """``formula`` with its ``rw(time, type = "rw1", gr = group)`` term written as the group term
    ``(1 | time)`` (``(1 | group:time)``) that carries it, and ``{"time", "group", "type"}``
    (None without one).

    Raises
    ------
    ValueError
        For an ``rw()`` that does not read ``rw(column[, type = "rw1" | "rw2"][, gr = column])``,
        or more than one.
    """
    calls = RW_CALL.findall(formula)
    if not calls:
        return formula, None
    usage = (f"formula {formula!r}: write the random walk as rw(time), rw(time, type = \"rw2\") or "
             f"rw(time, gr = group), with time a numeric column; types: {', '.join(RW_TYPES)} (default rw1)")
    if len(calls) > 1:
        raise ValueError(f"formula {formula!r} has {len(calls)} rw() terms; a model takes one")
    time, *options = calls[0].split(",")
    found = {}
    for option in options:
        match = RW_OPTION.fullmatch(option)
        if match is None or match.group("key") in found:
            raise ValueError(usage)
        found[match.group("key")] = match.group("value").strip("'\"")
    kind, group = found.get("type", "rw1"), found.get("gr")
    if not NAME.fullmatch(time) or kind not in RW_TYPES or (group is not None and not NAME.fullmatch(group)):
        raise ValueError(usage)
    time = time.strip()
    factor = f"{group}:{time}" if group else time  # as rw_factor
    return RW_CALL.sub(f"(1 | {factor})", formula), {"time": time, "group": group, "type": kind}


# Autocorrelated residuals, brms's ar(): ``ar(time = year, gr = county)`` (``ar(year)``, ``p = 1``);
# see ``model/temporal.py``. Not a Bambi term: it is taken out of the formula and built into the likelihood.
AR_CALL = re.compile(r"\bar\(([^()]*)\)")
AR_OPTION = re.compile(r"\s*(?P<key>time|gr|p)\s*=\s*(?P<value>[A-Za-z_][\w.]*|\d+)\s*")


def autocorrelation_term(formula: str) -> tuple[str, dict | None]:
    """``formula`` without its ``ar(time = t, gr = g)`` term, and ``{"time", "group"}`` (None
    without one): first-order autocorrelated residuals within each group, ordered by time.

    Raises
    ------
    ValueError
        For an ``ar()`` that does not read ``ar(time = column[, gr = column][, p = 1])``, or more than one.
    """
    calls = AR_CALL.findall(formula)
    if not calls:
        return formula, None
    usage = (f"formula {formula!r}: write autocorrelated residuals as ar(time = year) or ar(time = year, gr = "
             "group), with time a numeric column; only p = 1 (AR(1))")
    if len(calls) > 1:
        raise ValueError(f"formula {formula!r} has {len(calls)} ar() terms; a model takes one")
    found = {}
    for position, option in enumerate(calls[0].split(",")):
        match = AR_OPTION.fullmatch(option)
        key, value = (match.group("key"), match.group("value")) if match else (None, option.strip())
        if key is None and position == 0 and NAME.fullmatch(option):
            key = "time"  # ar(year): the time, as brms's first argument
        if key is None or key in found:
            raise ValueError(usage)
        found[key] = value
    if "time" not in found or found.get("p", "1") != "1" or not NAME.fullmatch(found["time"]):
        raise ValueError(usage)
    return _without(formula, AR_CALL, "+ ar(time = year)"), {"time": found["time"], "group": found.get("gr")}


def _without(formula: str, call: re.Pattern, example: str) -> str:
    """``formula`` without the term that is the ``call`` (a term of its own, as ``example``)."""
    lhs, rhs = formula.split("~", 1)
    terms = [part.strip() for part in re.split(r"\+(?![^()]*\))", rhs)]  # not the + inside (1 + x | g)
    kept = [term for term in terms if not call.fullmatch(term)]
    if len(kept) == len(terms):
        raise ValueError(f"formula {formula!r}: add {example.lstrip('+ ')} as a term of its own ({example})")
    return f"{lhs.strip()} ~ {' + '.join(kept) or '1'}"


# A predictor measured with error, brms's me(): ``me(x, sdx)``, with sdx the column of each
# measurement's standard error; see ``model/measurement.py``. Taken out of the formula like ar().
ME_CALL = re.compile(r"\bme\(([^()]*)\)")


def measurement_term(formula: str) -> tuple[str, dict | None]:
    """``formula`` without its ``me(x, sdx)`` term, and ``{"column": x, "sd": sdx}`` (None without one).

    Raises
    ------
    ValueError
        For an ``me()`` that does not read ``me(column, column)``, or more than one.
    """
    calls = ME_CALL.findall(formula)
    if not calls:
        return formula, None
    if len(calls) > 1:
        raise ValueError(f"formula {formula!r} has {len(calls)} me() terms; a model takes one")
    parts = [part.strip() for part in calls[0].split(",")]
    if len(parts) != 2 or not all(NAME.fullmatch(part) for part in parts):
        raise ValueError(f"formula {formula!r}: write a predictor measured with error as me(x, sdx), with sdx the "
                         "column of each measurement's standard error")
    return _without(formula, ME_CALL, "+ me(x, sdx)"), {"column": parts[0], "sd": parts[1]}


def rw_factor(term) -> str:
    """The group factor that carries an ``rw()`` term: ``time``, or ``group:time`` for a walk per group."""
    return f"{term.group}:{term.time}" if term.group else term.time


# A predictor with missing values, imputed within the fit, brms's mi(): ``mi(x)``; see ``model/measurement.py``.
MI_CALL = re.compile(r"\bmi\(([^()]*)\)")


def imputation_term(formula: str) -> tuple[str, dict | None]:
    """``formula`` without its ``mi(x)`` term, and ``{"column": x}`` (None without one).

    Raises
    ------
    ValueError
        For an ``mi()`` that does not read ``mi(column)``, or more than one.
    """
    calls = MI_CALL.findall(formula)
    if not calls:
        return formula, None
    if len(calls) > 1:
        raise ValueError(f"formula {formula!r} has {len(calls)} mi() terms; a model takes one")
    if not NAME.fullmatch(calls[0]):
        raise ValueError(f"formula {formula!r}: write a predictor with missing values as mi(x), x a column")
    return _without(formula, MI_CALL, "+ mi(x)"), {"column": calls[0].strip()}


def is_known_function(name: str) -> bool:
    """A transform of formulae or Bambi, or ``np.<ufunc>`` (element-wise maths: ``np.log1p``)."""
    if name in FUNCTIONS:
        return True
    prefix, _, function = name.partition(".")
    return prefix in ("np", "numpy") and isinstance(getattr(np, function, None), np.ufunc)


def _walk(node, columns: list[str], calls: list[str]) -> None:
    """Collect the columns and the functions a lazily evaluated expression uses."""
    if isinstance(node, LazyVariable):
        columns.append(node.name)
    elif isinstance(node, LazyCall):
        calls.append(node.callee)
        for argument in [*node.args, *node.kwargs.values()]:
            _walk(argument, columns, calls)
    elif isinstance(node, LazyOperator):
        for argument in node.args:
            _walk(argument, columns, calls)
    elif not isinstance(node, LazyValue):  # a literal: nothing to read
        raise TypeError(f"unexpected part of a formula: {node!r}")


def _components(term) -> list:
    """The variables and calls of a term, of a group-specific term's expression and factor too."""
    if hasattr(term, "expr"):  # (expr | factor)
        return [*_components(term.expr), *_components(term.factor)]
    return list(getattr(term, "components", []))


def term_uses(component) -> tuple[list[str], list[str]]:
    """``(columns, functions)`` of one variable or call of a formula."""
    columns, calls = [], []
    if hasattr(component, "call"):
        _walk(component.call, columns, calls)
    else:
        columns.append(component.name)
    return columns, calls


def formula_columns(formula: str) -> list[str]:
    """Every data column ``formula`` reads (its response's too), in order of appearance."""
    description = formulae.model_description(formula)
    found = []
    for term in [description.response.term, *description.terms]:
        for component in _components(term):
            found += term_uses(component)[0]
    return list(dict.fromkeys(found))


def unknown_functions(formula: str) -> list[tuple[str, str]]:
    """``(term, function)`` for each call that is not a known transform."""
    description = formulae.model_description(formula)
    found = []
    for term in [description.response.term, *description.terms]:
        for component in _components(term):
            found += [(component.name, call) for call in term_uses(component)[1] if not is_known_function(call)]
    return found


def check_response(formula: str, outcome: str, trials: str | None, family: str) -> None:
    """The formula must model the config's outcome (``p(outcome, trials)`` for binomial), so
    that every candidate's PSIS-LOO scores the same data. Raises ValueError otherwise."""
    response = formulae.model_description(formula).response
    if response is None:
        raise ValueError(f"formula {formula!r} has no response; write it as '{outcome} ~ ...'")
    components = response.term.components
    takes_trials = family_record(family).trials
    expected = f"p({outcome}, {trials})" if takes_trials else outcome
    written = components[0].name if len(components) == 1 else str(response.term)
    matches = False
    if len(components) == 1 and takes_trials and hasattr(components[0], "call"):
        call = components[0].call
        arguments = [getattr(argument, "name", None) for argument in call.args]
        matches = call.callee in ("p", "prop", "proportion") and arguments == [outcome, trials] and not call.kwargs
    elif len(components) == 1 and not takes_trials:
        matches = not hasattr(components[0], "call") and components[0].name == outcome
    if not matches:
        raise ValueError(
            f"formula {formula!r} models {written!r}, but the analysis's outcome (data.outcome) is {expected!r}: every "
            f"candidate model must model the same outcome, so that PSIS-LOO compares them on the same data. "
            f"Fix: write the formula as '{expected} ~ ...'" + ("" if takes_trials else ", or change data.outcome")
        )
