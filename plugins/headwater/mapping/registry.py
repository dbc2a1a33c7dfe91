"""Registry of the expression language's functions: name → typed signature, literal arguments, implementation.

Plain Python on purpose: the parser checks names, argument counts, literal arguments and types
from here at DAG parse time, without pyarrow. Built-in functions register themselves in
`headwater.mapping.functions`; add one with `@register("name(a: string, b?: integer) -> string", "doc")`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Types of the expression language. `integer` is also a `number`; `any` is what a source column
# is (its Arrow type is known only at run time); `T` in a signature is "one type shared by every
# parameter marked T", which becomes the result type.
TYPES = ("string", "number", "integer", "boolean", "date", "timestamp", "array", "any")


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    params: tuple[str, ...]  # "x?" is optional, a trailing "..." repeats the previous parameter
    min_args: int
    max_args: int | None  # None: any number
    impl: Callable[..., Any]
    doc: str
    literals: Mapping[int, type] = field(default_factory=dict)  # argument index -> required literal type
    check: Callable[[tuple], str | None] | None = None  # literal values -> problem, at parse time
    param_types: tuple[str, ...] = ()  # aligned with the named parameters (no "...")
    returns: str = "any"  # a type, or "T"
    arg_types: Callable[[int], tuple[str, ...]] | None = None  # argument count -> types, for pairs
    # Lazy functions (case, iif, coalesce, decode) get their arguments unevaluated, as `Branch`es
    # they evaluate on the rows that take them, so an untaken branch can never reject a row.
    lazy: bool = False

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"

    @property
    def typed_signature(self) -> str:
        names = [p for p in self.params if p != "..."]
        parts = [f"{p}: {t}" for p, t in zip(names, self.param_types, strict=True)]
        if "..." in self.params:
            parts.append("...")
        return f"{self.name}({', '.join(parts)}) -> {self.returns}"

    @property
    def unary(self) -> bool:
        """Usable in `transform`: one argument is enough and the count is bounded."""
        if self.max_args is None:  # variadic: only when the rest are optional literals (to_date's formats)
            return self.min_args <= 1 and self.literal_type(1) is not None
        return self.min_args <= 1 and self.max_args >= 1

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return (
                "no arguments"
                if self.min_args == 0
                else f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
            )
        return f"{self.min_args} to {self.max_args} arguments"

    def literal_type(self, index: int) -> type | None:
        """The literal type argument `index` must have, or None; a literal last parameter followed
        by "..." makes every further argument a literal of that type too (to_date(s, f1, f2, ...))."""
        if index in self.literals:
            return self.literals[index]
        named = [p for p in self.params if p != "..."]
        last = len(named) - 1
        if "..." in self.params and index > last and last in self.literals:
            return self.literals[last]
        return None

    def param_name(self, index: int) -> str:
        names = [p.rstrip("?") for p in self.params if p != "..."]
        return names[min(index, len(names) - 1)]

    def types_for(self, count: int) -> tuple[str, ...]:
        """The type expected of each of `count` arguments."""
        if self.arg_types is not None:
            return self.arg_types(count)
        return tuple(self.param_type(i) for i in range(count))

    def param_type(self, index: int) -> str:
        if not self.param_types:
            return "any"
        return self.param_types[min(index, len(self.param_types) - 1)]


FUNCTIONS: dict[str, FunctionSpec] = {}
_SIGNATURE = re.compile(r"^([a-z][a-z0-9_]*)\((.*)\)(?:\s*->\s*(\w+))?$")
_PARAM = re.compile(r"^(\w+\??)(?:\s*:\s*(\w+))?$")


def parse_signature(signature: str) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
    """ "f(a: string, b?: integer) -> string" → (name, params, param types, result type)."""
    match = _SIGNATURE.match(signature.strip())
    if match is None:
        raise ValueError(f"bad function signature {signature!r}")
    params: list[str] = []
    types: list[str] = []
    for raw in (p.strip() for p in match.group(2).split(",") if p.strip()):
        if raw == "...":
            params.append(raw)
            continue
        part = _PARAM.match(raw)
        if part is None:
            raise ValueError(f"bad parameter {raw!r} in signature {signature!r}")
        kind = part.group(2) or "any"
        if kind not in (*TYPES, "T"):
            raise ValueError(f"unknown type {kind!r} in signature {signature!r}; types: {', '.join(TYPES)}")
        params.append(part.group(1))
        types.append(kind)
    returns = match.group(3) or "any"
    if returns not in (*TYPES, "T"):
        raise ValueError(f"unknown result type {returns!r} in signature {signature!r}")
    return match.group(1), tuple(params), tuple(types), returns


def register(
    signature: str,
    doc: str,
    *,
    literals: Mapping[int, type] | None = None,
    check: Callable[[tuple], str | None] | None = None,
    arg_types: Callable[[int], tuple[str, ...]] | None = None,
    lazy: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add a function; `signature` such as "substr(s: string, start: integer, length: integer) -> string",
    "to_date(s, format?: string) -> date" or "concat(s, ...) -> string" (untyped means `any`)."""
    name, params, types, returns = parse_signature(signature)
    required = sum(1 for p in params if p != "..." and not p.endswith("?"))
    maximum = None if "..." in params else len(params)

    def decorate(impl: Callable[..., Any]) -> Callable[..., Any]:
        if name in FUNCTIONS:
            raise ValueError(f"function '{name}' is already registered")
        FUNCTIONS[name] = FunctionSpec(
            name,
            params,
            required,
            maximum,
            impl,
            doc,
            dict(literals or {}),
            check,
            types,
            returns,
            arg_types,
            lazy,
        )
        return impl

    return decorate


def unary_functions() -> list[str]:
    """Names usable in `transform`, sorted."""
    return sorted(name for name, spec in FUNCTIONS.items() if spec.unary)
