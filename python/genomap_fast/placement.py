"""GW gene placement: cost structure (grid), problem (C1 + grid) and solver choice.

A grid metric is a factory in the C++ core returning pixel *classes*; solvers only see classes,
so adding a metric does not touch the solvers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._blas import single_threaded_blas
from ._validate import default_threads

GRID_METRICS = ("radial", "euclidean")


FFT_MIN_PIXELS = 256  # from here on FFT convolution beats BLAS for the euclidean products


def make_grid(rows: int, cols: int, n_used: int, metric="radial", fft: bool | None = None):
    """Grid cost over the first ``n_used`` pixels (the reference's flattened order).

    ``metric`` is "radial", "euclidean", or a user-supplied (n_used, n_used) pixel cost C2
    (symmetric, non-negative), solved by the dense path (one class per pixel, BLAS products).
    ``fft`` (euclidean only): GW products by 2-D FFT convolution with the log-distance kernel
    (O(n^2 log n) per step) instead of BLAS (O(n^3)); None picks FFT from 256 pixels on.
    """
    if isinstance(metric, np.ndarray):
        C2 = np.ascontiguousarray(metric, dtype=np.float64)
        if C2.shape != (n_used, n_used):
            raise ValueError(f"grid cost must be ({n_used}, {n_used}), got {C2.shape}")
        if not np.allclose(C2, C2.T):
            raise ValueError("grid cost must be symmetric")
        return _core.dense_grid(C2, rows, cols)
    if metric == "radial":
        return _core.radial_grid(rows, cols, n_used)
    if metric == "euclidean":
        return _core.euclidean_grid(rows, cols, n_used,
                                    fft=n_used >= FFT_MIN_PIXELS if fft is None else bool(fft))
    raise ValueError(f"grid_metric must be one of {GRID_METRICS}, got {metric!r}")


def pixel_distance_matrix(rows: int, cols: int, n_used: int, metric: str = "radial") -> np.ndarray:
    """The dense pixel cost C2 (n_used, n_used) float64 that a grid metric stands for."""
    grid = make_grid(rows, cols, n_used, metric)
    cls = grid.class_of_pixel
    return grid.class_cost[np.ix_(cls, cls)]


def image_offsets(pixel: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Offset inside a C-ordered (rows, cols) image of each flat pixel index.

    Flat pixel k (reference order) is image row k % rows, column k // rows (Fortran reshape).
    Negative entries (genes not placed) stay -1.
    """
    pixel = np.asarray(pixel, dtype=np.int64)
    out = (pixel % rows) * cols + pixel // rows
    return np.where(pixel >= 0, out, -1).astype(np.int64)


@dataclass
class Placement:
    """A fitted placement of ``n`` genes on a ``rows x cols`` grid.

    pixel : (n,) int64, flat pixel index (reference order) of each gene (exact mode)
    classes : (n,) int64, grid class (ring for the radial metric) of each gene (exact mode)
    class_coupling : (n, n_classes) float64 or None, entropic coupling summed per class
    objective : KL-loss GW objective of the returned coupling
    """

    rows: int
    cols: int
    metric: object  # "radial", "euclidean" or a dense (n, n) pixel cost
    epsilon: float
    pixel: np.ndarray | None
    classes: np.ndarray | None
    class_coupling: np.ndarray | None
    objective: float
    n_iter: int
    converged: bool
    trace: np.ndarray = field(default_factory=lambda: np.zeros(0))
    euclidean_term: float = float("nan")

    @property
    def n_genes(self) -> int:
        if self.pixel is not None:
            return int(self.pixel.shape[0])
        return int(self.class_coupling.shape[0])

    def grid(self):
        return make_grid(self.rows, self.cols, self.n_genes, self.metric)

    def coupling(self) -> np.ndarray:
        """Pixel-level coupling T (n, n) float64, rows genes, columns used pixels (dense)."""
        n = self.n_genes
        if self.class_coupling is None:
            T = np.zeros((n, n))
            T[np.arange(n), self.pixel] = 1.0 / n
            return T
        grid = self.grid()
        cls = grid.class_of_pixel
        return self.class_coupling[:, cls] / grid.capacity[cls][None, :]


def solve_placement(
    C1: np.ndarray,
    rows: int,
    cols: int,
    metric="radial",
    epsilon: float = 0.0,
    max_iter: int = 1000,
    tol: float = 1e-9,
    refine_rounds: int = 10,
    num_threads: int | None = None,
    multilevel: bool = False,
) -> Placement:
    """Solves the GW placement of the genes of C1 (n x n) on the first n pixels of the grid.

    metric: "radial" | "euclidean" | a dense (n, n) pixel cost (see :func:`make_grid`).
    epsilon == 0: exact steps (class transport), stopping when an assignment repeats.
    epsilon > 0: the reference's entropic loop with a log-domain Sinkhorn.
    multilevel (euclidean, epsilon == 0): first solve on the grid in 2x2-pixel tiles, then start
    the pixel-level iteration from that coupling. It reaches another fixed point of the same
    iteration, sooner on mid-size grids (48x48: 2.3x) but not on large ones (the tile level
    itself grows too fast), its objective on either side of the plain one (benchmarks/
    test_large.py). ``n_iter`` counts both levels.
    """
    nt = default_threads(num_threads)
    C1 = np.ascontiguousarray(C1, dtype=np.float64)
    n = C1.shape[0]
    if not (np.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    grid = make_grid(rows, cols, n, metric)
    if multilevel and not (isinstance(metric, str) and metric == "euclidean"):
        raise ValueError("multilevel placement needs grid_metric='euclidean'")
    if epsilon == 0:
        with single_threaded_blas():
            if multilevel:
                r = _core.solve_gw_multilevel(C1, grid, int(max_iter), nt, min_tiles=1,
                                              max_levels=2)
            else:
                r = _core.solve_gw_exact(C1, grid, int(max_iter), nt)
            placed = _core.place_within_classes(C1, grid, r["assign"], int(refine_rounds), nt)
        return Placement(
            rows, cols, metric, 0.0, placed["pixel"], r["assign"], None, r["objective"],
            int(r["n_iter"]), bool(r["converged"]), r["trace"], placed["euclidean_after"],
        )
    with single_threaded_blas():
        r = _core.solve_gw_entropic(C1, grid, float(epsilon), int(max_iter), float(tol), nt)
    return Placement(
        rows, cols, metric, float(epsilon), None, None, r["coupling"], r["objective"],
        int(r["n_iter"]), bool(r["last_change"] <= tol),
    )
