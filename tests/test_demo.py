"""`make demo`'s job, on a scratch copy of course/: release, grade the example class, print the table."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.nbgrader_course import BIN
from tests.test_assignments import course_copy

EXAMPLES = REPO_ROOT / "course" / "submitted"


@pytest.mark.skipif(not any(EXAMPLES.glob("example-*")), reason="no example submissions committed yet")
def test_demo_grades_the_example_class(tmp_path: Path):
    course = course_copy(tmp_path / "course")
    shutil.copytree(EXAMPLES, course / "submitted")
    before = {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # called by full path, venv not on PATH
    proc = subprocess.run([str(BIN / "course"), "demo", "--course-dir", str(course), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert before == {p: p.read_bytes() for p in (course / "submitted").rglob("*") if p.is_file()}

    assignments = sorted({p.name for p in EXAMPLES.glob("example-*/*") if p.is_dir()})
    for assignment in assignments:
        assert f"== {assignment}: released" in proc.stdout
        with open(course / "reports" / assignment / "grades.csv", newline="", encoding="utf-8") as fh:
            rows = {row["student_id"]: row for row in csv.DictReader(fh)}
        score = {sid: float(row["score"]) for sid, row in rows.items()}
        top = float(rows["example-full"]["max_score"])
        assert score["example-full"] == top > 0, rows["example-full"]["detail"]
        assert score["example-untouched"] == 0.0
        assert 0.0 < score["example-partial"] < top, rows["example-partial"]["detail"]
        assert score["example-exception"] < top
        assert rows["example-exception"]["status"] == "graded"
        assert "ZeroDivisionError" in rows["example-exception"]["detail"]
        for student in rows:
            assert student in proc.stdout, "every student is in the printed table"
