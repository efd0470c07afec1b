"""`course grade` on standard nbgrader courses: same scores as nbgrader, and a batch that survives anything."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from autograder.cli import main as course_main
from tests.nbgrader_course import (
    BIN,
    copy_course,
    make_course,
    nbgrader,
    released,
    submit,
    toy_notebook,
    with_solution,
)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def course_grade(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    assert course_main(["grade", assignment, "--course-dir", str(course), "--quiet"]) == 0
    return read_csv(course / "reports" / assignment / "grades.csv")


def nbgrader_scores(course: Path, assignment: str) -> dict[str, float]:
    proc = nbgrader(course, "autograde", assignment, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = nbgrader(course, "export")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read_csv(course / "grades.csv")
    return {sid: float(row["score"]) for sid, row in rows.items() if row["assignment"] == assignment}


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def toy_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy course, released, with a full, a blank and a partly right submission."""
    course = make_course(tmp_path_factory.mktemp("toy") / "course")
    proc = nbgrader(course, "generate_assignment", "toy", "--force")
    assert proc.returncode == 0, proc.stderr
    submit(course, "full", toy_notebook())
    submit(course, "blank", released(course))
    submit(course, "partial", with_solution(released(course), "add", "def add(a, b):\n    return abs(a) + b"))
    folder = submit(course, "late", with_solution(released(course), "add", "def add(a, b):\n    return a + b"))
    (folder / "timestamp.txt").write_text("2030-01-01 12:00:00.000000 UTC")
    return course


def test_course_grade_gives_nbgrader_scores(toy_course: Path, tmp_path: Path):
    ours = course_grade(copy_course(toy_course, tmp_path / "ours"), "toy")
    theirs = nbgrader_scores(copy_course(toy_course, tmp_path / "theirs"), "toy")
    assert {sid: float(row["score"]) for sid, row in ours.items()} == theirs
    assert theirs == {"full": 3.0, "blank": 0.0, "partial": 1.0, "late": 3.0}, "the fixture covers 0, partial, full"
    assert ours["partial"]["status"] == "graded"
    assert "test_add (AssertionError)" in ours["partial"]["detail"]
    assert "NotImplementedError" in ours["blank"]["detail"]
    assert all(row["max_score"] == "3.0" for row in ours.values())


def test_quickstart_course_gives_nbgrader_scores(tmp_path: Path):
    """nbgrader's own example course (header, manually graded cells, two notebooks)."""
    proc = nbgrader(tmp_path, "quickstart", "course101")
    assert proc.returncode == 0, proc.stderr
    course = tmp_path / "course101"
    assert nbgrader(course, "generate_assignment", "ps1", "--force").returncode == 0
    for student, (first, second) in {"full": ("source", "source"), "blank": ("release", "release"),
                                     "half": ("source", "release")}.items():
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for name, origin in (("problem1.ipynb", first), ("problem2.ipynb", second)):
            (folder / name).write_bytes((course / origin / "ps1" / name).read_bytes())
    ours = course_grade(copy_course(course, tmp_path / "ours"), "ps1")
    theirs = nbgrader_scores(copy_course(course, tmp_path / "theirs"), "ps1")
    assert {sid: float(row["score"]) for sid, row in ours.items()} == theirs
    assert "needs manual grading" in ours["full"]["detail"]


def test_batch_survives_crash_timeout_and_broken_files(tmp_path: Path):
    course = make_course(tmp_path / "course", cell_timeout=3)
    assert nbgrader(course, "generate_assignment", "toy", "--force").returncode == 0
    blank = released(course)
    submit(course, "a-good", with_solution(blank, "add", "def add(a, b):\n    return a + b"))
    submit(course, "crash", with_solution(blank, "add", "import os\nos._exit(1)"))
    submit(course, "sleepy", with_solution(blank, "add", "import time\ntime.sleep(60)"))
    submit(course, "invalid-json", b"{ this is not json")
    submit(course, "empty-file", b"")
    submit(course, "no-notebook", None)
    submit(course, "wrong name", blank, name="renamed.ipynb")
    before = tree_digest(course / "submitted")

    rows = course_grade(course, "toy")

    assert tree_digest(course / "submitted") == before, "submissions are never modified"
    assert sorted(rows) == sorted(["a-good", "crash", "sleepy", "invalid-json", "empty-file", "no-notebook",
                                   "wrong name"]), "exactly one row per submission"
    expected = {"a-good": "graded", "crash": "crashed", "sleepy": "timeout", "invalid-json": "invalid",
                "empty-file": "invalid", "no-notebook": "missing", "wrong name": "missing"}
    assert {sid: row["status"] for sid, row in rows.items()} == expected
    assert float(rows["a-good"]["score"]) == 3.0
    assert all(float(row["score"]) == 0.0 for sid, row in rows.items() if sid != "a-good")
    assert "kernel died in add" in rows["crash"]["detail"]
    assert "cell timeout in add" in rows["sleepy"]["detail"]
    assert "not a readable notebook" in rows["invalid-json"]["detail"]
    assert "toy.ipynb was not submitted" in rows["no-notebook"]["detail"]
    # the autograded copy holds the source's support file and nbgrader's usual layout
    autograded = course / "autograded" / "a-good" / "toy"
    assert (autograded / "toy.ipynb").is_file() and (autograded / "data.txt").is_file()


def test_release_removes_solutions_and_hidden_tests(tmp_path: Path):
    course = make_course(tmp_path / "course")
    assert course_main(["release", "toy", "--course-dir", str(course)]) == 0
    text = (course / "release" / "toy" / "toy.ipynb").read_text()
    assert "secret-check" not in text and "BEGIN" not in text and "return a + b" not in text
    assert "raise NotImplementedError" in text


def test_cli_by_full_path_without_the_venv_on_path(tmp_path: Path):
    """nbgrader runs `alembic` by name when it creates a gradebook: the CLI must find its own."""
    course = make_course(tmp_path / "course")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"
    proc = subprocess.run([str(BIN / "course"), "release", "toy", "--course-dir", str(course)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (course / "gradebook.db").is_file()


def test_unknown_assignment_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    course = make_course(tmp_path / "course")
    assert course_main(["grade", "nope", "--course-dir", str(course), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "source" in err


def test_missing_course_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert course_main(["grade", "toy", "--course-dir", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
