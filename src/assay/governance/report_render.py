"""The records of processing (assay.governance.report) as Markdown for people and JSON for
tools.

Example:
    >>> from datetime import datetime
    >>> from assay.governance.report import ProcessingRecords
    >>> text = to_markdown(ProcessingRecords("shop", datetime(2026, 1, 1)))
    >>> text.splitlines()[0]
    '# Records of processing: shop'
    >>> import json; json.loads(to_json(ProcessingRecords("shop", datetime(2026, 1, 1))))["project"]
    'shop'
"""

from __future__ import annotations

import json
from typing import Any

from assay.governance.report import DatasetRecord, ProcessingRecords, RoleAccess


def to_json(found: ProcessingRecords) -> str:
    """The report as JSON (times in ISO 8601, UTC)."""
    return json.dumps(as_dict(found), indent=2, default=str)


def as_dict(found: ProcessingRecords) -> dict[str, Any]:
    """The report as plain JSON values."""
    return {
        "project": found.project,
        "generated_at": found.generated_at.isoformat(timespec="seconds"),
        "restricted_classifications": found.restricted,
        "retention_by_classification": found.retention_by_class,
        "audit": found.audit,
        "last_scan": found.last_scan,
        "datasets": [_dataset_dict(d) for d in found.datasets],
        "roles": found.roles,
        "erasures": [
            {
                "time": e.time.isoformat(timespec="seconds"),
                "principal": e.principal,
                "subject_columns": list(e.subject_columns),
                "rows": e.rows,
                "tables": e.tables,
                "skipped_held": e.skipped_held,
                "none_found": e.none_found,
                "still_held": e.still_held,
            }
            for e in found.erasures
        ],
    }


def _dataset_dict(d: DatasetRecord) -> dict[str, Any]:
    return {
        "dataset": d.dataset,
        "owner": d.owner,
        "purpose": d.purpose,
        "built": d.built,
        "columns": {
            column: {
                "classifications": sorted(c.classes),
                "kinds": sorted(c.kinds),
                "sources": list(c.sources),
            }
            for column, c in d.columns.items()
        },
        "retention": d.retention,
        "retention_from": d.retention_from,
        "legal_hold": d.hold,
        "roles": [
            {
                "role": r.role,
                "masked": r.masked,
                "denied": r.denied,
                "row_filter": r.row_filter,
                "error": r.error,
            }
            for r in d.roles
        ],
        "roles_without_access": d.no_access,
        "features": d.features,
    }


def to_markdown(found: ProcessingRecords) -> str:
    """The report as a Markdown document."""
    lines = [
        f"# Records of processing: {found.project}",
        "",
        f"Generated {found.generated_at.isoformat(timespec='seconds')} UTC by assay. "
        f"{len(found.datasets)} dataset(s) hold classified columns.",
        "",
        f"- Restricted classifications (denied unless granted): "
        f"{', '.join(found.restricted) or 'none'}",
        f"- Retention by classification: {_pairs(found.retention_by_class) or 'none'}",
        f"- Audit log of every read and write: {'on' if found.audit else 'OFF'}",
        f"- Last PII scan: {_scan(found.last_scan)}",
        "",
        "## Datasets holding personal or restricted data",
        "",
    ]
    if not found.datasets:
        lines += ["None found.", ""]
    for d in found.datasets:
        lines += _dataset_markdown(d, bool(found.roles))
    lines += _roles_markdown(found) + _erasures_markdown(found)
    return "\n".join(lines).rstrip() + "\n"


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(values.items()))


def _scan(scan: dict[str, Any] | None) -> str:
    if not scan:
        return "never (run `assay pii scan`)"
    return f"{scan['at']} UTC, {scan['findings']} finding(s) in {scan['datasets']} dataset(s)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _dataset_markdown(d: DatasetRecord, has_roles: bool) -> list[str]:
    hold = (
        f"held since {d.hold['since']} by {d.hold['by']}: {d.hold['reason']}" if d.hold else "none"
    )
    retention = f"{d.retention} ({d.retention_from})" if d.retention else "not set: kept forever"
    lines = [
        f"### {d.dataset}",
        "",
        f"- Owner: {d.owner or 'none declared'}",
        f"- Purpose: {d.purpose or 'not described'}",
        f"- Retention: {retention}",
        f"- Legal hold: {hold}",
        f"- Built: {'yes' if d.built else 'not yet'}",
        "",
        "| column | classification | holds | why |",
        "|---|---|---|---|",
    ]
    for column, c in d.columns.items():
        kinds = ", ".join(sorted(c.kinds)) or "-"
        lines.append(
            f"| {_cell(column)} | {', '.join(sorted(c.classes))} | {kinds} | "
            f"{_cell('; '.join(c.sources))} |"
        )
    lines.append("")
    for view, served in sorted(d.features.items()):
        listed = ", ".join(f"{f} ({', '.join(c)})" for f, c in sorted(served.items()))
        lines += [f"Served by feature view `{view}`: {listed}", ""]
    if has_roles:
        lines += _access_markdown(d)
    return lines


def _access_markdown(d: DatasetRecord) -> list[str]:
    lines = ["| role | reads | masked | denied | rows |", "|---|---|---|---|---|"]
    for r in d.roles:
        lines.append(_role_row(r, d))
    for role in d.no_access:
        lines.append(f"| {role} | no grant | - | - | - |")
    return [*lines, ""]


def _role_row(r: RoleAccess, d: DatasetRecord) -> str:
    if r.error:
        return f"| {r.role} | error: {_cell(r.error)} | - | - | - |"
    clear = [c for c in d.columns if c not in r.masked and c not in r.denied]
    reads = f"classified in the clear: {', '.join(clear)}" if clear else "no classified clear"
    masked = ", ".join(f"{c} ({k})" for c, k in sorted(r.masked.items())) or "-"
    denied = ", ".join(f"{c} ({k})" for c, k in sorted(r.denied.items())) or "-"
    rows = _cell(r.row_filter) if r.row_filter else "all"
    return f"| {r.role} | {_cell(reads)} | {_cell(masked)} | {_cell(denied)} | {rows} |"


def _roles_markdown(found: ProcessingRecords) -> list[str]:
    lines = ["## Roles", ""]
    if not found.roles:
        return [*lines, "No roles in assay.yaml: every principal reads everything.", ""]
    lines += ["| role | principals | grants | cleared classifications |", "|---|---|---|---|"]
    for name, role in found.roles.items():
        lines.append(
            f"| {name} | {_cell(', '.join(role['principals']) or '-')} | "
            f"{_cell(', '.join(role['grants']) or '-')} | "
            f"{_cell(', '.join(role['classifications']) or '-')} |"
        )
    return [*lines, ""]


def _erasures_markdown(found: ProcessingRecords) -> list[str]:
    lines = ["## Last erasures", ""]
    if not found.erasures:
        return [*lines, "None recorded.", ""]
    lines += [
        "| time (UTC) | by | subject keys | rows | tables | proof |",
        "|---|---|---|---|---|---|",
    ]
    for e in found.erasures:
        proof = {True: "none found", False: "FOUND AFTER ERASURE", None: "-"}[e.none_found]
        if e.still_held:  # kept by a legal hold, as it should be: not a failed proof
            kept = ", ".join(f"{h.get('table')} ({h.get('rows')} rows)" for h in e.still_held)
            proof = f"still held: {kept}"
        tables = ", ".join(str(t.get("table")) for t in e.tables) or "-"
        held = f"; held, skipped: {len(e.skipped_held)}" if e.skipped_held else ""
        lines.append(
            f"| {e.time.isoformat(timespec='seconds')} | {e.principal} | "
            f"{', '.join(e.subject_columns) or '-'} | {e.rows if e.rows is not None else '-'} | "
            f"{_cell(tables)} | {proof}{held} |"
        )
    return [*lines, ""]
