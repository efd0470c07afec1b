"""Invariants of every assignment in assignments/: the source earns full marks, the
release earns zero without breaking the batch, and the release hides every secret."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main as course_main
from autograder.release_check import find_leaks
from tests.conftest import REPO_ROOT

ASSIGNMENTS = sorted(p.name for p in (REPO_ROOT / "assignments").iterdir() if p.is_dir())



def course_copy(dest: Path) -> Path:
    """The repository's course config in a scratch folder, reading sources from assignments/."""
    dest.mkdir(parents=True)
    config = (REPO_ROOT / "course" / "nbgrader_config.py").read_text()
    source = REPO_ROOT / "assignments"
    (dest / "nbgrader_config.py").write_text(f"{config}\nc.CourseDirectory.source_directory = {str(source)!r}\n")
    return dest


def grades(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    assert course_main(["grade", assignment, "--course-dir", str(course), "--quiet"]) == 0
    with open(course / "reports" / assignment / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Release the assignment, submit its source and its release, grade both."""
    assignment = request.param
    course = course_copy(tmp_path_factory.mktemp(assignment) / "course")
    assert course_main(["release", assignment, "--course-dir", str(course)]) == 0
    source_dir = REPO_ROOT / "assignments" / assignment
    for notebook in sorted(source_dir.glob("*.ipynb")):
        for student, origin in (("solution", source_dir), ("untouched", course / "release" / assignment)):
            folder = course / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            (folder / notebook.name).write_bytes((origin / notebook.name).read_bytes())
    return assignment, course, grades(course, assignment)


def test_source_scores_full_marks(graded):
    _, _, rows = graded
    row = rows["solution"]
    assert row["status"] == "graded", row["detail"]
    assert float(row["score"]) == float(row["max_score"]) > 0, row["detail"]


def test_release_scores_zero_without_breaking_the_batch(graded):
    _, _, rows = graded
    row = rows["untouched"]
    assert row["status"] == "graded", "an untouched release must run to the end (stubs raise, tests fail)"
    assert float(row["score"]) == 0.0, row["detail"]
    assert "NotImplementedError" in row["detail"]


def test_release_contains_no_solution_or_hidden_test(graded):
    assignment, course, _ = graded
    source_dir = REPO_ROOT / "assignments" / assignment
    for released in sorted((course / "release" / assignment).glob("*.ipynb")):
        assert find_leaks(source_dir / released.name, released) == []
        text = released.read_text()
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        assert "raise NotImplementedError" in text


def test_sources_are_stored_without_outputs(graded):
    assignment, _, _ = graded
    for path in sorted((REPO_ROOT / "assignments" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), path.name


def test_committed_untouched_example_is_the_current_release(graded):
    """The demo's example submission of an untouched release must not drift from the real release."""
    assignment, course, _ = graded
    example = REPO_ROOT / "course" / "submitted" / "example-untouched" / assignment
    if not example.is_dir():
        pytest.skip(f"{assignment} has no committed example-untouched submission")
    for released in sorted((course / "release" / assignment).glob("*.ipynb")):
        ours = nbformat.read(example / released.name, as_version=4)
        fresh = nbformat.read(released, as_version=4)
        assert [c.source for c in ours.cells] == [c.source for c in fresh.cells], (
            f"course/submitted/example-untouched/{assignment}/{released.name} is stale: "
            "run `course release` and copy the release over it"
        )
