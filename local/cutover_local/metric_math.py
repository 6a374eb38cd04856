"""The part of CloudWatch metric math the guard-rail alarms use, on one datapoint at a time.

Supported: numbers, query ids, + - * /, comparisons, IF(condition, a, b) and FILL(x, value).
A missing value is None: arithmetic on it is missing, FILL replaces it, and division by zero
is missing (as in CloudWatch).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

Value = float | None

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Eq: operator.eq, ast.NotEq: operator.ne}


class UnsupportedExpression(ValueError):
    """The expression uses metric math the local engine does not evaluate."""


def evaluate(expression: str, values: Mapping[str, Value]) -> Value:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsupportedExpression(f"{expression!r}: {exc}") from exc
    return _eval(tree.body, values, expression)


def _eval(node: ast.AST, values: Mapping[str, Value], text: str) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise UnsupportedExpression(f"{text!r}: unknown id {node.id}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _eval(node.operand, values, text)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, values, text), _eval(node.right, values, text)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right == 0:
            return None
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _eval(node.left, values, text), _eval(node.comparators[0], values, text)
        if left is None or right is None:
            return None
        return 1.0 if _COMPARE[type(node.ops[0])](left, right) else 0.0
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name, args = node.func.id.upper(), node.args
        if name == "IF" and len(args) == 3:
            condition = _eval(args[0], values, text)
            if condition is None:
                return None
            return _eval(args[1] if condition else args[2], values, text)
        if name == "FILL" and len(args) == 2:
            value = _eval(args[0], values, text)
            return _eval(args[1], values, text) if value is None else value
    raise UnsupportedExpression(f"{text!r}: only numbers, ids, + - * /, comparisons, IF and FILL are evaluated locally")


def over_results(expression: str, results: list[dict[str, Any]],
                 fallback: Callable[[str, list[dict[str, Any]]], tuple[list[Any], list[datetime]]]
                 ) -> tuple[list[float], list[datetime]]:
    """A GetMetricData expression over the other queries' results (moto's ``{"id", "values",
    "timestamps"}``), one timestamp at a time as CloudWatch aligns them: what moto's own parser
    answers only for plain arithmetic (it returns nothing for IF and FILL). An expression this
    module does not know goes to ``fallback`` (moto's parser)."""
    series = {r["id"]: dict(zip(r["timestamps"], r["values"], strict=False)) for r in results}
    stamps = sorted({t for values in series.values() for t in values})
    out_values: list[float] = []
    out_stamps: list[datetime] = []
    try:
        for stamp in stamps:
            value = evaluate(expression, {query: values.get(stamp) for query, values in series.items()})
            if value is not None:
                out_values.append(value)
                out_stamps.append(stamp)
    except UnsupportedExpression:
        return fallback(expression, results)
    return out_values, out_stamps
