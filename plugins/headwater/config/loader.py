"""Read source files: YAML → `Source`, with every problem reported at once and located.

A problem is reported as `<file>: <path.inside[2].file>: <what is wrong>`; for choices the valid
values are listed. `load_sources` never lets one broken file hide the others: it returns the good
sources and the issues of the bad ones side by side.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from headwater import settings
from headwater.config.base import FieldProblem
from headwater.config.checks import cross_check
from headwater.config.models import Source, SourceConfig
from headwater.config.yaml_cache import load_yaml
from headwater.errors import ConfigError, ConfigIssue

SOURCE_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadedSources:
    """Outcome of reading a folder: the valid sources, and the issues of every invalid file."""

    sources: list[Source] = field(default_factory=list)
    errors: dict[str, list[ConfigIssue]] = field(default_factory=dict)


def source_files(directory: Path | None = None) -> list[Path]:
    folder = directory or settings.sources_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SOURCE_SUFFIXES and not p.name.startswith("."))


def load_sources(directory: Path | None = None, *, check: bool = True) -> LoadedSources:
    """Load every source file of a folder; a broken file is reported, never fatal for the others."""
    result = LoadedSources()
    seen: dict[str, str] = {}
    for path in source_files(directory):
        try:
            source = load_source(path, check=check)
        except ConfigError as exc:
            result.errors[str(path)] = exc.issues
            continue
        if source.dag_id in seen:
            result.errors[str(path)] = [
                ConfigIssue(str(path), "dag_id", f"DAG id {source.dag_id!r} is already used by {seen[source.dag_id]}")
            ]
            continue
        seen[source.dag_id] = str(path)
        result.sources.append(source)
    return result


def load_source(path: Path | str, *, check: bool = True) -> Source:
    """Parse and validate one source file; raise `ConfigError` listing every issue."""
    path = Path(path)
    file = str(path)
    data = _read_yaml(path)
    try:
        config = SourceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_issue(file, err, data) for err in exc.errors()]) from None
    source = Source(dag_id=config.dag_id or path.stem, path=file, config=config)
    if check:
        issues = [ConfigIssue(file, loc, message) for loc, message in cross_check(source)]
        if issues:
            raise ConfigError(issues)
    return source


def _read_yaml(path: Path) -> dict:
    file = str(path)
    try:
        raw = path.read_bytes()
        raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(file, "", f"cannot read file: {exc}")]) from None
    try:
        data = load_yaml(raw)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([ConfigIssue(file, where, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, "", f"invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ConfigError([ConfigIssue(file, "", f"expected a mapping of sections (connector, mapping, ...), got {got}")])
    return data


# --- turning pydantic errors into located, actionable messages -------------------------------------


def format_loc(parts: typing.Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _issue(file: str, err: dict, data: object) -> ConfigIssue:
    loc = _strip_tags(err["loc"], data)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = loc[-1]
        valid = _valid_keys(loc[:-1], data)
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(str(key), valid, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif valid:
            message += f"; valid keys: {', '.join(valid)}"
    elif kind == "missing":
        message = f"required key {loc[-1]!r} is missing"
    elif kind == "literal_error":
        message = f"expected one of {ctx.get('expected')}, got {err.get('input')!r}"
    elif kind == "union_tag_invalid":
        message = f"unknown type {ctx.get('tag')!r}; valid types: {ctx.get('expected_tags')}"
        loc = (*loc, "type")
    elif kind == "union_tag_not_found":
        message = f"'type' is missing; valid types: {_tags_of(loc, data)}"
    elif kind in ("value_error", "assertion_error"):
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if isinstance(ctx.get("error"), FieldProblem):
            loc = (*loc, *(int(p) if p.isdigit() else p for p in ctx["error"].field.split(".")))
    else:
        message = f"{err['msg'][0].lower()}{err['msg'][1:]}"
        # pydantic's own errors (they carry a docs url) do not say what they received; ours do
        if "url" in err and "input" in err and not isinstance(err["input"], dict | list):
            message += f", got {err['input']!r}"
    return ConfigIssue(file, format_loc(loc), message)


def _strip_tags(loc: tuple, data: object) -> tuple:
    """Drop the discriminator values pydantic inserts into locations (`connector.postgres.cursor`)."""
    out: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _valid_keys(loc: tuple, data: object) -> list[str]:
    model = _model_at(loc, data)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple, data: object) -> type[BaseModel] | None:
    """Follow a location through the model classes (and the data, for tagged unions)."""
    annotation: object = SourceConfig
    node = data
    for part in (*loc, None):
        model = _resolve(annotation, node)
        if part is None:
            return model
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else None
        elif model is not None:
            fields = {f.alias or name: f for name, f in model.model_fields.items()}
            annotation = fields[part].annotation if part in fields else None
        else:
            return None
        node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
    return None


def _has(node: dict | list, part: str | int) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and part < len(node)


def _resolve(annotation: object, node: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        model = _resolve(arg, node)
        if model is None:
            continue
        tag = model.model_fields.get("type")
        if tag is None or not isinstance(node, dict) or node.get("type") in typing.get_args(tag.annotation):
            return model
    return None


def _tags_of(loc: tuple, data: object) -> str:
    from headwater.connectors.registry import REGISTRY

    return ", ".join(repr(t) for t in REGISTRY) if loc and loc[0] == "connector" else "see the schema"
