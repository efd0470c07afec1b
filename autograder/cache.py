"""Reuse grading results: a result is stored under a hash of everything that decides it.

The key covers the prepared notebooks (the student's cells plus the instructor's
restored test cells, hidden tests included), the other files the kernel sees, the
execution settings and the grading environment (Python and package versions). Any
change to one of those gives a new key, so a stale result is never reused; an
unchanged submission is never run twice. Entries are written atomically right after
a submission finishes, so a grader killed mid-batch loses at most the submissions
that were running.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from autograder import __version__
from autograder.prepare import GradingTask
from autograder.score import TestResult
from autograder.task import NotebookOutcome, TaskResult

FINGERPRINT_PACKAGES = ("nbgrader", "nbclient", "ipykernel", "tensorflow", "keras", "numpy")


def environment_fingerprint() -> dict[str, str]:
    """Versions that can change a grade when the same notebook runs again."""
    versions = {"python": platform.python_version(), "autograder": __version__}
    for name in FINGERPRINT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


def task_key(task: GradingTask, fingerprint: dict[str, str]) -> str:
    """A hex digest naming the result of ``task``."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        digest.update(f"{label}:{len(raw)}:".encode())
        digest.update(raw)

    add("assignment", task.assignment_id)
    add("student", task.student_id)  # a submission is one student's: never share results between students
    for notebook_id in sorted(task.notebooks):
        add(f"notebook/{notebook_id}", task.notebooks[notebook_id])
    for notebook_id in sorted(task.problems):
        add(f"problem/{notebook_id}", json.dumps(task.problems[notebook_id]))
    for rel in sorted(task.files):
        add(f"file/{rel}", task.files[rel])
    add("execute", task.execute_class)
    add("config", json.dumps(task.config, sort_keys=True, default=repr))
    add("env", json.dumps(task.env, sort_keys=True))
    add("limits", json.dumps(asdict(task.limits), sort_keys=True))
    add("fingerprint", json.dumps(fingerprint, sort_keys=True))
    return digest.hexdigest()


class ResultCache:
    """Task results on disk, one JSON file per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def load(self, key: str) -> TaskResult | None:
        """The stored result, or None when absent or unreadable (then it is graded again)."""
        try:
            raw = json.loads(self.path(key).read_text(encoding="utf-8"))
            outcomes = [
                NotebookOutcome(**{**o, "tests": [TestResult(**t) for t in o["tests"]]}) for o in raw["outcomes"]
            ]
            return TaskResult(raw["student_id"], raw["assignment_id"], outcomes, raw["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, result: TaskResult) -> None:
        """Write atomically: a reader (or a re-run after a kill) never sees half a file."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(result), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
