"""The one call a notebook's setup cell makes: quiet TensorFlow, seeds, accelerator plan."""

from __future__ import annotations

from types import ModuleType

from difftf.device import configure_accelerator
from difftf.seeding import DEFAULT_SEED, seed_everything
from difftf.tfsetup import quiet_tensorflow


def start_notebook(seed: int = DEFAULT_SEED) -> ModuleType:
    """Import TensorFlow without start-up noise, seed every generator, apply the device plan.

    One helper instead of three lines in every setup cell, so that a reference run
    on a GPU (which asks for mixed precision and XLA through environment variables)
    and a student's laptop run the very same cell. Returns the ``tensorflow`` module.
    """
    tf = quiet_tensorflow()
    if tf is None:
        raise ImportError("TensorFlow is not installed: run `make lab` or `pip install -e .` in the course folder.")
    seed_everything(seed)
    configure_accelerator()
    return tf
