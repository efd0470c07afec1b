"""Step 5, record: the one writer to nbgrader's gradebook.

Only the grading process calls this, one submission at a time, so the gradebook
(SQLite by default) never sees two writers. Recording reuses nbgrader: the student
and submission are created through its Gradebook API, and the executed notebook
goes through the rest of nbgrader's ``autograde_preprocessors`` (SaveAutoGrades,
AssignLatePenalties, ...), which store the scores. The autograded folder is
written where nbgrader would write it, so ``nbgrader generate_feedback`` and the
formgrader work on the result.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.collect import Submission
from autograder.coursedir import Course
from autograder.prepare import GradingTask
from autograder.steps import autograde_preprocessors, notebook_resources, run_preprocessors
from autograder.task import TaskResult

STATUS_ORDER = ["error", "invalid", "crashed", "out of memory", "timeout", "missing", "graded"]  # worst first


@dataclass
class GradeRow:
    """One line of grades.csv: exactly one per submission."""

    student_id: str
    score: float
    max_score: float
    status: str
    detail: str
    raw_score: float = 0.0
    late_penalty: float = 0.0
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    cached: bool = False


def register_submission(course: Course, submission: Submission) -> None:
    """Create the student and the submission (with its timestamp) as nbgrader autograde does."""
    timestamp = course.coursedir.get_existing_timestamp(str(submission.folder))
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        gb.update_or_create_student(submission.student_id)
        if timestamp:
            gb.update_or_create_submission(submission.assignment_id, submission.student_id, timestamp=timestamp)
        else:
            gb.update_or_create_submission(submission.assignment_id, submission.student_id)


def zero_notebook(course: Course, submission: Submission, notebook_id: str) -> None:
    """Give every grade of a notebook that could not run zero, as nbgrader does for missing files."""
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        nb = gb.find_submission_notebook(notebook_id, submission.assignment_id, submission.student_id)
        for grade in nb.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def write_autograded(course: Course, submission: Submission, task: GradingTask) -> Path:
    """Recreate ``autograded/<student>/<assignment>/`` with the submission's support files."""
    dest = course.path(course.coursedir.autograded_directory, submission.student_id, submission.assignment_id)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel, data in task.files.items():
        target = dest / rel
        if dest.resolve() not in target.resolve().parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def record(course: Course, submission: Submission, task: GradingTask, result: TaskResult) -> GradeRow:
    """Store one submission's results in the gradebook and return its CSV row."""
    register_submission(course, submission)
    dest = write_autograded(course, submission, task)
    _, after_execute = autograde_preprocessors(course)
    for outcome in result.outcomes:
        if outcome.notebook is None:
            zero_notebook(course, submission, outcome.notebook_id)
            continue
        nb = nbformat.reads(outcome.notebook, as_version=4)
        resources = notebook_resources(
            course, submission.student_id, submission.assignment_id, outcome.notebook_id, str(dest)
        )
        nb, _ = run_preprocessors(after_execute, nb, resources, course.config)
        nbformat.write(nb, dest / f"{outcome.notebook_id}.ipynb")
    return read_row(course, submission, result, task.repairs)


def unscored_tests(sub) -> dict[str, list[str]]:
    """Autograded test cells the gradebook holds no score for, per notebook: cells the student deleted.

    nbgrader scores only the test cells it finds, so a deleted test cell earns 0
    without a word; the detail must say so instead of "all tests passed".
    """
    missing: dict[str, list[str]] = {}
    for nb in sub.notebooks:
        for grade in nb.grades:
            if grade.cell.cell_type == "code" and grade.auto_score is None and grade.manual_score is None:
                missing.setdefault(nb.name, []).append(grade.name)
    return missing


def with_unscored(detail: str, unscored: list[str]) -> str:
    if not unscored:
        return detail
    note = f"test cells missing from the notebook (0 points): {', '.join(sorted(unscored))}"
    return note if detail in ("", "all tests passed") else f"{note}; {detail}"


def with_repairs(detail: str, repairs: str) -> str:
    """The outcome's detail, then what the prepare step repaired (autograder/repair.py)."""
    return f"{detail}; {repairs}" if detail and repairs else detail or repairs


def read_row(course: Course, submission: Submission, result: TaskResult,
             repairs: dict[str, str] | None = None) -> GradeRow:
    """The submission's score as ``nbgrader export`` computes it, with status and detail."""
    repairs = repairs or {}
    unscored: dict[str, list[str]] = {}
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        try:
            sub = gb.find_submission(submission.assignment_id, submission.student_id)
            raw, penalty, max_score = sub.score, sub.late_submission_penalty or 0.0, sub.max_score
            unscored = unscored_tests(sub)
        except MissingEntry:
            raw, penalty, max_score = 0.0, 0.0, gb.find_assignment(submission.assignment_id).max_score
    outcomes = sorted(result.outcomes, key=lambda o: STATUS_ORDER.index(o.status))
    status = outcomes[0].status if outcomes else "missing"
    many = len(result.outcomes) > 1
    details = [with_repairs(with_unscored(o.detail, unscored.get(o.notebook_id, [])), repairs.get(o.notebook_id, ""))
               for o in result.outcomes]
    detail = " | ".join(f"{o.notebook_id}: {d}" if many else d for o, d in zip(result.outcomes, details, strict=True))
    return GradeRow(
        student_id=submission.student_id,
        score=max(0.0, raw - penalty),
        max_score=max_score,
        status=status,
        detail=detail,
        raw_score=raw,
        late_penalty=penalty,
        seconds=round(result.seconds, 2),
        peak_memory_mb=max((o.peak_memory_mb for o in result.outcomes), default=0.0),
    )
