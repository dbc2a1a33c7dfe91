"""One source file's YAML → Python data, bounded and strict, with the C parser's speed.

A source file is read by the dag-processor at every parse, next to every other source file, so one
file must not be able to stall or crash that parse:

- size, nesting depth and the number of nodes (counting what aliases expand to) are bounded before
  anything is built. libyaml composes nested collections recursively in C: a 100,000-deep `[[[...`
  (200 KB) overflows its stack and kills the process, so depth is checked on the event stream,
  which libyaml produces without recursion;
- aliases are allowed (`&defaults` / `*defaults` keep long files short) but few, and what they
  expand to counts against the node budget, so an alias bomb (9 levels of 10 aliases = 10^9 nodes)
  is refused at once, long before pydantic, the cache or Great Expectations could walk it; an
  alias inside its own anchor (a recursive structure) is refused too;
- a key given twice in one mapping is an error with both lines: YAML itself keeps the last one,
  so two `connector:` sections or `from:` twice would silently drop one.

Every problem is raised as `YamlProblems` with a location (`line L, column C`) and a message.
"""

from __future__ import annotations

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, ScalarNode

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser is ~9x faster than pure Python

MAX_BYTES = 1 << 20  # a real source file is a few KB; 1 MiB leaves room for long mappings
MAX_DEPTH = 64  # real files nest ~6 levels (a JSON schema inside an expectation a few more)
MAX_NODES = 50_000  # scalars + collections, aliases counted as what they expand to
MAX_ALIASES = 100

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblems(ValueError):
    """The YAML of a source file is refused: `problems` is a list of (location, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in problems))
        self.problems = problems


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def check_limits(raw: bytes) -> None:
    """Refuse a document that is too large, too deep or expands too far, before it is composed."""
    if len(raw) > MAX_BYTES:
        raise YamlProblems([("", f"the file has {len(raw):,} bytes; a source file may have at most {MAX_BYTES:,}")])
    loader = _BASE(raw)
    try:
        nodes = aliases = 0
        sizes: dict[str, int] = {}  # anchor → nodes it expands to
        stack: list[tuple[str | None, int]] = []  # open collections: (anchor, nodes before it)
        while (event := loader.get_event()) is not None:  # YAML syntax errors propagate as they are
            kind = type(event)
            if kind is ScalarEvent:
                nodes += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                stack.append((event.anchor, nodes))
                nodes += 1
                if len(stack) > MAX_DEPTH:
                    raise YamlProblems(
                        [(_where(event.start_mark), f"nested deeper than {MAX_DEPTH} levels; a source file may nest at most {MAX_DEPTH}")]
                    )
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                anchor, before = stack.pop()
                if anchor:
                    sizes[anchor] = nodes - before
            elif kind is AliasEvent:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise YamlProblems(
                        [(_where(event.start_mark), f"more than {MAX_ALIASES} aliases (*name); write the values out")]
                    )
                if event.anchor not in sizes:
                    # either undefined (the composer says so below) or still open: a recursive structure
                    if any(anchor == event.anchor for anchor, _ in stack):
                        raise YamlProblems(
                            [(_where(event.start_mark), f"alias *{event.anchor} is inside its own anchor (a recursive structure)")]
                        )
                    continue
                nodes += sizes[event.anchor]
            if nodes > MAX_NODES:
                raise YamlProblems(
                    [
                        (
                            _where(event.start_mark),
                            f"more than {MAX_NODES:,} YAML nodes (aliases counted as what they expand to); "
                            "a source file describes one source",
                        )
                    ]
                )
    finally:
        loader.dispose()


class _StrictLoader(_BASE):
    """The safe loader, with duplicate keys collected as problems instead of the last one winning."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, str]] = []

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[object, object] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue  # `<<: *base` merges are meant to be overridden by the keys beside them
                key = self.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # unhashable: the base constructor reports it
                if first is not key_node:
                    self.duplicates.append(
                        (
                            _where(key_node.start_mark),
                            f"duplicate key {key!r} (first at {_where(first.start_mark)}); "
                            "YAML would silently keep only the last one",
                        )
                    )
        return super().construct_mapping(node, deep=deep)


def load(raw: bytes) -> object:
    """The document in `raw`; `YamlProblems` for limits and duplicate keys, `yaml.YAMLError` for syntax."""
    check_limits(raw)
    loader = _StrictLoader(raw)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    if loader.duplicates:
        raise YamlProblems(loader.duplicates)
    return data
