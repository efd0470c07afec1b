"""Hidden checks judged outside the kernel (autograder/checks.py, difftf/grading.py).

The adversarial corpus shows the end result (patched asserts, numpy.testing,
difftf, export and emptied test cells score nothing); these tests pin down the
pieces: what a kernel can export, how exports are judged, how a failure reaches
nbgrader's score, and that hidden_checks.py never leaves the instructor's folder.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbgrader.utils import determine_grade

from autograder.checks import CHECKS_FILE, apply, close, ensure_checks, judge, load_checks, reference_from
from autograder.coursedir import Course, CourseError
from autograder.pipeline import release
from difftf import grading
from difftf.reference import Reference
from tests.nbgrader_course import make_course

CHECKS = """
from autograder.checks import close
CHECKS = {
    "test_root": {"root": lambda v, ref: close(v, 3.0, 1e-6)},
    "test_model": {"accuracy": lambda v, ref: ref.at_least("acc", float(v), margin=0.05)},
}
"""


def test_export_writes_plain_arrays_only_while_a_grader_collects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(grading.EXPORT_DIR_ENV, raising=False)
    assert grading.export("root", 3.0) is False and not grading.collecting()
    monkeypatch.setenv(grading.EXPORT_DIR_ENV, str(tmp_path))
    assert grading.export("root", 3.0) is True
    assert float(np.load(tmp_path / "root.npy", allow_pickle=False)) == 3.0
    grading.export("probs", [[0.1], [0.9]])
    assert np.load(tmp_path / "probs.npy").shape == (2, 1)

    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(TypeError, match="only numbers"):
        grading.export("root", Anything())
    with pytest.raises(ValueError, match="export name"):
        grading.export("../escape", 1.0)


def test_judge_names_every_failure(tmp_path: Path):
    checks = load_checks(CHECKS)
    reference = Reference(metrics={"acc": 0.9})
    np.save(tmp_path / "root.npy", np.float32(3.0))
    np.save(tmp_path / "accuracy.npy", np.float64(0.95))
    assert judge(checks, tmp_path, reference) == {"test_root": [], "test_model": []}
    np.save(tmp_path / "root.npy", np.float32(2.5))
    (tmp_path / "accuracy.npy").unlink()
    failures = judge(checks, tmp_path, reference)
    assert failures["test_root"] == ["root: got 2.5, expected 3 (tolerance 1e-06)"]
    assert failures["test_model"] == ["accuracy: the hidden test handed in nothing (it did not run to that point)"]
    # A pickled object (what np.save writes for one) is refused: exports carry numbers, never code.
    np.save(tmp_path / "accuracy.npy", np.array([object()], dtype=object), allow_pickle=True)
    assert "not plain numbers" in judge(checks, tmp_path, reference)["test_model"][0]
    # A shape the check cannot use is a wrong answer, not a crash of the grader.
    np.save(tmp_path / "root.npy", np.zeros(3))
    assert "expected one number" in judge(checks, tmp_path, reference)["test_root"][0]


def test_a_failed_check_makes_nbgrader_score_the_cell_zero():
    cell = nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test_root", "points": 2}})
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert determine_grade(cell) == (2, 2)
    assert apply(nb, {"test_root": [], "other": ["x"]}) == []
    assert apply(nb, {"test_root": ["root: got 2.5"]}) == ["test_root"]
    assert determine_grade(nb.cells[0]) == (0, 2)
    assert nb.cells[0].outputs[-1]["ename"] == "HiddenCheckFailed"


def test_thresholds_come_from_the_pristine_reference_file():
    ref = reference_from({"reference.json": b'{"metrics": {"acc": 0.8}}'})
    assert ref.threshold("acc", margin=0.05) == pytest.approx(0.75)
    with pytest.raises(AssertionError):
        close(np.float64(1.0), 2.0, 0.5)


def test_broken_or_mismatched_checks_stop_the_batch(tmp_path: Path):
    course = make_course(tmp_path / "course")
    source = course / "source" / "toy"
    ensure_checks(source)  # no hidden_checks.py: nothing to check
    (source / CHECKS_FILE).write_text("CHECKS = {'test_add': {'x': lambda v, r: None}}\n")
    ensure_checks(source)
    (source / CHECKS_FILE).write_text("CHECKS = {'test_nowhere': {'x': lambda v, r: None}}\n")
    with pytest.raises(CourseError, match="test_nowhere"):
        ensure_checks(source)
    (source / CHECKS_FILE).write_text("CHECKS = [\n")
    with pytest.raises(CourseError, match=f"{CHECKS_FILE} could not be loaded"):
        ensure_checks(source)


def test_hidden_checks_are_never_released(tmp_path: Path):
    course_dir = make_course(tmp_path / "course")
    (course_dir / "source" / "toy" / CHECKS_FILE).write_text("CHECKS = {}\n")
    course = Course.open(course_dir)
    assert CHECKS_FILE in course.config.CourseDirectory.ignore
    released = release(course, "toy")
    assert (released / "data.txt").exists() and not (released / CHECKS_FILE).exists()
