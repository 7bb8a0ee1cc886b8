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


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an int: TypeError unless an integer (bool, float and str are not),
    ValueError below ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float: TypeError unless a real number (bool and str are not),
    ValueError when NaN, infinite or below ``minimum`` (at or below it when ``strict``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {bound} {minimum:g}, got {value!r}")
    return value


def check_grid_shape(rows, cols) -> tuple[int, int]:
    return check_int(rows, "rows", 1), check_int(cols, "cols", 1)
