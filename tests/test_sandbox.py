"""The grading sandbox (autograder/sandbox.py): what a kernel can and cannot reach.

The integration tests grade a toy submission whose solution also snoops: it tries to
read the assignment source, the gradebook and a hidden data file of the course, to
list other students' submissions, to write into the course and to connect to a
server on this machine. Under the sandbox every attempt fails and the grade is
unchanged; with ``--sandbox off`` the same attempts succeed, which shows the probes
can detect a leak.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.cli import main as course_main
from tests.nbgrader_course import make_course, nbgrader, released, submit, with_solution

SNOOP = '''def add(a, b):
    return a + b

import json, os, socket

def _attempt(action):
    try:
        return "ok" if action() else "empty"
    except Exception as exc:
        return type(exc).__name__

def _open_parent_fds():
    opened = 0
    for fd in os.listdir(f"/proc/{{os.getppid()}}/fd"):
        try:
            os.close(os.open(f"/proc/{{os.getppid()}}/fd/{{fd}}", os.O_WRONLY | os.O_NONBLOCK))
            opened += 1
        except OSError as exc:
            last = exc
    if not opened:
        raise last
    return opened

_course = {course!r}
_probes = {{
    "read_source": _attempt(lambda: open(_course + "/source/toy/toy.ipynb").read()),
    "read_gradebook": _attempt(lambda: open(_course + "/gradebook.db", "rb").read()),
    "read_hidden_data": _attempt(lambda: open(_course + "/hidden/labels.csv").read()),
    "list_submissions": _attempt(lambda: os.listdir(_course + "/submitted")),
    "write_course": _attempt(lambda: open(_course + "/planted.txt", "w").write("x")),
    "connect_local_server": _attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3)),
    "write_scratch": _attempt(lambda: open("scratch.txt", "w").write("x")),
    "open_grader_pipes": _attempt(_open_parent_fds),
    "unmount_cover": _attempt(lambda: __import__("ctypes").CDLL(None).umount2((_course + "/source").encode(), 0) == 0),
    "read_source_after_unmount": _attempt(lambda: open(_course + "/source/toy/toy.ipynb").read()),
}}
print("PROBES " + json.dumps(_probes, sort_keys=True))
'''


def needs_bwrap() -> None:
    problem = sandbox.bwrap_problem()
    if problem:
        pytest.skip(f"the sandbox cannot run here: {problem}")


@pytest.fixture
def listening_port():
    """A TCP server on 127.0.0.1 of the grading machine, outside any sandbox."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    threading.Thread(target=lambda: [server.accept() for _ in range(10)], daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def graded_probes(tmp_path: Path, port: int, *flags: str) -> tuple[dict[str, str], dict[str, str], Path]:
    course = make_course(tmp_path / "course")
    assert nbgrader(course, "generate_assignment", "toy", "--force").returncode == 0
    (course / "hidden").mkdir()
    (course / "hidden" / "labels.csv").write_text("id,label\n1,forged\n")
    submit(course, "other-student", released(course))
    submit(course, "snoop", with_solution(released(course), "add", SNOOP.format(course=str(course), port=port)))
    gradebook = (course / "gradebook.db").read_bytes()
    assert course_main(["grade", "toy", "--course-dir", str(course), "--quiet", *flags]) == 0
    assert ((course / "gradebook.db").exists() and not (course / "planted.txt").exists()) or "off" in flags
    del gradebook
    graded = nbformat.read(course / "autograded" / "snoop" / "toy" / "toy.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    probes = json.loads(text.split("PROBES ", 1)[1].splitlines()[0])
    import csv

    with open(course / "reports" / "toy" / "grades.csv", newline="") as fh:
        row = {r["student_id"]: r for r in csv.DictReader(fh)}["snoop"]
    return probes, row, course


def test_a_sandboxed_kernel_cannot_reach_the_course_or_the_network(tmp_path: Path, listening_port: int):
    needs_bwrap()
    probes, row, course = graded_probes(tmp_path, listening_port, "--sandbox", "bwrap")
    assert probes["read_source"] == "FileNotFoundError", "the assignment source (solutions, hidden tests) is readable"
    assert probes["read_gradebook"] == "FileNotFoundError", "the gradebook is readable"
    assert probes["read_hidden_data"] == "FileNotFoundError", "the course's hidden data is readable"
    assert probes["list_submissions"] == "FileNotFoundError", "other students' submissions are visible"
    assert probes["write_course"] in ("OSError", "FileNotFoundError"), "the kernel could write into the course"
    assert probes["connect_local_server"] in ("ConnectionRefusedError", "OSError"), "the kernel reached the network"
    assert probes["write_scratch"] == "ok", "the kernel must be able to write its scratch folder"
    assert probes["open_grader_pipes"] == "PermissionError", "the kernel could reach the sandbox server's result pipe"
    assert probes["unmount_cover"] == "empty", "the kernel could unmount a cover (it has capabilities)"
    assert probes["read_source_after_unmount"] == "FileNotFoundError"
    assert not (course / "planted.txt").exists()
    assert row["status"] == "graded" and float(row["score"]) == 3.0, row
    assert not (course / "reports" / "toy" / "SANDBOX-WARNING.txt").exists()


def test_without_the_sandbox_the_same_probes_succeed(tmp_path: Path, listening_port: int):
    probes, row, course = graded_probes(tmp_path, listening_port, "--sandbox", "off")
    leaks = ("read_source", "read_gradebook", "read_hidden_data", "list_submissions", "write_course",
             "connect_local_server", "open_grader_pipes")
    assert {k: probes[k] for k in leaks} == dict.fromkeys(leaks, "ok")
    warning = (course / "reports" / "toy" / "SANDBOX-WARNING.txt").read_text()
    assert "WITHOUT the grading sandbox" in warning and "turned off" in warning
    assert float(row["score"]) == 3.0


def test_the_command_covers_hidden_paths_and_binds_only_the_scratch_folder():
    tmp_path = Path(__file__).resolve().parent / "fixtures" / "sandbox-layout"  # not under /tmp: see below
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir()
    hidden_dir, hidden_file, work = tmp_path / "course", tmp_path / "gradebook.db", tmp_path / "work"
    hidden_dir.mkdir()
    hidden_file.write_text("")
    work.mkdir()
    cmd = sandbox.bwrap_command(work, [hidden_dir, hidden_file, tmp_path / "absent"])
    joined = " ".join(cmd)
    assert "--unshare-net" in cmd and "--unshare-pid" in cmd and "--die-with-parent" in cmd
    assert "--ro-bind / /" in joined
    assert f"--tmpfs {hidden_dir} --remount-ro {hidden_dir}" in joined
    assert f"--ro-bind /dev/null {hidden_file}" in joined
    assert f"--bind {work} {work}" in joined and str(tmp_path / "absent") not in joined
    # A scratch folder inside a hidden folder is never covered (the kernel needs it).
    inner = hidden_dir / "scratch"
    inner.mkdir()
    assert f"--tmpfs {hidden_dir}" not in " ".join(sandbox.bwrap_command(inner, [hidden_dir]))
    # Paths inside a covered folder, or under the private /tmp, need (and get) no cover of their own.
    nested = " ".join(sandbox.bwrap_command(work, [hidden_dir, hidden_dir / "gradebook.db", "/tmp/course"]))
    assert f"/dev/null {hidden_dir / 'gradebook.db'}" not in nested and "/tmp/course" not in nested
    shutil.rmtree(tmp_path)


def test_modes_without_bubblewrap(monkeypatch: pytest.MonkeyPatch):
    sandbox.bwrap_problem.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        use, why = sandbox.resolve("auto")
        assert not use and "apt install bubblewrap" in why
        with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
            sandbox.resolve("bwrap")
        assert sandbox.resolve("off") == (False, "the sandbox is turned off (CourseGrader.sandbox = 'off')")
        with pytest.raises(ValueError):
            sandbox.resolve("docker")
    finally:
        sandbox.bwrap_problem.cache_clear()


def run_cells(workdir: Path, *sources: str, hidden: tuple[str, ...] = ()) -> str:
    """Execute code cells under the sandbox in ``workdir``; return everything they printed."""
    from traitlets.config import Config

    from autograder.execute import Limits, execute_notebook

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    result = execute_notebook(nbformat.writes(nb), workdir, "nbgrader.preprocessors.Execute", Config(), {},
                              Limits(sandbox="bwrap", hidden_paths=hidden))
    assert result.status == "graded", result.detail
    return "".join(o.get("text", "") for c in result.notebook.cells for o in c.get("outputs", []))


def printed(text: str, key: str) -> str:
    return text.split(key + " ", 1)[1].splitlines()[0]


SANDBOX_ID = "import os\nprint('SANDBOX', os.readlink('/proc/self/ns/pid'))  # one pid namespace per sandbox"
PLANT = """import pathlib, subprocess
for place in ('/tmp/planted', '/dev/shm/planted', '../planted'):
    pathlib.Path(place).write_text('answers for the next student')
"""
LOOK = """import os
print('SEEN', sorted(p for p in ('/tmp/planted', '/dev/shm/planted', '../planted') if os.path.exists(p)))
names = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        names.append(open(f'/proc/{pid}/comm').read().strip())
    except OSError:
        pass
print('SLEEPERS', names.count('sleep'))
"""


def test_one_sandbox_serves_a_worker_and_nothing_passes_between_notebooks():
    """The server is reused while notebooks leave nothing behind, and replaced when one does."""
    import tempfile

    needs_bwrap()
    scratch = sandbox.scratch_parent()

    def fresh() -> Path:  # as a worker does: a working folder made just before its notebook runs
        return Path(tempfile.mkdtemp(dir=scratch))

    planted = run_cells(fresh(), SANDBOX_ID, PLANT)
    looked = run_cells(fresh(), SANDBOX_ID, LOOK)
    assert printed(looked, "SANDBOX") == printed(planted, "SANDBOX"), "a clean notebook should not cost a new sandbox"
    assert printed(looked, "SEEN") == "[]", "files planted by one notebook reached the next"
    assert not (scratch / "planted").exists()
    # A process left running spoils the sandbox: it is killed and the next notebook gets a fresh one.
    daemon = run_cells(fresh(), SANDBOX_ID, "import subprocess\n"
                       "subprocess.run('sleep 300 &', shell=True)  # a daemon: not the kernel's child\n"
                       "print('STARTED')")
    assert "STARTED" in daemon
    looked = run_cells(fresh(), SANDBOX_ID, LOOK)
    assert printed(looked, "SANDBOX") != printed(daemon, "SANDBOX"), "the spoiled sandbox was reused"
    assert printed(looked, "SLEEPERS") == "0", "a process of the previous notebook is still running"


def test_a_course_below_tmp_is_still_reachable_for_python_and_covered(monkeypatch: pytest.MonkeyPatch):
    """A clone under /tmp: its venv is exposed again (read-only) under the private /tmp, its course covered."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="difftf-clone-")).resolve()
    (base / ".venv").mkdir()
    (base / "course").mkdir()
    monkeypatch.setattr(sandbox, "needed_under_tmp", lambda: [base])
    try:
        joined = " ".join(sandbox.bwrap_command(base / "work", [base / "course", "/tmp/elsewhere"]))
        assert f"--tmpfs /tmp --ro-bind {base} {base}" in joined
        assert f"--tmpfs {base / 'course'} --remount-ro {base / 'course'}" in joined
        assert "/tmp/elsewhere" not in joined  # hidden by the private /tmp already
    finally:
        shutil.rmtree(base)


def test_without_dropped_capabilities_a_root_kernel_could_unmount_a_cover(tmp_path: Path):
    """Why ``--cap-drop ALL``: run by root, bwrap leaves every capability to the sandboxed process."""
    import os
    import subprocess
    import sys

    needs_bwrap()
    if os.geteuid() != 0:
        pytest.skip("only root keeps capabilities inside bwrap; as another user there is nothing to drop")
    secret = tmp_path / "course"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    probe = (f"import ctypes; ctypes.CDLL(None).umount2(b'{secret}', 0); "
             f"print(open('{secret}/answers.txt').read() if __import__('os').path.exists('{secret}/answers.txt') "
             "else 'hidden')")
    outcomes = {}
    for dropped in (True, False):
        fence = [a for a in sandbox.namespace_args() if dropped or a not in ("--cap-drop", "ALL")]
        cmd = [shutil.which("bwrap"), *fence, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", str(secret), "--remount-ro", str(secret), sys.executable, "-c", probe]
        outcomes[dropped] = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    assert outcomes == {True: "hidden", False: "42"}


def test_a_graded_kernel_cannot_read_the_holdout_labels(monkeypatch: pytest.MonkeyPatch):
    """The dataset files hold the holdout's labels: hidden from the kernel, which gets the data view instead."""
    import os
    import tempfile

    from traitlets.config import Config

    from autograder.execute import Limits, execute_notebook
    from autograder.prepare import GRADING_DATA_FOLDER, grading_data_files, raw_data_paths
    from difftf.data import GRADING_DATA_ENV, fetch

    needs_bwrap()
    if not os.environ.get("COURSE_DATA_MIRROR"):
        pytest.skip("needs the dataset mirror (COURSE_DATA_MIRROR) to build the data view")
    raw = fetch("banknote")  # the real file, labels included, in the mirror or the cache
    workdir = Path(tempfile.mkdtemp(dir=sandbox.scratch_parent()))
    files = grading_data_files()
    for name, data in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(data)
    code = f"""import difftf, json
def attempt(action):
    try:
        return repr(action())[:40]
    except Exception as exc:
        return type(exc).__name__
out = {{
    "raw_file": attempt(lambda: open({str(raw)!r}).read()),
    "mirror": attempt(lambda: __import__("os").listdir({os.environ["COURSE_DATA_MIRROR"]!r})),
    "labels": attempt(lambda: difftf.data.holdout_labels("banknote")),
    "holdout_y": attempt(lambda: difftf.load_banknote_holdout()[1]),
    "all_rows": attempt(lambda: difftf.load_banknote(part="all")),
    "kept_rows": attempt(lambda: len(difftf.load_banknote(part="kept")[0])),
}}
print("SEEN " + json.dumps(out, sort_keys=True))
"""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(code)]
    env = {GRADING_DATA_ENV: str(workdir / GRADING_DATA_FOLDER)}
    result = execute_notebook(nbformat.writes(nb), workdir, "nbgrader.preprocessors.Execute", Config(), env,
                              Limits(sandbox="bwrap", hidden_paths=tuple(raw_data_paths())))
    text = "".join(o.get("text", "") for c in result.notebook.cells for o in c.get("outputs", []))
    seen = json.loads(printed(text, "SEEN"))
    assert seen["raw_file"] in ("FileNotFoundError", "PermissionError"), "the dataset file (with labels) is readable"
    assert seen["mirror"] == "[]", "the dataset mirror is visible"
    assert seen["labels"] == "GradingDataError" and seen["all_rows"] == "GradingDataError"
    assert seen["holdout_y"] == "None"
    assert seen["kept_rows"] == "932", seen  # 85 % of 1372 notes, 80 % of those for training
    shutil.rmtree(workdir)


def test_threads_that_grade_side_by_side_get_sandboxes_of_their_own():
    """A Dask worker with several threads: one server and one scratch folder per thread."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    needs_bwrap()

    def grade_one(_: int) -> tuple[Path, str]:
        scratch = sandbox.scratch_parent()
        workdir = Path(tempfile.mkdtemp(dir=scratch))
        text = run_cells(workdir, SANDBOX_ID, "import time\ntime.sleep(1)\nopen('mine.txt', 'w').write('x')",
                         "import os\nprint('FILES', sorted(os.listdir('.')))")
        return scratch, text

    with ThreadPoolExecutor(max_workers=2) as pool:
        (scratch_a, text_a), (scratch_b, text_b) = pool.map(grade_one, range(2))
    assert scratch_a != scratch_b
    assert printed(text_a, "SANDBOX") != printed(text_b, "SANDBOX")
    assert printed(text_a, "FILES") == printed(text_b, "FILES") == "['mine.txt']"
