"""Strip a notebook's metadata down to what the course keeps (run after executing a lecture).

Kept: the kernelspec, ``language_info.name``, and the cell metadata keys nbval and
nbgrader read (``tags``, ``nbgrader``). Dropped: execution timings, widget state,
editor settings and anything else that changes on every run or machine.

    .venv/bin/python tools/clean_notebook.py lectures/*.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_KEYS = ("tags", "nbgrader")


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``nb`` with only the metadata the course keeps."""
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in CELL_KEYS})
    return nb


def main(paths: list[str]) -> int:
    """Clean each named notebook in place; print the usage for no path or -h/--help."""
    if not paths or any(p in ("-h", "--help") for p in paths):
        print(__doc__)
        return 0 if paths else 2
    for name in paths:
        path = Path(name)
        nb = nbformat.read(path, as_version=4)
        nbformat.write(clean(nb), path)
        print(f"cleaned {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
