"""`course collect`: turn an LMS download (Moodle or Canvas) into nbgrader submissions.

nbgrader's own ``zip_collect`` does the work (extract the archive, match each file
name with a regular expression, copy it to ``submitted/<student>/<assignment>/``);
this module only knows the two LMS naming schemes and reports every file that could
not be matched, so no submission is silently dropped.

- Canvas: ``<login>_[LATE_]<user id>_<submission id>_<original name>[-<n>].ipynb``
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file_/<original name>.ipynb``
"""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.apps.zipcollectapp import ZipCollectApp

from autograder.coursedir import Course, CourseError

PATTERNS = {
    "canvas": r".*/(?P<student_id>[^_/]+)_(?:LATE_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$",
    "moodle": r".*/(?P<student_id>[^/]+?)_\d+_assignsubmission_file_/(?:.*/)?(?P<file_id>[^/]+?)\.ipynb$",
}


@dataclass
class CollectReport:
    """What happened to every file of the download."""

    lms: str
    collected: dict[str, list[str]] = field(default_factory=dict)  # student -> notebooks
    unmatched: list[str] = field(default_factory=list)  # files no student could be read from
    unknown_notebooks: list[str] = field(default_factory=list)  # matched, but not a notebook of the assignment


def detect_lms(names: list[str]) -> str:
    return "moodle" if any("_assignsubmission_" in name for name in names) else "canvas"


def collect_zip(course: Course, assignment_id: str, archive: Path, lms: str = "auto") -> CollectReport:
    """Extract ``archive`` with nbgrader's zip_collect and report what could not be matched."""
    if not archive.is_file():
        raise CourseError(f"{archive} does not exist: pass the .zip file downloaded from the LMS.")
    released = course.release_dir(assignment_id)
    if not any(released.glob("*.ipynb")):
        raise CourseError(f"{assignment_id} has no release in {released}: run `course release {assignment_id}` first.")
    downloaded = course.root / "downloaded" / assignment_id / "archive"
    downloaded.mkdir(parents=True, exist_ok=True)
    shutil.copy2(archive, downloaded / archive.name)

    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise CourseError(f"{archive} is not a zip file ({exc}): download the submissions again.") from exc
    lms = detect_lms(names) if lms == "auto" else lms
    if lms not in PATTERNS:
        raise CourseError(f"unknown LMS {lms!r}: use one of {sorted(PATTERNS)} or auto.")

    app = ZipCollectApp()
    argv = [assignment_id, "--force", f"--FileNameCollectorPlugin.named_regexp={PATTERNS[lms]}"]
    with contextlib.chdir(course.root):  # nbgrader reads the course's nbgrader_config.py from here
        app.initialize(argv)
        app.start()

    report = CollectReport(lms=lms)
    notebooks = {p.stem for p in released.glob("*.ipynb")}
    extracted = course.root / "downloaded" / assignment_id / "extracted"
    inside = extracted / archive.stem  # zip_collect extracts each archive into a folder of its name
    base = inside if inside.is_dir() else extracted
    for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.relative_to(extracted).as_posix()
        match = re.match(PATTERNS[lms], str(path))
        if match is None:
            report.unmatched.append(rel)
        elif match["file_id"] not in notebooks:
            report.unknown_notebooks.append(rel)
        else:
            report.collected.setdefault(match["student_id"], []).append(match["file_id"] + ".ipynb")
    return report
