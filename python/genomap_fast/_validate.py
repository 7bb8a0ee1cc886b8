"""Parameter checks shared by every estimator (thread counts, grid shapes) and the not-fitted
error. Input *data* is checked in one place: :mod:`genomap_fast._source`."""
from __future__ import annotations

import os

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit``.

    A subclass of ValueError and AttributeError (as scikit-learn's NotFittedError), raised by
    :class:`genomap_fast.Genomap` and the CNN estimators of :mod:`genomap_fast.cnn`.

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast import Genomap, NotFittedError
    >>> try:
    ...     Genomap(8, 8).transform(np.zeros((3, 60)))
    ... except NotFittedError as err:
    ...     print(err)
    this Genomap is not fitted yet; call fit(X) first
    """


def available_threads() -> int:
    """Processors this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads(num_threads: int | None) -> int:
    """The thread count to use: all available processors for None, else ``num_threads``
    capped at the available processors (more never speeds the kernels up, and results do not
    depend on the thread count). TypeError for a non-integer (bool, float, str), ValueError
    for an integer < 1."""
    if num_threads is None:
        return available_threads()
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads,
                                                                    (int, np.integer)):
        raise TypeError(f"num_threads must be an integer, got {num_threads!r} "
                        f"({type(num_threads).__name__})")
    if num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
    return min(int(num_threads), available_threads())


def check_grid_shape(rows, cols) -> tuple[int, int]:
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    return int(rows), int(cols)
