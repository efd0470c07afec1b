"""Prove a released notebook carries no solution and no hidden test.

nbgrader strips solution regions and hidden tests when it generates the student
version; this check reads both versions independently, so a misconfigured course
(a misspelt marker, a custom preprocessor list) cannot leak answers silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REGION = re.compile(r"###\s*BEGIN (SOLUTION|HIDDEN TESTS)(.*?)###\s*END \1", re.DOTALL)
MIN_LINE = 8  # shorter lines ("pass", "x = 0") are too common to call a leak


def secret_lines(source: nbformat.NotebookNode) -> set[str]:
    """Lines that only occur inside solution or hidden-test regions of the source."""
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in source.cells:
        text = cell.source
        for match in REGION.finditer(text):
            inside.update(line.strip() for line in match.group(2).splitlines())
        outside.update(line.strip() for line in REGION.sub("", text).splitlines())
    return {line for line in inside - outside if len(line) >= MIN_LINE and not line.startswith("#")}


def find_leaks(source_path: Path, release_path: Path) -> list[str]:
    """Descriptions of everything secret found in the release (empty when clean)."""
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(release_path, as_version=4)
    release_text = "\n".join(cell.source for cell in release.cells)
    leaks = [f"marker '{m}'" for m in MARKERS if m in release_text]
    release_lines = {line.strip() for line in release_text.splitlines()}
    leaks += [f"line {line!r}" for line in sorted(secret_lines(source) & release_lines)]
    return leaks
