"""Input checks shared by every entry point: clear errors naming the problem."""
from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp


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


def as_matrix(X, name: str = "data", check_finite: bool = True):
    """Returns X as a 2-D float ndarray or a scipy CSR matrix (never densifying sparse input).

    Integer and boolean input is converted to float64; float32 stays float32. Sparse values are
    checked for NaN/inf unless ``check_finite=False`` (callers that check block by block).
    """
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (cells x genes)")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {X.dtype}; expected a real numeric dtype")
        X = X.tocsr() if not sp.isspmatrix_csr(X) and not isinstance(X, sp.csr_array) else X
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        _check_size(X.shape, name)
        if check_finite and X.data.size and not np.isfinite(X.data).all():
            bad = np.flatnonzero(~np.isfinite(X.data))[0]
            row = int(np.searchsorted(X.indptr, bad, side="right") - 1)
            raise ValueError(
                f"{name} contains NaN or inf (first at cell {row}, gene {int(X.indices[bad])})"
            )
        return X
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {X.dtype}; expected a real numeric dtype")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (cells x genes), got {X.ndim}-D with shape {X.shape}")
    if X.dtype.kind != "f" or X.dtype.itemsize not in (4, 8):
        X = X.astype(np.float64)
    _check_size(X.shape, name)
    return X


def _check_size(shape, name):
    if shape[0] == 0:
        raise ValueError(f"{name} has no cells (shape {shape})")
    if shape[1] == 0:
        raise ValueError(f"{name} has no genes (shape {shape})")
