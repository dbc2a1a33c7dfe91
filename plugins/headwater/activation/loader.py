"""Read audience files (`include/audiences/*.yaml`): YAML → `Audience`, every problem located.

Same contract as source files: `<file>: <path.inside[2].file>: <what is wrong>`, all issues at
once, and one broken file never hides the others (`load_audiences` returns the good audiences and
a placeholder per broken file, which the DAG file turns into a failing DAG).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from headwater import settings
from headwater.config.loader import MAX_ISSUES, Placeholder, _issue, format_loc, placeholder_id, read_yaml
from headwater.config.sections import ScheduleConfig
from headwater.errors import ConfigError, ConfigIssue

from .destinations.registry import REGISTRY, signals_of
from .models import IDENTITY_PREFIX, Audience, AudienceConfig

SUFFIXES = (".yaml", ".yml")
DAG_PREFIX = "audience_"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def audiences_dir() -> Path:
    value = os.environ.get("HEADWATER_AUDIENCES_DIR")
    return Path(os.path.abspath(os.path.expanduser(value))) if value else settings.include_dir() / "audiences"


@dataclass
class LoadedAudiences:
    audiences: list[Audience] = field(default_factory=list)
    errors: dict[str, list[ConfigIssue]] = field(default_factory=dict)
    placeholders: dict[str, Placeholder] = field(default_factory=dict)


def audience_files(directory: Path | None = None) -> list[Path]:
    folder = directory or audiences_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))


def load_audiences(directory: Path | None = None, *, sources: set[str] | None = None) -> LoadedAudiences:
    """Every audience file of the folder; `sources` (known source DAG ids) checks `schedule.sources`."""
    result = LoadedAudiences()
    for path in audience_files(directory):
        file = str(path)
        data: object = None
        try:
            data = read_yaml(path)
            audience = audience_from(path, data, sources=sources)
        except ConfigError as exc:
            issues = exc.issues[:MAX_ISSUES]
        except Exception as exc:  # the last line of defence: nothing in one file may break the parse
            issues = [ConfigIssue(file, "", f"cannot load this file ({type(exc).__name__}: {str(exc)[:300]})")]
        else:
            if any(a.dag_id == audience.dag_id for a in result.audiences):
                issues = [ConfigIssue(file, "dag_id", f"DAG id {audience.dag_id!r} is used by another audience file")]
            else:
                result.audiences.append(audience)
                continue
        result.errors[file] = issues
        claimed = data.get("dag_id") if isinstance(data, dict) else None
        dag_id = claimed if isinstance(claimed, str) and _NAME.match(claimed) else DAG_PREFIX + path.stem
        dag_id = placeholder_id(dag_id)
        if dag_id not in result.placeholders:
            result.placeholders[dag_id] = Placeholder(dag_id, [file], issues, _schedule_of(data))
    return result


def load_audience(path: Path | str, *, sources: set[str] | None = None) -> Audience:
    path = Path(path)
    return audience_from(path, read_yaml(path), sources=sources)


def find_audience(name: str, directory: Path | None = None) -> Audience:
    """The audience named `name` (file stem or DAG id); ConfigError when missing or invalid."""
    for path in audience_files(directory):
        if name in (path.stem, DAG_PREFIX + path.stem):
            return load_audience(path)
    loaded = load_audiences(directory)
    for audience in loaded.audiences:
        if audience.dag_id == name:
            return audience
    known = ", ".join(a.name for a in loaded.audiences) or "none"
    raise ConfigError([ConfigIssue(str(directory or audiences_dir()), "", f"no audience {name!r}; audiences: {known}")])


def audience_from(path: Path, data: dict, *, sources: set[str] | None = None) -> Audience:
    file = str(path)
    try:
        config = AudienceConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        issues = [_issue(file, err, data, AudienceConfig) for err in errors[:MAX_ISSUES]]
        issues += [ConfigIssue(file, format_loc(err["loc"]), err["msg"]) for err in errors[MAX_ISSUES:]]
        raise ConfigError(issues) from None
    audience = Audience(name=path.stem, dag_id=config.dag_id or DAG_PREFIX + path.stem, path=file, config=config)
    issues = [ConfigIssue(file, loc, message) for loc, message in cross_check(audience, sources)]
    if issues:
        raise ConfigError(issues)
    return audience


def cross_check(audience: Audience, sources: set[str] | None = None) -> list[tuple[str, str]]:
    """Checks between sections: attributes exist in the profile schema, destinations can do what is asked."""
    from headwater.mapping.expressions import column_refs, parse
    from headwater.target_schemas import load_target_schema

    config = audience.config
    problems: list[tuple[str, str]] = []
    try:
        schema = load_target_schema(config.profile_schema)
    except ConfigError as exc:
        return [("profile_schema", exc.issues[0].message)]
    if schema.kind != "profile":
        problems.append(("profile_schema", f"target schema {schema.name!r} is a {schema.kind} schema, not a profile schema"))
    names = set(schema.field_names)

    def unknown(text: str, loc: str) -> None:
        for ref in column_refs(parse(text)):
            if ref.name not in names and not ref.name.startswith(IDENTITY_PREFIX):
                problems.append((loc, f"{ref.name!r} at position {ref.pos} is not an attribute of profile schema "
                                      f"{schema.name!r} nor an identity (identity_<namespace>); attributes: {', '.join(schema.field_names)}"))

    unknown(config.condition, "condition")
    for i, var in enumerate(config.variables):
        unknown(var.expression, f"variables[{i}].{'expr' if var.expr is not None else 'from'}")
    for i, dest in enumerate(config.destinations):
        spec = REGISTRY[dest.type]
        for signal in dest.signals or ():
            if signal not in spec.signals:
                problems.append((f"destinations[{i}].signals", f"destination type {dest.type!r} does not support {signal!r}; it supports: {', '.join(sorted(spec.signals))}"))
        if dest.send_variables and not spec.variables:
            problems.append((f"destinations[{i}].send_variables", f"destination type {dest.type!r} does not take variables"))
        if not signals_of(dest):
            problems.append((f"destinations[{i}].signals", "no signal to send"))
        if spec.hashed and dest.identity not in ("email", "phone"):
            problems.append((f"destinations[{i}].identity", f"{dest.type!r} matches people by hashed email or phone, not {dest.identity!r}"))
    for i, name in enumerate(config.schedule.sources):
        if sources is not None and name not in sources:
            problems.append((f"schedule.sources[{i}]", f"no source {name!r}; sources: {', '.join(sorted(sources)) or 'none'}"))
    return problems


def _schedule_of(data: object) -> ScheduleConfig | None:
    if not isinstance(data, dict):
        return None
    try:
        schedule = dict(data.get("schedule") or {})
        schedule.pop("sources", None)
        return ScheduleConfig.model_validate(schedule)
    except Exception:
        return None
