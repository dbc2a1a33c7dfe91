"""Checks that a connector's `query` is one read-only SELECT/WITH statement (stdlib only).

This is the first line of defence, applied when the source file is validated; the extract also
runs in a read-only transaction wherever the database supports one.
"""

from __future__ import annotations

import re

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
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR_TAG = re.compile(r"\$[A-Za-z_0-9]*\$")


def _code_parts(sql: str) -> tuple[list[str], bool]:
    """Words outside comments, literals and quoted identifiers, and whether a `;` is followed by more SQL."""
    words: list[str] = []
    code: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\" and ch == "'":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            code.append(" ")
            i = j + 1
        elif ch == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(), tag.end())
            code.append(" ")
            i = n if end < 0 else end + len(tag.group())
        else:
            code.append(ch)
            i += 1
    text = "".join(code)
    words = [w.upper() for w in _WORD.findall(text)]
    body = text.strip().rstrip(";").strip()
    return words, ";" in body


def check_read_only_query(query: str) -> str:
    """Return `query` without a trailing `;`, or raise ValueError saying why it is not read-only."""
    stripped = query.strip().rstrip(";").strip()
    words, several = _code_parts(stripped)
    if not words:
        raise ValueError("query is empty")
    if words[0] not in ("SELECT", "WITH"):
        raise ValueError(
            f"query must be a single read-only SELECT or WITH statement; it starts with {words[0]}"
        )
    if several:
        raise ValueError("query must be a single statement; remove the ';' and what follows it")
    found = [w for w in _FORBIDDEN if w in words]
    if found:
        raise ValueError(f"query must be read-only; it contains {', '.join(found)}")
    return stripped
