"""Issue 9: students and instructors in JupyterLab, driven by a real (headless) Chromium.

One JupyterLab (`course lab`, the student workspace, on a free loopback port with a
token) serves three steps, each saved as a screenshot in ``test-artifacts/browser/``
(git-ignored) with its time in ``timings.json``:

1. a lecture: open it, Run All Cells from the menu, wait for every cell, no error shown;
2. a released assignment: type one answer, save, press nbgrader's Validate button and
   read its dialog (the answered part passes, the stubs still fail);
3. the formgrader page: it renders and lists the course's assignments.

Playwright's own browser download cannot work offline, so the system Chromium is
launched with ``executable_path`` (Debian: ``apt install chromium``; ``.ci/run`` does).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, course_copy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: `apt install chromium` (.ci/run does) to run the browser test"
)
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
LECTURE = "lectures/05_equation_solving.ipynb"
ASSIGNMENT = "equation_solver"
ANSWER = "def squared_residual(f, x):\n    return tf.square(f(x))\n"
START_TIMEOUT_S = 90
VISIBLE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """`course lab` on a scratch copy of the course: (base URL, token, workspace)."""
    course = course_copy(tmp_path_factory.mktemp("lab") / "course")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_TOKEN": token, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "lab.log", "w")  # open for the server's whole life, closed below
    course_cmd = str(Path(sys.executable).with_name("course"))
    proc = subprocess.Popen([course_cmd, "lab", "--course-dir", str(course), "--port", str(port), "--no-browser"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, "course lab exited: see test-artifacts/browser/lab.log"
            assert time.monotonic() < deadline, f"JupyterLab did not answer within {START_TIMEOUT_S} s"
            time.sleep(0.5)
        yield base, token, course / "student"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request):
    """A failing step leaves its screen behind as ``failed-<test>.png``."""
    yield
    report = getattr(request.node, "rep_call", None)
    page = request.node.funcargs.get("page")
    if report is not None and report.failed and page is not None:
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"))


@pytest.fixture(scope="module")
def page(lab):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make test")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        context.close()
        browser.close()


TIMINGS: dict[str, float] = {}


def record(step: str, start: float, page) -> None:
    TIMINGS[step] = round(time.monotonic() - start, 1)
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=False)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1) + "\n")


def open_notebook(page, base: str, token: str, path: str) -> None:
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: no tabs restored from an earlier run
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    # The kernel is ready when the status bar or toolbar says Idle.
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelStatus, .jp-Notebook-ExecutionIndicator",
                           state="attached", timeout=90_000)


def menu(page, top: str, item: str) -> None:
    page.click(f".lm-MenuBar-item:has-text('{top}')")
    page.click(f".lm-Menu-item:has-text('{item}')")


def test_1_a_lecture_runs_top_to_bottom_without_errors(lab, page):
    base, token, _ = lab
    start = time.monotonic()
    open_notebook(page, base, token, LECTURE)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=180_000,
    )
    errors = page.locator(f"{VISIBLE_PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    record("1-lecture", start, page)
    assert not [t for t in texts if "Error" in t or "Traceback" in t], texts


def test_2_validate_a_released_assignment(lab, page):
    base, token, workspace = lab
    path = f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    assert (workspace / path).is_file(), "the workspace lacks the released assignment"
    start = time.monotonic()
    open_notebook(page, base, token, path)
    panel = page.locator(f"{VISIBLE_PANEL}")
    cell = panel.locator(".jp-CodeCell", has_text="def squared_residual").first
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(ANSWER)  # no key events: the editor's auto-indent cannot alter it
    page.keyboard.press("Escape")
    page.keyboard.press("Control+S")
    page.wait_for_timeout(1000)
    page.locator(".validate-button >> visible=true").click()  # nbgrader's toolbar button (the lecture's is hidden)
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    page.wait_for_function("() => !/Validating/i.test(document.querySelector('.jp-Dialog')?.textContent || '')",
                           timeout=180_000)
    text = dialog.inner_text()
    record("2-validate", start, page)
    saved = json.loads((workspace / path).read_text())
    assert any("tf.square(f(x))" in "".join(c["source"]) for c in saved["cells"]), "the answer was not saved"
    # nbgrader shows the first failing test cell: Part 1 (answered) passed, Part 2 (a stub) did not.
    assert "Validation Results" in text and "failed" in text, text
    assert "Tests for Part 2" in text and "Tests for Part 1" not in text, text


def test_3_the_formgrader_renders(lab, page):
    base, token, _ = lab
    start = time.monotonic()
    page.goto(f"{base}/formgrader?token={token}")
    page.wait_for_selector("text=Manage Assignments", timeout=60_000)
    page.wait_for_selector(f"text={ASSIGNMENT}", timeout=60_000)
    assert "does not exist" not in page.inner_text("body"), "the exchange folder is missing (Release/Collect off)"
    record("3-formgrader", start, page)
