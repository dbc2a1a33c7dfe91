"""Validate: each signal names its person by an identity the destination can use.

Vectorised on Arrow. A missing identity is `IDENTITY_MISSING`, a malformed one (not an email, not
E.164) `IDENTITY_MALFORMED`; those signals are not sent (and so not acknowledged: they come back
next run, once the profile has a usable identity). Destinations that match people by hashed
identities get `hashed`: SHA-256 of the normalised value (email trimmed and lower-cased; phone as
E.164 digits without '+'), the form Google Customer Match and Meta custom audiences document.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164 = r"^\+[1-9][0-9]{6,14}$"
MISSING, MALFORMED = "IDENTITY_MISSING", "IDENTITY_MALFORMED"


def check(table: pa.Table, namespace: str, *, hashed: bool) -> tuple[pa.Table, dict[str, int], list[str]]:
    """(valid signals [+ `hashed`], errors by code, a few example messages)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.mapping.kernel import digest

    identity = table.column("identity")
    present = pc.and_(pc.is_valid(identity), pc.not_equal(pc.utf8_trim_whitespace(pc.fill_null(identity, "")), ""))
    pattern = {"email": EMAIL, "phone": E164}.get(namespace)
    well_formed = pc.match_substring_regex(pc.fill_null(identity, ""), pattern) if pattern else pa.repeat(True, len(identity))
    ok = pc.and_(present, well_formed)
    errors: dict[str, int] = {}
    examples: list[str] = []
    missing = len(identity) - pc.sum(pc.cast(present, pa.int64())).as_py() if len(identity) else 0
    malformed = pc.sum(pc.cast(pc.and_(present, pc.invert(well_formed)), pa.int64())).as_py() if len(identity) else 0
    if missing:
        errors[MISSING] = missing
        bad = pc.filter(table.column("profile_id"), pc.invert(present)).to_pylist()[:3]
        examples.append(f"{MISSING}: no {namespace} identity for profile(s) {', '.join(bad)}")
    if malformed:
        errors[MALFORMED] = malformed
        bad = pc.filter(identity, pc.and_(present, pc.invert(well_formed))).to_pylist()[:3]
        examples.append(f"{MALFORMED}: not a well-formed {namespace}: {', '.join(repr(b) for b in bad)}")
    valid = table.filter(ok)
    if hashed:
        values = valid.column("identity").combine_chunks() if valid.num_rows else pa.array([], pa.string())
        normal = pc.utf8_lower(pc.utf8_trim_whitespace(values)) if namespace == "email" else pc.replace_substring(values, "+", "")
        valid = valid.append_column("hashed", digest(normal, hashlib.sha256) if len(normal) else pa.array([], pa.string()))
    return valid, errors, examples
