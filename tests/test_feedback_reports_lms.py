"""Feedback without hidden tests, the class report, and LMS (Canvas, Moodle) imports."""

from __future__ import annotations

import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main as course_main
from autograder.release_check import secret_lines
from tests.nbgrader_course import make_course, nbgrader, released, submit, toy_notebook, with_solution

GOOD = "def add(a, b):\n    return a + b"


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = make_course(tmp_path_factory.mktemp("fb") / "course")
    assert nbgrader(course, "generate_assignment", "toy", "--force").returncode == 0
    blank = released(course)
    submit(course, "good", with_solution(blank, "add", GOOD))
    submit(course, "hidden-fail", with_solution(blank, "add", "def add(a, b):\n    return abs(a) + b"))
    submit(course, "blank", blank)
    submit(course, "crash", with_solution(blank, "add", "import os\nos._exit(3)"))
    assert course_main(["grade", "toy", "--course-dir", str(course), "--quiet"]) == 0
    return course


def test_feedback_shows_tests_and_points_but_no_hidden_test(graded_course: Path):
    secrets = secret_lines(toy_notebook())
    assert "assert add(-5, 5) == 0  # secret-check" in secrets, "the fixture has a hidden test to leak"
    files = sorted((graded_course / "feedback").rglob("*.html"))
    assert {p.parts[-3] for p in files} == {"good", "hidden-fail", "blank", "crash"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "secret-check" not in text and "add(-5, 5)" not in text, f"hidden test leaked into {path}"
        assert "HIDDEN TESTS" not in text
        assert "test_add" in text, "feedback names the tests"
    failing = (graded_course / "feedback" / "hidden-fail" / "toy" / "toy.html").read_text(encoding="utf-8")
    assert "AssertionError" in failing
    assert "Score: 1.0 / 3.0" in failing or "1.0 / 3.0" in failing


def test_report_writes_pass_rates_plots_and_html(graded_course: Path):
    assert course_main(["report", "toy", "--course-dir", str(graded_course)]) == 0
    folder = graded_course / "reports" / "toy"
    for name in ("grades.csv", "tests.csv", "score_histogram.png", "pass_rate.png", "grading_time.png", "index.html"):
        assert (folder / name).is_file(), name
    rates = (folder / "tests.csv").read_text().splitlines()
    assert rates[0] == "test,max_points,mean_points,pass_rate,submissions"
    assert "toy/test_add,2,0.5,0.250,4" in rates and "toy/test_add_more,1,0.5,0.500,4" in rates
    page = (folder / "index.html").read_text()
    assert "pass_rate.png" in page and "hidden-fail" in page and "crashed" in page


def test_report_before_grading_is_a_clear_error(tmp_path: Path, capsys):
    course = make_course(tmp_path / "course")
    assert course_main(["report", "toy", "--course-dir", str(course)]) == 2
    assert "course grade" in capsys.readouterr().err


def canvas_zip(path: Path, notebook: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("doeja_12345_67890_toy.ipynb", notebook)
        zf.writestr("smithb_LATE_23456_78901_toy-1.ipynb", notebook)
        zf.writestr("notes.txt", b"stray file")
        zf.writestr("leeco_34567_89012_other.ipynb", notebook)
    return path


def moodle_zip(path: Path, notebook: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Jane Doe_123456_assignsubmission_file_/toy.ipynb", notebook)
        zf.writestr("José Núñez_234567_assignsubmission_file_/toy.ipynb", notebook)
        zf.writestr("readme.pdf", b"%PDF")
    return path


@pytest.mark.parametrize(
    ("maker", "students", "unmatched", "unknown"),
    [
        (canvas_zip, {"doeja", "smithb"}, ["notes.txt"], ["leeco_34567_89012_other.ipynb"]),
        (moodle_zip, {"Jane Doe", "José Núñez"}, ["readme.pdf"], []),
    ],
)
def test_collect_lms_download(tmp_path: Path, capsys, maker, students, unmatched, unknown):
    course = make_course(tmp_path / "course")
    assert course_main(["release", "toy", "--course-dir", str(course)]) == 0
    notebook = nbformat.writes(released(course)).encode()
    archive = maker(tmp_path / "download.zip", notebook)
    assert course_main(["collect", "toy", str(archive), "--course-dir", str(course)]) == 0
    out = capsys.readouterr().out
    assert {p.parent.parent.name for p in (course / "submitted").glob("*/toy/toy.ipynb")} == students
    for rel in unmatched:
        assert f"not matched (no student id in the name): {rel}" in out
    for rel in unknown:
        assert f"not a notebook of toy: {rel}" in out
    assert archive.read_bytes()[:2] == b"PK", "the download itself is left as it was"
