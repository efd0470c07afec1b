"""The grading pipeline: collect -> prepare -> execute/score (task) -> record -> report.

This module only wires the steps together. One submission's failure, in any step,
becomes that submission's row with status ``error``; the batch always finishes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import GenerateAssignment
from nbgrader.converters.base import NbGraderException
from tqdm.auto import tqdm

from autograder.collect import Submission, collect
from autograder.coursedir import Course, CourseError
from autograder.prepare import prepare
from autograder.record import GradeRow, record
from autograder.release_check import find_leaks
from autograder.report import write_csv
from autograder.task import run_task

log = logging.getLogger("course")


def assignment_notebooks(course: Course, assignment_id: str) -> tuple[list[str], float]:
    """The notebook ids and max score nbgrader's gradebook holds for an assignment."""
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        try:
            assignment = gb.find_assignment(assignment_id)
        except MissingEntry:
            return [], 0.0
        return sorted(nb.name for nb in assignment.notebooks), assignment.max_score


def release(course: Course, assignment_id: str) -> Path:
    """Generate the student version with nbgrader and check it for leaks."""
    source = course.source_dir(assignment_id)
    if not source.is_dir():
        raise CourseError(f"No source for assignment {assignment_id!r}: expected the folder {source}.")
    generator = GenerateAssignment(coursedir=course.coursedir, config=course.config)
    generator.force = True
    generator.create_assignment = True
    previous = course.coursedir.assignment_id
    course.coursedir.assignment_id = assignment_id
    try:
        generator.start()
    except NbGraderException as exc:
        raise CourseError(f"nbgrader could not generate {assignment_id} from {source}: {exc}") from exc
    finally:
        course.coursedir.assignment_id = previous
    released = course.release_dir(assignment_id)
    for notebook in sorted(released.glob("*.ipynb")):
        leaks = find_leaks(source / notebook.name, notebook)
        if leaks:
            raise CourseError(f"{notebook} leaks {len(leaks)} secret(s): {'; '.join(leaks[:5])}")
    return released


def ensure_assignment(course: Course, assignment_id: str) -> tuple[list[str], float]:
    """Make sure the gradebook knows the assignment (generating it from source if needed)."""
    notebooks, max_score = assignment_notebooks(course, assignment_id)
    if notebooks:
        return notebooks, max_score
    if not course.source_dir(assignment_id).is_dir():
        raise CourseError(
            f"Assignment {assignment_id!r} is neither in the gradebook ({course.db_url}) nor in "
            f"{course.source_dir(assignment_id)}: check the name or run nbgrader generate_assignment."
        )
    log.info("%s is not in the gradebook yet: generating it from source", assignment_id)
    release(course, assignment_id)
    return assignment_notebooks(course, assignment_id)


def grade_submission(course: Course, submission: Submission, max_score: float) -> GradeRow:
    """Prepare, run, score and record one submission; any grader failure becomes a row."""
    try:
        task = prepare(course, submission)
        result = run_task(task)
        return record(course, submission, task, result)
    except Exception as exc:
        log.exception("grading %s failed", submission.student_id)
        return GradeRow(submission.student_id, 0.0, max_score, "error", f"grader error: {type(exc).__name__}: {exc}")


def grade(course: Course, assignment_id: str, *, progress: bool = True) -> tuple[list[GradeRow], Path]:
    """Grade every submission of ``assignment_id``; return the rows and the CSV path."""
    notebooks, max_score = ensure_assignment(course, assignment_id)
    submissions = collect(course, assignment_id, notebooks)
    rows = []
    bar = tqdm(submissions, desc=f"grading {assignment_id}", unit="submission", disable=not progress)
    for submission in bar:
        bar.set_postfix_str(submission.student_id)
        rows.append(grade_submission(course, submission, max_score))
    csv_path = write_csv(rows, course.reports_dir(assignment_id) / "grades.csv")
    return rows, csv_path
