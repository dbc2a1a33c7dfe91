"""Map: the membership against what a destination acknowledged → add / remove / modify signals.

Set-based on Arrow: one full outer join on profile_id between the current members and the
acknowledged rows (`members.acknowledged`).

- entered (a member not acknowledged)                        → add
- left, or the profile was deleted or merged into another   → remove (with the identity it was sent with)
- identity changed (the destination knows the old one)      → remove the old, add the new
- variables changed                                          → modify

The fingerprint is the variables as text joined by a separator (null marked), computed by Arrow
kernels for every member; JSON is built only for the signals.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from headwater.store.values import to_json

if TYPE_CHECKING:
    import pyarrow as pa

OPS = ("remove", "modify", "add")  # delivery order: a remove of an old identity goes before its add
_SEP = "\x1f"
_NULL = "\x00"


def fingerprint(table: pa.Table, variables: list[str]) -> pa.Array:
    """One text per row standing for the variables' values ('' when there are none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not variables:
        return pa.repeat(pa.scalar("", pa.string()), table.num_rows)
    parts = []
    for name in variables:
        column = table.column(name)
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            column = pc.cast(column, pa.string())
        else:
            column = pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column
        parts.append(pc.fill_null(column, _NULL))
    return pc.binary_join_element_wise(*parts, _SEP).combine_chunks() if len(parts) > 1 else parts[0].combine_chunks()


def diff(current: pa.Table, identity: str, variables: list[str], acked: pa.Table) -> dict[str, pa.Table]:
    """Signals by op: tables of profile_id, identity, fingerprint (+ the variable columns for add/modify,
    `variables` JSON of the acknowledged row for remove)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cur = pa.table({
        "profile_id": current.column("profile_id"),
        "identity": pc.cast(current.column(identity), pa.string()),
        "fingerprint": fingerprint(current, variables),
        "_row": pa.array(range(current.num_rows), pa.int64()),
    })
    old = acked.rename_columns(["profile_id", "s_identity", "s_fingerprint", "s_variables"]).append_column(
        "_old", pa.array(range(acked.num_rows), pa.int64())
    )
    joined = cur.join(old, keys="profile_id", join_type="full outer", coalesce_keys=True)
    in_cur = pc.is_valid(joined.column("_row"))
    in_old = pc.is_valid(joined.column("_old"))
    both = pc.and_(in_cur, in_old)
    same_identity = pc.equal(pc.fill_null(joined.column("identity"), _NULL), pc.fill_null(joined.column("s_identity"), _NULL))
    moved = pc.and_(both, pc.invert(same_identity))
    add = pc.or_(pc.and_(in_cur, pc.invert(in_old)), moved)
    remove = pc.or_(pc.and_(in_old, pc.invert(in_cur)), moved)
    modify = pc.and_(pc.and_(both, same_identity), pc.not_equal(joined.column("fingerprint"), joined.column("s_fingerprint")))
    out: dict[str, pa.Table] = {}
    for op, mask in (("add", add), ("modify", modify)):
        rows = pc.filter(joined.column("_row"), mask)
        picked = current.take(rows)
        out[op] = pa.table({
            "profile_id": picked.column("profile_id"),
            "identity": pc.filter(joined.column("identity"), mask),
            "fingerprint": pc.filter(joined.column("fingerprint"), mask),
            **{name: picked.column(name) for name in variables},
        })
    out["remove"] = pa.table({
        "profile_id": pc.filter(joined.column("profile_id"), remove),
        "identity": pc.filter(joined.column("s_identity"), remove),
        "fingerprint": pc.filter(joined.column("s_fingerprint"), remove),
        "variables": pc.filter(joined.column("s_variables"), remove),
    })
    return out


def signal_rows(audience: str, destination: str, op: str, table: pa.Table, variables: list[str]) -> list[dict]:
    """Signals as dicts: op, profile_id, identity, fingerprint, variables (JSON text), key.

    `key` is the idempotency key: the same signal (audience, destination, profile, op, fingerprint)
    always has the same key, so a destination that takes keys drops a repeat it already applied.
    """
    ids = table.column("profile_id").to_pylist()
    identities = table.column("identity").to_pylist()
    prints = table.column("fingerprint").to_pylist()
    if op == "remove":
        values = table.column("variables").to_pylist()
    elif variables:
        values = [to_json(v) for v in table.select(variables).to_pylist()]
    else:
        values = ["{}"] * len(ids)
    prefix = f"{audience}\x1f{destination}\x1f{op}\x1f"
    return [
        {
            "op": op, "profile_id": pid, "identity": ident, "fingerprint": fp, "variables": var,
            "key": hashlib.sha256(f"{prefix}{pid}\x1f{fp}\x1f{ident}".encode()).hexdigest()[:32],
        }
        for pid, ident, fp, var in zip(ids, identities, prints, values, strict=True)
    ]
