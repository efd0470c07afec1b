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


def main(names: list[str]) -> int:
    """Write the examples of the named assignments (default: all of them)."""
    from autograder.cli import main as course

    folders = sorted(p for p in (REPO_ROOT / "assignments").iterdir() if p.is_dir())
    for source_dir in [p for p in folders if not names or p.name in names]:
        assignment = source_dir.name
        if course(["release", assignment, "--course-dir", str(REPO_ROOT / "course")]) != 0:
            return 1
        for path in sorted(source_dir.glob("*.ipynb")):
            source = nbformat.read(path, as_version=4)
            release = nbformat.read(REPO_ROOT / "course" / "release" / assignment / path.name, as_version=4)
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
