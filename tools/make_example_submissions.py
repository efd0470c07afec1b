"""Regenerate the committed example submissions that `make demo` grades.

For every assignment it writes four students into course/submitted/:

- example-full: the release with every solution region filled in from the source;
- example-untouched: the release as a student receives it;
- example-partial: only the first half of the solution cells filled in;
- example-exception: the full solution with a slip that raises in one solution cell.

Run it after changing an assignment (``.venv/bin/python tools/make_example_submissions.py [NAME ...]``);
the test suite fails when example-untouched no longer matches the release.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
SLIP = "_ = 1 / 0  # a slip: this line raises ZeroDivisionError when the cell runs\n"


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def solved(source_cell: nbformat.NotebookNode) -> str:
    """The source cell's text without its solution markers: what a perfect student writes."""
    return "\n".join(line for line in source_cell.source.splitlines() if not MARKER.match(line))


def variant(release: nbformat.NotebookNode, source: nbformat.NotebookNode, fill: int, slip: bool):
    """The release with the first ``fill`` solution cells solved (and a slip in the last one)."""
    answers = {grade_id(c): solved(c) for c in source.cells if is_solution(c)}
    nb = nbformat.from_dict(release)
    solution_cells = [c for c in nb.cells if is_solution(c)]
    for cell in solution_cells[:fill]:
        cell.source = answers[grade_id(cell)]
    if slip:
        code_cells = [c for c in solution_cells[:fill] if c.cell_type == "code"]
        code_cells[len(code_cells) // 2].source = SLIP + code_cells[len(code_cells) // 2].source
    return nb


def released(assignment: str) -> Path:
    """Release the assignment into a scratch course; return the release folder.

    A scratch course, not course/: writing examples must not touch the instructor's
    gradebook, and several assignments can be prepared at once without sharing a database.
    """
    import tempfile

    from autograder.coursedir import Course, ensure_tools_on_path
    from autograder.pipeline import release

    ensure_tools_on_path()  # nbgrader runs alembic, which lives beside this Python
    scratch = Path(tempfile.mkdtemp(prefix="release-course-"))
    config = (REPO_ROOT / "course" / "nbgrader_config.py").read_text(encoding="utf-8")
    source = REPO_ROOT / "assignments"
    (scratch / "nbgrader_config.py").write_text(f"{config}\nc.CourseDirectory.source_directory = {str(source)!r}\n")
    return release(Course.open(scratch), assignment)


def main(names: list[str]) -> int:
    """Write the examples of the named assignments (default: all of them)."""
    folders = sorted(p for p in (REPO_ROOT / "assignments").iterdir() if p.is_dir())
    for source_dir in [p for p in folders if not names or p.name in names]:
        assignment = source_dir.name
        release_dir = released(assignment)
        for path in sorted(source_dir.glob("*.ipynb")):
            source = nbformat.read(path, as_version=4)
            release = nbformat.read(release_dir / path.name, as_version=4)
            n_solutions = sum(1 for c in release.cells if is_solution(c))
            students = {
                "example-full": variant(release, source, n_solutions, slip=False),
                "example-untouched": release,
                "example-partial": variant(release, source, n_solutions // 2, slip=False),
                "example-exception": variant(release, source, n_solutions, slip=True),
            }
            for student, nb in students.items():
                dest = REPO_ROOT / "course" / "submitted" / student / assignment / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, dest)
                print(f"wrote {dest.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
