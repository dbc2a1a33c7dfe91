"""HTML of the Sources pages (server-rendered, no JavaScript, no external assets; shown in an iframe
by the Airflow UI). The run chart is inline SVG drawn here, so nothing is fetched from a CDN."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote, urlencode

from headwater.freshness import format_age
from headwater.ui.audiences import AudienceRow
from headwater.ui.sources import SourceDetail, SourceRow

STATUS_COLOURS = {
    "success": "#2e7d32",
    "no_data": "#607d8b",
    "failed": "#c62828",
    "threshold_exceeded": "#ef6c00",
    "running": "#1565c0",
    "invalid": "#8e24aa",
}
FRESHNESS_COLOURS = {"fresh": "#2e7d32", "ageing": "#f9a825", "stale": "#c62828", "never": "#9e9e9e", "unknown": "#9e9e9e"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}
th.n{text-align:right}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;white-space:nowrap}
.problem{color:#c62828}
.note{color:#555;font-style:italic}
small{color:#666}
form.filters{margin:8px 0 12px;display:flex;gap:8px;flex-wrap:wrap;align-items:center;font-size:13px}
h3{margin-top:24px}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
.ok{color:#2e7d32}.bad{color:#c62828}
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def render_audiences(rows: list[AudienceRow]) -> str:
    """The Audiences table: one row per audience and destination."""
    if not rows:
        return ""
    body = ""
    for row in rows:
        if row.problems:
            issues = "<br>".join(escape(p) for p in row.problems)
            body += (f"<tr><td>{escape(row.dag_id)}<br><small>{escape(row.file)}</small></td>"
                     f"<td colspan='7' class='problem'>invalid audience file (its DAG only fails with this):<br>{issues}</td></tr>")
            continue
        status = row.status or "never run"
        colour = STATUS_COLOURS.get(status, "#9e9e9e")
        sizes = " → ".join(f"{n:,}" for n in row.sizes[-8:])
        signals = "" if row.adds is None else f"+{row.adds:,} / −{row.removes or 0:,} / ~{row.modifies or 0:,}"
        sent = "" if row.sent is None else f"{row.sent:,} sent" + (f", {row.failed:,} rejected" if row.failed else "")
        extra = ", ".join(x for x in (f"{row.invalid:,} invalid" if row.invalid else "",
                                      f"{row.skipped:,} not supported" if row.skipped else "") if x)
        body += (
            f"<tr><td><a href='/dags/{escape(row.dag_id)}' target='_top'>{escape(row.dag_id)}</a></td>"
            f"<td>{escape(row.destination)}<br><small>{escape(row.destination_type)}</small></td>"
            f"<td><span class='badge' style='background:{colour}'>{escape(status)}</span>"
            f"<br><small>{escape(row.ended_at or '')}</small></td>"
            f"<td class='n'>{'' if row.members is None else f'{row.members:,}'}<br><small>{escape(sizes)}</small></td>"
            f"<td>{escape(signals)}</td><td>{escape(sent)}<br><small>{escape(extra)}</small></td>"
            f"<td class='problem'>{escape(row.last_error or '')}</td></tr>"
        )
    return (
        f"<h2>Audiences <small>{len({r.dag_id for r in rows})}</small></h2>"
        "<table><thead><tr><th>Audience</th><th>Destination</th><th>Last run</th><th>Members (recent runs)</th>"
        "<th>Add / remove / modify</th><th>Delivered</th><th>Last error</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _badge(text: str, colour: str) -> str:
    return f"<span class='badge' style='background:{colour}'>{escape(text)}</span>"


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _when(iso: str | None) -> str:
    return escape((iso or "").replace("T", " ")[:19].strip()) or "-"


def _freshness(row: SourceRow) -> str:
    colour = FRESHNESS_COLOURS.get(row.freshness, "#9e9e9e")
    age = format_age(None if row.freshness_age_s is None else _td(row.freshness_age_s))
    limit = "" if row.freshness_limit_s is None else f"<br><small>limit {format_age(_td(row.freshness_limit_s))}</small>"
    text = row.freshness if row.freshness_age_s is None else f"{row.freshness} · {age}"
    return f"{_badge(text, colour)}{limit}"


def _td(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


# --- overview ------------------------------------------------------------------------------------


def render(
    rows: list[SourceRow],
    *,
    shown: list[SourceRow] | None = None,
    filters: dict[str, str] | None = None,
    audiences: list[AudienceRow] | None = None,
) -> str:
    """The overview: `rows` are all sources (for the filter choices), `shown` those matching
    `filters`; then the audiences with their destinations."""
    shown = rows if shown is None else shown
    filters = filters or {}
    body = "".join(_row(r) for r in shown) or '<tr><td colspan="12">No source matches.</td></tr>'
    return _page(
        "Headwater sources",
        f"<h2>Sources <small>{len(shown)} of {len(rows)}</small></h2>"
        + _filters(rows, filters)
        + "<table id='sources'><thead><tr><th>Source</th><th>Connector → target</th><th>Schedule / next run</th>"
        "<th>Freshness</th><th>Last run</th><th>Read</th><th>Mapped</th><th>Quarantined</th><th>Loaded</th><th>API calls</th>"
        "<th>Last successful load</th><th>Watermark / errors</th></tr></thead>"
        f"<tbody>{body}</tbody></table>" + render_audiences(audiences or []),
    )


def _filters(rows: list[SourceRow], chosen: dict[str, str]) -> str:
    options = {
        "status": sorted({r.status or "never run" for r in rows}),
        "connector": sorted({r.connector for r in rows if r.connector != "?"}),
        "owner": sorted({r.owner for r in rows if r.owner}),
        "tag": sorted({t for r in rows for t in r.tags}),
        "freshness": sorted({r.freshness for r in rows if not r.problems}),
    }
    parts = []
    for name, values in options.items():
        opts = "".join(
            f"<option value='{escape(v)}'{' selected' if chosen.get(name) == v else ''}>{escape(v)}</option>" for v in values
        )
        parts.append(f"<label>{name} <select name='{name}'><option value=''>all</option>{opts}</select></label>")
    return f"<form class='filters' method='get'>{''.join(parts)}<button type='submit'>Filter</button> <a href='?'>clear</a></form>"


def _row(row: SourceRow) -> str:
    link = f"<a href='sources/{quote(row.dag_id)}'>{escape(row.dag_id)}</a>"
    if row.problems:
        issues = "<br>".join(escape(p) for p in row.problems)
        return (
            f"<tr data-source='{escape(row.dag_id)}'><td>{escape(row.dag_id)}<br><small>{escape(row.file)}</small></td>"
            f"<td colspan='11' class='problem'>invalid source file (its DAG only fails with this):<br>{issues}</td></tr>"
        )
    status = row.status or "never run"
    when = f"<br><small>{_when(row.started_at)} · {row.duration_s or 0:.0f}s</small>" if row.started_at else ""
    errors = ", ".join(f"{escape(str(k))}: {v}" for k, v in (row.errors_by_code or {}).items())
    detail = "<br>".join(
        x
        for x in (
            escape(row.watermark or ""),
            f"<small>stream: {escape(row.stream)}</small>" if row.stream else "",
            f"<small>{errors}</small>" if errors else "",
            f"<span class='problem'>{escape(row.run_problem() or '')}</span>" if row.run_problem() else "",
            f"<span class='note'>{escape(row.run_note() or '')}</span>" if row.run_note() else "",
        )
        if x
    )
    success = (
        f"{_when(row.last_success_at)}<br><small>read {_count(row.last_success_read)} · loaded {_count(row.last_success_loaded)}</small>"
        if row.last_success_at
        else "<small>none yet</small>"
    )
    paused = " <small>(paused)</small>" if row.paused else ""
    next_run = f"<br><small>next {_when(row.next_run)}</small>" if row.next_run else ""
    tags = f"<br><small>{escape(row.owner)}{' · ' + escape(', '.join(row.tags)) if row.tags else ''}</small>"
    return (
        f"<tr data-source='{escape(row.dag_id)}'><td>{link}{tags}</td>"
        f"<td>{escape(row.connector)} → {escape(row.target)}<br><small>lake: {escape(row.lake_table)}</small></td>"
        f"<td>{escape(row.schedule)}{paused}{next_run}</td>"
        f"<td>{_freshness(row)}</td>"
        f"<td>{_badge(status, STATUS_COLOURS.get(status, '#9e9e9e'))}{when}</td>"
        + "".join(f"<td class='n'>{_count(v)}</td>" for v in (row.rows_read, row.rows_mapped, row.rows_quarantined, row.rows_loaded, row.api_calls))
        + f"<td>{success}</td><td>{detail}</td></tr>"
    )


# --- per-source page -----------------------------------------------------------------------------


def render_detail(d: SourceDetail, *, base: str = "..") -> str:
    row = d.row
    grid = f"/dags/{quote(row.dag_id)}"
    asset = f"/assets/{d.asset_id}" if d.asset_id is not None else "/assets"
    head = (
        f"<p><a href='{base}/sources'>← all sources</a></p>"
        f"<h2>{escape(row.dag_id)} {_badge(row.status or 'never run', STATUS_COLOURS.get(row.status or '', '#9e9e9e'))}</h2>"
        f"<p>{escape(row.connector)} → {escape(row.target)} · lake table <b>{escape(row.lake_table)}</b> · "
        f"schedule {escape(row.schedule)}{' (paused)' if row.paused else ''}"
        f"{' · next run ' + _when(row.next_run) if row.next_run else ''} · owner {escape(row.owner)}"
        f"{' · tags ' + escape(', '.join(row.tags)) if row.tags else ''}</p>"
        f"<p>freshness {_freshness(row)} · last successful load "
        f"{_when(row.last_success_at) if row.last_success_at else 'none yet'}"
        f"{f' (read {_count(row.last_success_read)}, loaded {_count(row.last_success_loaded)})' if row.last_success_at else ''}</p>"
        f"<p><a id='grid-link' href='{grid}' target='_top'>DAG grid</a> · "
        f"<a id='asset-link' href='{asset}' target='_top'>lake table asset</a> · <small>{escape(row.file)}</small></p>"
    )
    if row.problems:
        head += "<p class='problem'>invalid source file:<br>" + "<br>".join(escape(p) for p in row.problems) + "</p>"
    sections = [
        head,
        "<h3>Rows and duration per run</h3>" + run_chart(d.runs),
        "<h3>Run history</h3>" + _history(d.runs),
        "<h3>Errors by code</h3>" + _errors(d),
        f"<h3>Validation result{' of run ' + escape(d.gx_run) if d.gx_run else ''}</h3>" + _gx(d.gx, d.runs, d.gx_run),
        "<h3>Mapping in force</h3>" + _mapping(d.mapping),
        "<h3>Expectations in force</h3>" + _expectation_table(d.expectations),
        "<h3>State</h3>" + _state(d.state, d.state_run),
    ]
    return _page(f"{row.dag_id} · Headwater", "".join(sections))


def _history(records: list) -> str:
    if not records:
        return "<p>No runs recorded yet.</p>"
    rows = []
    for r in records:
        details = r.details or {}
        # a file source reports the files it read, an API source the requests it sent
        files = details.get("files_read")
        if files is None and r.api_calls is not None:
            files = f"{r.api_calls:,} API calls"
        problem = r.error_summary if r.error_summary and r.status in ("failed", "threshold_exceeded") else None
        note = r.error_summary if r.error_summary and not problem else None
        notes = "; ".join(details.get("notes") or []) if not note else note
        rows.append(
            "<tr>"
            f"<td>{_badge(r.status, STATUS_COLOURS.get(r.status, '#9e9e9e'))}</td>"
            f"<td><small>{escape(r.run_id)}</small><br>{_when(r.started_at.isoformat() if r.started_at else None)}</td>"
            f"<td class='n'>{'' if r.duration_s is None else f'{r.duration_s:.1f}s'}</td>"
            + "".join(f"<td class='n'>{v:,}</td>" for v in (r.rows_read, r.rows_mapped, r.rows_quarantined, r.rows_loaded))
            + f"<td>{escape(r.watermark_before or '∅')} → {escape(r.watermark_after or '∅')}</td>"
            f"<td class='n'>{'' if files is None else files}</td>"
            f"<td>{', '.join(f'{escape(k)}: {v:,}' for k, v in (r.errors_by_code or {}).items())}"
            f"{f'<br><span class=problem>{escape(problem)}</span>' if problem else ''}"
            f"{f'<br><span class=note>{escape(notes)}</span>' if notes else ''}</td></tr>"
        )
    return (
        "<table id='history'><thead><tr><th>Status</th><th>Run</th><th>Duration</th><th>Read</th><th>Mapped</th>"
        "<th>Quarantined</th><th>Loaded</th><th>Watermark before → after</th><th>Files / API calls</th><th>Errors / notes</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def run_chart(records: list, width: int = 900, height: int = 220) -> str:
    """Inline SVG: bars of rows loaded and quarantined per run, and a line of the run duration, oldest left."""
    runs = list(reversed(records))
    if not runs:
        return "<p>No runs to chart yet.</p>"
    left, right, top, bottom = 56, 56, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    max_rows = max(max(r.rows_loaded + r.rows_quarantined for r in runs), 1)
    max_dur = max(max(r.duration_s or 0 for r in runs), 1e-9)
    step = plot_w / len(runs)
    bar = max(step * 0.7, 1)
    parts = [
        f"<svg id='run-chart' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='rows and duration per run'>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#999'/>",
        f"<text x='4' y='{top + 10}' font-size='11' fill='#2e7d32'>{max_rows:,} rows</text>",
        f"<text x='{width - right + 4}' y='{top + 10}' font-size='11' fill='#1565c0'>{max_dur:.1f}s</text>",
        f"<text x='4' y='{top + plot_h}' font-size='11' fill='#666'>0</text>",
    ]
    points = []
    for i, r in enumerate(runs):
        x = left + i * step + (step - bar) / 2
        loaded_h = plot_h * r.rows_loaded / max_rows
        quarantined_h = plot_h * r.rows_quarantined / max_rows
        label = escape(f"{r.run_id}: {r.status}, loaded {r.rows_loaded:,}, quarantined {r.rows_quarantined:,}, {r.duration_s or 0:.1f}s")
        parts.append(
            f"<g class='run'><title>{label}</title>"
            f"<rect class='loaded' x='{x:.1f}' y='{top + plot_h - loaded_h:.1f}' width='{bar:.1f}' height='{loaded_h:.1f}' fill='#66bb6a'/>"
            f"<rect class='quarantined' x='{x:.1f}' y='{top + plot_h - loaded_h - quarantined_h:.1f}' width='{bar:.1f}' "
            f"height='{quarantined_h:.1f}' fill='#ffa726'/></g>"
        )
        points.append(f"{left + i * step + step / 2:.1f},{top + plot_h - plot_h * (r.duration_s or 0) / max_dur:.1f}")
    parts.append(f"<polyline class='duration' points='{' '.join(points)}' fill='none' stroke='#1565c0' stroke-width='1.5'/>")
    parts.append(
        f"<text x='{left}' y='{height - 8}' font-size='11' fill='#666'>■ loaded <tspan fill='#ffa726'>■ quarantined</tspan> "
        f"<tspan fill='#1565c0'>— duration</tspan> · {len(runs)} run(s), oldest left</text></svg>"
    )
    return "".join(parts)


def _errors(d: SourceDetail) -> str:
    if not d.errors_by_code:
        return "<p>No row errors in these runs.</p>"
    out = ["<table id='errors'><thead><tr><th>Code</th><th>Rows (runs shown)</th><th>Sample quarantined rows</th></tr></thead><tbody>"]
    for code, count in d.errors_by_code.items():
        samples = d.samples.get(code) or []
        sample_html = "".join(
            f"<div><small>{escape(s.get('stage') or '')} row {s.get('row')} · {escape(s.get('column') or '')} = "
            f"<code>{escape(str(s.get('value')))}</code> · {escape(s.get('message') or '')}</small>"
            f"{_record_line(s.get('record'))}</div>"
            for s in samples
        )
        out.append(f"<tr><td><b>{escape(code)}</b></td><td class='n'>{count:,}</td><td>{sample_html or '<small>-</small>'}</td></tr>")
    out.append("</tbody></table>")
    if d.sample_note:
        out.append(f"<p><small>samples {escape(d.sample_note)}</small></p>")
    return "".join(out)


def _record_line(record: str | None) -> str:
    # the whole rejected record as read (already redacted), cut short: it can be a very wide row
    return f"<br><small><code>{escape(record[:300])}</code></small>" if record else ""


def _gx(result: dict | None, records: list, chosen: str | None) -> str:
    with_results = [r.run_id for r in records if (r.details or {}).get("gx_result")][:20]
    picker = ""
    if len(with_results) > 1:
        picker = "<p><small>other runs: " + " ".join(
            f"<a href='?{urlencode({'gx_run': rid})}'>{escape(rid)}</a>" for rid in with_results if rid != chosen
        ) + "</small></p>"
    if not result:
        return "<p>No validation result recorded.</p>" + picker
    if "error" in result and "summary" not in result:
        return f"<p class='problem'>{escape(result['error'])}</p>" + picker
    summary = result.get("summary") or {}
    head = (
        f"<p>{'<span class=ok>passed</span>' if summary.get('success') else '<span class=bad>failed</span>'} · "
        f"{summary.get('rows', 0):,} rows in {summary.get('chunks', 0)} chunk(s) · {summary.get('rows_failed', 0):,} failed</p>"
    )
    rows = []
    for e in summary.get("expectations") or []:
        kwargs = ", ".join(f"{k}={v!r}" for k, v in (e.get("kwargs") or {}).items())
        observed = e.get("observed_values") or []
        rows.append(
            f"<tr><td>{'<span class=ok>✓</span>' if e.get('success') else '<span class=bad>✗</span>'}</td>"
            f"<td>{escape(e.get('type') or '')}<br><small>{escape(kwargs)}</small></td>"
            f"<td class='n'>{e.get('unexpected_count', 0):,} / {e.get('element_count', 0):,}</td>"
            f"<td><small>{escape(json.dumps(observed[:3], default=str)) if observed else ''}"
            f"{escape('; '.join(map(str, e.get('exceptions') or [])))}</small></td></tr>"
        )
    failures = result.get("table_failures") or []
    table = (
        "<table id='gx'><thead><tr><th></th><th>Expectation</th><th class='n'>Unexpected / checked</th><th>Observed</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    extra = "".join(f"<p class='problem'>{escape(str(f))}</p>" for f in failures)
    return head + table + extra + picker


def _mapping(fields: list[dict]) -> str:
    if not fields:
        return "<p>-</p>"
    rows = []
    for f in fields:
        target = f.get("to", "")
        origin = f.get("expr") or f.get("from") or ""
        rest = {k: v for k, v in f.items() if k not in ("to", "expr", "from")}
        rows.append(
            f"<tr><td><b>{escape(str(target))}</b></td><td><code>{escape(str(origin))}</code></td>"
            f"<td><small>{escape(json.dumps(rest, default=str)) if rest else ''}</small></td></tr>"
        )
    return f"<table id='mapping'><thead><tr><th>Target field</th><th>From</th><th>Options</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _expectation_table(expectations: list[dict]) -> str:
    if not expectations:
        return "<p>None: only the mapping's own checks apply.</p>"
    rows = "".join(
        f"<tr><td>{escape(e.get('type', ''))}</td><td><small>{escape(json.dumps(e.get('kwargs') or {}, default=str))}</small></td>"
        f"<td><small>{escape(e.get('loc') or '')}</small></td></tr>"
        for e in expectations
    )
    return f"<table id='expectations'><thead><tr><th>Type</th><th>Arguments</th><th>Where</th></tr></thead><tbody>{rows}</tbody></table>"


def _state(state: dict | None, run_id: str | None) -> str:
    if not state:
        return "<p>No state committed: the next run reads everything.</p>"
    by = f"<p><small>committed by run {escape(run_id)}</small></p>" if run_id else ""
    if "cursor" in state:
        cursor = state["cursor"]
        return by + f"<p>watermark <b>{escape(str(cursor.get('column')))} = {escape(str(cursor.get('value')))}</b></p>"
    if "files" in state:
        files = state["files"] or {}
        shown = sorted(files.items(), key=lambda kv: -(kv[1] or {}).get("mtime", 0))[:50]
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td class='n'>{(v or {}).get('size', 0):,}</td><td><small>{escape(str((v or {}).get('version', '')))}</small></td></tr>"
            for k, v in shown
        )
        more = f"<p><small>{len(files) - len(shown)} more</small></p>" if len(files) > len(shown) else ""
        return by + (
            f"<p>{len(files)} file(s) seen</p><table id='files-seen'><thead><tr><th>File</th><th>Bytes</th><th>Version</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}"
        )
    return by + f"<pre>{escape(json.dumps(state, indent=2, default=str))}</pre>"
