"""Calibrated model checks: difftf.Reference, the accelerator plan and `course reference`.

The toy assignments here need no TensorFlow: a "model metric" is a number the
student's function returns, which is all the machinery cares about. That keeps the
tests fast and lets them run the GPU plan's logic on a CPU-only machine.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main as course_main
from autograder.coursedir import Course, CourseError
from autograder.reference import read_metrics, run_reference
from difftf.device import MIXED_PRECISION_ENV, XLA_ENV, accelerator_plan, configure_accelerator
from difftf.reference import METRICS_FILE_ENV, REFERENCE_RUN_ENV, Reference, ReferenceError
from tests.nbgrader_course import grade_meta, released, submit, with_solution

# -- difftf.Reference in the student's kernel ------------------------------------------------


def write_reference(folder: Path, metrics: dict[str, float]) -> Path:
    path = folder / "reference.json"
    path.write_text(json.dumps({"metrics": metrics}))
    return path


def test_at_least_passes_within_the_margin_and_explains_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(REFERENCE_RUN_ENV, raising=False)
    ref = Reference(write_reference(tmp_path, {"accuracy": 0.95}))
    assert ref.at_least("accuracy", 0.93, margin=0.03) is None, "a number would be nbgrader partial credit"
    assert ref.threshold("accuracy", margin=0.03) == pytest.approx(0.92)
    with pytest.raises(AssertionError) as err:
        ref.at_least("accuracy", 0.91, margin=0.03, what="holdout accuracy")
    message = str(err.value)
    assert "holdout accuracy = 0.91" in message and "0.92" in message and "0.95" in message
    with pytest.raises(AssertionError):
        ref.at_least("accuracy", math.nan, margin=0.03)  # a diverged model never passes


def test_at_most_uses_the_factor_and_the_floor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(REFERENCE_RUN_ENV, raising=False)
    ref = Reference(write_reference(tmp_path, {"mse": 0.01}))
    ref.at_most("mse", 0.029, factor=3.0)
    assert ref.threshold("mse", factor=3.0) == pytest.approx(0.03)
    with pytest.raises(AssertionError, match=r"at most 0\.03"):
        ref.at_most("mse", 0.031, factor=3.0)
    ref.at_most("mse", 0.04, factor=3.0, floor=0.05)  # a tiny reference error is not a bar
    assert ref.threshold("mse", factor=3.0, floor=0.05) == 0.05
    with pytest.raises(AssertionError):
        ref.at_most("mse", math.inf, factor=3.0)


def test_missing_reference_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(REFERENCE_RUN_ENV, raising=False)
    with pytest.raises(ReferenceError, match="course reference"):
        Reference(tmp_path / "reference.json").at_least("accuracy", 1.0, margin=0.0)
    ref = Reference(write_reference(tmp_path, {"accuracy": 0.9}))
    with pytest.raises(ReferenceError, match="has no metric 'loss'"):
        ref.at_most("loss", 1.0, factor=2.0)


def test_reference_run_records_instead_of_asserting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    metrics_file = tmp_path / "metrics.jsonl"
    monkeypatch.setenv(REFERENCE_RUN_ENV, "1")
    monkeypatch.setenv(METRICS_FILE_ENV, str(metrics_file))
    ref = Reference(tmp_path / "absent.json")  # not read during a reference run
    ref.at_least("accuracy", 0.5, margin=0.03)
    ref.at_most("mse", 2.0, factor=3.0, floor=0.1)
    metrics, checks = read_metrics(metrics_file)
    assert metrics == {"accuracy": 0.5, "mse": 2.0}
    assert checks == {"accuracy": {"direction": "min", "margin": 0.03},
                      "mse": {"direction": "max", "factor": 3.0, "floor": 0.1}}
    ref.at_least("accuracy", 0.6, margin=0.03)
    with pytest.raises(CourseError, match="recorded twice"):
        read_metrics(metrics_file)


# -- the accelerator plan, tested by its logic (this machine has no GPU) --------------------


def test_plan_without_gpu_is_plain_cpu():
    plan = accelerator_plan([])
    assert (plan.device, plan.mixed_precision, plan.xla) == ("CPU", False, False)
    assert plan.env["CUDA_VISIBLE_DEVICES"] == "-1"
    assert MIXED_PRECISION_ENV not in plan.env and XLA_ENV not in plan.env


def test_plan_with_gpus_takes_the_first_with_mixed_precision_and_xla():
    plan = accelerator_plan(["2", "3"])
    assert (plan.device, plan.mixed_precision, plan.xla) == ("GPU", True, True)
    assert plan.env["CUDA_VISIBLE_DEVICES"] == "2"
    assert plan.env[MIXED_PRECISION_ENV] == "1" and plan.env[XLA_ENV] == "1"
    assert plan.env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    plain = accelerator_plan(["0"], mixed_precision=False, xla=False)
    assert plain.device == "GPU" and MIXED_PRECISION_ENV not in plain.env and XLA_ENV not in plain.env


def test_configure_accelerator_is_a_no_op_by_default_and_applies_the_plan():
    assert configure_accelerator({}) == {"mixed_precision": False, "xla": False}
    import keras

    try:
        assert configure_accelerator({MIXED_PRECISION_ENV: "1"}) == {"mixed_precision": True, "xla": False}
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


# -- `course reference` on a toy course -------------------------------------------------------

MODEL_CHECK = (
    "import difftf.reference, os\n"
    "ref = difftf.reference.Reference()\n"
    "assert quality() > 0, 'quality must be positive'\n"
    "### BEGIN HIDDEN TESTS\n"
    "ref.at_least('quality', quality(), margin=0.1)\n"
    "ref.at_least('mixed_precision_flag', float(os.environ.get('DIFFTF_MIXED_PRECISION', '0')), margin=0.0)\n"
    "### END HIDDEN TESTS"
)


def model_notebook(solution: str = "return 0.9", budget: float | None = 60) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    if budget is not None:
        nb.metadata["difftf"] = {"budget_seconds": budget}
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"def quality():\n    ### BEGIN SOLUTION\n    {solution}\n    ### END SOLUTION",
            metadata=grade_meta("quality", grade=False, solution=True, locked=False),
        ),
        nbformat.v4.new_code_cell(MODEL_CHECK, metadata=grade_meta("test_quality", grade=True, solution=False,
                                                                    locked=True, points=2)),
    ]
    return nb


@pytest.fixture
def model_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "source" / "model").mkdir(parents=True)
    nbformat.write(model_notebook(), root / "source" / "model" / "model.ipynb")
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "m"\n')
    return root


def test_reference_run_measures_the_solution_on_the_cpu(model_course: Path):
    run = run_reference(Course.open(model_course), "model", gpu_ids=[])
    assert run.metrics == {"quality": 0.9, "mixed_precision_flag": 0.0}
    assert run.plan.device == "CPU" and run.budget_seconds == 60 and run.within_budget
    data = run.as_json()
    assert data["device"] == "CPU" and data["seed"] == 42 and data["checks"]["quality"]["margin"] == 0.1
    assert data["tensorflow"] and data["wall_seconds"] > 0


def test_reference_run_hands_the_gpu_plan_to_the_kernel(model_course: Path):
    """With a (pretended) GPU, the kernel gets the plan's variables: mixed precision switched on."""
    run = run_reference(Course.open(model_course), "model", gpu_ids=["0"])
    assert run.plan.device == "GPU" and run.plan.mixed_precision
    assert run.metrics["mixed_precision_flag"] == 1.0


def test_a_failing_solution_writes_no_reference(model_course: Path):
    nbformat.write(model_notebook("return -1.0"), model_course / "source" / "model" / "model.ipynb")
    with pytest.raises(CourseError, match="does not pass its own tests"):
        run_reference(Course.open(model_course), "model", gpu_ids=[])
    assert course_main(["reference", "model", "--course-dir", str(model_course), "--cpu"]) == 2  # a CourseError
    assert not (model_course / "source" / "model" / "reference.json").exists()


def test_over_budget_reference_fails_the_command(model_course: Path, capsys: pytest.CaptureFixture[str]):
    slow = model_notebook("import time; time.sleep(1.5); return 0.9", budget=1)
    nbformat.write(slow, model_course / "source" / "model" / "model.ipynb")
    assert course_main(["reference", "model", "--course-dir", str(model_course), "--cpu"]) == 1
    assert "over budget" in capsys.readouterr().out
    assert (model_course / "source" / "model" / "reference.json").exists(), "written, so it can be inspected"


def grades(course: Path) -> dict[str, dict[str, str]]:
    assert course_main(["grade", "model", "--course-dir", str(course), "--quiet", "--workers", "2"]) == 0
    with open(course / "reports" / "model" / "grades.csv", newline="", encoding="utf-8") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_grading_compares_with_the_instructors_reference_not_the_students(model_course: Path):
    """A student who edits reference.json gains nothing: nbgrader copies the source's file over it."""
    assert course_main(["reference", "model", "--course-dir", str(model_course), "--cpu"]) == 0
    reference = json.loads((model_course / "source" / "model" / "reference.json").read_text())
    assert reference["metrics"]["quality"] == 0.9
    assert course_main(["release", "model", "--course-dir", str(model_course)]) == 0
    blank = released(model_course, "model", "model.ipynb")
    submit(model_course, "good", with_solution(blank, "quality", "def quality():\n    return 0.85"),
           assignment="model", name="model.ipynb")
    weak = submit(model_course, "weak", with_solution(blank, "quality", "def quality():\n    return 0.5"),
                  assignment="model", name="model.ipynb")
    (weak / "reference.json").write_text(json.dumps({"metrics": {"quality": 0.0, "mixed_precision_flag": 0.0}}))
    rows = grades(model_course)
    assert float(rows["good"]["score"]) == 2.0, rows["good"]["detail"]
    assert float(rows["weak"]["score"]) == 0.0, "0.5 is below 0.9 - 0.1, whatever the student's copy says"
    autograded = nbformat.read(model_course / "autograded" / "weak" / "model" / "model.ipynb", as_version=4)
    error = "".join(o.get("evalue", "") for o in autograded.cells[1].outputs)
    assert "quality = 0.5" in error and "at least 0.8" in error, error


def test_grading_refuses_to_start_without_the_reference_metrics(model_course: Path,
                                                                capsys: pytest.CaptureFixture[str]):
    assert course_main(["release", "model", "--course-dir", str(model_course)]) == 0
    submit(model_course, "s1", released(model_course, "model", "model.ipynb"), assignment="model", name="model.ipynb")
    assert course_main(["grade", "model", "--course-dir", str(model_course), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "course reference model" in err and "'quality'" in err and "nothing was graded" in err
    assert not (model_course / "reports" / "model" / "grades.csv").exists()
