"""The syntax tree of the expression language: immutable nodes that `expressions.parse` builds,
`typecheck` types and `evaluation` runs, and the error the parser and type checker raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ExpressionError(ValueError):
    """An expression that cannot be parsed; `message` already names the position."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position


# --- AST -------------------------------------------------------------------------------------------
# `pos` is left out of equality so that trees can be compared by shape in tests and caches.


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool | None
    pos: int = field(default=0, compare=False)
    # Part of equality so that 1, 1.0 and true (equal in Python) are different literals.
    kind: str = field(init=False, default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", type(self.value).__name__)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...] = ()
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class BinaryOp:
    op: str  # + - * / || = != < <= > >= and or
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


Node = Column | Literal | Call | BinaryOp

COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
