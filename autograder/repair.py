"""Repair edited submissions before nbgrader's sanitize preprocessors see them.

Students delete, duplicate, split, retype and move graded cells. Stock nbgrader
then loses points (a stub copy below the student's answer redefines it, a test
cell moved above the solution fails, a solution split inside a function is two
syntax errors) or, worse, a deleted test cell is silently never run.

``RepairCells`` is one nbgrader-style preprocessor (``c.RepairCells.enabled = False``
turns it off) that runs first in the prepare step, on the in-memory notebook (the
submitted file is never written). Its reference is what nbgrader's ``OverwriteCells``
uses, the gradebook's source cells (release stubs for solution cells, test cells
with their hidden tests); the source notebook, when it exists, gives their order
and their nbformat cell ids. It then:

* matches each reference cell (graded, locked, solution, task) to submitted cells by
  nbgrader ``grade_id``; a reference cell absent by grade_id is matched to the first
  unlabelled cell with the same cell ``id``, else (locked cells only) with the same
  normalised source, and gets its nbgrader metadata back;
* split solution cells: when the solution cell does not compile on its own but does
  together with the code cells right after it (unlabelled, or copies carrying the
  same grade_id, as JupyterLab's split leaves them), the pieces are merged back.
  Pieces that compile on their own stay in place: they run in order exactly as
  they would merged, and unlabelled student cells are allowed anyway;
* duplicates (one grade_id on several cells): for a solution cell, copies equal to
  the release stub are dropped; of the copies holding work, the last keeps the
  grade_id and the earlier ones stay as ordinary cells (nbgrader's DeduplicateIds
  does the same). For a locked cell one copy is kept (the last for a test cell,
  so it runs after the student's code; the first for other locked cells) and the
  others are dropped: their source is overwritten anyway;
* retyped cells get the reference's cell type back (raw cells too);
* moved test cells that now run before the reference cell preceding them in the
  source are moved back after it (and after the student cells that follow it);
* deleted locked and graded cells (tests with their hidden tests, locked setup or
  markdown, manually graded answers) are re-inserted after the reference cell that
  precedes them in the source and the student cells that follow it. A deleted code
  solution cell is not re-inserted (its stub would only raise, or clobber code the
  student moved elsewhere); it is reported.

What it did goes to ``resources["repairs"]`` (a list of short sentences) and, from
there, to the submission's detail in grades.csv. Anything it cannot make sense of
is left as it is, for nbgrader's own preprocessors to handle as usual.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets import Bool, Int

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)


def fingerprint(source: str) -> str:
    """Source with whitespace and blank lines normalised (what a retyped or re-pasted cell keeps)."""
    return "\n".join(" ".join(line.split()) for line in source.splitlines() if line.strip())


def compiles(source: str) -> bool:
    """Whether IPython would accept ``source`` as one cell (magics included)."""
    try:
        compile(TransformerManager().transform_cell(source), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return False
    except Exception:  # a transformer choking on odd input: treat as not compiling
        return False
    return True


@dataclass
class Ref:
    """One cell of the release version, as the gradebook knows it."""

    grade_id: str
    cell_type: str
    source: str
    locked: bool
    grade: bool
    solution: bool
    task: bool
    points: float | None
    checksum: str | None
    cell_id: str | None = None
    prints: set[str] = field(default_factory=set)

    @property
    def is_test(self) -> bool:
        return self.grade and not self.solution and self.cell_type == "code"

    def nbgrader_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"grade": self.grade, "grade_id": self.grade_id, "locked": self.locked,
                                "solution": self.solution, "schema_version": 3}
        if self.task:
            meta["task"] = True
        if self.points is not None:
            meta["points"] = self.points
        if self.checksum:
            meta["checksum"] = self.checksum
        return meta


class RepairCells(NbGraderPreprocessor):
    """Undo students' deletions, duplications, splits, retypes and moves of nbgrader cells."""

    enabled = Bool(True, help="Repair edited graded cells before nbgrader's sanitize preprocessors").tag(config=True)
    min_fingerprint = Int(12, help="Shortest normalised source matched by content (shorter is too ambiguous)"
                          ).tag(config=True)
    max_split_pieces = Int(5, help="Most cells merged back into one split solution cell").tag(config=True)

    # ----------------------------------------------------------------- reference
    def reference(self, resources: dict[str, Any]) -> list[Ref]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            grades = {c.name: c.max_score for c in source_nb.grade_cells}
            solutions = {c.name for c in source_nb.solution_cells}
            tasks = {c.name: c.max_score for c in source_nb.task_cells}
            refs = [Ref(c.name, c.cell_type, c.source or "", bool(c.locked), c.name in grades, c.name in solutions,
                        c.name in tasks, grades.get(c.name, tasks.get(c.name)), c.checksum)
                    for c in source_nb.source_cells]
        order, ids = self.source_order(resources.get("source_notebook"))
        refs.sort(key=lambda r: order.get(r.grade_id, len(order)))  # stable: gradebook order otherwise
        hidden_free = ClearHiddenTests(parent=self)  # the course's delimiters
        for ref in refs:
            ref.cell_id = ids.get(ref.grade_id)
            if ref.locked:
                cell = nbformat.v4.new_code_cell(ref.source)
                try:
                    hidden_free._remove_hidden_test_region(cell)  # what the release shows
                except Exception:
                    cell.source = HIDDEN.sub("", ref.source)
                ref.prints = {p for p in (fingerprint(ref.source), fingerprint(cell.source))
                              if len(p) >= self.min_fingerprint}
        return refs

    @staticmethod
    def source_order(path: str | None) -> tuple[dict[str, int], dict[str, str]]:
        if not path or not Path(path).is_file():
            return {}, {}
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            return {}, {}
        order: dict[str, int] = {}
        ids: dict[str, str] = {}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id and grade_id not in order:
                order[grade_id] = len(order)
                if cell.get("id"):
                    ids[grade_id] = cell["id"]
        return order, ids

    # ----------------------------------------------------------------- repair
    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        repairs: list[str] = resources.setdefault("repairs", [])
        try:
            refs = self.reference(resources)
        except (MissingEntry, KeyError) as exc:
            self.log.warning("RepairCells: no reference cells (%s), notebook left as it is", exc)
            return nb, resources
        if not refs:
            return nb, resources
        work = copy.deepcopy(nb)
        found: list[str] = []
        try:
            self.repair(work, refs, found)
        except Exception as exc:  # never worse than no repair: grade the notebook as submitted
            self.log.exception("RepairCells failed; notebook left as it is")
            repairs.append(f"repair skipped ({type(exc).__name__}: {exc})")
            return nb, resources
        repairs.extend(found)
        return work, resources

    @staticmethod
    def label(cell: NotebookNode) -> str | None:
        meta = cell.metadata.get("nbgrader")
        return meta.get("grade_id") if isinstance(meta, dict) else None

    def repair(self, nb: NotebookNode, refs: list[Ref], repairs: list[str]) -> None:
        by_id = {r.grade_id: r for r in refs}
        cells: list[NotebookNode] = list(nb.cells)
        # 1. metadata lost: match by nbformat cell id, then by content (locked cells only)
        present = {self.label(c) for c in cells}
        for ref in refs:
            if ref.grade_id in present:
                continue
            unlabelled = [c for c in cells if self.label(c) not in by_id]
            match = next((c for c in unlabelled if ref.cell_id and c.get("id") == ref.cell_id), None)
            how = "cell id"
            if match is None and ref.prints:
                match = next((c for c in unlabelled if fingerprint(c.source) in ref.prints), None)
                how = "content"
            if match is not None:
                match.metadata["nbgrader"] = ref.nbgrader_metadata()
                present.add(ref.grade_id)
                repairs.append(f"restored nbgrader metadata of {ref.grade_id} (matched by {how})")
        for cell in cells:  # malformed metadata left (nbgrader's preprocessors would fail on it)
            if "nbgrader" in cell.metadata and not isinstance(cell.metadata["nbgrader"], dict):
                del cell.metadata["nbgrader"]
                repairs.append("removed malformed nbgrader metadata from a cell")
        # 2. retyped cells
        for cell in cells:
            ref = by_id.get(self.label(cell))
            if ref is not None and cell.cell_type != ref.cell_type:
                repairs.append(f"restored cell type of {ref.grade_id} ({cell.cell_type} -> {ref.cell_type})")
                retype(cell, ref.cell_type)
        # 3. split solution cells (Python notebooks: compiling is how a split is recognised)
        language = nb.metadata.get("kernelspec", {}).get("language") or nb.metadata.get("language_info", {}).get(
            "name", "python")
        for ref in refs:
            if not (ref.solution and ref.cell_type == "code") or language != "python":
                continue
            idx = next((i for i, c in enumerate(cells) if self.label(c) == ref.grade_id), None)
            if idx is None:
                continue
            following = cells[idx + 1: idx + 1 + self.max_split_pieces]
            following = following[:next((n for n, c in enumerate(following)
                                         if c.cell_type != "code" or self.label(c) not in (None, ref.grade_id)),
                                        len(following))]
            if not following or (compiles(cells[idx].source) and compiles(following[0].source)):
                continue  # not split, or split where each piece runs on its own: left in place
            pieces = next((k for k in range(1, len(following) + 1)
                           if compiles("\n".join([cells[idx].source, *(c.source for c in following[:k])]))), 0)
            if pieces:
                merged = [c.source for c in cells[idx: idx + 1 + pieces]]
                cells[idx].source = "\n".join(merged)
                del cells[idx + 1: idx + 1 + pieces]
                repairs.append(f"merged {pieces + 1} split pieces of {ref.grade_id}")
        # 4. duplicates
        for ref in refs:
            copies = [i for i, c in enumerate(cells) if self.label(c) == ref.grade_id]
            if len(copies) < 2:
                continue
            drop: list[int] = []
            if ref.solution:
                stub = fingerprint(ref.source)
                work = [i for i in copies if fingerprint(cells[i].source) != stub]
                drop = [i for i in copies if i not in work] if work else copies[1:]
                for i in work[:-1]:  # earlier copies holding work: ordinary cells, still run in order
                    del cells[i].metadata["nbgrader"]
            else:
                keep = copies[-1] if ref.is_test else copies[0]
                drop = [i for i in copies if i != keep]
            for i in sorted(drop, reverse=True):
                del cells[i]
            if drop:
                repairs.append(f"dropped {'duplicate' if len(drop) == 1 else f'{len(drop)} duplicates'} "
                               f"of {ref.grade_id}")
        # 5. moved test cells, then 6. deleted cells, in source order
        for pos, ref in enumerate(refs):
            where = self.index(cells, ref.grade_id)
            if where is not None:
                k = self.previous_ref(cells, refs, pos, code_only=True)
                before = None if k is None else self.index(cells, refs[k].grade_id)
                if ref.is_test and before is not None and where < before:
                    cell = cells.pop(where)
                    cells.insert(self.block_end(cells, by_id, before - 1), cell)
                    repairs.append(f"moved test cell {ref.grade_id} back after {refs[k].grade_id}")
                continue
            if ref.solution and ref.cell_type == "code":
                repairs.append(f"solution cell {ref.grade_id} was deleted (not restorable)")
                continue
            if not (ref.locked or ref.grade or ref.task):
                continue
            k = self.previous_ref(cells, refs, pos)
            at = 0 if k is None else self.block_end(cells, by_id, self.index(cells, refs[k].grade_id))
            cells.insert(at, self.restored_cell(ref, with_id=nb.nbformat_minor >= 5,
                                                taken={c.get("id") for c in cells}))
            kind = "test" if ref.is_test else "answer" if ref.solution else "locked"
            repairs.append(f"restored deleted {kind} cell {ref.grade_id}")
        nb.cells = cells

    def index(self, cells: list[NotebookNode], grade_id: str) -> int | None:
        return next((i for i, c in enumerate(cells) if self.label(c) == grade_id), None)

    def previous_ref(self, cells: list[NotebookNode], refs: list[Ref], pos: int, code_only: bool = False
                     ) -> int | None:
        """Index in ``refs`` of the nearest reference cell before ``refs[pos]`` present in ``cells``."""
        for k in range(pos - 1, -1, -1):
            if code_only and refs[k].cell_type != "code":
                continue
            if self.index(cells, refs[k].grade_id) is not None:
                return k
        return None

    def block_end(self, cells: list[NotebookNode], by_id: dict[str, Ref], start: int) -> int:
        """After ``cells[start]`` and the unlabelled student cells that follow it."""
        at = start + 1
        while at < len(cells) and self.label(cells[at]) not in by_id:
            at += 1
        return at

    def restored_cell(self, ref: Ref, *, with_id: bool, taken: set[str]) -> NotebookNode:
        """The reference cell, with the metadata nbgrader's ``OverwriteCells`` checks it against."""
        new = nbformat.v4.new_code_cell if ref.cell_type == "code" else nbformat.v4.new_markdown_cell
        metadata: dict[str, Any] = {"deletable": False, "nbgrader": ref.nbgrader_metadata()}
        if not ref.solution:
            metadata["editable"] = False
        cell = MetadataValidator().upgrade_cell_metadata(new(ref.source, metadata=metadata))
        if not with_id:
            cell.pop("id", None)
        elif ref.cell_id and ref.cell_id not in taken:
            cell["id"] = ref.cell_id
        return cell


def retype(cell: NotebookNode, cell_type: str) -> None:
    """Change a cell's type in place, with the fields nbformat wants for it."""
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        cell.pop("attachments", None)  # only markdown and raw cells may have them
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
