"""The whole class at a glance: one row per student, one column per assignment, and totals.

Each ``course grade`` writes its assignment's grades.csv; an instructor handing back a
term's marks wants them side by side. The table is rebuilt from those files, so it
always agrees with them, and written to ``reports/class_grades.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autograder.coursedir import Course


def class_table(course: Course, assignments: list[str]) -> pd.DataFrame:
    """Scores by student and assignment (empty where a student has no submission), total, max_total."""
    scores: dict[str, pd.Series] = {}
    max_total = 0.0
    for assignment in assignments:
        grades = pd.read_csv(course.reports_dir(assignment) / "grades.csv", dtype={"student_id": str})
        scores[assignment] = grades.set_index("student_id")["score"].astype(float)
        max_total += float(grades["max_score"].max()) if len(grades) else 0.0
    table = pd.DataFrame(scores).sort_index()
    table.index.name = "student_id"
    table["total"] = table[assignments].sum(axis=1, min_count=0)
    table["max_total"] = max_total
    return table


def write_class_table(course: Course, assignments: list[str]) -> tuple[pd.DataFrame, Path]:
    table = class_table(course, assignments)
    path = course.root / "reports" / "class_grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, float_format="%g")
    return table, path
