"""Build small nbgrader courses on the fly, and run stock nbgrader on them for comparison."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent


def grade_meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def toy_notebook() -> nbformat.NotebookNode:
    """An assignment with one solution cell and two test cells (2 + 1 points), one hidden test."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy assignment", metadata=grade_meta("intro", grade=False, solution=False,
                                                                             locked=True)),
        nbformat.v4.new_code_cell(
            "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
            metadata=grade_meta("add", grade=False, solution=True, locked=False),
        ),
        nbformat.v4.new_code_cell(
            "assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
            "### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0  # secret-check\n### END HIDDEN TESTS",
            metadata=grade_meta("test_add", grade=True, solution=False, locked=True, points=2),
        ),
        nbformat.v4.new_code_cell(
            "assert add(10, 20) == 30",
            metadata=grade_meta("test_add_more", grade=True, solution=False, locked=True, points=1),
        ),
    ]
    return nb


def make_course(root: Path, *, cell_timeout: int = 30, assignment: str = "toy") -> Path:
    """A standard nbgrader course (source/, nbgrader_config.py) holding the toy assignment."""
    (root / "source" / assignment).mkdir(parents=True)
    nbformat.write(toy_notebook(), root / "source" / assignment / "toy.ipynb")
    (root / "source" / assignment / "data.txt").write_text("support file from the source\n")
    (root / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "toycourse"\nc.Execute.timeout = {cell_timeout}\n'
    )
    return root


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the stock nbgrader command in ``course`` (with this venv's tools on PATH)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )


def submit(course: Path, student: str, notebook: nbformat.NotebookNode | bytes | None, *,
           assignment: str = "toy", name: str = "toy.ipynb") -> Path:
    """Place a submission at submitted/<student>/<assignment>/<name> (None: an empty folder)."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, bytes):
        (folder / name).write_bytes(notebook)
    elif notebook is not None:
        nbformat.write(notebook, folder / name)
    return folder


def released(course: Path, assignment: str = "toy", name: str = "toy.ipynb") -> nbformat.NotebookNode:
    return nbformat.read(course / "release" / assignment / name, as_version=4)


def with_solution(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cell ``grade_id`` holds ``source`` (what a student types)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


def copy_course(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
