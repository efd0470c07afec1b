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
