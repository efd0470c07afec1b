"""Import TensorFlow without its start-up noise.

On a machine without CUDA, TensorFlow's C++ side writes lines such as "Could not find
cuda drivers" straight to file descriptor 2, before its log-level setting is read.
In a notebook those lines become stderr output, and nbgrader gives zero points to a
test cell with any stderr output. So the course imports TensorFlow through this
module: the import and the first device discovery run with fd 2 sent to /dev/null,
and ``TF_CPP_MIN_LOG_LEVEL=3`` hides the rest. Level 3 also hides C++ *error* log
lines: TensorFlow 2.21 logs a harmless "NodeDef mentions attribute
use_unbounded_threadpool" error on the first Keras ``fit``/``predict``, which would
otherwise zero a graded cell. Real errors still raise Python exceptions.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def silenced_stderr_fd() -> Iterator[None]:
    """Send OS-level stderr (fd 2) to /dev/null for the duration of the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow() -> ModuleType | None:
    """Return the ``tensorflow`` module, imported and initialised quietly; None if absent."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with silenced_stderr_fd():
        try:
            import tensorflow as tf
        except ImportError:
            return None
        tf.config.list_logical_devices()  # device discovery prints its own CUDA lines
        import absl.logging

        # Retracing and deprecation warnings go to stderr through absl and Python logging.
        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
    return tf


def check_versions(min_tensorflow: tuple[int, int] = (2, 16), keras_major: int = 3) -> None:
    """Fail early, with the fix, when the installed TensorFlow or Keras is too old for the course.

    Code written for Keras 3 fails in confusing ways on Keras 2 (``lr=``, ``.h5`` models),
    so the first cell of every notebook calls this instead of printing version strings,
    which would change the notebook's output from one machine to the next.
    """
    tf = quiet_tensorflow()
    if tf is None:
        raise ImportError("TensorFlow is not installed: run `make lab` or `pip install -e .` in the course folder.")
    import keras

    found = tuple(int(part) for part in tf.__version__.split(".")[:2])
    if found < min_tensorflow:
        raise ImportError(
            f"TensorFlow {tf.__version__} is too old: the course needs {'.'.join(map(str, min_tensorflow))} "
            "or newer (`pip install -U -e .` in the course folder)."
        )
    if int(keras.__version__.split(".")[0]) != keras_major:
        raise ImportError(f"Keras {keras.__version__} found: the course is written for Keras {keras_major}.")
