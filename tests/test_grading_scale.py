"""`course grade` at class scale: parallel workers, a Dask cluster, limits, cache and resume."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from autograder.cli import main as course_main
from autograder.execute import Limits, execute_notebook
from tests.nbgrader_course import BIN, make_course, nbgrader, released, submit, with_solution

GOOD = "def add(a, b):\n    return a + b"


def rows_of(course: Path, assignment: str = "toy") -> dict[str, dict[str, str]]:
    with open(course / "reports" / assignment / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def grade(course: Path, *flags: str) -> dict[str, dict[str, str]]:
    assert course_main(["grade", "toy", "--course-dir", str(course), "--quiet", *flags]) == 0
    return rows_of(course)


@pytest.fixture
def released_course(tmp_path: Path) -> Path:
    course = make_course(tmp_path / "course", cell_timeout=20)
    assert nbgrader(course, "generate_assignment", "toy", "--force").returncode == 0
    return course


def test_parallel_cache_and_force(released_course: Path):
    course = released_course
    blank = released(course)
    for i in range(4):
        submit(course, f"s{i}", with_solution(blank, "add", GOOD if i % 2 == 0 else "def add(a, b):\n    return a"))
    first = grade(course, "--workers", "2")
    assert {sid: float(r["score"]) for sid, r in first.items()} == {"s0": 3.0, "s1": 0.0, "s2": 3.0, "s3": 0.0}
    assert all(r["cached"] == "False" for r in first.values())
    assert "  test_add: 0/2.0 AssertionError" in (course / "reports" / "toy" / "logs" / "s1.log").read_text()

    again = grade(course, "--workers", "2")
    assert all(r["cached"] == "True" for r in again.values()), "an unchanged batch is not run again"
    assert {sid: r["score"] for sid, r in again.items()} == {sid: r["score"] for sid, r in first.items()}

    submit(course, "s1", with_solution(blank, "add", GOOD))  # s1 fixes the bug and resubmits
    changed = grade(course)
    assert {sid for sid, r in changed.items() if r["cached"] == "False"} == {"s1"}
    assert float(changed["s1"]["score"]) == 3.0

    forced = grade(course, "--force")
    assert all(r["cached"] == "False" for r in forced.values())


def test_submission_timeout_and_memory_limit(released_course: Path):
    course = released_course
    blank = released(course)
    slow = with_solution(blank, "add", "import time\ntime.sleep(2)\n" + GOOD)
    slow.cells.insert(2, nbformat.v4.new_code_cell("time.sleep(4)"))  # an extra cell of the student's
    submit(course, "slow", slow)
    submit(course, "hungry", with_solution(blank, "add", "import numpy as np\nbig = np.ones(150_000_000)\n" + GOOD))
    submit(course, "fine", with_solution(blank, "add", GOOD))
    rows = grade(course, "--timeout", "4", "--memory-mb", "600")
    assert rows["slow"]["status"] == "timeout" and "submission time limit (4 s)" in rows["slow"]["detail"]
    assert rows["hungry"]["status"] == "out of memory" and "600 MB" in rows["hungry"]["detail"]
    assert float(rows["hungry"]["score"]) == 0.0 and float(rows["slow"]["score"]) == 0.0
    assert rows["fine"]["status"] == "graded" and float(rows["fine"]["score"]) == 3.0


def test_watchdog_kills_a_kernel_that_ignores_interrupts(tmp_path: Path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                          "time.sleep(120)"),
                nbformat.v4.new_code_cell("print('never')")]
    start = time.monotonic()
    result = execute_notebook(nbformat.writes(nb), tmp_path, "nbgrader.preprocessors.Execute", Config(), {},
                              Limits(submission_timeout=2, grace=3))
    assert time.monotonic() - start < 60
    assert result.status == "timeout" and "ignored the interrupt" in result.detail
    assert any(o.get("ename") == "KernelDied" for o in result.notebook.cells[1].outputs)


def start_failing_notebook(tmp_path: Path, source: str, failures: int):
    from tests.flaky_kernel import FailsToStart

    FailsToStart.failures_left, FailsToStart.attempts = failures, 0
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(source)]
    result = execute_notebook(nbformat.writes(nb), tmp_path, "tests.flaky_kernel.FailsToStart", Config(), {})
    return result, FailsToStart.attempts


def test_a_kernel_that_dies_before_its_first_cell_is_started_again(tmp_path: Path):
    result, attempts = start_failing_notebook(tmp_path, "print(6 * 7)", failures=1)
    assert attempts == 2
    assert result.status == "graded", result.detail
    assert result.notebook.cells[0].outputs[0].text == "42\n"


def test_kernel_start_is_retried_a_bounded_number_of_times(tmp_path: Path):
    result, attempts = start_failing_notebook(tmp_path, "print(6 * 7)", failures=10)
    assert attempts == 3
    assert result.status == "error" and "Kernel died before replying to kernel_info" in result.detail


def test_a_kernel_killed_by_student_code_is_not_started_again(tmp_path: Path):
    result, attempts = start_failing_notebook(tmp_path, "import os\nos._exit(1)", failures=0)
    assert attempts == 1, "student code ran: running it again would not be the student's result"
    assert result.status == "crashed"


def test_gpus_are_shared_and_pinned_round_robin(released_course: Path, monkeypatch: pytest.MonkeyPatch):
    course = released_course
    probe = "import os\nprint(os.environ.get('CUDA_VISIBLE_DEVICES'), os.environ.get('TF_FORCE_GPU_ALLOW_GROWTH'))\n"
    for i in range(3):
        submit(course, f"g{i}", with_solution(released(course), "add", probe + GOOD))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # a faked two-GPU machine; kernels never touch a GPU
    grade(course, "--workers", "1")
    seen = []
    for i in range(3):
        nb = nbformat.read(course / "autograded" / f"g{i}" / "toy" / "toy.ipynb", as_version=4)
        seen.append(nb.cells[1].outputs[0].text.split())
    assert seen == [["0", "true"], ["1", "true"], ["0", "true"]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_grades_through_a_dask_cluster_on_loopback(released_course: Path, tmp_path: Path):
    course = released_course
    blank = released(course)
    for i in range(4):
        submit(course, f"d{i}", with_solution(blank, "add", GOOD if i < 3 else "def add(a, b):\n    return 0"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(BIN / "dask")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--name", name, "--no-dashboard",
                 "--local-directory", str(tmp_path / name)],
                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        rows = grade(course, "--scheduler", address)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    assert {sid: float(r["score"]) for sid, r in rows.items()} == {"d0": 3.0, "d1": 3.0, "d2": 3.0, "d3": 0.0}
    assert all(r["status"] == "graded" for r in rows.values())


def test_sigkill_mid_batch_then_resume(released_course: Path):
    course = released_course
    blank = released(course)
    students = [f"k{i}" for i in range(6)]
    for sid in students:
        submit(course, sid, with_solution(blank, "add", "import time\ntime.sleep(1)\n" + GOOD))
    cache = course / ".grading-cache" / "toy"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(BIN / "course"), "grade", "toy", "--course-dir", str(course), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    def stored_results() -> int:
        """Result files only: each recorded result also has a `.row.json` sidecar."""
        return sum(not p.name.endswith(".row.json") for p in cache.rglob("*.json"))

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and stored_results() < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader, its workers and their kernels, mid-batch
    proc.wait()
    done_before = stored_results()
    assert 2 <= done_before < len(students), "the kill must land mid-batch"

    rows = grade(course, "--workers", "2")
    assert sorted(rows) == students, "every student exactly once"
    assert all(float(r["score"]) == 3.0 and r["status"] == "graded" for r in rows.values())
    assert sum(r["cached"] == "True" for r in rows.values()) >= done_before, "every stored result is reused"
    assert sys.platform != "win32"
