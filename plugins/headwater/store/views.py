"""A unified profile's attributes from its fragments, by the target schema's merge policies.

`latest`: for every attribute, the non-null value of the most recently updated fragment (the
source's `updated_at`, else when Headwater wrote it; ties by write time, source, record key, so the
result never depends on processing order). `priority`: the first listed source with a non-null
value wins (latest among its fragments); unlisted sources come after, latest first. A null never
erases a value another fragment knows. The lineage says which fragment (source, record, run)
each attribute came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from headwater.identity.policy import MergeConfig


@dataclass
class Fragment:
    source: str
    record_key: str
    attributes: dict
    source_updated_at: datetime | None
    updated_at: datetime
    run_id: str | None
    # Every identity the record has asserted, as [namespace, value] pairs; None for a fragment
    # written before Headwater kept them (unknown: never a reason to detach anything).
    identities: list | None = None

    def order(self) -> tuple:
        return (self.source_updated_at or self.updated_at, self.updated_at, self.source, self.record_key)


def merged_view(frags: list[Fragment], merge: MergeConfig | None = None) -> tuple[dict, dict]:
    """(attributes, lineage); lineage is {"fragments": [[source, record_key, run_id]], "attributes": {name: index}}."""
    if len(frags) == 1:  # the common case: nothing to order or rank
        frag = frags[0]
        attrs = {name: value for name, value in frag.attributes.items() if value is not None}
        return attrs, {
            "fragments": [[frag.source, frag.record_key, frag.run_id]] if attrs else [],
            "attributes": dict.fromkeys(attrs, 0),
        }
    frags = sorted(frags, key=Fragment.order)
    attrs: dict = {}
    origin: dict[str, int] = {}
    for n, frag in enumerate(frags):
        for name, value in frag.attributes.items():
            if value is not None:
                attrs[name] = value
                origin[name] = n
    if merge is not None:
        for name, rule in merge.attributes.items():
            if rule.policy != "priority" or name not in attrs:
                continue
            rank = {s: r for r, s in enumerate(rule.sources)}
            # Latest first within a source: the max of (-rank, order) over fragments with a value.
            best = max(
                (n for n, f in enumerate(frags) if f.attributes.get(name) is not None),
                key=lambda n: (-rank.get(frags[n].source, len(rank)), n),
            )
            attrs[name] = frags[best].attributes[name]
            origin[name] = best
    used = sorted(set(origin.values()))
    index = {n: i for i, n in enumerate(used)}
    lineage = {
        "fragments": [[frags[n].source, frags[n].record_key, frags[n].run_id] for n in used],
        "attributes": {name: index[n] for name, n in origin.items()},
    }
    return attrs, lineage


def attribute_sources(lineage: dict | None) -> dict[str, dict]:
    """{attribute: {source, record_key, run_id}} from a stored lineage."""
    if not lineage:
        return {}
    frags = lineage.get("fragments", [])
    return {
        name: dict(zip(("source", "record_key", "run_id"), frags[i], strict=True))
        for name, i in lineage.get("attributes", {}).items()
    }
