"""Identity namespaces: declared in `include/identities.yaml`, with built-in defaults.

Each namespace says how its values are normalised before they are compared, whether a shared
value links two records into one profile, and how many distinct values one profile may hold
(the guard against over-merging: one crm_id per person, a few emails).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from headwater import settings
from headwater.config.base import StrictModel
from headwater.errors import ConfigError, ConfigIssue

Normaliser = Literal["email", "phone", "id", "lower", "none"]
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class Namespace(StrictModel):
    """How one identity namespace behaves."""

    normalise: Normaliser = Field(
        "id",
        description="email: trimmed, lower-cased; phone: E.164; id: trimmed; lower: trimmed, "
        "lower-cased; none: as given.",
    )
    links: bool = Field(True, description="Whether records sharing a value belong to one profile.")
    max_per_profile: int | None = Field(
        None, ge=1, description="Most distinct values one profile may hold; a merge beyond it is refused."
    )


BUILT_IN: dict[str, Namespace] = {
    "email": Namespace(normalise="email", max_per_profile=3),
    "phone": Namespace(normalise="phone", max_per_profile=3),
    "crm_id": Namespace(max_per_profile=1),
    "loyalty_id": Namespace(max_per_profile=1),
    "customer_id": Namespace(max_per_profile=1),
    # Shared devices and cookies (a family laptop) must not fuse people: kept, never linking.
    "device_id": Namespace(links=False),
    "cookie_id": Namespace(links=False),
}
UNDECLARED = Namespace()  # a custom namespace nobody declared: a trimmed id that links


class IdentityConfig(StrictModel):
    """The whole `identities.yaml`: a default phone region and namespaces (merged over the built-ins)."""

    default_region: str = Field(
        "GB", pattern=r"^[A-Z]{2}$", description="Region of phone numbers written without +country code."
    )
    namespaces: dict[str, Namespace] = Field(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        for name in self.namespaces:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"namespace '{name}' must be lowercase letters, digits and _")

    def namespace(self, name: str) -> Namespace:
        return self.namespaces.get(name) or BUILT_IN.get(name) or UNDECLARED

    def limits(self, extra: set[str] = frozenset()) -> dict[str, int]:
        """{namespace: max_per_profile} of every limited namespace (declared, built in, or in `extra`)."""
        names = set(BUILT_IN) | set(self.namespaces) | set(extra)
        return {n: m for n in sorted(names) if (m := self.namespace(n).max_per_profile)}

    def normaliser(self, name: str) -> Callable[[object], str | None]:
        """Function giving the comparable form of a value of namespace `name` (None: no value)."""
        kind = self.namespace(name).normalise
        if kind == "phone":
            region = self.default_region
            return lambda value: _phone(value, region)
        return _SIMPLE[kind]


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lower(value: object) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _none(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


_SIMPLE: dict[str, Callable[[object], str | None]] = {"email": _lower, "lower": _lower, "id": _text, "none": _none}
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _phone(value: object, region: str) -> str | None:
    text = _text(value)
    if text is None:
        return None
    # Values already in E.164 form are kept: parsing costs ~25 µs, most of a chunk's budget.
    return text if _E164.match(text) else _parse_phone(text, region)


@functools.lru_cache(maxsize=65536)
def _parse_phone(text: str, region: str) -> str | None:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identities_path() -> Path:
    return settings.include_dir() / "identities.yaml"


def load_identities(path: Path | None = None) -> IdentityConfig:
    """`include/identities.yaml` (built-in defaults when the file is absent); ConfigError when invalid."""
    path = Path(path) if path is not None else identities_path()
    if not path.is_file():
        return IdentityConfig()
    return _load(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> IdentityConfig:
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(path, "", f"not valid YAML: {exc}")]) from None
    try:
        return IdentityConfig.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(path, ".".join(str(p) for p in err["loc"]), err["msg"])
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError(issues) from None
