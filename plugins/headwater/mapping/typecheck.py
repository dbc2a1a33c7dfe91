"""Static types of expressions, inferred bottom-up at DAG parse time (stdlib only).

A source column is `any` (its Arrow type is known only when data arrives); literals, function
results and operators have known types. A known type where a function or operator cannot use it
is an ExpressionError naming the position, so `upper(to_date(x))` fails when the DAG is parsed.
"""

from __future__ import annotations

from headwater.mapping.registry import FUNCTIONS
from headwater.mapping.syntax import BinaryOp, Call, Column, ExpressionError, Literal, Node

ARITHMETIC = frozenset({"+", "-", "*", "/"})
LOGICAL = frozenset({"and", "or"})
_NUMERIC = frozenset({"integer", "number"})
_TEMPORAL = frozenset({"date", "timestamp"})
# Text next to one of these is read as that type (e.g. `signup >= '2024-01-01'`).
_TEXT_COMPARABLE = frozenset({"integer", "number", "date", "timestamp", "boolean"})


def article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def start(node: Node) -> int:
    """Where a node's text begins (an operator node begins with its left operand)."""
    while isinstance(node, BinaryOp):
        node = node.left
    return node.pos


def accepts(wanted: str, got: str) -> bool:
    """Can a value of type `got` be passed where `wanted` is expected?"""
    if got in ("any", "null") or wanted in ("any", got):
        return True
    return (wanted == "number" and got == "integer") or (wanted == "timestamp" and got == "date")


def join(types: list[str]) -> str | None:
    """One type for values that must share one (coalesce, iif): None when they cannot."""
    known = {t for t in types if t not in ("any", "null")}
    if not known:
        return "any" if "any" in types else "null"
    if len(known) == 1:
        result = known.pop()
    elif known <= _NUMERIC:
        result = "number"
    elif known <= _TEMPORAL:
        result = "timestamp"
    else:
        return None
    return "any" if "any" in types else result


def infer(node: Node) -> str:
    """Type of `node`; raises ExpressionError at the first mismatch (innermost first)."""
    if isinstance(node, Column):
        return "any"
    if isinstance(node, Literal):
        value = node.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        return "number" if isinstance(value, float) else "string"
    if isinstance(node, Call):
        return _call(node, [infer(a) for a in node.args])
    if isinstance(node, BinaryOp):
        return _binary(node, infer(node.left), infer(node.right))
    raise TypeError(f"not an expression node: {node!r}")


def _call(node: Call, types: list[str]) -> str:
    spec = FUNCTIONS[node.name]
    generic: list[tuple[str, Node]] = []
    for i, (arg, got, wanted) in enumerate(zip(node.args, types, spec.types_for(len(types)), strict=True)):
        if wanted == "T":
            generic.append((got, arg))
        elif not accepts(wanted, got):
            raise ExpressionError(
                f"type mismatch at position {start(arg)}: argument '{spec.param_name(i)}' of "
                f"'{spec.name}' must be {article(wanted)}, got {article(got)}",
                start(arg),
            )
    shared = join([t for t, _ in generic]) if generic else "any"
    if shared is None:
        first = next(t for t, _ in generic if t not in ("any", "null"))
        other, where = next(
            (t, a) for t, a in generic if t not in ("any", "null") and join([first, t]) is None
        )
        raise ExpressionError(
            f"type mismatch at position {start(where)}: arguments of '{spec.name}' must share one type, "
            f"got {article(first)} and {article(other)}",
            start(where),
        )
    if spec.returns == "T":
        return "any" if shared == "null" else shared
    return spec.returns


def _binary(node: BinaryOp, left: str, right: str) -> str:
    op = node.op
    if op == "||":
        for side, kind in ((node.left, left), (node.right, right)):
            if kind == "array":
                raise ExpressionError(
                    f"type mismatch at position {start(side)}: '||' joins text, got an array "
                    "(use join(array, separator))",
                    start(side),
                )
        return "string"
    if op in ARITHMETIC:
        for side, kind in ((node.left, left), (node.right, right)):
            if (
                not accepts("number", kind)
                and kind != "string"
                or kind == "string"
                and isinstance(side, Literal)
            ):
                raise ExpressionError(
                    f"type mismatch at position {start(side)}: '{op}' needs numbers, got {article(kind)}"
                    + (" (use date_add or date_diff for dates)" if kind in _TEMPORAL else ""),
                    start(side),
                )
        if op != "/" and left == right == "integer":
            return "integer"
        return "number"
    if op in LOGICAL:
        for side, kind in ((node.left, left), (node.right, right)):
            if not accepts("boolean", kind):
                raise ExpressionError(
                    f"type mismatch at position {start(side)}: '{op}' needs booleans, got {article(kind)}",
                    start(side),
                )
        return "boolean"
    kinds = {left, right} - {"any", "null"}
    comparable = "array" not in kinds and (
        len(kinds) <= 1
        or kinds <= _NUMERIC
        or kinds <= _TEMPORAL
        or ("string" in kinds and (kinds - {"string"}) <= _TEXT_COMPARABLE)
    )
    if not comparable:
        raise ExpressionError(
            f"type mismatch at position {node.pos}: cannot compare {article(left)} with {article(right)} "
            f"using '{op}'",
            node.pos,
        )
    return "boolean"
