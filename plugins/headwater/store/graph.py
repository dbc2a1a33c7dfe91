"""Identity resolution for one chunk: which profile each record joins, which profiles merge.

Pure Python over only what the chunk touches (its records, the profiles their fragments and
identities point at). Records are taken in order; each one joins the profiles its fragment and
linking identities point at, merging them when there is more than one. A merge (or a join) that
would give a profile more distinct values of a namespace than `max_per_profile` allows is refused:
the record joins its best match (its own fragment's profile, else the first candidate that can
take its identities, in identity trust order), else a new profile, and the refusal is counted.
Identities are unique: one a profile already holds stays there.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

Ident = tuple[str, str]


@dataclass
class Record:
    key: str
    idents: list[Ident]
    attributes: dict  # without Headwater's columns and the deleted flag
    source_updated_at: datetime | None
    deleted: bool = False
    profile_id: str | None = None


@dataclass
class Resolution:
    new_profiles: list[str] = field(default_factory=list)  # created by this chunk (survivors only)
    new_identities: list[tuple[str, str, str]] = field(default_factory=list)  # namespace, value, profile
    merges: dict[str, str] = field(default_factory=dict)  # existing profile -> survivor
    refused: int = 0  # records whose merge (or join) the limits refused
    dropped_identities: int = 0  # identities not attached because their profile was full


class Resolver:
    """Union-find over profile ids with per-profile identity counts for limited namespaces.

    :param links: namespace -> whether it links records.
    :param limits: namespace -> max distinct values per profile (limited namespaces only).
    :param owner: identity -> profile, as stored (updated as records attach).
    :param held: existing profile -> its identities in limited namespaces.
    """

    def __init__(self, links: dict[str, bool], limits: dict[str, int], owner: dict[Ident, str],
                 held: dict[str, set[Ident]]) -> None:
        self.links = links
        self.limits = limits
        self.owner = owner
        self.parent: dict[str, str] = {}
        self.held: dict[str, set[Ident]] = defaultdict(set, {p: set(v) for p, v in held.items()})
        self.created: list[str] = []  # new profiles, in creation order
        self.out = Resolution()

    def find(self, pid: str) -> str:
        parent = self.parent
        while pid in parent:
            nxt = parent[pid]
            if nxt in parent:
                parent[pid] = parent[nxt]  # path halving
            pid = nxt
        return pid

    def _fits(self, idents: set[Ident]) -> bool:
        if not self.limits:
            return True
        counts: dict[str, int] = defaultdict(int)
        for ns, _ in idents:
            counts[ns] += 1
        return all(counts[ns] <= limit for ns, limit in self.limits.items() if ns in counts)

    def _limited(self, idents: list[Ident]) -> set[Ident]:
        return {i for i in idents if i[0] in self.limits}

    def _new_profile(self) -> str:
        pid = uuid.uuid4().hex
        self.created.append(pid)
        return pid

    def add(self, rec: Record, stored: str | None) -> None:
        """Attach `rec` (whose fragment is stored on `stored`, if any) to a profile."""
        if stored:
            # Fast path (plain attribute upserts): every identity is already held by the record's
            # own profile, so there is nothing to join, merge or attach.
            root = self.find(stored)
            owner = self.owner
            for i in rec.idents:
                held = owner.get(i)
                if held is None or (held != root and self.find(held) != root):
                    break
            else:
                rec.profile_id = root
                return
        cands: list[str] = []
        for pid in ([stored] if stored else []) + [
            self.owner[i] for i in rec.idents if self.links.get(i[0], True) and i in self.owner
        ]:
            root = self.find(pid)
            if root not in cands:
                cands.append(root)
        new = [i for i in rec.idents if i not in self.owner]
        new_limited = self._limited(new)
        root = None
        if len(cands) > 1:
            union = set().union(*(self.held[c] for c in cands)) | new_limited
            if self._fits(union):
                root = cands[0]
                for other in cands[1:]:
                    self.parent[other] = root
                    self.held[root] |= self.held.pop(other, set())
            else:
                self.out.refused += 1
        elif cands and (stored or self._fits(self.held[cands[0]] | new_limited)):
            root = cands[0]
        elif cands:
            self.out.refused += 1
        if root is None:
            if stored:
                root = self.find(stored)
            else:
                root = next((c for c in cands if self._fits(self.held[c] | new_limited)), None)
            root = root or self._new_profile()
        for ident in new:
            if ident[0] in self.limits:
                if not self._fits(self.held[root] | {ident}):
                    self.out.dropped_identities += 1
                    continue
                self.held[root].add(ident)
            self.owner[ident] = root
            self.out.new_identities.append((ident[0], ident[1], root))
        rec.profile_id = root

    def finish(self, created_at: dict[str, datetime]) -> Resolution:
        """Pick each merged group's survivor (the oldest; then the lowest id) and point everything at it.

        :param created_at: creation time of every existing profile that took part in a merge.
        """
        created_order = {pid: n for n, pid in enumerate(self.created)}
        groups: dict[str, list[str]] = defaultdict(list)
        for pid in list(self.parent) + [p for p in self.created if p not in self.parent]:
            groups[self.find(pid)].append(pid)
        survivor: dict[str, str] = {}
        for root, members in groups.items():
            members = list(dict.fromkeys([root, *members]))
            old = [m for m in members if m not in created_order]
            best = (
                min(old, key=lambda p: (created_at[p], p))
                if old
                else min(members, key=created_order.__getitem__)
            )
            for m in members:
                survivor[m] = best
            if best in created_order:
                self.out.new_profiles.append(best)
            self.out.merges.update({m: best for m in old if m != best})
        final = lambda pid: survivor.get(self.find(pid), self.find(pid))  # noqa: E731
        self.out.new_identities = [(ns, v, final(p)) for ns, v, p in self.out.new_identities]
        self._final = final
        return self.out

    def final(self, pid: str) -> str:
        return self._final(pid)

    def merged_profiles(self) -> set[str]:
        """Existing profiles that take part in a merge (their creation time picks the survivor)."""
        involved = set(self.parent) | {self.find(p) for p in self.parent}
        return involved - set(self.created)
