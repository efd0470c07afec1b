"""Helpers shared by the course's lectures, assignments and grader.

Import it first in a notebook: importing it sets ``TF_CPP_MIN_LOG_LEVEL`` before
TensorFlow is loaded. Nothing here imports TensorFlow until it is asked for.
"""

from difftf.data import DatasetError, fetch, load_banknote, load_banknote_holdout, load_housing
from difftf.device import DeviceChoice, choose_device, configure_accelerator
from difftf.display import line_plot, round_sig, use_course_style
from difftf.grading import export
from difftf.notebook import start_notebook
from difftf.reference import Reference
from difftf.seeding import DEFAULT_SEED, seed_everything
from difftf.tfsetup import check_versions, quiet_tensorflow

__all__ = [
    "DEFAULT_SEED",
    "DatasetError",
    "DeviceChoice",
    "Reference",
    "check_versions",
    "choose_device",
    "configure_accelerator",
    "export",
    "fetch",
    "line_plot",
    "load_banknote",
    "load_banknote_holdout",
    "load_housing",
    "quiet_tensorflow",
    "round_sig",
    "seed_everything",
    "start_notebook",
    "use_course_style",
]
__version__ = "0.1.0"
