"""JupyterLab for students and instructors (``course lab``, ``make lab``).

Students get a workspace with the lectures and every released assignment, so that
what they open is what they hand in (no solutions, no hidden tests anywhere in
sight). The workspace holds copies, not links: Jupyter serves nothing outside its
root, and a student's edits are never overwritten when the lab starts again.
Instructors get the repository root (sources, course folder, lectures) and
nbgrader's formgrader at ``/formgrader``. Both start on 127.0.0.1 with a token
(``JUPYTER_TOKEN`` if set, else a random one that the printed URL carries) and
nbgrader's JupyterLab extensions: the assignment list and the Validate button.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.coursedir import Course

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = "student"  # inside the course folder, git-ignored


def student_workspace(course: Course, lectures: Path = REPO_ROOT / "lectures") -> Path:
    """Fill ``course/student/`` with the lectures and the released assignments; return it.

    Assignments not yet released are released first (nbgrader removes solutions and
    hidden tests). Existing files are kept: they may hold a student's work.
    """
    from autograder.pipeline import release

    workspace = course.root / WORKSPACE
    copy_missing(sorted(lectures.glob("*.ipynb")), lectures, workspace / "lectures")
    sources = Path(course.coursedir.root) / course.coursedir.source_directory
    for source in sorted(p for p in sources.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))):
        released = course.release_dir(source.name)
        if not released.is_dir():
            released = release(course, source.name)
        files = [p for p in released.rglob("*") if p.is_file()]
        copy_missing(files, released, workspace / "assignments" / source.name)
    return workspace


def ensure_exchange(course: Course) -> Path | None:
    """Create the course's exchange folder (nbgrader does not): formgrader's Release and Collect need it."""
    root = course.config.get("Exchange", {}).get("root")
    if not root:
        return None
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def copy_missing(files: list[Path], base: Path, dest: Path) -> None:
    for path in files:
        target = dest / path.relative_to(base)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def lab_command(jupyter: str, root: Path, port: int, open_browser: bool, instructor: bool) -> list[str]:
    """The ``jupyter lab`` command line for a root folder on 127.0.0.1:port."""
    cmd = [jupyter, "lab", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}"]
    if instructor:
        cmd.append("--ServerApp.default_url=/formgrader")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI run as root; laptops normally don't
    return cmd
