"""Step 3's fence: execute notebooks inside a bubblewrap sandbox.

During grading, student code runs with the grader's rights. Without a fence it can
read the assignment source (solutions, hidden tests), the gradebook and other
students' work, write anywhere the grader may, and use the network. Here the whole
execution (nbclient *and* the kernel, because they talk over loopback TCP and must
share one network namespace) runs in a process under bubblewrap (``bwrap``):

* the file system is read-only (``--ro-bind / /``), except the worker's scratch
  folder, a private, empty ``/tmp`` and ``/dev/shm``; ``/dev`` is read-only;
* the course folder, the assignment sources and the gradebook file are covered by
  empty read-only folders (or ``/dev/null`` for single files): nothing to read or write;
* private network, process, IPC and host-name namespaces: loopback only, no
  connections out, and the kernel cannot see or signal the grader's processes;
* no capabilities (``--cap-drop ALL``): run by root, bwrap would otherwise leave the
  kernel every capability, and it could unmount the covers and read what they hide;
* ``--die-with-parent``: if the grader dies, everything inside goes with it.

Starting a sandbox costs about a second (a fresh Python that imports nbgrader and
nbclient), so each worker process keeps one sandbox server and sends it one notebook
after another. Between notebooks the server kills every process left in its process
namespace and empties /tmp, /dev/shm and the scratch folder (except the submission's
own working folder); if anything was left running or cannot be removed, it answers
and exits, and the next notebook gets a fresh sandbox. One student's kernel can
therefore neither outlive its notebook nor leave anything for the next student.

The server gets requests (pickled by the grader, which is trusted) on a pipe and
answers in JSON on another pipe that the kernel never inherits; it makes itself
non-dumpable, so a kernel (same user, no capabilities) cannot open those pipes
through ``/proc`` either, and cannot forge a result. Where bubblewrap is missing or
cannot create namespaces (macOS, Windows, some containers), ``auto`` falls back to
running unsandboxed and the grader warns in its log and in each report.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import multiprocessing.util
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

MODES = ("auto", "bwrap", "off")
PROBE_TIMEOUT_S = 20
SETTLE_S = 3.0  # how long a finished notebook's kernel may take to exit before it counts as left running
HEADER = struct.Struct("!Q")  # every message on the pipes: its length, then its bytes


class SandboxUnavailable(RuntimeError):
    """``sandbox = "bwrap"`` was asked for, but bubblewrap cannot run here."""


class ServerGone(RuntimeError):
    """The sandbox server ended before it took a request (no student code ran for it)."""


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
    return ["--die-with-parent", "--cap-drop", "ALL", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts"]


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """The paths not inside another one of them, sorted."""
    kept: list[Path] = []
    for path in sorted(set(paths)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def needed_under_tmp() -> list[Path]:
    """What the sandbox must still read below the host's /tmp, which it replaces by an empty one.

    Python, its packages (this project may be an editable install in a clone under
    /tmp) and the datasets; everything else below /tmp stays out of sight.
    """
    tmp = Path("/tmp").resolve()
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).resolve().parent,
                  *(p for p in sys.path if p), Path(__file__).resolve().parent.parent]  # autograder and difftf
    candidates += [os.environ[v] for v in ("COURSE_DATA_MIRROR", "COURSE_DATA_CACHE") if os.environ.get(v)]
    found = []
    for item in candidates:
        path = Path(item).resolve()
        if path.exists() and path.is_relative_to(tmp) and path != tmp:
            found.append(path)
    return _outermost(found)


def bwrap_command(workdir: Path, hidden: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The bwrap prefix: read-only root, private /tmp, writable ``workdir``, ``hidden`` covered."""
    exe = shutil.which("bwrap") or "bwrap"
    workdir = Path(workdir).resolve()
    cmd = [exe, *namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/dev/shm",
           "--remount-ro", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    exposed = needed_under_tmp()  # the working folder, bound last, stays writable even inside one
    for path in exposed:
        cmd += ["--ro-bind", str(path), str(path)]
    tmp = Path("/tmp").resolve()
    covered: list[Path] = []
    for path in _outermost(Path(p).resolve() for p in hidden):
        if workdir.is_relative_to(path):
            continue  # never cover the scratch folder itself
        if path.is_relative_to(tmp) and not any(path.is_relative_to(e) for e in exposed):
            continue  # the private /tmp already hides it
        covered.append(path)
        if path.is_dir():
            cmd += ["--tmpfs", str(path), "--remount-ro", str(path)]  # empty and read-only: nothing to read or plant
        elif path.exists():
            cmd += ["--ro-bind", "/dev/null", str(path)]
    cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return cmd


def sandbox_environment() -> dict[str, str]:
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


# --------------------------------------------------------------------------- grader side

# Per (process, thread): a forked child makes its own, and threads that grade side by side (a Dask
# worker with several threads) never share a server or a scratch folder that the server empties.
_scratch: dict[tuple[int, int], Path] = {}
_servers: dict[tuple[int, int], SandboxServer] = {}


def _key() -> tuple[int, int]:
    return os.getpid(), threading.get_ident()


def scratch_parent() -> Path:
    """This worker's folder for submissions' working folders; its sandbox server binds it.

    One folder per worker process and thread, removed when the process ends, so that
    one long-lived sandbox can serve every submission the worker grades.
    """
    key = _key()
    if key not in _scratch:
        _scratch[key] = Path(tempfile.mkdtemp(prefix="course-worker-")).resolve()
        multiprocessing.util.Finalize(None, _cleanup, args=(key,), exitpriority=10)
    return _scratch[key]


def _cleanup(key: tuple[int, int]) -> None:
    if os.getpid() != key[0]:
        return
    server = _servers.pop(key, None)
    if server is not None:
        server.close()
    scratch = _scratch.pop(key, None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


class SandboxServer:
    """One bwrap sandbox, kept alive, that executes notebooks one after another under ``root``."""

    def __init__(self, root: Path, hidden: tuple[str, ...]) -> None:
        self.root, self.hidden, self.owner = root, hidden, os.getpid()
        read_fd, write_fd = os.pipe()
        cmd = [*bwrap_command(root, hidden), sys.executable, "-m", "autograder.sandbox", str(write_fd)]
        env = {**os.environ, **sandbox_environment()}
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # a file: a chatty kernel cannot block on a full pipe
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                         pass_fds=(write_fd,), env=env, start_new_session=True)
        finally:
            os.close(write_fd)
        self.results = read_fd

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def run(self, request: dict[str, Any], wall_timeout: float | None) -> dict[str, Any]:
        """Execute one request; the server may end afterwards (then ``alive()`` is false)."""
        payload = pickle.dumps(request)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(HEADER.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            self.close()
            raise ServerGone(str(exc)) from exc
        deadline = None if wall_timeout is None else time.monotonic() + wall_timeout
        try:
            size = HEADER.unpack(self._read_exact(HEADER.size, deadline))[0]
            result = json.loads(self._read_exact(size, deadline))
        except TimeoutError:
            self.close()
            return {"status": "timeout", "detail": "the sandboxed execution outlived its time limit and was killed"}
        except (EOFError, ValueError):
            code = self.close()
            return {"status": "error", "detail": f"the sandbox exited with code {code} and no result: "
                                                 + " | ".join(self.stderr_tail())}
        if not result.pop("reusable", False):
            self.close()
        return result

    def _read_exact(self, size: int, deadline: float | None) -> bytes:
        data = bytearray()
        while len(data) < size:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.results], [], [], wait)
            if not ready:
                continue
            chunk = os.read(self.results, min(size - len(data), 1 << 20))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def stderr_tail(self) -> list[str]:
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0)
            return self.stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        return []

    def close(self) -> int | None:
        """Kill the sandbox and all inside it (its pid namespace dies with bwrap); return the exit code."""
        if self.owner != os.getpid():
            return None  # a forked copy: the server belongs to the parent
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait()
        for closer in (lambda: os.close(self.results), self.stderr.close,
                       lambda: self.proc.stdin and self.proc.stdin.close()):
            with contextlib.suppress(OSError, ValueError):
                closer()
        return code


def _server_for(root: Path, hidden: tuple[str, ...]) -> SandboxServer:
    key = _key()
    server = _servers.get(key)
    if server is not None and (not server.alive() or server.root != root or server.hidden != hidden):
        server.close()
        server = None
    if server is None:
        scratch_parent()  # registers the clean-up of this thread's server at exit
        server = _servers[key] = SandboxServer(root, hidden)
    return server


def run_sandboxed(
    request: dict[str, Any], workdir: Path, hidden: Sequence[str | os.PathLike[str]], wall_timeout: float | None
) -> dict[str, Any]:
    """Execute ``request`` (execute_notebook's arguments) in this process's sandbox server.

    A working folder inside ``scratch_parent()`` shares the worker's long-lived server;
    any other folder gets a sandbox of its own. The grader waits at most
    ``wall_timeout`` seconds (the server's own limits normally end the notebook first).
    """
    workdir = Path(workdir).resolve()
    root = workdir.parent if workdir.parent == _scratch.get(_key()) else workdir
    hidden_key = tuple(sorted(str(Path(p).resolve()) for p in hidden))
    try:
        return _server_for(root, hidden_key).run(request, wall_timeout)
    except ServerGone:  # it ended before taking the request (no student code ran): a fresh one, once
        return _server_for(root, hidden_key).run(request, wall_timeout)


# --------------------------------------------------------------------------- inside the sandbox


def _make_undumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same user (the kernel) cannot open our /proc entries."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # 4 = PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _others() -> list[int]:
    """Processes in this pid namespace besides bwrap's init (1) and this server."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass  # reap our own finished children first: they are not left running
    mine = {1, os.getpid()}
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in mine]


def settle() -> bool:
    """Wait for the notebook's processes to end; kill what remains. True when nothing was left."""
    deadline = time.monotonic() + SETTLE_S
    while _others() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _others()
    nothing_left = not left
    for _ in range(50):
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
        left = _others()
    return nothing_left and not _others()


def mount_points() -> list[Path]:
    """Mount points in this sandbox (the scratch folder, re-exposed paths below /tmp): never emptied."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            points.append(Path(line.split()[4].replace("\\040", " ")))
    return points


def empty(folder: Path, keep: Sequence[Path]) -> bool:
    """Remove everything in ``folder`` except the ``keep`` paths and their parents; True when that worked.

    Mount points are always kept: below one may be the host's files (the scratch
    folder is a bind mount inside the private /tmp).
    """
    ok = True
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        if entry in keep:
            continue
        if any(k.is_relative_to(entry) for k in keep):
            ok = empty(entry, keep) and ok
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            ok = False
    return ok


def reset(root: Path, workdir: Path, mounts: Sequence[Path]) -> bool:
    """Empty what the last kernel could write, except the submission's own working folder."""
    keep = [*mounts, workdir]
    done = [empty(Path("/tmp"), keep), empty(Path("/dev/shm"), keep)]
    if root != workdir:  # a sandbox of its own for one folder: that folder is the submission's
        done.append(empty(root, keep))
    return all(done)


def serve(result_fd: int, root: Path) -> int:
    """Inside the sandbox: execute requests from stdin until it closes or the sandbox is spoiled."""
    os.set_inheritable(result_fd, False)  # kernels started below must not get this pipe
    _make_undumpable()
    requests = os.fdopen(os.dup(0), "rb")  # os.dup's copy is not inherited by kernels
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    results = os.fdopen(result_fd, "wb")
    mounts = [m for m in mount_points() if m != Path("/tmp") and m != Path("/dev/shm")]
    import nbformat

    from autograder.execute import Limits, execute_notebook  # loaded once, used for every notebook

    while True:
        header = requests.read(HEADER.size)
        if len(header) < HEADER.size:
            return 0
        request = pickle.loads(requests.read(HEADER.unpack(header)[0]))  # from the grader, trusted
        workdir = Path(request["workdir"])  # everything else writable was emptied after the last notebook
        limits = Limits(**{**request["limits"], "sandbox": "off"})  # already inside: run in this process
        execution = execute_notebook(request["nb_json"], workdir, request["execute_class"], request["config"],
                                     request["env"], limits, started=request["started"])
        clean = settle()
        clean = reset(root, workdir, mounts) and clean
        result = {"status": execution.status, "detail": execution.detail, "seconds": execution.seconds,
                  "peak_memory_mb": execution.peak_memory_mb, "notebook": nbformat.writes(execution.notebook),
                  "reusable": clean}
        data = json.dumps(result).encode()
        results.write(HEADER.pack(len(data)) + data)
        results.flush()
        if not clean:
            return 0  # something was left running or cannot be removed: the grader starts a fresh sandbox


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), Path.cwd().resolve()))
