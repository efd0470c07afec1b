"""Step 1, collect: find every submission of an assignment.

A submission is nbgrader's ``submitted/<student>/<assignment>/`` folder. Notebooks
the assignment expects but the student did not hand in are listed as missing, so
that the student still gets exactly one row (with zero for those notebooks), as
``nbgrader autograde`` would give.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from autograder.coursedir import Course

PLACEHOLDER = "@@student@@"  # a student id no real one can be; replaced by a glob pattern


@dataclass
class Submission:
    """One student's hand-in of one assignment (paths only: nothing is read yet)."""

    student_id: str
    assignment_id: str
    folder: Path
    notebooks: dict[str, Path] = field(default_factory=dict)  # notebook id -> submitted file
    missing: list[str] = field(default_factory=list)  # notebook ids not handed in


def submission_folders(course: Course, assignment_id: str) -> dict[str, Path]:
    """Map student id -> submitted folder, using nbgrader's directory structure."""
    template = course.coursedir.format_path(
        course.coursedir.submitted_directory, PLACEHOLDER, assignment_id
    )
    head, _, tail = template.partition(PLACEHOLDER)
    found = {}
    for match in sorted(glob.glob(glob.escape(head) + "*" + glob.escape(tail))):
        folder = Path(match)
        if folder.is_dir():
            student_id = match[len(head) : len(match) - len(tail)] if tail else match[len(head) :]
            found[student_id] = folder
    return found


def collect(course: Course, assignment_id: str, expected_notebooks: list[str]) -> list[Submission]:
    """All submissions of ``assignment_id``, sorted by student id."""
    submissions = []
    for student_id, folder in submission_folders(course, assignment_id).items():
        sub = Submission(student_id=student_id, assignment_id=assignment_id, folder=folder)
        for notebook_id in expected_notebooks:
            path = folder / f"{notebook_id}.ipynb"
            if path.is_file():
                sub.notebooks[notebook_id] = path
            else:
                sub.missing.append(notebook_id)
        submissions.append(sub)
    return submissions
