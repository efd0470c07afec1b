"""Reuse grading results: a result is stored under a hash of everything that decides it.

The key covers the student's submitted files, the assignment's source (the
instructor's tests, hidden ones included, and support files), the execution
settings and the grading environment (Python and package versions). Any change to
one of those gives a new key, so a stale result is never reused; an unchanged
submission is never run twice. Entries are written atomically right after a
submission finishes, so a grader killed mid-batch loses at most the submissions
that were running. Beside each result, the row it was recorded as (and hashes of
the autograded files) lets an unchanged re-run skip recording too, when the
gradebook still holds that score.
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
from typing import Any

from autograder import __version__
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


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path (an absent folder has none)."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def submission_key(
    student_id: str,
    assignment_id: str,
    submitted: Path,
    source: Path,
    settings: dict[str, Any],
    fingerprint: dict[str, str],
) -> str:
    """A hex digest naming the result of grading one submission.

    It is computed from the raw files, before any preparation, so that an unchanged
    batch costs a hash per submission. ``settings`` holds what else decides the
    result: the execution config, kernel environment and limits.
    """
    digest = hashlib.sha256()

    def add(label: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        digest.update(f"{label}:{len(raw)}:".encode())
        digest.update(raw)

    add("student", student_id)  # a submission is one student's: never share results between students
    add("assignment", assignment_id)
    for rel, data in folder_files(submitted).items():
        add(f"submitted/{rel}", data)
    for rel, data in folder_files(source).items():  # the instructor's tests and support files
        add(f"source/{rel}", data)
    add("settings", json.dumps(settings, sort_keys=True, default=repr))
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

    def load_row(self, key: str) -> dict[str, Any] | None:
        """What recording this result wrote last time (row and file hashes), if anything."""
        try:
            return json.loads(self.path(key).with_suffix(".row.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def store_row(self, key: str, recorded: dict[str, Any]) -> None:
        write_atomically(self.path(key).with_suffix(".row.json"), recorded)

    def store(self, key: str, result: TaskResult) -> None:
        """Write atomically: a reader (or a re-run after a kill) never sees half a file."""
        write_atomically(self.path(key), asdict(result))


def write_atomically(path: Path, data: Any) -> None:
    """Write JSON to a temporary file, flush it to disk, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
