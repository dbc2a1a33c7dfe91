"""Read source files: YAML → `Source`, with every problem reported at once and located.

A problem is reported as `<file>: <path.inside[2].file>: <what is wrong>`; for choices the valid
values are listed. `load_sources` never lets one broken file hide the others: it returns the good
sources and the issues of the bad ones side by side.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from headwater import settings
from headwater.config import safe_yaml
from headwater.config.base import FieldProblem
from headwater.config.checks import cross_check
from headwater.config.models import Source, SourceConfig
from headwater.config.sections import ScheduleConfig
from headwater.config.yaml_cache import load_yaml
from headwater.errors import ConfigError, ConfigIssue

SOURCE_SUFFIXES = (".yaml", ".yml")
MAX_ISSUES = 50  # per file: a file with 100k unknown keys is one readable error, not 16 MB of them
_DAG_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Placeholder:
    """A DAG id that gets a failing placeholder DAG instead of a source's DAG, and why."""

    dag_id: str
    files: list[str]
    issues: list[ConfigIssue]
    schedule: ScheduleConfig | None = None  # the file's own schedule, when that section alone is valid


@dataclass
class LoadedSources:
    """Outcome of reading a folder: the valid sources, and the issues of every invalid file.

    Every invalid file is in `errors`; `placeholders` says which DAG id shows it in Airflow (a file
    that lost a DAG-id conflict to the file named after that id may have none).
    """

    sources: list[Source] = field(default_factory=list)
    errors: dict[str, list[ConfigIssue]] = field(default_factory=dict)
    placeholders: dict[str, Placeholder] = field(default_factory=dict)

    def placeholder_of(self, file: str) -> Placeholder | None:
        return next((p for p in self.placeholders.values() if file in p.files), None)


@dataclass
class _Entry:
    file: str
    dag_id: str  # the id the file claims: its DAG's, else its readable `dag_id:`, else its name
    source: Source | None
    issues: list[ConfigIssue]
    data: object = None
    placeholder_id: str | None = None


def source_files(directory: Path | None = None) -> list[Path]:
    folder = directory or settings.sources_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SOURCE_SUFFIXES and not p.name.startswith("."))


def load_sources(directory: Path | None = None, *, check: bool = True) -> LoadedSources:
    """Load every source file of a folder; a broken file is reported, never fatal for the others."""
    return load_files(source_files(directory), check=check)


def load_files(paths: typing.Iterable[Path], *, check: bool = True) -> LoadedSources:
    """Load source files together: each on its own, then the conflicts between them.

    Conflicts (see docs/sources.md): two files claiming one DAG id, two sources writing one lake
    table. A file never silently takes over another's DAG or table: the file named after a DAG id
    owns that id (a new file declaring `dag_id: crm` cannot hijack `crm.yaml`), a source whose
    table is its default (from its DAG id) owns that table; every other file in the conflict gets
    a config error naming the others, and with no owner none of them gets the DAG.
    """
    entries = [_load_entry(Path(path), check) for path in paths]
    _resolve_dag_ids(entries)
    _resolve_lake_tables(entries)
    result = LoadedSources()
    for entry in entries:
        if entry.source is not None:
            result.sources.append(entry.source)
            continue
        result.errors[entry.file] = _capped(entry.file, entry.issues)
        if entry.placeholder_id is None:
            continue
        holder = result.placeholders.get(entry.placeholder_id)
        if holder is None:
            result.placeholders[entry.placeholder_id] = Placeholder(
                entry.placeholder_id, [entry.file], list(result.errors[entry.file]), _schedule_of(entry.data)
            )
        else:  # several files, no owner: one placeholder names them all, and keeps no schedule
            holder.files.append(entry.file)
            holder.issues += result.errors[entry.file]
            holder.schedule = None
    return result


def _load_entry(path: Path, check: bool) -> _Entry:
    file = str(path)
    data: object = None
    try:
        data = _read_yaml(path)
        source = _source_from(path, data, check)
        return _Entry(file, source.dag_id, source, [], data)
    except ConfigError as exc:
        issues = exc.issues
    except Exception as exc:  # the last line of defence: nothing in one file may break the parse
        text = str(exc)
        text = text if len(text) <= 300 else text[:300] + "…"
        issues = [ConfigIssue(file, "", f"cannot load this file ({type(exc).__name__}: {text})")]
    claimed = data.get("dag_id") if isinstance(data, dict) else None
    if not (isinstance(claimed, str) and _DAG_ID.match(claimed)):
        claimed = path.stem
    return _Entry(file, claimed, None, issues, data)


def _resolve_dag_ids(entries: list[_Entry]) -> None:
    by_id: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_id.setdefault(entry.dag_id, []).append(entry)
    taken = set(by_id)
    for dag_id, group in by_id.items():
        if len(group) == 1:
            group[0].placeholder_id = placeholder_id(dag_id)
            continue
        named = [e for e in group if Path(e.file).stem == dag_id]
        owner = named[0] if len(named) == 1 else None
        for entry in group:
            if entry is owner:
                entry.placeholder_id = placeholder_id(dag_id)
                continue
            others = ", ".join(o.file for o in group if o is not entry)
            if owner is not None:
                message = (
                    f"DAG id {dag_id!r} belongs to {owner.file}, the file named after it; "
                    "choose another dag_id for this file"
                )
                # shown under its own name when that is free, never under the owner's id
                stem = placeholder_id(Path(entry.file).stem)
                entry.placeholder_id = stem if stem not in taken else None
                taken.add(stem)
            else:
                message = (
                    f"DAG id {dag_id!r} is also claimed by {others}; no file is named {dag_id}.yaml, "
                    "so none of them gets the DAG: change all but one dag_id"
                )
                entry.placeholder_id = placeholder_id(dag_id)
            entry.source = None
            entry.issues = [*entry.issues, ConfigIssue(entry.file, "dag_id", message)]


def _resolve_lake_tables(entries: list[_Entry]) -> None:
    by_table: dict[str, list[_Entry]] = {}
    for entry in entries:
        if entry.source is not None:
            by_table.setdefault(entry.source.lake_table, []).append(entry)
    for table, group in by_table.items():
        if len(group) == 1:
            continue
        default = [e for e in group if e.source.config.load.table is None]
        owner = default[0] if len(default) == 1 else None
        for entry in group:
            if entry is owner:
                continue
            others = ", ".join(o.file for o in group if o is not entry)
            if owner is not None:
                message = (
                    f"lake table {table!r} is written by {owner.file} (its default table); "
                    "choose another load.table"
                )
            else:
                message = f"lake table {table!r} is also written by {others}; give each source its own load.table"
            entry.source = None
            entry.issues = [*entry.issues, ConfigIssue(entry.file, "load.table", message)]


def placeholder_id(name: str) -> str:
    """`name` as a valid Airflow DAG id (a file name may hold characters a DAG id cannot)."""
    return name if _DAG_ID.match(name) else re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def _schedule_of(data: object) -> ScheduleConfig | None:
    """The schedule section of a broken file, when that section alone is valid."""
    if not isinstance(data, dict):
        return None
    try:
        return ScheduleConfig.model_validate(data.get("schedule") or {})
    except Exception:
        return None


def _capped(file: str, issues: list[ConfigIssue]) -> list[ConfigIssue]:
    if len(issues) <= MAX_ISSUES:
        return issues
    return [*issues[:MAX_ISSUES], ConfigIssue(file, "", f"… and {len(issues) - MAX_ISSUES:,} more issue(s)")]


def load_source(path: Path | str, *, check: bool = True) -> Source:
    """Parse and validate one source file; raise `ConfigError` listing every issue (at most MAX_ISSUES)."""
    path = Path(path)
    try:
        return _source_from(path, _read_yaml(path), check)
    except ConfigError as exc:
        raise ConfigError(_capped(str(path), exc.issues)) from None


def _source_from(path: Path, data: dict, check: bool) -> Source:
    file = str(path)
    try:
        config = SourceConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # only the issues that will be shown are formatted (did-you-mean costs ~50 µs each)
        issues = [_issue(file, err, data) for err in errors[:MAX_ISSUES]]
        issues += [ConfigIssue(file, format_loc(err["loc"]), err["msg"]) for err in errors[MAX_ISSUES:]]
        raise ConfigError(issues) from None
    source = Source(dag_id=config.dag_id or path.stem, path=file, config=config)
    if check:
        issues = [ConfigIssue(file, loc, message) for loc, message in cross_check(source)]
        if issues:
            raise ConfigError(issues)
    return source


def read_yaml(path: Path) -> dict:
    """A YAML file as a mapping, bounded and safely loaded; ConfigError with the location otherwise."""
    return _read_yaml(path)


def _read_yaml(path: Path) -> dict:
    file = str(path)
    try:
        if not path.is_file():  # a FIFO would block the parse on open(); a folder cannot be read
            raise ConfigError([ConfigIssue(file, "", "not a regular file")])
        with open(path, "rb") as f:
            raw = f.read(safe_yaml.MAX_BYTES + 1)  # never read more than a source file may hold
        raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(file, "", f"cannot read file: {exc}")]) from None
    if len(raw) > safe_yaml.MAX_BYTES:
        raise ConfigError([ConfigIssue(file, "", f"the file is larger than {safe_yaml.MAX_BYTES:,} bytes, the limit of a source file")])
    try:
        data = load_yaml(raw)
    except safe_yaml.YamlProblems as exc:
        raise ConfigError([ConfigIssue(file, loc, message) for loc, message in exc.problems]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # the composer's problem ("but found another document") only reads well after its context
        what = f"{exc.context}, {exc.problem}" if isinstance(exc, yaml.composer.ComposerError) else exc.problem
        raise ConfigError([ConfigIssue(file, where, f"invalid YAML: {what}")]) from None
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


def _issue(file: str, err: dict, data: object, root: type[BaseModel] | None = None) -> ConfigIssue:
    """A pydantic error as a located issue; `root` is the file's model (default: the source file)."""
    loc = _strip_tags(err["loc"], data)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = loc[-1]
        valid = _valid_keys(loc[:-1], data, root)
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
        message = f"'type' is missing; valid types: {_tags_of(loc, data, root)}"
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
        # (an alert without `type` is a webhook: its tag is "webhook" though the key is absent)
        if isinstance(node, dict) and part not in node and node.get("type", "webhook") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _valid_keys(loc: tuple, data: object, root: type[BaseModel] | None = None) -> list[str]:
    model = _model_at(loc, data, root)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple, data: object, root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    """Follow a location through the model classes (and the data, for tagged unions)."""
    annotation: object = root or SourceConfig
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


def _tags_of(loc: tuple, data: object, root: type[BaseModel] | None = None) -> str:
    if root is None and loc and loc[0] == "connector":
        from headwater.connectors.registry import REGISTRY
    elif root is not None and loc and loc[0] == "destinations":
        from headwater.activation.destinations.registry import REGISTRY
    else:
        return "see the schema"
    return ", ".join(repr(t) for t in REGISTRY)
