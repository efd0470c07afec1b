"""Per-student HTML feedback that never shows hidden tests.

nbgrader's ``generate_feedback`` renders the autograded notebook, in which the
hidden tests were restored for grading, so stock feedback shows their code
(nbgrader#1363), and a failing hidden assert's traceback quotes its line. Here the
same nbgrader converter runs with two steps in front: nbgrader's own
``ClearHiddenTests`` removes the hidden regions from test cells, and
``ShowTestMessagesOnly`` replaces each test cell's traceback with the exception's
name and message (the hints the instructor wrote for students). Before both,
``RedactHiddenText`` removes hidden test lines from every *output*: a student cell can
print them (``print("\\n".join(In))`` after the tests ran), and ClearHiddenTests only
cleans the test cells' sources.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.converters import GenerateFeedback
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor
from nbgrader.utils import is_grade

from autograder.coursedir import Course

log = logging.getLogger("course.feedback")


class ShowTestMessagesOnly(NbGraderPreprocessor):
    """Reduce error outputs of test cells to 'Name: message', dropping the quoted code."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.DOTALL)
MIN_REDACTED_CHARS = 6  # shorter hidden lines ("pass", "x = 1") are too common to find-and-replace safely
REDACTED = "[hidden test]"


class RedactHiddenText(NbGraderPreprocessor):
    """Replace every hidden test line that appears in any cell's output by a placeholder."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        lines = {"### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"}
        for cell in nb.cells:
            for block in HIDDEN_BLOCK.findall(cell.get("source", "")):
                lines.update(line.strip() for line in block.splitlines() if len(line.strip()) >= MIN_REDACTED_CHARS)
        ordered = sorted(lines, key=len, reverse=True)  # longest first: a line may contain a shorter one

        def redact(text: str) -> str:
            for line in ordered:
                text = text.replace(line, REDACTED)
            return text

        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = redact(output["text"])
                for key, value in output.get("data", {}).items():
                    if isinstance(value, str) and key.startswith("text/"):
                        output["data"][key] = redact(value)
                if "traceback" in output:
                    output["traceback"] = [redact(t) for t in output["traceback"]]
                if "evalue" in output:
                    output["evalue"] = redact(output["evalue"])
        return nb, resources


def feedback_config(course: Course):
    config = copy.deepcopy(course.config)
    config.GenerateFeedback.preprocessors = [
        RedactHiddenText,
        ClearHiddenTests,
        ShowTestMessagesOnly,
        GetGrades,
        CSSHTMLHeaderPreprocessor,
    ]
    config.ClearHiddenTests.enforce_metadata = False  # student edits to metadata must not stop feedback
    return config


def generate_feedback(course: Course, assignment_id: str) -> Path:
    """Write feedback/<student>/<assignment>/<notebook>.html for every autograded submission.

    A submission whose feedback fails is logged and skipped; the others still get theirs.
    """
    converter = GenerateFeedback(coursedir=course.coursedir, config=feedback_config(course))
    converter.force = True
    previous = course.coursedir.assignment_id, course.coursedir.student_id
    course.coursedir.assignment_id, course.coursedir.student_id = assignment_id, "*"
    try:
        converter.start()
    except NbGraderException as exc:  # nbgrader converts every other submission before raising
        log.warning("feedback for some %s submissions could not be generated (see --verbose): %s", assignment_id, exc)
    finally:
        course.coursedir.assignment_id, course.coursedir.student_id = previous
    return Path(course.coursedir.format_path(course.coursedir.feedback_directory, ".", "."))
