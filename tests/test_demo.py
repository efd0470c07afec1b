"""`make demo`'s job, on a scratch copy of course/: release, grade the example class, print the tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "course" / "submitted"
pytestmark = pytest.mark.skipif(not any(EXAMPLES.glob("example-*")), reason="no example submissions committed yet")


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_demo_runs_and_never_touches_the_submissions(demo_class):
    course, proc, before = demo_class
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert before == {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}


def test_demo_grades_every_assignment_of_the_example_class(demo_class):
    course, proc, _ = demo_class
    assignments = sorted({p.name for p in EXAMPLES.glob("example-*/*") if p.is_dir()})
    assert len(assignments) >= 1
    for assignment in assignments:
        assert f"== {assignment}: released" in proc.stdout
        rows = read_csv(course / "reports" / assignment / "grades.csv")
        score = {sid: float(row["score"]) for sid, row in rows.items()}
        top = float(rows["example-full"]["max_score"])
        assert score["example-full"] == top > 0, f"{assignment}: {rows['example-full']['detail']}"
        assert score["example-untouched"] == 0.0, assignment
        assert 0.0 < score["example-partial"] < top, f"{assignment}: {rows['example-partial']['detail']}"
        if "example-exception" in rows:
            assert score["example-exception"] < top
            assert rows["example-exception"]["status"] == "graded"
            assert "ZeroDivisionError" in rows["example-exception"]["detail"]
        for student in rows:
            assert student in proc.stdout, "every student is in the printed table"


def test_demo_ends_with_the_class_table_across_assignments(demo_class):
    course, proc, _ = demo_class
    table = read_csv(course / "reports" / "class_grades.csv")
    assignments = sorted({p.name for p in EXAMPLES.glob("example-*/*") if p.is_dir()})
    for assignment in assignments:
        per_assignment = read_csv(course / "reports" / assignment / "grades.csv")
        for student, row in per_assignment.items():
            assert float(table[student][assignment]) == float(row["score"]), (student, assignment)
    full = table["example-full"]
    assert float(full["total"]) == float(full["max_total"]) == sum(
        float(read_csv(course / "reports" / a / "grades.csv")["example-full"]["max_score"]) for a in assignments
    )
    assert "class grades" in proc.stdout and "class_grades.csv" in proc.stdout
