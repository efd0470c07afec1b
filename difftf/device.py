"""Which device a notebook or a reference solution should train on.

Students run the course on laptops with or without a GPU, and the grader may have
several. The choice is pure logic over a list of device names so that it can be
tested on a CPU-only machine by passing a fake list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEVICE_ENV = "COURSE_DEVICE"  # "cpu" or "gpu": overrides the automatic choice


@dataclass(frozen=True)
class DeviceChoice:
    """The device to place work on, and whether GPU-only speed-ups make sense there."""

    name: str  # a TensorFlow device string such as "/GPU:0"
    kind: str  # "GPU" or "CPU"
    mixed_precision: bool  # float16 compute pays off on GPUs, slows CPUs down
    reason: str


def list_gpus() -> list[str]:
    """Names of the physical GPUs TensorFlow sees (empty on CPU-only machines)."""
    from difftf.tfsetup import quiet_tensorflow

    tf = quiet_tensorflow()
    if tf is None:
        return []
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def choose_device(
    gpus: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> DeviceChoice:
    """Pick the first GPU when there is one, else the CPU; ``COURSE_DEVICE`` can force either."""
    env = os.environ if env is None else env
    gpus = list_gpus() if gpus is None else list(gpus)
    forced = env.get(DEVICE_ENV, "").strip().lower()
    if forced not in ("", "cpu", "gpu"):
        raise ValueError(f"{DEVICE_ENV}={forced!r}: use 'cpu' or 'gpu' (or leave it unset).")
    if forced == "cpu":
        return DeviceChoice("/CPU:0", "CPU", False, f"{DEVICE_ENV}=cpu")
    if gpus:
        return DeviceChoice("/GPU:0", "GPU", True, f"{len(gpus)} GPU(s) found")
    if forced == "gpu":
        raise RuntimeError(f"{DEVICE_ENV}=gpu but TensorFlow sees no GPU: install the [gpu] extra.")
    return DeviceChoice("/CPU:0", "CPU", False, "no GPU found")


def visible_gpu_ids(env: Mapping[str, str] | None = None, nvidia_smi_output: str | None = None) -> list[str]:
    """GPU ids the grader may hand to kernels, found without importing TensorFlow.

    ``CUDA_VISIBLE_DEVICES`` wins when set (an empty value or -1 means none); otherwise
    ``nvidia-smi -L`` is asked. Both inputs can be given, so the logic is testable
    on machines without a GPU.
    """
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        ids = [part.strip() for part in env["CUDA_VISIBLE_DEVICES"].split(",") if part.strip()]
        return [] if ids in ([], ["-1"]) else ids
    if nvidia_smi_output is None:
        import shutil
        import subprocess

        if shutil.which("nvidia-smi") is None:
            return []
        try:
            nvidia_smi_output = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
    return [line.split(":")[0].split()[1] for line in nvidia_smi_output.splitlines() if line.startswith("GPU ")]


def kernel_gpu_env(slot: int, gpu_ids: Sequence[str]) -> dict[str, str]:
    """Environment for the kernel in grading slot ``slot``: share GPUs, pin round-robin.

    ``TF_FORCE_GPU_ALLOW_GROWTH`` stops each TensorFlow kernel from reserving a whole
    GPU's memory, so several kernels can share one; with several GPUs, slot i gets
    GPU i mod n. On a CPU-only machine the variable is harmless.
    """
    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu_ids[slot % len(gpu_ids)])
    return env


MIXED_PRECISION_ENV = "DIFFTF_MIXED_PRECISION"  # "1": Keras computes in float16 (GPU reference runs)
XLA_ENV = "DIFFTF_XLA"  # "1": TensorFlow compiles graphs with XLA auto-clustering


@dataclass(frozen=True)
class AcceleratorPlan:
    """How a reference solution runs: on which device, with which GPU-only speed-ups."""

    device: str  # "GPU" or "CPU"
    mixed_precision: bool
    xla: bool
    env: dict[str, str]  # variables for the kernel that runs the notebook
    reason: str


def accelerator_plan(gpu_ids: Sequence[str], *, mixed_precision: bool = True, xla: bool = True) -> AcceleratorPlan:
    """The best set-up for the GPUs found (possibly none), as kernel environment variables.

    On a GPU, float16 compute (with float32 weights) and XLA fusion make training
    several times faster; on a CPU both slow it down, so they are only switched on
    with a GPU. The kernel sees exactly one GPU, so a reference run is repeatable.
    """
    if not gpu_ids:
        return AcceleratorPlan(
            "CPU", False, False, {DEVICE_ENV: "cpu", "CUDA_VISIBLE_DEVICES": "-1"}, "no GPU visible: CPU, float32"
        )
    env = {DEVICE_ENV: "gpu", "CUDA_VISIBLE_DEVICES": str(gpu_ids[0]), "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    if mixed_precision:
        env[MIXED_PRECISION_ENV] = "1"
    if xla:
        env[XLA_ENV] = "1"
    speedups = [name for name, on in (("mixed precision", mixed_precision), ("XLA", xla)) if on]
    return AcceleratorPlan(
        "GPU", mixed_precision, xla, env, f"GPU {gpu_ids[0]} of {len(gpu_ids)}" + "".join(f", {s}" for s in speedups)
    )


def configure_accelerator(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Apply the speed-ups an accelerator plan asked for (setup cells call this; a no-op by default).

    Students and graders run in plain float32 on whatever device TensorFlow picks;
    only a reference run on a GPU sets the variables that switch the speed-ups on.
    """
    env = os.environ if env is None else env
    wanted = {"mixed_precision": env.get(MIXED_PRECISION_ENV) == "1", "xla": env.get(XLA_ENV) == "1"}
    if any(wanted.values()):
        from difftf.tfsetup import quiet_tensorflow

        tf = quiet_tensorflow()
        if wanted["mixed_precision"]:
            import keras

            keras.mixed_precision.set_global_policy("mixed_float16")
        if wanted["xla"]:
            tf.config.optimizer.set_jit(True)
    return wanted
