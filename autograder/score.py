"""Step 4, score: apply nbgrader's grading rule to an executed notebook.

This runs in the grader's process, on the notebook the kernel produced, never in
the student's kernel. ``nbgrader.utils.determine_grade`` is nbgrader's own rule
(an error or any stderr output in a test cell gives zero), so scores here are the
ones ``nbgrader autograde`` records.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat
from nbgrader.utils import determine_grade, is_grade


@dataclass
class TestResult:
    """One graded cell's outcome."""

    grade_id: str
    points: float | None  # None: needs manual grading
    max_points: float
    error: str  # "" when the cell passed; else the exception name or "stderr output"

    @property
    def passed(self) -> bool:
        return self.points is not None and self.points >= self.max_points


def cell_error(cell: nbformat.NotebookNode) -> str:
    """The first thing that makes nbgrader give a cell zero: an error or stderr output."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "error")
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "stderr output"
    return ""


def score_notebook(nb: nbformat.NotebookNode) -> list[TestResult]:
    """Score every grade cell of an executed notebook, in notebook order."""
    results = []
    for cell in nb.cells:
        if not is_grade(cell):
            continue
        points, max_points = determine_grade(cell)
        grade_id = cell.metadata["nbgrader"].get("grade_id", "?")
        results.append(TestResult(grade_id, points, max_points, cell_error(cell)))
    return results


def first_error(nb: nbformat.NotebookNode) -> str:
    """The first error raised anywhere in the notebook, as 'label: Name', or ''."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
                return f"{label}: {output.get('ename', 'error')}"
    return ""


def summarise(results: list[TestResult]) -> str:
    """A one-line account for the CSV's detail column."""
    failed = [f"{r.grade_id} ({r.error or 'partial'})" for r in results if r.points is not None and not r.passed]
    manual = [r.grade_id for r in results if r.points is None]
    parts = []
    if failed:
        parts.append("failed: " + ", ".join(failed))
    if manual:
        parts.append("needs manual grading: " + ", ".join(manual))
    return "; ".join(parts) or "all tests passed"
