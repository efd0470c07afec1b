"""Step 6, report: grades.csv and the summary table an instructor reads."""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from pathlib import Path

from autograder.record import GradeRow

CSV_COLUMNS = [f.name for f in fields(GradeRow)]


def write_csv(rows: list[GradeRow], path: Path) -> Path:
    """Write one row per submission (columns: student_id, score, max_score, status, detail, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    tmp.replace(path)  # readers never see a half-written file
    return path


def format_table(rows: list[GradeRow], detail_width: int = 80) -> str:
    """A left-aligned fixed-width table of the results, details shortened to fit a terminal."""
    if not rows:
        return "(no submissions)"
    header = ("student_id", "score", "max_score", "status", "detail")
    lines = [
        (
            r.student_id,
            f"{r.score:g}",
            f"{r.max_score:g}",
            r.status,
            r.detail if len(r.detail) <= detail_width else r.detail[: detail_width - 1] + "…",
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *lines])
