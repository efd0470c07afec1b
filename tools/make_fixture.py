"""Build the wrong-but-plausible submission of an assignment from its answers file.

A fixture is what a careful but mistaken student hands in: it passes every visible
test, yet each cell with hidden tests fails in its hidden part. The test suite grades
it and checks exactly that, so every hidden test is shown to be able to fail.

The wrong code lives in ``tests/fixtures/<assignment>/wrong_answers.py``, one section per
solution cell, each opened by a line ``# %% <grade_id>``. Solution cells without a
section get the source's correct solution. The fixture notebook is the *release* with
those cells filled in, exactly as a student's file would be:

    .venv/bin/python tools/make_fixture.py ASSIGNMENT [ASSIGNMENT ...]   # or --all

It releases the assignment into a scratch course first, so run it after every change
to the assignment (the suite fails when a fixture no longer matches the release).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.make_example_submissions import grade_id, is_solution, released, solved  # noqa: E402

FIXTURES = REPO_ROOT / "tests" / "fixtures"
SECTION = re.compile(r"^# %% (\S+)\s*$", re.MULTILINE)


def read_answers(path: Path) -> dict[str, str]:
    """The answers file's sections: grade_id -> cell source."""
    text = path.read_text(encoding="utf-8")
    parts = SECTION.split(text)
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}


def build(assignment: str) -> Path:
    answers_path = FIXTURES / assignment / "wrong_answers.py"
    answers = read_answers(answers_path)
    source_dir = REPO_ROOT / "assignments" / assignment
    release_dir = released(assignment)
    out_dir = FIXTURES / assignment
    for source_path in sorted(source_dir.glob("*.ipynb")):
        source = nbformat.read(source_path, as_version=4)
        correct = {grade_id(c): solved(c) for c in source.cells if is_solution(c)}
        nb = nbformat.read(release_dir / source_path.name, as_version=4)
        for cell in nb.cells:
            if is_solution(cell):
                cell.source = answers.pop(grade_id(cell), correct[grade_id(cell)])
        nbformat.write(nb, out_dir / source_path.name)
    if answers:
        raise SystemExit(f"{answers_path}: no solution cell has the grade_id(s) {sorted(answers)}")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--all", action="store_true", help="every assignment with a wrong_answers.py")
    args = parser.parse_args(argv)
    names = sorted(p.parent.name for p in FIXTURES.glob("*/wrong_answers.py")) if args.all else args.assignments
    for name in names:
        print(f"{name}: {build(name).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
