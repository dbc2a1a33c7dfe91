"""One JSON record (a line of JSON lines, an item of a JSON array) parsed within the reader's limits.

Python's parser recurses once per nesting level (a line nested 100,000 deep raises RecursionError,
and pyarrow's JSON parser crashes the process on it), and it turns a lone surrogate escape
(`"\\uDFAA"`) into a string that cannot be written as UTF-8 anywhere later. Both are problems of
one record, so they are reported as that record's error and the reader goes on with the next.
"""

from __future__ import annotations

import json
import re

# Deepest nesting of objects and arrays a record may have (the record itself is level 1).
MAX_JSON_DEPTH = 100
# A surrogate escape: valid only as a high+low pair, which json.loads joins into one character.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class RecordProblem(ValueError):
    """A record that cannot be taken: `code` is the quarantine error code, the text says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_record(text: str) -> object:
    """`text` (one JSON value) parsed; RecordProblem when it breaks a limit or is not valid JSON."""
    check_depth(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordProblem("MALFORMED_ROW", f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:  # only if the stack was already deep: check_depth bounds the nesting
        raise RecordProblem("MALFORMED_ROW", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_text(text, value)
    return value


def check_depth(text: str, start: int = 0, end: int | None = None) -> None:
    """RecordProblem when the JSON in `text[start:end]` nests deeper than MAX_JSON_DEPTH.

    Counting brackets is C-speed; the exact scan (which skips brackets inside strings) runs only
    when there are more opening brackets than the limit.
    """
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_JSON_DEPTH:
        return
    if nesting_depth(text, start, end) > MAX_JSON_DEPTH:
        raise RecordProblem("MALFORMED_ROW", f"nested deeper than {MAX_JSON_DEPTH} levels")


def nesting_depth(text: str, start: int = 0, end: int | None = None) -> int:
    """Deepest nesting of `[` / `{` in the JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text[start:end]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def value_end(text: str, start: int) -> int:
    """Index just past the JSON value starting at `start` (brackets matched, strings skipped).

    Used to step over a record the parser refused (too deep), so the next one can be read.
    """
    depth = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                if depth == 0:
                    return i + 1
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth <= 0:
                return i + 1
        elif depth == 0 and ch in ",\n\r\t ":
            return i
    return len(text)


def check_text(text: str, value: object) -> None:
    """RecordProblem (BAD_ENCODING) when a key or string of the parsed value is a lone surrogate.

    Only records whose text holds a surrogate escape are walked (a pair is fine: it is one character).
    """
    if "\\u" not in text or not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RecordProblem("BAD_ENCODING", "a key or value is a lone surrogate escape (\\ud800-\\udfff), not text") from None
