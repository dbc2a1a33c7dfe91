"""HTML of the Sources page (server-rendered, no JavaScript; shown in an iframe by the Airflow UI)."""

from __future__ import annotations

from html import escape

from headwater.ui.sources import SourceRow

STATUS_COLOURS = {
    "success": "#2e7d32",
    "no_data": "#607d8b",
    "failed": "#c62828",
    "threshold_exceeded": "#ef6c00",
    "running": "#1565c0",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}
.problem{color:#c62828}
small{color:#666}
"""


def render(rows: list[SourceRow]) -> str:
    body = "".join(_row(r) for r in rows) or '<tr><td colspan="9">No source files found.</td></tr>'
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Headwater sources</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h2>Sources <small>{len(rows)}</small></h2>"
        "<table><thead><tr><th>Source</th><th>Connector → target</th><th>Schedule</th><th>Last run</th>"
        "<th>Read</th><th>Mapped</th><th>Quarantined</th><th>Loaded</th><th>Watermark / errors</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )


def _row(row: SourceRow) -> str:
    if row.problems:
        issues = "<br>".join(escape(p) for p in row.problems)
        return (
            f"<tr><td>{escape(row.dag_id)}<br><small>{escape(row.file)}</small></td>"
            f"<td colspan='8' class='problem'>invalid source file (its DAG only fails with this):<br>{issues}</td></tr>"
        )
    status = row.status or "never run"
    colour = STATUS_COLOURS.get(status, "#9e9e9e")
    when = f"<br><small>{escape(row.started_at or '')} · {row.duration_s or 0:.0f}s</small>" if row.started_at else ""
    errors = ", ".join(f"{escape(str(k))}: {v}" for k, v in (row.errors_by_code or {}).items())
    detail = "<br>".join(
        x for x in (escape(row.watermark or ""), f"<small>stream: {escape(row.stream)}</small>" if row.stream else "",
                    f"<small>{errors}</small>" if errors else "",
                    f"<span class='problem'>{escape(row.run_problem() or '')}</span>" if row.run_problem() else "") if x
    )
    return (
        f"<tr><td><a href='/dags/{escape(row.dag_id)}' target='_top'>{escape(row.dag_id)}</a></td>"
        f"<td>{escape(row.connector)} → {escape(row.target)}<br><small>lake: {escape(row.lake_table)}</small></td>"
        f"<td>{escape(row.schedule)}</td>"
        f"<td><span class='badge' style='background:{colour}'>{escape(status)}</span>{when}</td>"
        + "".join(f"<td class='n'>{'' if v is None else f'{v:,}'}</td>" for v in (row.rows_read, row.rows_mapped, row.rows_quarantined, row.rows_loaded))
        + f"<td>{detail}</td></tr>"
    )
