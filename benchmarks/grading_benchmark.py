"""Grading speed, measured side by side in one run on this machine.

Builds a class of N submissions (default 20) of a real course assignment from the
committed example submissions, then times, each on its own fresh copy of the course:

1. stock ``nbgrader autograde`` (one notebook after another);
2. ``course grade --workers 1``;
3. ``course grade`` with one worker per core;
4. the bare execution of the same notebooks with nbclient, one after another (no grading);
5. an unchanged re-run of (3), served from the result cache;
6. ``course grade --workers 1 --sandbox off``, to show what the sandbox costs.

It prints the times and the ratios the targets are stated in:
stock / parallel (target >= 1.9 on 2 cores), workers-1 / bare (<= 1.10) and
re-run / first run (<= 0.05), and the sandbox's cost, sandboxed / unfenced with one
worker. It also checks that all runs agree on every score.

    .venv/bin/python benchmarks/grading_benchmark.py [--students 20] [--assignment equation_solver]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]


def make_course(root: Path, assignment: str, students: int) -> Path:
    """A scratch copy of the course config with a class of ``students`` submissions."""
    root.mkdir(parents=True)
    config = (REPO / "course" / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(
        f"{config}\nc.CourseDirectory.source_directory = {str(REPO / 'assignments')!r}\n"
    )
    run(["course", "release", assignment, "--course-dir", str(root)])
    examples = sorted((REPO / "course" / "submitted").glob(f"example-*/{assignment}"))
    if not examples:
        sys.exit(f"no committed example submissions of {assignment} to build a class from")
    for i in range(students):
        shutil.copytree(examples[i % len(examples)], root / "submitted" / f"student{i:03d}" / assignment)
    return root


def run(cmd: list[str], cwd: Path | None = None) -> float:
    """Run one of the venv's commands and return its wall time in seconds."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def scores(path: Path, column: str = "score") -> dict[str, float]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student_id"]: float(row[column]) for row in csv.DictReader(fh)}


def bare_execution(autograded: Path, assignment: str) -> float:
    """Sum of plain nbclient runs of the autograded notebooks (outputs cleared), one after another."""
    import nbformat
    from nbclient import NotebookClient

    total = 0.0
    for path in sorted(autograded.glob(f"*/{assignment}/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        client = NotebookClient(
            nb, timeout=600, allow_errors=True, resources={"metadata": {"path": str(path.parent)}},
            extra_arguments=KERNEL_ARGUMENTS,  # the same kernel settings course grade uses
        )
        start = time.perf_counter()
        client.execute()
        total += time.perf_counter() - start
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--assignment", default="equation_solver")
    args = parser.parse_args()
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as tmp:
        base = make_course(Path(tmp) / "base", args.assignment, args.students)
        copies = {name: Path(tmp) / name for name in ("stock", "one", "all", "unfenced")}
        for path in copies.values():
            shutil.copytree(base, path)
        grade = ["course", "grade", args.assignment, "--quiet", "--no-feedback"]

        t_stock = run(["nbgrader", "autograde", args.assignment, "--force"], cwd=copies["stock"])
        run(["nbgrader", "export"], cwd=copies["stock"])
        t_one = run([*grade, "--course-dir", str(copies["one"]), "--workers", "1"])
        t_all = run([*grade, "--course-dir", str(copies["all"]), "--workers", str(cores)])
        t_bare = bare_execution(copies["stock"] / "autograded", args.assignment)
        t_rerun = run([*grade, "--course-dir", str(copies["all"]), "--workers", str(cores)])
        t_unfenced = run([*grade, "--course-dir", str(copies["unfenced"]), "--workers", "1", "--sandbox", "off"])

        stock = scores(copies["stock"] / "grades.csv")
        ours = [scores(copies[n] / "reports" / args.assignment / "grades.csv") for n in ("one", "all", "unfenced")]
        agree = all(s == stock for s in ours)

    n = args.students
    print(f"{n} submissions of {args.assignment}, {cores} cores\n")
    print(f"{'run':<40}{'seconds':>9}{'per submission':>16}")
    for label, t in [("stock nbgrader autograde", t_stock), ("course grade --workers 1", t_one),
                     (f"course grade --workers {cores}", t_all), ("bare nbclient executions (sum)", t_bare),
                     ("unchanged re-run (cache)", t_rerun),
                     ("course grade --workers 1 --sandbox off", t_unfenced)]:
        print(f"{label:<40}{t:>9.1f}{t / n:>16.2f}")
    print()
    print(f"speed-up over stock nbgrader:       {t_stock / t_all:5.2f}x   (target >= 1.9x)")
    print(f"workers 1 / bare execution:         {t_one / t_bare:5.2f}    (target <= 1.10)")
    print(f"re-run / first run:                 {t_rerun / t_all:5.3f}   (target <= 0.05)")
    print(f"unfenced workers 1 / bare:          {t_unfenced / t_bare:5.2f}    (target <= 1.10)")
    print(f"sandboxed / unfenced (workers 1):   {t_one / t_unfenced:5.2f}    (the sandbox's cost)")
    print(f"scores identical to nbgrader's:     {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
