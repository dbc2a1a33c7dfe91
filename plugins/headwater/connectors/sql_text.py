"""Checks that a connector's `query` is one read-only SELECT/WITH statement (stdlib only).

This is the first line of defence, applied when the source file is validated; the extract also
runs in a read-only transaction wherever the database supports one.

The check must see the query as the database will, or a `;` and a DELETE can hide where it
believes a string or comment goes on (or the reverse). Where that depends on the dialect it is
read the dialect's way: PostgreSQL dollar quotes, nested block comments, E'' strings and `--`
comments that a carriage return ends too; MySQL
`#` comments, `-- ` only before a blank, `/*! … */` comments that MySQL executes, and backticks;
SQLite and SQL Server `[identifiers]`, SQL Server's nested block comments. Where it depends on a server setting the query is read every possible
way and must pass each: a backslash in a PostgreSQL string escapes the quote only with
`standard_conforming_strings` off; in MySQL it does unless `NO_BACKSLASH_ESCAPES`, and `"` quotes
an identifier instead of a string under `ANSI_QUOTES`. An unknown dialect gets every reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Keywords that change data or schema and can appear inside an otherwise SELECT-looking statement
# (data-modifying CTEs, SELECT ... INTO, FOR UPDATE). Function names such as REPLACE are allowed.
_FORBIDDEN = (
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "DROP",
    "CREATE",
    "ALTER",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    "COPY",
    "CALL",
    "INTO",
)
# Identifiers (and keywords): PostgreSQL and MySQL allow `$` after the first character, and a
# `$` inside a word never opens a dollar quote. Non-ASCII letters are identifier characters too.
_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
# PostgreSQL dollar-quote delimiter: $$ or $tag$ (tag as an identifier without `$`; `$1` is a parameter).
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
# MySQL/MariaDB executable comments: `/*!`, `/*!50700`, `/*M!`, `/*M!100100`; their text is run.
_EXEC_COMMENT = re.compile(r"/\*M?!\d*")


@dataclass(frozen=True)
class _Reading:
    """One way a dialect (with one choice of server settings) splits text into code and the rest."""

    # opening quote -> (closing quote, whether a backslash escapes the next character)
    quotes: dict[str, tuple[str, bool]] = field(hash=False)
    e_strings: bool = False  # PostgreSQL E'...': backslash escapes whatever the settings
    dollar_quotes: bool = False
    nested_comments: bool = False
    hash_comments: bool = False
    dash_comment_needs_blank: bool = False  # MySQL: `--` starts a comment only before a blank
    executable_comments: bool = False
    line_ends: str = "\n"  # what ends a `--` or `#` comment (PostgreSQL: \r as well)


def _postgres(backslash: bool) -> _Reading:
    return _Reading(
        quotes={"'": ("'", backslash), '"': ('"', False)},
        e_strings=True,
        dollar_quotes=True,
        nested_comments=True,
        line_ends="\n\r",
    )


def _mysql(backslash: bool, ansi_quotes: bool) -> _Reading:
    return _Reading(
        quotes={"'": ("'", backslash), '"': ('"', backslash and not ansi_quotes), "`": ("`", False)},
        hash_comments=True,
        dash_comment_needs_blank=True,
        executable_comments=True,
    )


READINGS: dict[str, tuple[_Reading, ...]] = {
    # standard_conforming_strings on (the default since 9.1), then off
    "postgres": (_postgres(False), _postgres(True)),
    # default sql_mode; NO_BACKSLASH_ESCAPES; ANSI_QUOTES (with or without backslash escapes)
    "mysql": (_mysql(True, False), _mysql(False, False), _mysql(True, True), _mysql(False, True)),
    "sqlite": (
        _Reading(quotes={"'": ("'", False), '"': ('"', False), "`": ("`", False), "[": ("]", False)}),
    ),
    # T-SQL: [identifiers], no backslash escapes, block comments nest
    "mssql": (_Reading(quotes={"'": ("'", False), '"': ('"', False), "[": ("]", False)}, nested_comments=True),),
}
READINGS["generic"] = tuple(r for readings in READINGS.values() for r in readings)


def _end_of_quoted(sql: str, start: int, close: str, backslash: bool) -> int:
    """Index just past the literal or quoted identifier whose opening quote is at `start - 1`."""
    j, n = start, len(sql)
    while j < n:
        ch = sql[j]
        if backslash and ch == "\\":
            j += 2
            continue
        if ch == close:
            if j + 1 < n and sql[j + 1] == close:  # a doubled quote stands for itself
                j += 2
                continue
            return j + 1
        j += 1
    return n  # unterminated: the database rejects the statement, so nothing after it runs


def _end_of_line(sql: str, start: int, ends: str) -> int:
    """Index of the first character in `ends` from `start` on (the end of the text if none)."""
    found = [i for i in (sql.find(ch, start) for ch in ends) if i >= 0]
    return min(found) if found else len(sql)


def _end_of_block_comment(sql: str, start: int, nested: bool) -> int:
    depth, j, n = 1, start, len(sql)
    while j < n:
        if sql.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif nested and sql.startswith("/*", j):
            depth += 1
            j += 2
        else:
            j += 1
    return n


def _code(sql: str, reading: _Reading) -> str:
    """`sql` with every literal, quoted identifier and comment replaced by one space."""
    code: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if word := _WORD.match(sql, i):
            i = word.end()
            code.append(word.group())
            if reading.e_strings and word.group() in ("E", "e") and i < n and sql[i] == "'":
                i = _end_of_quoted(sql, i + 1, "'", backslash=True)
                code.append(" ")
            continue
        if (
            ch == "-"
            and sql.startswith("--", i)
            and (not reading.dash_comment_needs_blank or i + 2 >= n or sql[i + 2] <= " ")
        ) or (ch == "#" and reading.hash_comments):
            i = _end_of_line(sql, i, reading.line_ends)
        elif reading.executable_comments and (opener := _EXEC_COMMENT.match(sql, i)):
            i = opener.end()  # the text inside is code; its `*/` is left as harmless punctuation
        elif sql.startswith("/*", i):
            i = _end_of_block_comment(sql, i + 2, reading.nested_comments)
        elif ch in reading.quotes:
            close, backslash = reading.quotes[ch]
            i = _end_of_quoted(sql, i + 1, close, backslash)
        elif ch == "$" and reading.dollar_quotes and (tag := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(), tag.end())
            i = n if end < 0 else end + len(tag.group())
        else:
            code.append(ch)
            i += 1
            continue
        code.append(" ")
    return "".join(code)


def _problem(stripped: str, reading: _Reading) -> str | None:
    text = _code(stripped, reading)
    words = [w.upper() for w in _WORD.findall(text)]
    if not words:
        return "query is empty"
    if words[0] not in ("SELECT", "WITH"):
        return f"query must be a single read-only SELECT or WITH statement; it starts with {words[0]}"
    if ";" in text.strip().rstrip(";"):
        return "query must be a single statement; remove the ';' and what follows it"
    found = [w for w in _FORBIDDEN if w in words]
    if found:
        return f"query must be read-only; it contains {', '.join(found)}"
    return None


def check_read_only_query(query: str, dialect: str = "generic") -> str:
    """Return `query` without a trailing `;`, or raise ValueError saying why it is not read-only.

    `dialect` is `postgres`, `mysql`, `sqlite`, `mssql` or `generic` (every reading of them all).
    """
    stripped = query.strip().rstrip(";").strip()
    for reading in READINGS[dialect]:
        problem = _problem(stripped, reading)
        if problem:
            raise ValueError(problem)
    return stripped
