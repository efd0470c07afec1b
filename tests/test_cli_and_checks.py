"""Smaller pieces of the grader: the lab launcher, the leak check, the summary table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder.record import GradeRow
from autograder.release_check import find_leaks
from autograder.report import format_table
from tests.nbgrader_course import make_course, toy_notebook


def test_lab_gives_students_a_workspace_and_instructors_the_repository(tmp_path: Path, monkeypatch):
    course = make_course(tmp_path / "course")
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(argv))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lab", "--course-dir", str(course), "--port", "8899", "--no-browser"]) == 0
    assert cli.main(["lab", "--course-dir", str(course), "--port", "8899", "--no-browser", "--instructor"]) == 0
    student, instructor = calls
    for argv in calls:
        assert argv[1] == "lab"
        assert "--ServerApp.ip=127.0.0.1" in argv and "--ServerApp.port=8899" in argv and "--no-browser" in argv
        assert ("--allow-root" in argv) == (os.geteuid() == 0), "only root needs --allow-root"
    assert Path.cwd() == course, "nbgrader's extensions read the course config from the working folder"
    workspace = course / "student"
    assert f"--ServerApp.root_dir={workspace}" in student
    assert f"--ServerApp.root_dir={cli.REPO_ROOT}" in instructor and "--ServerApp.default_url=/formgrader" in instructor
    # The workspace: every lecture, and the release (released on the way), never the source.
    lectures = sorted(p.name for p in (cli.REPO_ROOT / "lectures").glob("*.ipynb"))
    assert sorted(p.name for p in (workspace / "lectures").glob("*.ipynb")) == lectures
    released = nbformat.read(workspace / "assignments" / "toy" / "toy.ipynb", as_version=4)
    assert "BEGIN SOLUTION" not in json.dumps(released) and "raise NotImplementedError" in json.dumps(released)
    # A student's work survives the next start.
    (workspace / "assignments" / "toy" / "toy.ipynb").write_text("my work")
    assert cli.main(["lab", "--course-dir", str(course), "--no-browser"]) == 0
    assert (workspace / "assignments" / "toy" / "toy.ipynb").read_text() == "my work"


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


def test_leak_check_finds_hidden_tests_and_solutions(tmp_path: Path):
    source = write(toy_notebook(), tmp_path / "source.ipynb")
    clean = toy_notebook()
    clean.cells[1].source = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    clean.cells[2].source = "assert add(1, 2) == 3, 'add(1, 2) should be 3'"
    assert find_leaks(source, write(clean, tmp_path / "clean.ipynb")) == []

    leaky = nbformat.from_dict(clean)
    leaky.cells[2].source += "\nassert add(-5, 5) == 0  # secret-check"
    leaks = find_leaks(source, write(leaky, tmp_path / "leaky.ipynb"))
    assert leaks == ["line 'assert add(-5, 5) == 0  # secret-check'"]

    marked = nbformat.from_dict(clean)
    marked.cells[1].source = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
    leaks = find_leaks(source, write(marked, tmp_path / "marked.ipynb"))
    assert "marker 'BEGIN SOLUTION'" in leaks


def test_summary_table_is_aligned_and_shortens_details():
    rows = [GradeRow("ada", 10, 10, "graded", "all tests passed"),
            GradeRow("a student with a long name", 0, 10, "crashed", "x" * 200)]
    lines = format_table(rows, detail_width=40).splitlines()
    assert lines[0].split() == ["student_id", "score", "max_score", "status", "detail"]
    assert len({line.index("graded") if "graded" in line else line.index("crashed") for line in lines[1:]}) == 1
    assert lines[2].endswith("x…") and len(lines[2].split()[-1]) == 40


@pytest.mark.parametrize("argv", [["grade"], ["nonsense"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: course" in capsys.readouterr().err
