"""Source names the commands accept (DAG ids of the source files), and "did you mean" when one is unknown."""

from __future__ import annotations

import difflib


def source_names() -> list[str]:
    """DAG ids of every source file in the sources folder (the file name for a file that does not parse)."""
    from headwater.config.loader import load_source, source_files
    from headwater.errors import ConfigError

    names = []
    for path in source_files():
        try:
            names.append(load_source(path, check=False).dag_id)
        except ConfigError:
            names.append(path.stem)
    return sorted(set(names))


def unknown_source(name: str, known: list[str]) -> str:
    """Message for a name that is no source: the closest names, or every name when few."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        hint = f"sources: {', '.join(known) or 'none'}"
    return f"no source {name!r}; {hint}"
