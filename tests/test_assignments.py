"""Invariants of every assignment in assignments/, checked on one graded class (see conftest.demo_class).

- the solution earns full marks, and the reference run (the source notebook itself,
  hidden tests included) passes, reproduces reference.json and fits the time budget;
- the untouched release earns zero without breaking the batch and hides every secret;
- the committed wrong-but-plausible submission passes every visible test yet fails
  every cell that has hidden tests, inside the hidden part: every hidden test can fail.
"""

from __future__ import annotations

import ast
import csv
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.coursedir import Course
from autograder.reference import ReferenceRun, run_reference
from autograder.release_check import find_leaks
from difftf.reference import Reference
from tests.conftest import REPO_ROOT, course_copy, selected_assignments

ASSIGNMENTS = selected_assignments()
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def notebooks(assignment: str) -> list[Path]:
    return sorted((REPO_ROOT / "assignments" / assignment).glob("*.ipynb"))


def grade_rows(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    with open(course / "reports" / assignment / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def budget(assignment: str) -> float:
    total = 0.0
    for path in notebooks(assignment):
        value = nbformat.read(path, as_version=4).metadata.get("difftf", {}).get("budget_seconds")
        assert value, f"{path.name}: set notebook metadata difftf.budget_seconds (compute budget on 2 CPU cores)"
        total += float(value)
    return total


def reference_run(course_dir: Path, assignment: str) -> ReferenceRun:
    return run_reference(Course.open(course_dir), assignment, gpu_ids=[])


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ReferenceRun]:
    """Each source notebook run as `course reference --cpu` does, two at a time.

    Processes, not threads: a run hands its kernel variables through os.environ.
    """
    course_dir = course_copy(tmp_path_factory.mktemp("reference") / "course")
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {a: pool.submit(reference_run, course_dir, a) for a in ASSIGNMENTS}
        return {a: future.result() for a, future in futures.items()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_within_budget(demo_class, assignment: str):
    course, _, _ = demo_class
    row = grade_rows(course, assignment)["example-full"]
    assert row["status"] == "graded", row["detail"]
    assert float(row["score"]) == float(row["max_score"]) > 0, row["detail"]
    assert float(row["seconds"]) <= budget(assignment), f"grading took {row['seconds']} s"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_run_passes_reproduces_reference_json_and_fits_the_budget(reference_runs, assignment: str):
    """The source's own tests pass (else run_reference raises), and it clears the committed bars."""
    run = reference_runs[assignment]
    committed_path = REPO_ROOT / "assignments" / assignment / "reference.json"
    assert committed_path.exists(), f"run `course reference {assignment} --cpu` and commit reference.json"
    committed = json.loads(committed_path.read_text())
    assert committed["device"] == "CPU", "commit the CPU reference (what CI and most students run)"
    assert set(run.metrics) == set(committed["metrics"]), "reference.json is stale: run `course reference` again"
    ref = Reference(committed_path)
    for name, value in run.metrics.items():
        check = run.checks[name]
        if check["direction"] == "min":
            ref.at_least(name, value, margin=check["margin"])
        else:
            ref.at_most(name, value, factor=check["factor"], floor=check.get("floor", 0.0))
    assert run.wall_seconds <= budget(assignment), f"reference run took {run.wall_seconds:.1f} s"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_scores_zero_without_breaking_the_batch(demo_class, assignment: str):
    course, _, _ = demo_class
    row = grade_rows(course, assignment)["example-untouched"]
    assert row["status"] == "graded", "an untouched release must run to the end (stubs raise, tests fail)"
    assert float(row["score"]) == 0.0, row["detail"]
    assert "NotImplementedError" in row["detail"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_or_hidden_test(demo_class, assignment: str):
    course, _, _ = demo_class
    source_dir = REPO_ROOT / "assignments" / assignment
    released = sorted((course / "release" / assignment).glob("*.ipynb"))
    assert [p.name for p in released] == [p.name for p in notebooks(assignment)]
    for path in released:
        assert find_leaks(source_dir / path.name, path) == []
        text = path.read_text()
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
        assert "raise NotImplementedError" in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_sources_are_stored_without_outputs_and_state_a_budget(assignment: str):
    for path in notebooks(assignment):
        nb = nbformat.read(path, as_version=4)
        assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), path.name
        assert set(nb.metadata) <= {"kernelspec", "language_info", "difftf"}, f"{path.name}: clean the metadata"
    assert budget(assignment) <= 120


SAFE_LAST_CALLS = {"at_least", "at_most", "print"}  # calls that return None: nothing is displayed


def displays_a_value(source: str) -> bool:
    """True when the cell's last statement is an expression IPython would display."""
    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    call = body[-1].value
    if isinstance(call, ast.Call):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        return name not in SAFE_LAST_CALLS
    return True


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_test_cell_ends_in_a_displayed_value(assignment: str):
    """nbgrader reads a number a test cell displays as partial credit: a check must end in a statement."""
    for path in notebooks(assignment):
        for cell in nbformat.read(path, as_version=4).cells:
            if nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
                assert not displays_a_value(cell.source), f"{nbgrader_meta(cell)['grade_id']} ends in an expression"


def same_cells(a: Path, b: Path) -> bool:
    """Equal apart from the solution cells a student fills in."""
    def fixed(path: Path) -> list[str]:
        nb = nbformat.read(path, as_version=4)
        return [c.source for c in nb.cells if not nbgrader_meta(c).get("solution")]

    return fixed(a) == fixed(b)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_submissions_match_the_current_release(demo_class, assignment: str):
    """Example submissions and the wrong fixture must not drift from the real release."""
    course, _, _ = demo_class
    for released in sorted((course / "release" / assignment).glob("*.ipynb")):
        untouched = REPO_ROOT / "course" / "submitted" / "example-untouched" / assignment / released.name
        assert untouched.exists(), "run tools/make_example_submissions.py"
        ours, fresh = nbformat.read(untouched, as_version=4), nbformat.read(released, as_version=4)
        assert [c.source for c in ours.cells] == [c.source for c in fresh.cells], (
            f"{untouched.relative_to(REPO_ROOT)} is stale: run tools/make_example_submissions.py"
        )
        for student in ("example-full", "example-partial"):
            assert same_cells(REPO_ROOT / "course" / "submitted" / student / assignment / released.name, released)
        fixture = REPO_ROOT / "tests" / "fixtures" / assignment / released.name
        assert fixture.exists(), f"write tests/fixtures/{assignment}/wrong_answers.py, run tools/make_fixture.py"
        assert same_cells(fixture, released), f"run tools/make_fixture.py {assignment}"


EXPORT_CALL = re.compile(r"""difftf\.export\(\s*(f?)(["'])(.+?)\2""")


def export_patterns(source: str) -> list[re.Pattern[str]]:
    """The export names a hidden block hands in, as patterns (an f-string's fields match anything)."""
    patterns = []
    for is_f, _, name in EXPORT_CALL.findall(source):
        if is_f:
            parts = re.split(r"\{[^}]*\}", name)
            patterns.append(re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$"))
        else:
            patterns.append(re.compile("^" + re.escape(name) + "$"))
    return patterns


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_export_has_an_outside_check_and_every_check_an_export(assignment: str):
    """An export without a check would be free points under `course grade` (its in-kernel fallback is skipped)."""
    from autograder.checks import CHECKS_FILE, load_checks

    path = REPO_ROOT / "assignments" / assignment / CHECKS_FILE
    checks = load_checks(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    exported: dict[str, list[re.Pattern[str]]] = {}
    for nb_path in notebooks(assignment):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            meta = nbgrader_meta(cell)
            patterns = export_patterns(cell.source)
            if patterns:
                assert meta.get("grade") and HIDDEN_BEGIN in cell.source, (
                    f"{nb_path.name}: difftf.export belongs in the hidden block of a test cell"
                )
                exported[meta["grade_id"]] = patterns
    for grade_id, patterns in exported.items():
        names = list(checks.get(grade_id, {}))
        for pattern in patterns:
            assert any(pattern.match(n) for n in names), (
                f"{grade_id} exports {pattern.pattern} but {CHECKS_FILE} has no check for it (it has {names})"
            )
    for grade_id, table in checks.items():
        for name in table:
            assert any(p.match(name) for p in exported.get(grade_id, [])), (
                f"{CHECKS_FILE} checks {grade_id}/{name}, which no hidden block of {grade_id} exports"
            )


def failing_line(cell: nbformat.NotebookNode) -> int | None:
    """The line of the test cell itself where its error was raised (IPython's 'Cell In[n], line L')."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = ANSI.sub("", "\n".join(output.get("traceback", [])))
            match = re.search(rf"Cell In\[{cell.get('execution_count')}\], line (\d+)", text)
            return int(match.group(1)) if match else None
    return None


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_wrong_fixture_passes_visible_tests_and_fails_every_hidden_one(demo_class, assignment: str):
    course, _, _ = demo_class
    row = grade_rows(course, assignment)["fixture-wrong"]
    assert row["status"] == "graded", row["detail"]
    hidden_cells = 0
    for path in notebooks(assignment):
        graded = nbformat.read(course / "autograded" / "fixture-wrong" / assignment / path.name, as_version=4)
        for cell in graded.cells:
            meta = nbgrader_meta(cell)
            if not (meta.get("grade") and cell.cell_type == "code"):
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            grade_id = meta["grade_id"]
            if HIDDEN_BEGIN not in cell.source:
                assert not errors, f"{grade_id} has no hidden tests, so the fixture must pass it"
                continue
            hidden_cells += 1
            assert errors, f"{grade_id}: the wrong fixture passes its hidden tests, so they cannot fail"
            begin = cell.source.splitlines().index(HIDDEN_BEGIN) + 1
            if errors[0].get("ename") == "HiddenCheckFailed":
                continue  # the kernel ran the cell without error; an export of the hidden block failed its check
            line = failing_line(cell)
            assert line is not None and line > begin, (
                f"{grade_id} must fail inside its hidden block (after line {begin}), failed at line {line}: "
                "the fixture should pass the visible tests"
            )
    assert hidden_cells > 0
    assert float(row["score"]) < float(row["max_score"])
