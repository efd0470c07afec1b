"""The preprocessor lists nbgrader's own ``Autograde`` converter would run.

Reading them from nbgrader (with the course's config applied) rather than listing
them here keeps ``course grade`` in step with nbgrader and with any instructor
customisation of ``Autograde.sanitize_preprocessors`` or ``autograde_preprocessors``.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ExecutePreprocessor
from nbgrader.converters import Autograde
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from autograder.coursedir import Course
from autograder.repair import RepairCells


def _as_class(item: Any) -> type:
    return import_item(item) if isinstance(item, str) else item


def sanitize_preprocessors(course: Course) -> list[type]:
    """Preprocessors that restore the instructor's cells before execution (prepare step).

    ``RepairCells`` (autograder/repair.py) runs first, unless the course lists it
    itself; ``c.RepairCells.enabled = False`` turns it off.
    """
    converter = Autograde(coursedir=course.coursedir, config=course.config)
    classes = [_as_class(pp) for pp in converter.sanitize_preprocessors]
    return classes if RepairCells in classes else [RepairCells, *classes]


def autograde_preprocessors(course: Course) -> tuple[type, list[type]]:
    """The execute preprocessor class, and the ones nbgrader runs after it (record step)."""
    converter = Autograde(coursedir=course.coursedir, config=course.config)
    classes = [_as_class(pp) for pp in converter.autograde_preprocessors]
    executors = [c for c in classes if issubclass(c, ExecutePreprocessor)]
    if len(executors) != 1:
        raise RuntimeError(
            "Autograde.autograde_preprocessors must contain exactly one execute preprocessor, "
            f"found {[c.__name__ for c in executors]}: check nbgrader_config.py."
        )
    return executors[0], [c for c in classes if c is not executors[0]]


def run_preprocessors(
    preprocessors: list[type],
    nb: nbformat.NotebookNode,
    resources: dict[str, Any],
    config: Config,
) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
    """Run ``preprocessors`` through an nbconvert exporter, exactly as nbgrader's converters do."""
    exporter = NotebookExporter(config=config)
    exporter._preprocessors = []  # nbgrader's converters also start from an empty list
    for pp in preprocessors:
        exporter.register_preprocessor(pp)
    output, resources = exporter.from_notebook_node(nb, resources=resources)
    return nbformat.reads(output, as_version=nbformat.NO_CONVERT), resources


def notebook_resources(
    course: Course, student_id: str, assignment_id: str, notebook_id: str, path: str
) -> dict[str, Any]:
    """The ``resources`` dict nbgrader's converters hand to their preprocessors."""
    return {
        "unique_key": notebook_id,
        "output_files_dir": f"{notebook_id}_files",
        "metadata": {"path": path},
        "nbgrader": {
            "student": student_id,
            "assignment": assignment_id,
            "notebook": notebook_id,
            "db_url": course.db_url,
        },
    }


def to_json(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook for a worker (plain text: no pickled objects cross processes)."""
    return json.dumps(nb)
