"""What the Audiences part of the Sources page shows: per audience and destination, the latest
run (size, signals computed and sent, rejected, invalid, last error) and the size over recent runs.

Gathered from the audience files and `hw_audience_runs`; free of web concerns like `ui.sources`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class AudienceRow:
    dag_id: str
    audience: str
    file: str
    destination: str
    destination_type: str
    problems: list[str]
    status: str | None = None
    ended_at: str | None = None
    members: int | None = None
    adds: int | None = None
    removes: int | None = None
    modifies: int | None = None
    sent: int | None = None
    failed: int | None = None
    invalid: int | None = None
    skipped: int | None = None
    last_error: str | None = None
    sizes: list[int] = field(default_factory=list)  # members at each recent run, oldest first

    def as_dict(self) -> dict:
        return asdict(self)


def audience_rows(history: int = 20) -> list[AudienceRow]:
    from pathlib import Path

    from headwater.activation.loader import load_audiences
    from headwater.activation.members import runs_for
    from headwater.store import db

    loaded = load_audiences()
    engine = db.get_engine()
    rows: list[AudienceRow] = []
    for audience in loaded.audiences:
        runs = runs_for(engine, audience.name, limit=history * len(audience.config.destinations))
        for dest in audience.config.destinations:
            mine = [r for r in runs if r["destination"] == dest.name]
            row = AudienceRow(audience.dag_id, audience.name, audience.path, dest.name, dest.type, [])
            if mine:
                latest = mine[0]
                for key in ("status", "members", "adds", "removes", "modifies", "sent", "failed", "invalid", "skipped", "last_error"):
                    setattr(row, key, latest[key])
                row.ended_at = latest["ended_at"].isoformat(timespec="seconds") if latest["ended_at"] else None
                row.sizes = [r["members"] for r in reversed(mine[:history]) if r["members"] is not None]
            rows.append(row)
    for file, issues in loaded.errors.items():
        holder = next((p for p in loaded.placeholders.values() if file in p.files), None)
        name = Path(file).stem
        rows.append(AudienceRow(holder.dag_id if holder else name, name, file, "?", "?",
                                [f"{i.loc}: {i.message}" if i.loc else i.message for i in issues], status="invalid"))
    return sorted(rows, key=lambda r: (r.dag_id, r.destination))
