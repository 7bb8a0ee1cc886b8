"""The GW placement on the device (``device="cuda"``): the exact and entropic iterations of
``genomap_fast._cuda`` (cuda/gw_loop.hpp) through cuBLAS and cuFFT, loaded at run time from
NVIDIA's pip wheels, torch's or cupy's copies or a CUDA toolkit (:func:`math_libraries`).
Imports only numpy and ``_cuda`` (the placement module calls it; nothing here imports back).
"""
from __future__ import annotations

import os

import numpy as np


def _cuda():
    from . import _cuda

    return _cuda


def _library_dirs() -> list[str]:
    """Directories that may hold libcublas.so.13 / libcufft.so.12, most specific first:
    ``GENOMAP_FAST_CUDA_LIBS`` (os.pathsep-separated), the nvidia-* pip wheels (CUDA 13 wheels
    put both in nvidia/cu13/lib), torch's and cupy's library folders, CUDA_HOME / CUDA_PATH and
    /usr/local/cuda. Nothing is imported: packages are found by path."""
    import site
    import sys

    dirs = [d for d in os.environ.get("GENOMAP_FAST_CUDA_LIBS", "").split(os.pathsep) if d]
    roots = list(dict.fromkeys([*sys.path, *site.getsitepackages(),
                                site.getusersitepackages()]))
    for root in roots:
        for sub in ("nvidia/cu13/lib", "nvidia/cublas/lib", "nvidia/cufft/lib", "torch/lib",
                    "cupy/.data/lib", "cupy_backends/cuda/lib"):
            path = os.path.join(root, sub)
            if os.path.isdir(path):
                dirs.append(path)
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            dirs.append(os.path.join(os.environ[var], "lib64"))
    dirs.append("/usr/local/cuda/lib64")
    return list(dict.fromkeys(dirs))


def math_libraries() -> tuple[bool, str]:
    """Loads cuBLAS and cuFFT for the device placement (once per process): (loaded, reason
    when not). Where they were found: ``_cuda.math_library_paths()``."""
    if _MATH[0] is None:
        _MATH[:] = list(_cuda().load_math_libraries(_library_dirs()))
    return bool(_MATH[0]), str(_MATH[1])


_MATH: list = [None, ""]


def grid_arguments(grid) -> dict:
    """The keyword arguments describing a C++ ``GridCost`` to the device placement: its class
    capacities and log-cost, dense (D, D) or, on FFT grids, the displacement table."""
    table = grid.log_cost_table
    fft = table is not None
    return {"capacity": np.ascontiguousarray(grid.capacity, dtype=np.int64),
            "log_cost": table if fft else grid.log_cost, "mean_cost": float(grid.mean_cost),
            "fft": fft, "rows": int(grid.rows), "cols": int(grid.cols)}


def _require_math_libraries() -> None:
    ok, reason = math_libraries()
    if not ok:
        raise RuntimeError(f"the GW placement on the device needs cuBLAS and cuFFT: {reason}")


def place_exact(C1: np.ndarray, grid, max_iter: int) -> dict:
    """The exact GW iteration on the device (auction transport steps): a dict with ``assign``
    (n,) int64 classes, ``objective``, ``n_iter``, ``converged``, ``trace``,
    ``auction_rounds`` and ``seconds`` (setup / products / transport)."""
    _require_math_libraries()
    return _cuda().gw_exact(np.ascontiguousarray(C1, dtype=np.float64), max_iter=int(max_iter),
                            **grid_arguments(grid))


def place_entropic(C1: np.ndarray, grid, epsilon: float, max_iter: int, tol: float) -> dict:
    """The reference's entropic loop on the device: a dict with ``coupling`` (n, D) float64,
    ``objective``, ``n_iter``, ``last_change``, ``sinkhorn_iters`` and ``seconds``."""
    _require_math_libraries()
    return _cuda().gw_entropic(np.ascontiguousarray(C1, dtype=np.float64),
                               epsilon=float(epsilon), max_iter=int(max_iter), tol=float(tol),
                               **grid_arguments(grid))
