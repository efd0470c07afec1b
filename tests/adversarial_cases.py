"""The adversarial corpus: hostile or broken submissions of a small toy assignment.

Each :class:`Case` builds one student's submission (from the released notebook) and
states the outcome a correct grader gives it. ``tests/test_adversarial.py`` grades
them all in one ``course grade`` batch and checks every case.

The toy assignment ``adv`` (no TensorFlow) scores 4 points: ``test_add`` (2, with a
visible assert and a hidden check), ``test_numeric`` (1, hidden) and ``test_reference``
(1, hidden, against reference.json). Under ``course grade`` the hidden parts only
export the student's answers (``difftf.export``) and ``hidden_checks.py`` judges them
outside the kernel; elsewhere they fall back to ``assert``, ``numpy.testing`` and
``difftf.Reference().at_least`` in the kernel. Every hidden block
holds :data:`HIDDEN_MARKER`, which must never reach a student's feedback.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from tests.nbgrader_course import grade_meta

ASSIGNMENT = "adv"
HIDDEN_MARKER = "ADV-HIDDEN-" + "c0ffee42"
MAX_SCORE = 4.0
TAG = uuid.uuid4().hex[:10]  # makes this run's leftovers (files, processes, tables) recognisable
SLEEP_CHILD = f"1000.{int(TAG[:6], 16)}"  # `sleep` arguments that only this run's processes carry
SLEEP_FORK = f"2000.{int(TAG[:6], 16)}"
TMP_INTRUDER = Path(f"/tmp/adv-intruder-{TAG}.txt")

GOOD = "def add(a, b):\n    return a + b"
WRONG = "def add(a, b):\n    return 0"

NEEDS_SANDBOX = "needs the grading sandbox (issue 8 part 2)"


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    hidden = f"### BEGIN HIDDEN TESTS\n{{}}  # {HIDDEN_MARKER}\n### END HIDDEN TESTS"
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Adversarial toy", metadata=grade_meta("intro", grade=False, solution=False,
                                                                              locked=True)),
        nbformat.v4.new_code_cell("import numpy as np\nimport difftf",
                                  metadata=grade_meta("setup", grade=False, solution=False, locked=True)),
        nbformat.v4.new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                                  metadata=grade_meta("add", grade=False, solution=True, locked=False)),
        nbformat.v4.new_code_cell("assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
                                  + hidden.format('_v = add(-5, 5)\nif not difftf.export("add_zero", _v):\n'
                                                  '    assert _v == 0'),
                                  metadata=grade_meta("test_add", grade=True, solution=False, locked=True, points=2)),
        nbformat.v4.new_code_cell(hidden.format('_v = add(0.25, 0.5)\nif not difftf.export("add_fraction", _v):\n'
                                                '    np.testing.assert_allclose(_v, 0.75)'),
                                  metadata=grade_meta("test_numeric", grade=True, solution=False, locked=True,
                                                      points=1)),
        nbformat.v4.new_code_cell(hidden.format('_v = add(0.5, 0.25)\nif not difftf.export("toy_sum", _v):\n'
                                                '    difftf.Reference().at_least("toy_sum", _v, margin=0.01)'),
                                  metadata=grade_meta("test_reference", grade=True, solution=False, locked=True,
                                                      points=1)),
    ]
    return nb


HIDDEN_CHECKS = f"""# {HIDDEN_MARKER}: judged by the grader, outside the kernel (autograder/checks.py)
from autograder.checks import close

CHECKS = {{
    "test_add": {{"add_zero": lambda v, ref: close(v, 0.0, 1e-12)}},
    "test_numeric": {{"add_fraction": lambda v, ref: close(v, 0.75, 1e-9)}},
    "test_reference": {{"toy_sum": lambda v, ref: ref.at_least("toy_sum", float(v), margin=0.01)}},
}}
"""


def make_adv_course(root: Path, *, cell_timeout: int = 3) -> Path:
    """The course: source/adv (notebook + reference.json), a stand-in for hidden data, the config."""
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(source_notebook(), source / "adv.ipynb")
    (source / "reference.json").write_text(json.dumps({"metrics": {"toy_sum": 0.75}}))
    (source / "hidden_checks.py").write_text(HIDDEN_CHECKS)
    (root / "hidden").mkdir()
    (root / "hidden" / "answers.txt").write_text("the instructor's hidden data\n")
    (root / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "advcourse"\nc.Execute.timeout = {cell_timeout}\n'
    )
    return root


@dataclass
class Context:
    """What the case builders may use: the released notebook, the course root, a listening port."""

    released: nbformat.NotebookNode
    course: Path
    port: int

    def blank(self) -> nbformat.NotebookNode:
        return nbformat.from_dict(json.loads(json.dumps(self.released)))

    def answer(self, source: str) -> nbformat.NotebookNode:
        """The released notebook with ``source`` typed into the solution cell."""
        nb = self.blank()
        cell(nb, "add").source = source
        return nb


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def probe(action: str) -> str:
    """Solution code that answers correctly, then tries ``action`` and prints what happened."""
    body = "\n".join("    " + line for line in action.splitlines())
    return (f"{GOOD}\ntry:\n{body}\n    print('PROBE:OK')\n"
            "except BaseException as exc:\n    print('PROBE:' + type(exc).__name__)")


@dataclass
class Outcome:
    """What the test finds after grading, handed to a case's extra check."""

    course: Path
    row: dict[str, str]
    notebook: nbformat.NotebookNode | None  # the autograded notebook, if one was stored
    extra: dict[str, Any] = field(default_factory=dict)

    def printed(self, grade_id: str = "add") -> str:
        assert self.notebook is not None, "no autograded notebook"
        return "".join(o.get("text", "") for o in cell(self.notebook, grade_id).get("outputs", [])
                       if o.get("output_type") == "stream")


@dataclass
class Case:
    student: str
    build: Callable[[Context], nbformat.NotebookNode | bytes | None]
    status: str  # alternatives separated by "|" where the kernel's own timing decides
    score: float
    detail: str = ""  # a substring of the detail column
    needs: str | None = None  # the outcome test is xfail(strict) until this feature exists
    check: Callable[[Outcome], None] | None = None  # more assertions on the correct outcome
    name: str = "adv.ipynb"  # the submitted file's name
    extra_files: dict[str, bytes] = field(default_factory=dict)
    leak_needs: str | None = None  # the no-hidden-text check is xfail(strict) until this exists


# --- checks ---------------------------------------------------------------------------------

def probe_denied(outcome: Outcome) -> None:
    text = outcome.printed()
    assert "PROBE:" in text, f"the probe did not run: {text!r}"
    assert "PROBE:OK" not in text, "student code could do this during grading"


def no_course_root_intruder(outcome: Outcome) -> None:
    probe_denied(outcome)
    assert not (outcome.course / f"INTRUDER-{TAG}.txt").exists()


def no_tmp_intruder(outcome: Outcome) -> None:
    """A private /tmp that is thrown away is as good as a refused write: nothing may land in the real one."""
    assert "PROBE:" in outcome.printed(), "the probe did not run"
    assert not TMP_INTRUDER.exists()


def gradebook_untouched(outcome: Outcome) -> None:
    import sqlite3

    probe_denied(outcome)
    with sqlite3.connect(outcome.course / "gradebook.db") as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert f"intruder_{TAG}" not in tables


def no_connection(outcome: Outcome) -> None:
    probe_denied(outcome)
    assert outcome.extra["connections"] == 0, "the listening socket was reached from the kernel"


def no_leftover(argument: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        assert outcome.extra["leftovers"].get(argument) == [], f"`sleep {argument}` outlived the grading"
    return check


def small_notebook(limit_mb: float) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        stored = outcome.course / "autograded" / outcome.row["student_id"] / ASSIGNMENT / "adv.ipynb"
        size = stored.stat().st_size / 2**20
        assert size < limit_mb, f"the autograded notebook is {size:.0f} MB"
    return check


def tests_ran(outcome: Outcome) -> None:
    """The restored hidden test of test_add ran, and its outside check failed (the student had removed it)."""
    assert outcome.notebook is not None
    source = cell(outcome.notebook, "test_add").source
    assert HIDDEN_MARKER in source, "the hidden test was not restored"
    errors = [o for o in cell(outcome.notebook, "test_add").outputs if o.get("output_type") == "error"]
    assert [o.get("ename") for o in errors] == ["HiddenCheckFailed"], errors
    assert "add_zero: got 10" in errors[0]["evalue"], errors[0]["evalue"]


# --- builders -------------------------------------------------------------------------------

def edited_test_cell(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer("def add(a, b):\n    return abs(a) + b")  # right on the visible tests only
    cell(nb, "test_add").source = "assert add(1, 2) == 3"
    for grade_id in ("test_numeric", "test_reference"):
        cell(nb, grade_id).source = "pass"
    return nb


def edited_locked_cell(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(WRONG)
    cell(nb, "setup").source = ("import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None\n"
                                "import difftf\ndifftf.Reference.at_least = lambda *a, **k: None")
    cell(nb, "intro").source = "# I edited this"
    return nb


def deleted_tests(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(WRONG)
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return nb


def no_cells(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.blank()
    nb.cells = []
    return nb


def wrong_kernelspec(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(GOOD)
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia 1.9.0", "language": "julia"}
    nb.metadata["language_info"] = {"name": "julia"}
    return nb


def many_cells(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(GOOD)
    nb.cells[3:3] = [nbformat.v4.new_code_cell("") for _ in range(5000)]
    return nb


def big_output(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(GOOD)
    blob = base64.b64encode(b"\x89PNG" + b"\0" * (37 * 2**20)).decode()  # ~50 MB of base64
    cell(nb, "add").outputs = [nbformat.v4.new_output("display_data", data={"image/png": blob})]
    cell(nb, "add").execution_count = 1
    return nb


def read_history(ctx: Context) -> nbformat.NotebookNode:
    nb = ctx.answer(GOOD)
    nb.cells.append(nbformat.v4.new_code_cell("print('\\n'.join(In))"))  # after the tests ran
    return nb


def unicode_file(ctx: Context) -> nbformat.NotebookNode:
    return ctx.answer("def add(a, b):\n    return a + b + int(open('notes élève 学生 1.txt').read()) - 7")


def cases() -> list[Case]:
    c = "{course}"
    return [
        Case("good", lambda ctx: ctx.answer(GOOD), "graded", 4, "all tests passed"),
        Case("wrong", lambda ctx: ctx.answer(WRONG), "graded", 0, "test_add (AssertionError)"),
        Case("infinite-loop", lambda ctx: ctx.answer("while True:\n    pass\n" + GOOD), "timeout", 0,
             "cell timeout in add"),
        Case("sleeper", lambda ctx: ctx.answer("import time\ntime.sleep(600)\n" + GOOD), "timeout", 0,
             "cell timeout in add"),
        Case("os-exit", lambda ctx: ctx.answer(WRONG + "\nimport os\nos._exit(1)"), "crashed", 0,
             "kernel died in add"),
        Case("sys-exit", lambda ctx: ctx.answer(WRONG + "\nimport sys\nsys.exit()"), "graded", 0,
             "first error in add: SystemExit"),
        # ipykernel stops after a cell or two more: which one is a race, so only "kernel died in"
        # IPython's exit() ends the kernel after the cell, racing the next cell's request: either outcome is fair.
        Case("ipython-exit", lambda ctx: ctx.answer(WRONG + "\nexit()"), "crashed|graded", 0),
        Case("segfault", lambda ctx: ctx.answer(WRONG + "\nimport ctypes\nctypes.string_at(0)"), "crashed", 0,
             "kernel died in add"),
        Case("memory-bomb", lambda ctx: ctx.answer(
            "import time\nhog = []\nfor _ in range(40):  # at most 2 GB\n"
            "    hog.append(b'x' * (50 * 2**20))\n    time.sleep(0.02)\n" + GOOD),
            "out of memory", 0, "memory above 600 MB"),
        Case("child-process", lambda ctx: ctx.answer(
            GOOD + f"\nimport subprocess\nsubprocess.Popen(['sleep', '{SLEEP_CHILD}'])"),
            "graded", 4, "all tests passed", check=no_leftover(SLEEP_CHILD)),  # same process group: killed
        Case("fork", lambda ctx: ctx.answer(
            GOOD + "\nimport os\nif os.fork() == 0:\n    os.setsid()\n"
            f"    os.execvp('sleep', ['sleep', '{SLEEP_FORK}'])"),
            "graded", 4, "all tests passed", needs=NEEDS_SANDBOX, check=no_leftover(SLEEP_FORK)),
        # 300 MB of prints (not gigabytes: the machine is shared); the grader keeps 1 MB per cell
        Case("flood", lambda ctx: ctx.answer(
            GOOD + "\nimport sys\nline = 'x' * 2**20\nfor _ in range(300):\n    print(line)\n    sys.stdout.flush()"),
             "graded", 4, "all tests passed", check=small_notebook(20)),
        Case("input", lambda ctx: ctx.answer(GOOD + "\nname = input('your name? ')"), "graded", 4,
             "first error in add: StdinNotImplementedError"),
        Case("always-equal", lambda ctx: ctx.answer(
            "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
            "def add(a, b):\n    return Anything()"), "graded", 0, "test_numeric (TypeError)"),
        Case("patched-assertionerror", lambda ctx: ctx.answer(
            WRONG + "\nimport builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})"),
            "graded", 0, "test_add (AssertionError)"),
        Case("patched-numpy-testing", lambda ctx: ctx.answer(
            WRONG + "\nimport numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None"),
            "graded", 0, "test_numeric (HiddenCheckFailed)"),
        Case("patched-showtraceback", lambda ctx: ctx.answer(
            WRONG + "\nget_ipython().showtraceback = lambda *a, **k: None"), "graded", 0,
            "test_add (AssertionError)"),
        Case("patched-_showtraceback", lambda ctx: ctx.answer(
            WRONG + "\nip = get_ipython()\nip.showtraceback = ip._showtraceback = lambda *a, **k: None"),
            "graded", 0, "test_add (AssertionError)"),
        Case("patched-difftf", lambda ctx: ctx.answer(
            WRONG + "\nimport difftf\ndifftf.Reference.at_least = lambda *a, **k: None"), "graded", 0,
            "test_reference (HiddenCheckFailed)"),
        Case("patched-export", lambda ctx: ctx.answer(
            WRONG + "\nimport difftf\ndifftf.export = lambda *a, **k: True"), "graded", 0,
            "test_numeric (HiddenCheckFailed)"),
        Case("erased-test-cells", lambda ctx: ctx.answer(
            WRONG + "\nget_ipython().input_transformers_cleanup.append(lambda lines: [])"), "graded", 0,
            "test_add (HiddenCheckFailed)"),
        Case("edited-locked-cells", edited_locked_cell, "graded", 0, "test_numeric (HiddenCheckFailed)"),
        Case("edited-test-cells", edited_test_cell, "graded", 2, "test_add (HiddenCheckFailed)", check=tests_ran),
        Case("deleted-test-cells", deleted_tests, "graded", 0, "restored deleted test cell"),
        Case("renamed", lambda ctx: ctx.answer(GOOD), "missing", 0, "adv.ipynb was not submitted",
             name="my solution.ipynb"),
        Case("invalid-json", lambda ctx: b"{ not json", "invalid", 0, "not a readable notebook"),
        Case("empty-file", lambda ctx: b"", "invalid", 0, "not a readable notebook"),
        Case("no-cells", no_cells, "graded", 0, "restored deleted test cell"),
        Case("julia-kernelspec", wrong_kernelspec, "graded", 4, "all tests passed"),
        Case("read-source", lambda ctx: ctx.answer(probe(f"open(r'{c}/source/adv/adv.ipynb').read()")),
             "graded", 4, needs=NEEDS_SANDBOX, check=probe_denied),
        Case("read-hidden-data", lambda ctx: ctx.answer(probe(f"open(r'{c}/hidden/answers.txt').read()")),
             "graded", 4, needs=NEEDS_SANDBOX, check=probe_denied),
        Case("read-gradebook", lambda ctx: ctx.answer(probe(
            f"assert open(r'{c}/gradebook.db', 'rb').read(16).startswith(b'SQLite format 3')")),
            "graded", 4, needs=NEEDS_SANDBOX, check=probe_denied),
        Case("write-gradebook", lambda ctx: ctx.answer(probe(
            f"import sqlite3\ncon = sqlite3.connect(r'{c}/gradebook.db', timeout=20)\n"
            f"con.execute('CREATE TABLE intruder_{TAG} (x)')\ncon.commit()\ncon.close()")),
            "graded", 4, needs=NEEDS_SANDBOX, check=gradebook_untouched),
        Case("network", lambda ctx: ctx.answer(probe(
            "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).close()")),
            "graded", 4, needs=NEEDS_SANDBOX, check=no_connection),
        Case("write-course-root", lambda ctx: ctx.answer(probe(
            f"open(r'{c}/INTRUDER-{TAG}.txt', 'w').write('x')")),
            "graded", 4, needs=NEEDS_SANDBOX, check=no_course_root_intruder),
        Case("write-tmp", lambda ctx: ctx.answer(probe(f"open(r'{TMP_INTRUDER}', 'w').write('x')")),
             "graded", 4, needs=NEEDS_SANDBOX, check=no_tmp_intruder),
        Case("José Ñ 学生", lambda ctx: ctx.answer(GOOD), "graded", 4, "all tests passed"),
        Case("unicode-file", unicode_file, "graded", 4, "all tests passed",
             extra_files={"notes élève 学生 1.txt": b"7"}),
        Case("5000-cells", many_cells, "graded", 4, "all tests passed"),
        Case("50mb-output", big_output, "graded", 4, "all tests passed", check=small_notebook(1)),
        Case("reads-input-history", read_history, "graded", 4, "all tests passed"),
    ]


def build(case: Case, ctx: Context) -> nbformat.NotebookNode | bytes | None:
    """The case's submission, with {course} and {port} filled in inside the student's code."""
    nb = case.build(ctx)
    if isinstance(nb, nbformat.NotebookNode):
        for c in nb.cells:
            if c.cell_type == "code" and ("{course}" in c.source or "{port}" in c.source):
                c.source = c.source.replace("{course}", str(ctx.course)).replace("{port}", str(ctx.port))
    return nb
