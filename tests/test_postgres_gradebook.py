"""Grading into a real PostgreSQL gradebook (`--db-url`), with a server started on 127.0.0.1."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.cli import main as course_main
from tests.nbgrader_course import make_course, nbgrader, released, submit, with_solution
from tests.test_grading_scale import free_port


def server_binaries() -> Path | None:
    """The folder of initdb/pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


BIN = server_binaries()


def as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres (or nobody) user when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", server_user(), "--", *cmd]


def server_user() -> str:
    has_postgres = subprocess.run(["id", "postgres"], capture_output=True).returncode == 0
    return "postgres" if has_postgres else "nobody"


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    if BIN is None:
        pytest.skip("no PostgreSQL server binaries (initdb); .ci/run installs Debian's postgresql package")
    # pytest's tmp_path is private to root; the server user needs a folder of its own.
    top = Path(tempfile.mkdtemp(prefix="course-pg-"))
    os.chmod(top, 0o755)
    data = top / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, user=server_user())
    port = free_port()
    run = lambda *cmd: subprocess.run(as_server_user(list(cmd)), capture_output=True, text=True, timeout=120)  # noqa: E731
    proc = run(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader")
    assert proc.returncode == 0, proc.stderr
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    proc = run(str(BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(data / "server.log"), "-w", "start")
    assert proc.returncode == 0, proc.stderr + (data / "server.log").read_text()
    try:
        proc = run(str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "gradebook")
        assert proc.returncode == 0, proc.stderr
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/gradebook"
    finally:
        run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(top, ignore_errors=True)


def test_grades_into_postgresql(tmp_path: Path, postgres_url: str):
    course = make_course(tmp_path / "course")
    assert course_main(["release", "toy", "--course-dir", str(course), "--db-url", postgres_url]) == 0
    blank = released(course)
    for i in range(4):
        submit(course, f"p{i}", with_solution(blank, "add", "def add(a, b):\n    return a + b" if i % 2 else "x = 1"))
    assert course_main(["grade", "toy", "--course-dir", str(course), "--db-url", postgres_url, "--quiet",
                        "--workers", "2", "--no-feedback"]) == 0
    assert not (course / "gradebook.db").exists(), "nothing went to the default SQLite gradebook"
    from nbgrader.api import Gradebook

    with Gradebook(postgres_url) as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment("toy").submissions}
    assert scores == {"p0": 0.0, "p1": 3.0, "p2": 0.0, "p3": 3.0}
    assert nbgrader(course, "--version").returncode == 0
