"""The expression language of `mapping.fields[].expr`: tokenizer, recursive-descent parser, AST.

Never evaluated with `eval`: `parse` builds a small immutable tree that `engine` runs on Arrow.
Function names and argument counts are checked here, against `functions.FUNCTIONS`, so a typo is a
DAG import error rather than a failed task. Positions in messages count characters from 0.

Types are inferred bottom-up right after parsing (`typecheck`), so a type mismatch is reported
with its position too.

Grammar (lowest precedence first; `and`, `or`, `not` in any case)::

    expr    := conj ('or' conj)*
    conj    := neg ('and' neg)*
    neg     := 'not' neg | compare
    compare := sum [('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') sum]
    sum     := product (('+' | '-' | '||') product)*
    product := unary (('*' | '/') unary)*
    unary   := '-' unary | primary
    primary := number | string | true | false | null | name | `any name`
             | function '(' [expr (',' expr)*] ')' | '(' expr ')'
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator

from headwater.mapping.functions import FUNCTIONS, FunctionSpec
from headwater.mapping.syntax import (  # re-exported: the tree is used with the parser
    COMPARISONS,
    BinaryOp,
    Call,
    Column,
    ExpressionError,
    Literal,
    Node,
)
from headwater.mapping.typecheck import infer

_KEYWORDS = {"true": True, "false": False, "null": None}

# --- tokenizer -------------------------------------------------------------------------------------

_SKIP = re.compile(r"\s*")
_NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_TWO_CHAR_OPS = frozenset({"||", "<=", ">=", "!=", "<>"})
_ONE_CHAR_OPS = frozenset("+-*/(),=<>")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

# Token: (kind, value, position); kinds: num, str, name, qname, op, end.
Token = tuple[str, object, int]


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while True:
        i = _SKIP.match(text, i).end()
        if i >= n:
            tokens.append(("end", None, n))
            return tokens
        c = text[i]
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            raw = m.group()
            value = float(raw) if ("." in raw or "e" in raw or "E" in raw) else int(raw)
            tokens.append(("num", value, i))
            i = m.end()
        elif c == "'" or c == '"':
            value, end = _read_string(text, i)
            tokens.append(("str", value, i))
            i = end
        elif c == "`":
            value, end = _read_quoted_name(text, i)
            tokens.append(("qname", value, i))
            i = end
        elif text.startswith(tuple(_TWO_CHAR_OPS), i):
            op = text[i : i + 2]
            tokens.append(("op", "!=" if op == "<>" else op, i))
            i += 2
        elif c in _ONE_CHAR_OPS:
            tokens.append(("op", c, i))
            i += 1
        else:
            m = _NAME.match(text, i)
            if m is None:
                raise ExpressionError(f"unexpected character {c!r} at position {i}", i)
            tokens.append(("name", m.group(), i))
            i = m.end()


def _read_string(text: str, start: int) -> tuple[str, int]:
    """A quoted string; backslash escapes \\n \\t \\r \\\\ \\' \\" and a doubled quote.

    Any other backslash is kept as written, so regular expressions such as '\\d+' need no doubling.
    """
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise ExpressionError(f"unterminated string starting at position {start}", start)


def _read_quoted_name(text: str, start: int) -> tuple[str, int]:
    """A `backticked` column name; any character is allowed, a doubled `` stands for one backtick."""
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        end = text.find("`", i)
        if end < 0:
            break
        out.append(text[i:end])
        if end + 1 < n and text[end + 1] == "`":
            out.append("`")
            i = end + 2
            continue
        name = "".join(out)
        if not name:
            raise ExpressionError(f"empty column name at position {start}", start)
        return name, end + 1
    raise ExpressionError(f"unterminated column name starting at position {start}", start)


# --- parser ----------------------------------------------------------------------------------------


def _describe(tok: Token) -> str:
    kind, value, _ = tok
    if kind == "end":
        return "end of expression"
    if kind == "str":
        return f"string {value!r}"
    if kind == "num":
        return f"number {value}"
    if kind == "name":
        return f"name '{value}'"
    if kind == "qname":
        return f"column `{value}`"
    return f"'{value}'"


class _Parser:
    __slots__ = ("tokens", "i")

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0

    def peek_op(self) -> object:
        tok = self.tokens[self.i]
        return tok[1] if tok[0] == "op" else None

    def expect_op(self, op: str) -> Token:
        tok = self.tokens[self.i]
        if tok[0] != "op" or tok[1] != op:
            raise ExpressionError(f"expected '{op}' at position {tok[2]}, found {_describe(tok)}", tok[2])
        self.i += 1
        return tok

    def keyword(self, word: str) -> int | None:
        """Position of the keyword `word` if it is the next token (not a function call)."""
        kind, value, pos = self.tokens[self.i]
        if kind == "name" and value.lower() == word:
            nxt = self.tokens[self.i + 1]
            if not (word == "not" and nxt[0] == "op" and nxt[1] == "("):
                return pos
        return None

    def expression(self) -> Node:
        left = self.conjunction()
        while (pos := self.keyword("or")) is not None:
            self.i += 1
            left = BinaryOp("or", left, self.conjunction(), pos)
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while (pos := self.keyword("and")) is not None:
            self.i += 1
            left = BinaryOp("and", left, self.negation(), pos)
        return left

    def negation(self) -> Node:
        pos = self.keyword("not")
        if pos is not None:
            self.i += 1
            operand = self.negation()
            _check_call(FUNCTIONS["not"], [operand], pos)
            return Call("not", (operand,), pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        op = self.peek_op()
        if op in COMPARISONS:
            pos = self.tokens[self.i][2]
            self.i += 1
            left = BinaryOp(op, left, self.sum(), pos)
        return left

    def sum(self) -> Node:
        left = self.product()
        while (op := self.peek_op()) in ("+", "-", "||"):
            pos = self.tokens[self.i][2]
            self.i += 1
            left = BinaryOp(op, left, self.product(), pos)
        return left

    def product(self) -> Node:
        left = self.unary()
        while (op := self.peek_op()) in ("*", "/"):
            pos = self.tokens[self.i][2]
            self.i += 1
            left = BinaryOp(op, left, self.unary(), pos)
        return left

    def unary(self) -> Node:
        if self.peek_op() == "-":
            pos = self.tokens[self.i][2]
            self.i += 1
            operand = self.unary()
            if isinstance(operand, Literal) and type(operand.value) in (int, float):
                return Literal(-operand.value, pos)
            return BinaryOp("-", Literal(0, pos), operand, pos)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tokens[self.i]
        kind, value, pos = tok
        if kind in ("num", "str"):
            self.i += 1
            return Literal(value, pos)
        if kind == "qname":
            self.i += 1
            return Column(value, pos)
        if kind == "name":
            self.i += 1
            if self.peek_op() == "(":
                return self.call(value, pos)
            lowered = value.lower()
            if lowered in _KEYWORDS:
                return Literal(_KEYWORDS[lowered], pos)
            return Column(value, pos)
        if kind == "op" and value == "(":
            self.i += 1
            node = self.expression()
            self.expect_op(")")
            return node
        raise ExpressionError(f"expected a value at position {pos}, found {_describe(tok)}", pos)

    def call(self, name: str, pos: int) -> Call:
        spec = _lookup(name, pos)
        self.expect_op("(")
        args: list[Node] = []
        if self.peek_op() != ")":
            args.append(self.expression())
            while self.peek_op() == ",":
                self.i += 1
                args.append(self.expression())
        self.expect_op(")")
        _check_call(spec, args, pos)
        return Call(spec.name, tuple(args), pos)


def _lookup(name: str, pos: int) -> FunctionSpec:
    spec = FUNCTIONS.get(name.lower())
    if spec is not None:
        return spec
    close = difflib.get_close_matches(name.lower(), FUNCTIONS, n=3, cutoff=0.6)
    if close:  # only the names about as close as the best one: 'lowr' suggests lower, not floor
        best = difflib.SequenceMatcher(None, name.lower(), close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, name.lower(), c).ratio() >= best - 0.1]
    if close:
        hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    else:
        hint = "known functions: " + ", ".join(sorted(FUNCTIONS))
    raise ExpressionError(f"unknown function '{name}' at position {pos}; {hint}", pos)


def _check_call(spec: FunctionSpec, args: list[Node], pos: int) -> None:
    if not spec.accepts(len(args)):
        raise ExpressionError(
            f"wrong number of arguments for '{spec.name}' at position {pos}: takes {spec.arity_text()}, "
            f"got {len(args)}; usage: {spec.signature}",
            pos,
        )
    for index, arg in enumerate(args):
        wanted = spec.literal_type(index)
        if wanted is None:
            continue
        ok = isinstance(arg, Literal) and isinstance(arg.value, wanted) and not isinstance(arg.value, bool)
        if not ok:
            kind = "an integer" if wanted is int else "a string"
            raise ExpressionError(
                f"argument '{spec.param_name(index)}' of '{spec.name}' at position {arg.pos} must be {kind} "
                f"literal",
                arg.pos,
            )
    if spec.check is not None:
        values = tuple(a.value if isinstance(a, Literal) else None for a in args)
        problem = spec.check(values)
        if problem:
            raise ExpressionError(f"{problem} in '{spec.name}' at position {pos}", pos)


@functools.lru_cache(maxsize=8192)
def parse(text: str) -> Node:
    """Parse an expression; raises ExpressionError. Cached: sources often share expressions."""
    parser = _Parser(_tokenize(text))
    if parser.tokens[0][0] == "end":
        raise ExpressionError("empty expression at position 0", 0)
    node = parser.expression()
    tok = parser.tokens[parser.i]
    if tok[0] != "end":
        raise ExpressionError(f"unexpected {_describe(tok)} at position {tok[2]}", tok[2])
    infer(node)
    return node


def result_type(text: str) -> str:
    """Static type of a (valid) expression: string, number, integer, boolean, date, timestamp, array or any."""
    kind = infer(parse(text))
    return "any" if kind == "null" else kind


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, left to right."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Call):
            stack.extend(reversed(current.args))
        elif isinstance(current, BinaryOp):
            stack.append(current.right)
            stack.append(current.left)


def column_refs(node: Node) -> list[Column]:
    """Column references in source order (with positions, for messages)."""
    return [n for n in iter_nodes(node) if isinstance(n, Column)]


def columns(node: Node) -> set[str]:
    """Names of the source columns an expression reads."""
    return {n.name for n in iter_nodes(node) if isinstance(n, Column)}
