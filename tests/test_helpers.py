"""The difftf helper package: seeding, device choice, display and a quiet TensorFlow."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import difftf
from difftf.device import choose_device


def draw() -> tuple[float, float, float]:
    import random

    tf = difftf.quiet_tensorflow()
    return random.random(), float(np.random.rand()), float(tf.random.uniform(()))


def test_seed_everything_repeats_python_numpy_and_tensorflow():
    difftf.seed_everything(7)
    first = draw()
    difftf.seed_everything(7)
    assert draw() == first
    difftf.seed_everything(8)
    assert draw() != first


def test_seeded_keras_initialisation_repeats():
    import keras

    def weights() -> np.ndarray:
        difftf.seed_everything(3)
        layer = keras.layers.Dense(4)
        layer.build((None, 2))
        return layer.kernel.numpy()

    assert np.array_equal(weights(), weights())


@pytest.mark.parametrize(
    ("gpus", "env", "expected"),
    [
        ([], {}, ("/CPU:0", "CPU", False)),
        (["/physical_device:GPU:0"], {}, ("/GPU:0", "GPU", True)),
        (["/physical_device:GPU:0", "/physical_device:GPU:1"], {"COURSE_DEVICE": "cpu"}, ("/CPU:0", "CPU", False)),
        (["/physical_device:GPU:0"], {"COURSE_DEVICE": "GPU"}, ("/GPU:0", "GPU", True)),
    ],
)
def test_choose_device(gpus, env, expected):
    choice = choose_device(gpus=gpus, env=env)
    assert (choice.name, choice.kind, choice.mixed_precision) == expected
    assert choice.reason


def test_forcing_a_missing_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"\[gpu\] extra"):
        choose_device(gpus=[], env={"COURSE_DEVICE": "gpu"})
    with pytest.raises(ValueError, match="use 'cpu' or 'gpu'"):
        choose_device(gpus=[], env={"COURSE_DEVICE": "tpu"})


def test_choose_device_on_this_machine_matches_tensorflow():
    tf = difftf.quiet_tensorflow()
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert choose_device(env={}).kind == ("GPU" if has_gpu else "CPU")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-1.6523456, -1.652),
        (123456.0, 123500.0),
        (0.000123456, 0.0001235),
        (-0.0, 0.0),
        (np.float32(2.0000002), 2.0),
        (np.array([1.23456, 2.0]), [1.235, 2.0]),
        ([1 / 3, (2 / 3, 0.0)], [0.3333, (0.6667, 0.0)]),
    ],
)
def test_round_sig(value, expected):
    assert difftf.round_sig(value) == expected


def test_round_sig_keeps_non_finite_and_tensors():
    tf = difftf.quiet_tensorflow()
    assert math.isnan(difftf.round_sig(float("nan")))
    assert difftf.round_sig(tf.constant([[1.00004, 7.123456]])) == [[1.0, 7.123]]


def test_line_plot_draws_every_series():
    import matplotlib

    matplotlib.use("Agg")
    difftf.use_course_style()
    ax = difftf.line_plot({"a": [3, 2, 1], "b": [1, 2, 3]}, title="t", logy=True)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_yscale() == "log" and ax.get_title() == "t"


def test_line_plot_with_shared_x_and_log_axes():
    import matplotlib

    matplotlib.use("Agg")
    ax = difftf.line_plot({"err": [1.0, 0.1, 0.01]}, x=[1, 10, 100], logx=True, logy=True)
    assert list(ax.get_lines()[0].get_xdata()) == [1.0, 10.0, 100.0]
    assert ax.get_xscale() == "log"


def test_check_versions_accepts_this_install_and_names_the_fix():
    difftf.check_versions()
    with pytest.raises(ImportError, match="too old"):
        difftf.check_versions(min_tensorflow=(99, 0))
    with pytest.raises(ImportError, match="written for Keras 2"):
        difftf.check_versions(keras_major=2)


def test_quiet_tensorflow_writes_nothing_to_stderr():
    code = (
        "import difftf; tf = difftf.quiet_tensorflow(); v = tf.Variable(2.0)\n"
        "with tf.GradientTape() as t: y = v * v\n"
        "print(float(t.gradient(y, v)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4.0"
    assert proc.stderr == "", f"TensorFlow start-up noise leaked: {proc.stderr[:300]}"


def test_visible_gpu_ids_from_environment_and_nvidia_smi():
    from difftf.device import visible_gpu_ids

    assert visible_gpu_ids(env={"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert visible_gpu_ids(env={"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert visible_gpu_ids(env={"CUDA_VISIBLE_DEVICES": ""}) == []
    smi = "GPU 0: NVIDIA A100 (UUID: GPU-aaa)\nGPU 1: NVIDIA A100 (UUID: GPU-bbb)\n"
    assert visible_gpu_ids(env={}, nvidia_smi_output=smi) == ["0", "1"]
    assert visible_gpu_ids(env={}, nvidia_smi_output="") == []


def test_kernels_share_and_round_robin_gpus():
    from difftf.device import kernel_gpu_env

    assert kernel_gpu_env(0, []) == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    pinned = [kernel_gpu_env(slot, ["0", "1", "2"])["CUDA_VISIBLE_DEVICES"] for slot in range(5)]
    assert pinned == ["0", "1", "2", "0", "1"]
