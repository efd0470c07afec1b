"""Open an nbgrader course directory the way ``nbgrader`` itself would.

``course grade`` must work on any standard nbgrader course, so it reads the same
``nbgrader_config.py`` files that nbgrader's apps read (Jupyter's config path, then
the course directory) and builds nbgrader's own ``CourseDirectory`` from them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.paths import jupyter_config_path
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.checks import CHECKS_FILE

CONFIG_NAME = "nbgrader_config.py"


class CourseError(RuntimeError):
    """A course directory or assignment is unusable; the message names the fix."""


def ensure_tools_on_path() -> None:
    """Put this interpreter's bin folder first on PATH.

    nbgrader runs ``alembic`` (and kernels run ``python``) by name; when ``course`` is
    called by its full path from a shell that has not activated the venv, those
    names would otherwise resolve to other installations or to nothing.
    """
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p != bindir]])


def load_config(course_dir: Path) -> Config:
    """Merge every nbgrader_config.py nbgrader would read, the course's own last."""
    config = Config()
    folders = [*reversed(jupyter_config_path()), str(course_dir)]
    for folder in folders:
        if not (Path(folder) / CONFIG_NAME).is_file():
            continue
        loader = PyFileConfigLoader(CONFIG_NAME, path=folder)
        try:
            config.merge(loader.load_config())
        except Exception as exc:  # a broken config file must name itself
            raise CourseError(f"{Path(folder) / CONFIG_NAME} could not be loaded: {exc}") from exc
    config.CourseDirectory.root = str(course_dir)
    # hidden_checks.py (autograder/checks.py) is never released nor copied next to a submission.
    ignore = list(config.CourseDirectory.get("ignore", CourseDirectory.class_traits()["ignore"].default()))
    if CHECKS_FILE not in ignore:
        config.CourseDirectory.ignore = [*ignore, CHECKS_FILE]
    return config


@dataclass
class Course:
    """An nbgrader course: its folder, merged config and nbgrader CourseDirectory."""

    root: Path
    config: Config
    coursedir: CourseDirectory

    @classmethod
    def open(cls, course_dir: str | os.PathLike[str], db_url: str | None = None) -> Course:
        """Open ``course_dir``; fail early with a clear message if it is not a course."""
        ensure_tools_on_path()  # nbgrader's gradebook runs `alembic` by name, whoever calls this
        root = Path(course_dir).expanduser().resolve()
        if not root.is_dir():
            raise CourseError(f"Course directory {root} does not exist: pass --course-dir DIR.")
        config = load_config(root)
        if db_url:
            config.CourseDirectory.db_url = db_url
        coursedir = CourseDirectory(config=config)
        return cls(root=root, config=config, coursedir=coursedir)

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    def path(self, step: str, student_id: str, assignment_id: str) -> Path:
        """nbgrader's own path for a step (``source``, ``submitted``, ...) of one assignment."""
        return Path(self.coursedir.format_path(step, student_id, assignment_id))

    def source_dir(self, assignment_id: str) -> Path:
        return self.path(self.coursedir.source_directory, ".", assignment_id)

    def release_dir(self, assignment_id: str) -> Path:
        return self.path(self.coursedir.release_directory, ".", assignment_id)

    def reports_dir(self, assignment_id: str) -> Path:
        return self.root / "reports" / assignment_id
