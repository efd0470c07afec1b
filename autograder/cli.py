"""The ``course`` command: release, grade, demo and lab.

``course`` works on any nbgrader course directory (``--course-dir``, default: the
current folder if it holds an nbgrader_config.py, else this repository's course/).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.coursedir import Course, CourseError
from autograder.lab import REPO_ROOT
from autograder.pipeline import GradeOptions


def default_course_dir() -> Path:
    """The current folder when it is a course, else the repository's ``course/``."""
    cwd = Path.cwd()
    return cwd if (cwd / "nbgrader_config.py").is_file() else REPO_ROOT / "course"


def shown(path: Path) -> str:
    """A path relative to the current folder when possible (shorter, and no machine paths in logs)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def cmd_release(course: Course, args: argparse.Namespace) -> int:
    from autograder.pipeline import release

    released = release(course, args.assignment)
    print(f"Released {args.assignment} -> {shown(released)} (no solutions, no hidden tests)")
    return 0


def grade_options(course: Course, args: argparse.Namespace) -> GradeOptions:
    """Command-line flags over the course config's CourseGrader defaults."""
    from autograder.settings import CourseGrader, default_workers

    defaults = CourseGrader(config=course.config)

    def pick(flag: Any, default: Any) -> Any:
        return default if flag is None else flag

    return GradeOptions(
        workers=pick(args.workers, defaults.workers) or default_workers(),
        scheduler=args.scheduler,
        timeout=pick(args.timeout, defaults.timeout) or None,
        cell_timeout=args.cell_timeout,
        memory_mb=pick(args.memory_mb, defaults.memory_mb) or None,
        force=args.force,
        progress=not args.quiet,
        sandbox=pick(args.sandbox, defaults.sandbox),
    )


def summary(rows: list, seconds: float) -> str:
    """Counts by status and the time taken, below the table."""
    from collections import Counter

    counts = Counter(row.status for row in rows)
    cached = sum(1 for row in rows if row.cached)
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    from_cache = f" ({cached} from cache)" if cached else ""
    return f"{len(rows)} submission(s) in {seconds:.1f} s: {parts or 'none'}{from_cache}"


def run_grade(course: Course, assignment: str, args: argparse.Namespace) -> Path:
    from autograder.pipeline import grade
    from autograder.report import format_table

    start = time.monotonic()
    rows, csv_path = grade(course, assignment, grade_options(course, args))
    print(format_table(rows))
    print(summary(rows, time.monotonic() - start))
    return csv_path


def cmd_grade(course: Course, args: argparse.Namespace) -> int:
    csv_path = run_grade(course, args.assignment, args)
    print(f"grades: {shown(csv_path)}; logs: {shown(csv_path.parent / 'logs')}")
    if not args.no_feedback:
        from autograder.feedback import generate_feedback

        folder = generate_feedback(course, args.assignment)
        print(f"feedback (no hidden tests): {shown(folder)}/<student>/{args.assignment}/")
    return 0


def cmd_report(course: Course, args: argparse.Namespace) -> int:
    from autograder.class_report import build_report

    index = build_report(course, args.assignment)
    print(f"report: {shown(index)} (with grades.csv, tests.csv and plots beside it)")
    return 0


def cmd_collect(course: Course, args: argparse.Namespace) -> int:
    from autograder.lms import collect_zip

    report = collect_zip(course, args.assignment, args.zip.resolve(), args.lms)
    print(f"{args.zip.name} ({report.lms}): {len(report.collected)} student(s) collected into submitted/")
    for rel in report.unmatched:
        print(f"  not matched (no student id in the name): {rel}")
    for rel in report.unknown_notebooks:
        print(f"  not a notebook of {args.assignment}: {rel}")
    return 0


def cmd_reference(course: Course, args: argparse.Namespace) -> int:
    """Run each source solution on the best device present and write (or check) reference.json."""
    from autograder.reference import run_reference, source_assignments, write_reference

    names = source_assignments(course) if args.all else args.assignments
    if not names:
        raise CourseError("name an assignment (course reference ASSIGNMENT) or pass --all")
    if args.output and len(names) != 1:
        raise CourseError("--output writes one file: name exactly one assignment with it")
    status = 0
    for name in names:
        run = run_reference(course, name, gpu_ids=[] if args.cpu else None)
        target = args.output or course.source_dir(name) / "reference.json"
        write_reference(run, target)
        budget = f" (budget {run.budget_seconds:g} s)" if run.budget_seconds is not None else " (no budget set)"
        print(f"{name}: {run.plan.reason}; {run.wall_seconds:.1f} s{budget} -> {shown(target)}")
        for metric, value in sorted(run.metrics.items()):
            print(f"  {metric} = {value:.4g}")
        if not run.within_budget:
            print(f"  over budget: {run.wall_seconds:.1f} s > {run.budget_seconds:g} s; speed the solution up")
            status = 1
    return status


def demo_assignments(course: Course) -> list[str]:
    """Assignments with a source folder and at least one committed example submission."""
    from autograder.collect import submission_folders

    source_root = Path(course.coursedir.format_path(course.coursedir.source_directory, ".", "."))
    names = sorted(p.name for p in source_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [name for name in names if submission_folders(course, name)]


def cmd_demo(course: Course, args: argparse.Namespace) -> int:
    from autograder.pipeline import release

    assignments = demo_assignments(course)
    if not assignments:
        raise CourseError(f"No assignment in {shown(course.root)} has example submissions to grade.")
    for assignment in assignments:
        released = release(course, assignment)
        print(f"== {assignment}: released to {shown(released)} (checked: no solutions, no hidden tests)")
        csv_path = run_grade(course, assignment, args)
        print(f"grades: {shown(csv_path)}\n")
    from autograder.class_table import write_class_table

    table, path = write_class_table(course, assignments)
    print(f"== class grades (points per assignment; empty: no submission) -> {shown(path)}")
    print(table.to_string(float_format=lambda v: f"{v:g}", na_rep=""))
    return 0


def cmd_lab(course: Course, args: argparse.Namespace) -> int:
    """Start JupyterLab on 127.0.0.1: the student workspace, or with --instructor the repository (autograder/lab.py)."""
    from autograder.lab import ensure_exchange, lab_command, student_workspace

    jupyter = shutil.which("jupyter")
    if jupyter is None:
        raise CourseError("jupyter is not installed in this environment: run `make lab` to set it up.")
    root = REPO_ROOT if args.instructor else student_workspace(course)
    ensure_exchange(course)
    print(f"JupyterLab on {shown(root)}" + (" (formgrader at /formgrader)" if args.instructor else
                                            " (lectures/ and assignments/; Validate is in each notebook's toolbar)"))
    sys.stdout.flush()
    os.chdir(course.root)  # nbgrader's extensions read the course's nbgrader_config.py from here
    os.execv(jupyter, lab_command(jupyter, root, args.port, not args.no_browser, args.instructor))
    return 0  # pragma: no cover - execv does not return


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course-dir", type=Path, default=None, help="nbgrader course root (default: see above)")
    common.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's log")
    common.add_argument("--db-url", default=None, help="gradebook database (any SQLAlchemy URL nbgrader accepts)")
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", parents=[common], help="generate the student version of an assignment")
    p.add_argument("assignment")
    p.set_defaults(func=cmd_release)

    grading = argparse.ArgumentParser(add_help=False)
    grading.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    grading.add_argument("--workers", type=int, default=None, help="submissions at once (default: CPU cores)")
    grading.add_argument("--scheduler", default=None, help="grade on a Dask cluster: tcp://HOST:PORT")
    grading.add_argument("--timeout", type=float, default=None, help="seconds per submission (default 1800)")
    grading.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: Execute.timeout)")
    grading.add_argument("--memory-mb", type=int, default=None, help="memory per kernel in MB (default 4096)")
    grading.add_argument("--force", action="store_true", help="re-grade everything, ignoring cached results")
    grading.add_argument("--sandbox", choices=["auto", "bwrap", "off"], default=None,
                         help="fence kernels with bubblewrap (default auto: when available, else warn)")

    p = sub.add_parser("grade", parents=[common, grading], help="autograde every submission of an assignment")
    p.add_argument("assignment")
    p.add_argument("--no-feedback", action="store_true", help="skip the per-student HTML feedback")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("report", parents=[common], help="pass rates, plots and an HTML page for a graded assignment")
    p.add_argument("assignment")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("collect", parents=[common], help="import an LMS download (Moodle or Canvas zip)")
    p.add_argument("assignment")
    p.add_argument("zip", type=Path)
    p.add_argument("--lms", choices=["auto", "canvas", "moodle"], default="auto")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser(
        "reference", parents=[common], help="measure the source solutions and write assignments/*/reference.json"
    )
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--all", action="store_true", help="every assignment in the source folder")
    p.add_argument("--cpu", action="store_true", help="measure on the CPU even when a GPU is present")
    p.add_argument("--output", type=Path, default=None, help="write here instead of the assignment's folder")
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("demo", parents=[common, grading], help="release and grade the example submissions")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("lab", parents=[common], help="start JupyterLab on the course")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--instructor", action="store_true",
                   help="the repository root and nbgrader's formgrader, instead of the student workspace")
    p.set_defaults(func=cmd_lab)
    return parser


def configure_logging(verbose: bool) -> None:
    """Show our own warnings; nbgrader's chatter (INFO, checksum warnings) only with --verbose.

    nbgrader resets its loggers' levels when its objects are created, so the choice is
    made by a filter on the console handler rather than by logger levels.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    if not verbose:
        handler.addFilter(lambda r: r.levelno >= (logging.WARNING if r.name.startswith("course") else logging.ERROR))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # Course.open puts this venv's tools first on PATH
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    configure_logging(args.verbose)
    if not args.verbose:  # nbgrader's own gradebook code triggers these; they are not the user's concern
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)
    try:
        course = Course.open(args.course_dir or default_course_dir(), db_url=args.db_url)
        return args.func(course, args)
    except CourseError as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
