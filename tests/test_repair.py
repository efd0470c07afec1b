"""RepairCells: edited notebooks (deleted, duplicated, split, retyped, moved graded cells) are still graded.

One toy course, one batch: every edited submission holds the right answer, so an
unedited notebook scores 3/3. ``course grade`` must give it that score (or what the
edit really leaves), say what it repaired, and keep the status ``graded``; stock
``nbgrader autograde`` on the same submissions loses points, to show the repair matters.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder.collect import collect
from autograder.coursedir import Course
from autograder.prepare import prepare
from tests.nbgrader_course import copy_course, make_course, nbgrader, released, submit, with_solution
from tests.test_grading import course_grade, read_csv, tree_digest

ANSWER = "def add(a, b):\n    return a + b"


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def index(nb, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)


def answered(blank):
    return with_solution(blank, "add", ANSWER)


def edits(blank) -> dict[str, nbformat.NotebookNode]:
    """One submission per kind of edit, each otherwise right."""
    subs = {"unedited": answered(blank)}

    nb = answered(blank)  # the hidden test must not escape grading
    del nb.cells[index(nb, "test_add")]
    subs["deleted-test"] = nb

    nb = answered(blank)  # work in the first copy, the untouched stub pasted below it
    nb.cells.insert(index(nb, "add") + 1, nbformat.from_dict(blank.cells[index(blank, "add")]))
    nb.cells[index(nb, "add") + 1]["id"] = "stubcopy"
    subs["duplicated-solution"] = nb

    nb = answered(blank)  # turned into a raw cell by an editor that also dropped the metadata
    cell = nb.cells[index(nb, "add")]
    subs_cell = nbformat.v4.new_raw_cell(cell.source)
    subs_cell["id"] = cell["id"]
    nb.cells[index(nb, "add")] = subs_cell
    subs["retyped-solution"] = nb

    nb = answered(blank)  # split inside the function: the second piece has no nbgrader metadata
    at = index(nb, "add")
    nb.cells[at].source = "def add(a, b):"
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("    return a + b"))
    subs["split-solution"] = nb

    nb = answered(blank)  # split with JupyterLab's copied metadata, plus a helper cell that stays
    at = index(nb, "add")
    nb.cells[at].source = "def add(a, b):\n    total = a"
    second = nbformat.from_dict(nb.cells[at])
    second["id"], second.source = "piece2", "    return total + b"
    nb.cells.insert(at + 1, second)
    nb.cells.insert(at + 2, nbformat.v4.new_code_cell("helper = add(2, 2)"))
    subs["split-copied-metadata"] = nb

    nb = answered(blank)  # both test cells dragged above the solution
    tests = [c for c in nb.cells if grade_id(c) in ("test_add", "test_add_more")]
    nb.cells = [c for c in nb.cells if c not in tests]
    nb.cells[index(nb, "add"):index(nb, "add")] = tests
    subs["moved-tests"] = nb

    nb = answered(blank)  # a test cell retyped to markdown, its metadata lost: found by its content
    at = index(nb, "test_add_more")
    nb.cells[at] = nbformat.v4.new_markdown_cell(nb.cells[at].source)
    subs["retyped-test"] = nb

    nb = answered(blank)  # beyond repair: only the intro is left
    nb.cells = nb.cells[:1]
    subs["gutted"] = nb

    nb = answered(blank)  # beyond repair: nothing left at all
    nb.cells = []
    subs["emptied"] = nb

    nb = answered(blank)  # garbage nbgrader metadata on a test cell and on a student cell
    nb.cells[index(nb, "test_add")].metadata["nbgrader"] = "oops"
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": ["junk"]}))
    subs["garbage-metadata"] = nb
    return subs


@pytest.fixture(scope="module")
def edited_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = make_course(tmp_path_factory.mktemp("repair") / "course")
    proc = nbgrader(course, "generate_assignment", "toy", "--force")
    assert proc.returncode == 0, proc.stderr
    for student, nb in edits(released(course)).items():
        submit(course, student, nb)
    return course


@pytest.fixture(scope="module")
def graded(edited_course: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    ours = copy_course(edited_course, tmp_path_factory.mktemp("ours") / "course")
    before = tree_digest(ours / "submitted")
    rows = course_grade(ours, "toy")
    assert tree_digest(ours / "submitted") == before, "the submitted files are never modified"
    return ours, rows, before


def stock_autograde(course: Path) -> tuple[dict[str, float | None], list[str]]:
    """Scores from stock ``nbgrader autograde`` + ``export`` (None: nbgrader could not grade it).

    A notebook nbgrader refuses (SchemaTooOldError, as its DeduplicateIds leaves an empty
    metadata dict on duplicates) aborts nbgrader's whole batch: run it again without the
    students it failed on, as an instructor would have to.
    """
    failed: list[str] = []
    for _ in range(len(EXPECTED)):
        proc = nbgrader(course, "autograde", "toy", f"--CourseDirectory.student_id_exclude={','.join(failed)}")
        if proc.returncode == 0:
            break
        broken = re.findall(r"Removing failed assignment: .*[/\\]autograded[/\\](.+?)[/\\]toy", proc.stderr)
        assert broken and broken[-1] not in failed, proc.stderr[-2000:]
        failed.append(broken[-1])
    proc = nbgrader(course, "export")
    assert proc.returncode == 0, proc.stderr[-2000:]
    autograded = {p.parent.parent.name for p in (course / "autograded").glob("*/toy/toy.ipynb")}
    scores = {sid: float(row["score"]) for sid, row in read_csv(course / "grades.csv").items()
              if row["assignment"] == "toy" and sid in autograded}
    return {student: scores.get(student) for student in EXPECTED}, failed


@pytest.fixture(scope="module")
def stock(edited_course: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float | None], list[str]]:
    return stock_autograde(copy_course(edited_course, tmp_path_factory.mktemp("stock") / "course"))


EXPECTED = {  # student: (our score, words the detail must hold)
    "unedited": (3.0, []),
    "deleted-test": (3.0, ["repaired: restored deleted test cell test_add"]),
    "duplicated-solution": (3.0, ["repaired: dropped duplicate of add"]),
    "retyped-solution": (3.0, ["restored nbgrader metadata of add (matched by cell id)",
                               "restored cell type of add (raw -> code)"]),
    "split-solution": (3.0, ["repaired: merged 2 split pieces of add"]),
    "split-copied-metadata": (3.0, ["repaired: merged 2 split pieces of add"]),
    "moved-tests": (3.0, ["moved test cell test_add back after add", "moved test cell test_add_more back after"]),
    "retyped-test": (3.0, ["restored nbgrader metadata of test_add_more (matched by content)",
                           "restored cell type of test_add_more (markdown -> code)"]),
    "garbage-metadata": (3.0, ["restored nbgrader metadata of test_add (matched by cell id)",
                               "removed malformed nbgrader metadata from a cell"]),
    "emptied": (0.0, ["solution cell add was deleted", "restored deleted locked cell intro"]),
    "gutted": (0.0, ["solution cell add was deleted", "restored deleted test cell test_add",
                     "restored deleted test cell test_add_more"]),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_edited_notebook_is_repaired_and_graded(graded, student: str):
    _, rows, _ = graded
    score, words = EXPECTED[student]
    row = rows[student]
    assert row["status"] == "graded", row
    assert float(row["score"]) == score, row
    for word in words:
        assert word in row["detail"], row["detail"]
    if not words:
        assert "repaired" not in row["detail"]


def test_restored_test_cell_runs_its_hidden_test(graded):
    course, _, _ = graded
    nb = nbformat.read(course / "autograded" / "deleted-test" / "toy" / "toy.ipynb", as_version=4)
    cell = nb.cells[index(nb, "test_add")]
    assert "secret-check" in cell.source and index(nb, "add") < index(nb, "test_add") < index(nb, "test_add_more")
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_split_pieces_keep_the_students_other_cells(graded):
    course, _, _ = graded
    nb = nbformat.read(course / "autograded" / "split-copied-metadata" / "toy" / "toy.ipynb", as_version=4)
    assert nb.cells[index(nb, "add")].source == "def add(a, b):\n    total = a\n    return total + b"
    assert nb.cells[index(nb, "add") + 1].source == "helper = add(2, 2)", "unlabelled student cells stay in place"


def test_one_row_per_submission(graded):
    _, rows, _ = graded
    assert sorted(rows) == sorted(EXPECTED), "one row per submission, the unrepairable ones included"


def test_stock_nbgrader_loses_points_on_the_same_edits(graded, stock):
    _, rows, _ = graded
    stock, failed = stock
    print("stock nbgrader:", stock, "refused:", failed)
    # nbgrader 0.9.6: duplicates abort its whole batch (SchemaTooOldError), the rest lose points
    assert sorted(failed) == ["duplicated-solution", "garbage-metadata", "split-copied-metadata"]
    assert stock["unedited"] == float(rows["unedited"]["score"]) == 3.0
    for student in EXPECTED:
        if student in ("unedited", "gutted", "emptied"):
            continue
        assert (stock[student] or 0.0) < float(rows[student]["score"]), (student, stock[student])
    assert stock["gutted"] == float(rows["gutted"]["score"]) == 0.0


def test_repair_can_be_turned_off(edited_course: Path, tmp_path: Path):
    course_dir = copy_course(edited_course, tmp_path / "course")
    with open(course_dir / "nbgrader_config.py", "a") as fh:
        fh.write("c.RepairCells.enabled = False\n")
    course = Course.open(course_dir)
    [sub] = [s for s in collect(course, "toy", ["toy"]) if s.student_id == "deleted-test"]
    task = prepare(course, sub)
    assert task.repairs == {}
    assert "test_add" not in [grade_id(c) for c in nbformat.reads(task.notebooks["toy"], as_version=4).cells]
