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


def format_table(rows: list[GradeRow], detail_width: int = 72) -> str:
    """A fixed-width table of the results, details shortened to fit a terminal."""
    import pandas as pd

    if not rows:
        return "(no submissions)"
    frame = pd.DataFrame([asdict(r) for r in rows])[["student_id", "score", "max_score", "status", "detail"]]
    frame["score"] = frame["score"].map(lambda v: f"{v:g}")
    frame["max_score"] = frame["max_score"].map(lambda v: f"{v:g}")
    frame["detail"] = frame["detail"].map(
        lambda s: s if len(s) <= detail_width else s[: detail_width - 1] + "…"
    )
    return frame.to_string(index=False, justify="left")
