"""Structure of every committed lecture (nbval, run by `make test`, checks the outputs themselves)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT
from tools.clean_notebook import clean

LECTURES = sorted((REPO_ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 1_000_000


@pytest.fixture(params=LECTURES, ids=[p.name for p in LECTURES])
def lecture(request: pytest.FixtureRequest) -> tuple[Path, nbformat.NotebookNode]:
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_are_lectures():
    assert LECTURES, "lectures/ holds no numbered notebooks"


def test_opens_with_goal_objectives_and_time(lecture):
    _, nb = lecture
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    text = first.source.lower()
    assert "objective" in text, "state the learning objectives first"
    assert re.search(r"\d+\s*(minutes|min|hours?)", text), "give a time estimate"


def test_has_your_turn_exercises_with_answers(lecture):
    _, nb = lecture
    text = "\n".join(c.source for c in nb.cells)
    assert len(re.findall(r"your turn: exercise", text, flags=re.IGNORECASE)) >= 2, "two or more exercises"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^#+ .*worked answers", markdown, flags=re.IGNORECASE | re.MULTILINE), "answers section"


def test_is_executed_without_errors_or_stderr(lecture):
    path, nb = lecture
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count for c in code), f"{path.name}: run every cell before committing"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name}: a cell raised {output.get('ename')}"
            assert not (output.output_type == "stream" and output.name == "stderr"), (
                f"{path.name}: stderr output {output.text[:120]!r}"
            )
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "at least one plot"


def test_metadata_is_clean_and_small(lecture):
    path, nb = lecture
    assert nbformat.writes(clean(nbformat.from_dict(nb))) == nbformat.writes(nb), (
        f"{path.name}: run tools/clean_notebook.py on it"
    )
    assert path.stat().st_size < MAX_BYTES
    assert not re.search(r'"/(work|tmp|root|home|Users)/', path.read_text()), "no machine paths in outputs"
