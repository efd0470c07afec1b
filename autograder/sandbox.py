"""Step 3's fence: execute a notebook inside a bubblewrap sandbox.

During grading, student code runs with the grader's rights. Without a fence it can
read the assignment source (solutions, hidden tests), the gradebook and other
students' work, write anywhere the grader may, and use the network. Here the whole
execution (nbclient *and* the kernel, because they talk over loopback TCP and must
share one network namespace) runs in a child process under bubblewrap (``bwrap``):

* the file system is read-only (``--ro-bind / /``), except the submission's scratch
  folder and a private, empty ``/tmp``;
* the course folder, the assignment sources and the gradebook file are covered by
  empty read-only folders (or ``/dev/null`` for single files): nothing to read or write;
* private network, process, IPC and host-name namespaces: loopback only, no
  connections out, and the kernel cannot see or signal the grader's processes;
* ``--die-with-parent``: if the grader dies, everything inside goes with it.

The child gets its request (pickled by the grader, which is trusted) on stdin and
returns its result as JSON on a pipe that only it holds: the kernel never inherits
that descriptor, so student code cannot forge a result. Where bubblewrap is missing
or cannot create namespaces (macOS, Windows, some containers), ``auto`` falls back
to running unsandboxed and the grader warns in its log and in each report.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODES = ("auto", "bwrap", "off")
PROBE_TIMEOUT_S = 20


class SandboxUnavailable(RuntimeError):
    """``sandbox = "bwrap"`` was asked for, but bubblewrap cannot run here."""


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bubblewrap can build this module's sandbox here; else why it cannot."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt install bubblewrap"
    probe = [exe, *namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create namespaces here: {proc.stderr.strip() or proc.returncode}"
    return None


def resolve(mode: str) -> tuple[bool, str]:
    """(use the sandbox?, why not) for a configured mode, decided on the machine that grades."""
    if mode not in MODES:
        raise ValueError(f"sandbox must be one of {MODES}, got {mode!r}")
    if mode == "off":
        return False, "the sandbox is turned off (CourseGrader.sandbox = 'off')"
    problem = bwrap_problem()
    if problem is None:
        return True, ""
    if mode == "bwrap":
        raise SandboxUnavailable(f"CourseGrader.sandbox = 'bwrap', but {problem}")
    return False, problem


def namespace_args() -> list[str]:
    return ["--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]


def bwrap_command(workdir: Path, hidden: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The bwrap prefix: read-only root, private /tmp, writable ``workdir``, ``hidden`` covered."""
    exe = shutil.which("bwrap") or "bwrap"
    cmd = [exe, *namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    covered = [Path("/tmp")]  # the private /tmp already hides everything below it
    for item in sorted({str(Path(p).resolve()) for p in hidden}):
        path = Path(item)
        if Path(workdir).resolve().is_relative_to(path):
            continue  # never cover the scratch folder itself
        if any(path.is_relative_to(c) for c in covered):
            continue  # inside something already covered (and read-only: no mount point can be made there)
        covered.append(path)
        if path.is_dir():
            cmd += ["--tmpfs", item, "--remount-ro", item]  # empty and read-only: nothing to read or plant
        elif path.exists():
            cmd += ["--ro-bind", "/dev/null", item]
    cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return cmd


def sandbox_environment(workdir: Path) -> dict[str, str]:
    """Writable homes for Jupyter, IPython, Matplotlib and Keras inside the private /tmp.

    The real home is read-only in the sandbox; the kernel's connection file and the
    libraries' caches go to /tmp. With a dataset mirror, verified copies go to /tmp too
    (the course's cache stays read-only).
    """
    env = {
        "HOME": "/tmp/home",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "KERAS_HOME": "/tmp/keras",
        "TMPDIR": "/tmp",
    }
    if os.environ.get("COURSE_DATA_MIRROR"):
        env["COURSE_DATA_CACHE"] = "/tmp/course-data"
    return env


def run_sandboxed(
    request: dict[str, Any], workdir: Path, hidden: Sequence[str | os.PathLike[str]], wall_timeout: float | None
) -> dict[str, Any]:
    """Run ``autograder.sandbox`` as a child under bwrap; return its JSON result.

    ``request`` holds execute_notebook's arguments. The grader waits at most
    ``wall_timeout`` seconds (the child's own limits normally end it first).
    """
    read_fd, write_fd = os.pipe()
    cmd = [*bwrap_command(workdir, hidden), sys.executable, "-m", "autograder.sandbox", str(write_fd)]
    env = {**os.environ, **sandbox_environment(workdir)}
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                pass_fds=(write_fd,), env=env, start_new_session=True)
    finally:
        os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(_read_all(read_fd)), daemon=True)
    reader.start()  # read while the child writes: a result larger than the pipe buffer must not block it
    try:
        _, stderr = proc.communicate(input=pickle.dumps(request), timeout=wall_timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # bwrap's pid namespace takes the kernel with it
        proc.wait()
        reader.join(timeout=10)
        return {"status": "timeout", "detail": "the sandboxed execution outlived its time limit and was killed"}
    reader.join()
    data = chunks[0] if chunks else b""
    if not data:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-3:] if stderr else []
        return {"status": "error", "detail": f"the sandbox exited with code {proc.returncode} and no result: "
                                             + " | ".join(tail)}
    return json.loads(data)


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read()


def child_main(result_fd: int) -> int:
    """Inside the sandbox: read the request, execute, write the result to ``result_fd``."""
    os.set_inheritable(result_fd, False)  # the kernel, started below, must not get this pipe
    request = pickle.loads(sys.stdin.buffer.read())  # from the grader, before any student code runs
    from autograder.execute import Limits, execute_notebook

    limits = Limits(**{**request["limits"], "sandbox": "off"})  # already inside: run in this process
    execution = execute_notebook(request["nb_json"], Path(request["workdir"]), request["execute_class"],
                                 request["config"], request["env"], limits, started=request["started"])
    import nbformat

    result = {"status": execution.status, "detail": execution.detail, "seconds": execution.seconds,
              "peak_memory_mb": execution.peak_memory_mb, "notebook": nbformat.writes(execution.notebook)}
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(int(sys.argv[1])))
