"""Parameter checks shared by every estimator (thread counts, grid shapes) and the not-fitted
error. Input *data* is checked in one place: :mod:`genomap_fast._source`."""
from __future__ import annotations

import os

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """Raised when a Genomap is used before ``fit``."""


def default_threads(num_threads: int | None) -> int:
    if num_threads is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
    return int(num_threads)


def check_grid_shape(rows, cols) -> tuple[int, int]:
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    return int(rows), int(cols)
