"""A sweep variant's ``subset``: which rows of the data to keep, in a small grammar of our own.

A subset reads like a pandas query (``"region == 'north' and ses > 0"``) but is never handed
to pandas or ``eval``: pandas queries can reach any attribute of the calling module
(``@pd.io.common.os.system(...)``), and a sweep file is shared like a config, which runs no
code. The text is parsed as a Python expression and only these are allowed:

- column names (the data's; a name with spaces is not possible: rename the column),
- literals: numbers, strings, ``True``, ``False``, and lists or tuples of them after ``in``,
- comparisons ``== != < <= > >=`` (chained too: ``0 < ses < 1``), ``in`` and ``not in``,
- ``and``, ``or``, ``not`` (and pandas' ``&``, ``|``, ``~``), and parentheses.

No ``@``, no attribute access, no calls, no arithmetic, no indexing.
"""

import ast
import operator
from functools import reduce

import pandas as pd

COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
               ast.Gt: operator.gt, ast.GtE: operator.ge}
ALLOWED = "column names, literals, comparisons (== != < <= > >=, in, not in), and/or/not (& | ~) and parentheses"


class SubsetError(ValueError):
    """A subset that is not in the grammar, names a column the data lack, or selects nothing."""


def _literal(node: ast.expr):
    """The value of a literal (a negative number too), or None if ``node`` is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    return None


def _describe(node: ast.AST) -> str:
    """What a refused piece of the expression is, in words."""
    kinds = {ast.Call: "a call", ast.Attribute: "attribute access", ast.Subscript: "indexing",
             ast.BinOp: "arithmetic", ast.Lambda: "a lambda", ast.NamedExpr: "an assignment",
             ast.Dict: "a dict", ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension",
             ast.JoinedStr: "an f-string", ast.IfExp: "an if-expression"}
    kind = next((word for cls, word in kinds.items() if isinstance(node, cls)), type(node).__name__)
    return f"{kind} ({ast.unparse(node)})"


class _Selection:
    """Evaluates a parsed subset on a frame, refusing anything outside the grammar."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def rows(self, node: ast.expr) -> pd.Series:
        """A boolean Series, one value per row."""
        if isinstance(node, ast.BoolOp):
            parts = [self.rows(value) for value in node.values]
            return reduce(operator.and_ if isinstance(node.op, ast.And) else operator.or_, parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            combine = operator.and_ if isinstance(node.op, ast.BitAnd) else operator.or_
            return combine(self.rows(node.left), self.rows(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return ~self.rows(node.operand)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            return reduce(operator.and_, [self.compare(left, op, right)
                                          for left, op, right in zip(operands, node.ops, operands[1:])])
        if isinstance(node, ast.Name):
            column = self.column(node)
            if not pd.api.types.is_bool_dtype(column):
                raise SubsetError(f"column {node.id!r} alone is not true or false; compare it, e.g. {node.id} == 1")
            return column
        raise SubsetError(f"{_describe(node)} is not allowed; a subset holds only {ALLOWED}")

    def column(self, node: ast.Name) -> pd.Series:
        if node.id not in self.frame.columns:
            raise SubsetError(f"no column {node.id!r} in the data; columns: {', '.join(map(str, self.frame.columns))}")
        return self.frame[node.id]

    def value(self, node: ast.expr):
        """A column (Series) or a literal."""
        if isinstance(node, ast.Name):
            return self.column(node)
        value = _literal(node)
        if value is None:
            raise SubsetError(f"{_describe(node)} is not allowed; a subset holds only {ALLOWED}")
        return value

    def compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> pd.Series:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                raise SubsetError(f"'in' takes a list of literals, e.g. region in ['north', 'east']; got {ast.unparse(right)}")
            values = [_literal(item) for item in right.elts]
            if any(value is None for value in values):
                raise SubsetError(f"the list {ast.unparse(right)} may hold only literals")
            if not isinstance(left, ast.Name):
                raise SubsetError(f"the left of 'in' must be a column; got {ast.unparse(left)}")
            inside = self.column(left).isin(values)
            return inside if isinstance(op, ast.In) else ~inside
        if type(op) not in COMPARISONS:
            raise SubsetError(f"the comparison {type(op).__name__} is not allowed; use == != < <= > >= in, not in")
        first, second = self.value(left), self.value(right)
        if not isinstance(first, pd.Series) and not isinstance(second, pd.Series):
            raise SubsetError(f"{ast.unparse(left)} and {ast.unparse(right)} are both literals: compare a column")
        try:
            result = COMPARISONS[type(op)](first, second)
        except TypeError as error:  # e.g. a text column against a number
            raise SubsetError(f"cannot compare {ast.unparse(left)} with {ast.unparse(right)}: {error}") from None
        return pd.Series(result, index=self.frame.index).astype(bool)


def subset_rows(frame: pd.DataFrame, subset: str) -> pd.DataFrame:
    """The rows of ``frame`` that ``subset`` selects.

    Raises
    ------
    SubsetError
        If ``subset`` is not in the grammar (see the module's docstring), names a column
        ``frame`` lacks, or selects no row.
    """
    try:
        tree = ast.parse(subset.strip(), mode="eval")
    except SyntaxError as error:
        hint = " ('@' refers to Python variables, which a subset cannot)" if "@" in subset else ""
        raise SubsetError(f"not an expression of {ALLOWED}{hint}: {error.msg}") from None
    selected = frame[_Selection(frame).rows(tree.body).to_numpy(dtype=bool)]
    if selected.empty:
        raise SubsetError("it selects no row of the data")
    return selected
