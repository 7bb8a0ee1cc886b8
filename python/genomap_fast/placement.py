"""GW gene placement: cost structure (grid), problem (C1 + grid) and solver choice.

A grid metric is a factory in the C++ core returning pixel *classes*; solvers only see classes,
so adding a metric does not touch the solvers.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._blas import single_threaded_blas
from ._validate import default_threads

SOLVERS = ("exact", "anneal")
ANNEAL_STARTS = ("auto", "exact", "entropic", "multilevel")
# "auto": the multilevel start on euclidean grids from this many genes on (the exact iteration
# there costs n x n assignments per step: 64x64 45 s, 100x100 over 20 minutes), else "exact"
MULTILEVEL_START_GENES = 2048
# The annealing schedules that run are one table in the C++ core (cpp/src/anneal/schedule.cpp,
# anneal_schedule below); solve_anneal passes only what its caller sets.

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Metric = Union[str, FloatArray]  # a name in GRID_METRICS or a dense (n, n) pixel cost


FFT_MIN_PIXELS = 256  # from here on FFT convolution beats BLAS for the euclidean products

# The one table of grid metrics: name -> the C++ factory (rows, cols, n_used, fft). Everything
# else about a grid (its classes, coarse levels for multilevel placement and starts, whether it
# stores dense class costs: the memory estimate) is asked from the GridCost it returns.
GRID_FACTORIES = {
    "radial": lambda rows, cols, n_used, fft: _core.radial_grid(rows, cols, n_used),
    "euclidean": lambda rows, cols, n_used, fft: _core.euclidean_grid(
        rows, cols, n_used, fft=n_used >= FFT_MIN_PIXELS if fft is None else bool(fft)),
}
GRID_METRICS = tuple(GRID_FACTORIES)


def make_grid(rows: int, cols: int, n_used: int, metric: Metric = "radial",
              fft: bool | None = None) -> _core.GridCost:
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
    if not isinstance(metric, str) or metric not in GRID_FACTORIES:
        raise ValueError(f"grid_metric must be one of {GRID_METRICS}, got {metric!r}")
    return GRID_FACTORIES[metric](rows, cols, n_used, fft)


def check_multilevel(grid: _core.GridCost) -> None:
    """Raises ValueError unless ``grid`` has coarse levels (multilevel placement needs them),
    naming the metrics whose grids have them."""
    if not grid.has_coarse_levels:
        named = [m for m in GRID_METRICS if make_grid(1, 1, 1, m).has_coarse_levels]
        raise ValueError("multilevel placement needs "
                         + " or ".join(f"grid_metric={m!r}" for m in named))


def pixel_distance_matrix(rows: int, cols: int, n_used: int, metric: str = "radial"
                          ) -> FloatArray:
    """The dense pixel cost C2 that a grid metric stands for.

    Parameters
    ----------
    rows, cols : int
        Grid shape.
    n_used : int
        Pixels used (the genes placed): the first ``n_used`` pixels in the reference's
        flattened order (column-major: flat pixel ``k`` is image row ``k % rows``, column
        ``k // rows``).
    metric : str, default "radial"
        "radial" (the reference's log-distance from the centre) or "euclidean".

    Returns
    -------
    numpy.ndarray of shape (n_used, n_used)
        float64 symmetric pixel cost, the matrix the solvers never build (they work with the
        grid's classes).

    Raises
    ------
    ValueError
        An unknown metric.

    Examples
    --------
    >>> from genomap_fast import pixel_distance_matrix
    >>> C2 = pixel_distance_matrix(4, 4, 16)
    >>> C2.shape, C2.dtype, bool((C2 == C2.T).all())
    ((16, 16), dtype('float64'), True)
    """
    grid = make_grid(rows, cols, n_used, metric)
    cls = grid.class_of_pixel
    out: FloatArray = grid.class_cost[np.ix_(cls, cls)]
    return out


def image_offsets(pixel: npt.ArrayLike, rows: int, cols: int) -> IntArray:
    """Offset inside a C-ordered (rows, cols) image of each flat pixel index.

    Flat pixel k (reference order) is image row k % rows, column k // rows (Fortran reshape).
    Negative entries (genes not placed) stay -1.
    """
    flat = np.asarray(pixel, dtype=np.int64)
    out = (flat % rows) * cols + flat // rows
    return np.where(flat >= 0, out, -1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """A fitted placement of ``n`` genes on a ``rows x cols`` grid (exact or entropic).

    Returned by :func:`solve_placement`. Exact placements (``epsilon == 0``) carry ``pixel``
    and ``classes`` and no ``class_coupling``; entropic ones the reverse. ``Placement`` is
    another name of this class.

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast import interaction_matrix, solve_placement
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=30, seed=0)
    >>> p = solve_placement(interaction_matrix(X).distance, 6, 6)
    >>> p.n_genes, p.pixel.dtype, p.class_coupling is None
    (30, dtype('int64'), True)
    >>> p.coupling().shape
    (30, 30)
    """

    rows: int
    """Grid rows."""
    cols: int
    """Grid columns."""
    metric: Metric
    """"radial", "euclidean" or the dense (n, n) float64 pixel cost C2."""
    epsilon: float
    """Entropic regularisation; 0.0 for exact placements."""
    pixel: IntArray | None
    """(n,) int64, flat pixel index (reference order) of each gene; None when entropic."""
    classes: IntArray | None
    """(n,) int64, grid class (ring for the radial metric) of each gene; None when entropic."""
    class_coupling: FloatArray | None
    """(n, n_classes) float64, entropic coupling summed per class; None when exact."""
    objective: float
    """KL-loss GW objective of the returned coupling (lower is better)."""
    n_iter: int
    """GW steps (transport or Sinkhorn problems solved; both levels with multilevel)."""
    converged: bool
    """Whether the iteration settled (with exact steps, an assignment repeated; with entropic
    steps, the last change was within ``tol``)."""
    trace: FloatArray = field(default_factory=lambda: np.zeros(0))
    """(n_iter - converged,) float64, objective of each exact step's assignment (pixel level;
    empty when entropic)."""
    euclidean_term: float = float("nan")
    """2-D (euclidean) GW linear term of ``pixel`` after within-class refinement (exact)."""
    device: str = "cpu"
    """Where the GW iteration ran, "cpu" or "cuda" (the ``device`` the placement was solved
    with)."""

    @property
    def n_genes(self) -> int:
        """Number of genes placed."""
        if self.pixel is not None:
            return int(self.pixel.shape[0])
        assert self.class_coupling is not None
        return int(self.class_coupling.shape[0])

    def grid(self) -> _core.GridCost:
        """The grid cost (the C++ core's ``GridCost``) this placement was solved on."""
        return make_grid(self.rows, self.cols, self.n_genes, self.metric)

    def coupling(self) -> FloatArray:
        """The pixel-level coupling T.

        Returns
        -------
        numpy.ndarray of shape (n, n)
            float64, dense: rows genes, columns used pixels; each row sums to ``1 / n``.
        """
        n = self.n_genes
        if self.class_coupling is None:
            T = np.zeros((n, n))
            T[np.arange(n), self.pixel] = 1.0 / n
            return T
        grid = self.grid()
        cls = grid.class_of_pixel
        out: FloatArray = self.class_coupling[:, cls] / grid.capacity[cls][None, :]
        return out


Placement = PlacementResult  # the former name, kept for existing imports


def solve_placement(
    C1: npt.ArrayLike,
    rows: int,
    cols: int,
    metric: Metric = "radial",
    epsilon: float = 0.0,
    max_iter: int = 1000,
    tol: float = 1e-9,
    refine_rounds: int = 10,
    num_threads: int | None = None,
    multilevel: bool = False,
    solver: str = "exact",
    seed: int = 0,
    restarts: int = 1,
    anneal_start: str = "auto",
) -> PlacementResult:
    """Solves the GW placement of the genes of C1 on the first n pixels of a grid.

    The lower-level step of :class:`Genomap`: gene-gene distances in, pixel of each gene out.

    Parameters
    ----------
    C1 : array-like of shape (n, n)
        Gene-gene distances (e.g. :func:`interaction_matrix`), symmetric, non-negative.
    rows, cols : int
        Grid shape, ``rows * cols >= n``.
    metric : str or numpy.ndarray, default "radial"
        "radial", "euclidean", or a user-supplied dense (n, n) float64 pixel cost C2
        (symmetric, non-negative; solved with one class per pixel).
    epsilon : float, default 0.0
        0: exact steps (transport over the grid's classes), stopping when an assignment
        repeats. > 0: the reference's entropic loop with a log-domain Sinkhorn.
    max_iter : int, default 1000
        Cap on GW steps.
    tol : float, default 1e-9
        Entropic only: stop once the coupling changes by less than this.
    refine_rounds : int, default 10
        Rounds of the within-class (within-ring) refinement of the exact placement.
    num_threads : int, optional
        Threads (default: all available cores); results do not depend on it.
    multilevel : bool, default False
        Euclidean, ``epsilon == 0``: first solve on the grid in 2x2-pixel tiles, then start
        the pixel-level iteration from that coupling. It reaches another fixed point of the
        same iteration, sooner on mid-size grids (48x48: 2.3x) but not on large ones (the tile
        level itself grows too fast), its objective on either side of the plain one
        (benchmarks/test_large.py). ``n_iter`` counts both levels.
    solver : str, default "exact"
        "exact" (the reference's fixed point, above) or "anneal": aims at the lowest objective
        instead (pair-swap descent and seeded simulated annealing from the exact fixed point);
        one gene per pixel, never worse than the exact fixed point.
    seed : int, default 0
        "anneal" only: the annealing seed (same seed, same placement).
    restarts : int, default 1
        "anneal" only: the number of independent runs (the best is kept).
    anneal_start : str, default "auto"
        "anneal" only: "exact", "entropic", "multilevel", or "auto" ("multilevel" on
        euclidean grids of 2,048 genes or more, else "exact").

    Returns
    -------
    PlacementResult
        The placement, its GW objective and iteration count.

    Raises
    ------
    ValueError
        More genes than pixels, a negative ``epsilon``, ``max_iter < 1``, an unknown metric or
        solver, ``multilevel`` without the euclidean metric, ``solver="anneal"`` with
        ``epsilon > 0`` or ``multilevel``, or a dense cost of the wrong shape.
    TypeError
        A non-integer ``seed`` or ``restarts``.

    Examples
    --------
    >>> from genomap_fast import interaction_matrix, solve_placement
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=30, seed=0)
    >>> C1 = interaction_matrix(X).distance
    >>> exact = solve_placement(C1, 6, 6)
    >>> exact.pixel.shape, exact.converged
    ((30,), True)
    >>> annealed = solve_placement(C1, 6, 6, solver="anneal", seed=0)
    >>> bool(annealed.objective <= exact.objective + 1e-12)
    True
    >>> entropic = solve_placement(C1, 6, 6, epsilon=0.05)
    >>> entropic.pixel is None, entropic.class_coupling.shape[0]
    (True, 30)
    """
    C1, _ = _checked_problem(C1, epsilon, max_iter, num_threads, solver, multilevel, seed,
                             restarts, anneal_start)
    return solve_on_grid(C1, make_grid(rows, cols, C1.shape[0], metric), metric, epsilon,
                         max_iter, tol, refine_rounds, num_threads, multilevel, solver, seed,
                         restarts, anneal_start)


def _checked_problem(C1: npt.ArrayLike, epsilon: float, max_iter: int, num_threads: int | None,
                     solver: str, multilevel: bool, seed: int, restarts: int,
                     anneal_start: str) -> tuple[FloatArray, int]:
    nt = default_threads(num_threads)
    C1 = np.ascontiguousarray(C1, dtype=np.float64)
    if not (np.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    check_solver(solver, epsilon, multilevel, seed, restarts, anneal_start)
    return C1, nt


def solve_on_grid(C1: npt.ArrayLike, grid: _core.GridCost, metric: Metric = "radial",
                  epsilon: float = 0.0, max_iter: int = 1000, tol: float = 1e-9,
                  refine_rounds: int = 10, num_threads: int | None = None,
                  multilevel: bool = False, solver: str = "exact", seed: int = 0,
                  restarts: int = 1, anneal_start: str = "auto",
                  device: str = "cpu") -> PlacementResult:
    """:func:`solve_placement` on a grid already made by :func:`make_grid` for ``metric``
    over the first ``len(C1)`` pixels (the estimator asks that grid for its memory estimate
    before the statistics, then solves on it).

    ``device="cuda"`` runs the GW iteration on the GPU (:mod:`genomap_fast._gpu_gw`: exact steps
    by an auction, entropic steps by a log-domain Sinkhorn, products through cuBLAS/cuFFT);
    the within-class refinement, ``solver="anneal"`` and ``multilevel`` run on the CPU.
    """
    C1, nt = _checked_problem(C1, epsilon, max_iter, num_threads, solver, multilevel, seed,
                              restarts, anneal_start)
    rows, cols = grid.rows, grid.cols
    if multilevel:
        check_multilevel(grid)
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and solver == "exact" and not multilevel:
        return _solve_on_device(C1, grid, metric, epsilon, max_iter, tol, refine_rounds, nt)
    if solver == "anneal":
        with single_threaded_blas():
            a = solve_anneal(C1, grid, seed=seed, restarts=restarts, start=anneal_start,
                             polish_iter=int(max_iter), num_threads=nt)
            placed = _core.place_within_classes(C1, grid, a.assign, int(refine_rounds), nt)
        return PlacementResult(
            rows=rows, cols=cols, metric=metric, epsilon=0.0, pixel=placed.pixel,
            classes=a.assign, class_coupling=None, objective=a.objective,
            n_iter=int(a.exact_iters), converged=True,
            trace=np.asarray(a.restart_objectives), euclidean_term=placed.euclidean_after,
        )
    if epsilon == 0:
        with single_threaded_blas():
            r: _core.ExactResult | _core.MultilevelResult
            if multilevel:
                r = _core.solve_gw_multilevel(C1, grid, int(max_iter), nt, min_tiles=1,
                                              max_levels=2)
            else:
                r = _core.solve_gw_exact(C1, grid, int(max_iter), nt)
            placed = _core.place_within_classes(C1, grid, r.assign, int(refine_rounds), nt)
        return PlacementResult(
            rows=rows, cols=cols, metric=metric, epsilon=0.0, pixel=placed.pixel,
            classes=r.assign, class_coupling=None, objective=r.objective, n_iter=int(r.n_iter),
            converged=bool(r.converged), trace=r.trace, euclidean_term=placed.euclidean_after,
        )
    with single_threaded_blas():
        e = _core.solve_gw_entropic(C1, grid, float(epsilon), int(max_iter), float(tol), nt)
    return PlacementResult(
        rows=rows, cols=cols, metric=metric, epsilon=float(epsilon), pixel=None, classes=None,
        class_coupling=e.coupling, objective=e.objective, n_iter=int(e.n_iter),
        converged=bool(e.last_change <= tol),
    )


def _solve_on_device(C1: FloatArray, grid: _core.GridCost, metric: Metric, epsilon: float,
                     max_iter: int, tol: float, refine_rounds: int, nt: int) -> PlacementResult:
    from . import _gpu_gw

    rows, cols = grid.rows, grid.cols
    loaded, why = _gpu_gw.math_libraries()
    if not loaded:
        warnings.warn(f"device='cuda': the GW placement runs on the CPU ({why})",
                      RuntimeWarning, stacklevel=3)
        return solve_on_grid(C1, grid, metric, epsilon, max_iter, tol, refine_rounds, nt)
    if epsilon == 0:
        r = _gpu_gw.place_exact(C1, grid, int(max_iter))
        with single_threaded_blas():
            placed = _core.place_within_classes(C1, grid, r["assign"], int(refine_rounds), nt)
        return PlacementResult(
            rows=rows, cols=cols, metric=metric, epsilon=0.0, pixel=placed.pixel,
            classes=r["assign"], class_coupling=None, objective=r["objective"],
            n_iter=int(r["n_iter"]), converged=bool(r["converged"]), trace=r["trace"],
            euclidean_term=placed.euclidean_after, device="cuda",
        )
    e = _gpu_gw.place_entropic(C1, grid, float(epsilon), int(max_iter), float(tol))
    return PlacementResult(
        rows=rows, cols=cols, metric=metric, epsilon=float(epsilon), pixel=None, classes=None,
        class_coupling=e["coupling"], objective=e["objective"], n_iter=int(e["n_iter"]),
        converged=bool(e["last_change"] <= tol), device="cuda",
    )


def check_solver(solver: str, epsilon: float = 0.0, multilevel: bool = False, seed: int = 0,
                 restarts: int = 1, anneal_start: str = "auto") -> None:
    """Raises ValueError/TypeError naming the argument for a bad solver choice."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    for name, v, low in (("seed", seed, 0), ("restarts", restarts, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
        if v < low or v >= 2**63:
            raise ValueError(f"{name} must be an integer >= {low}, got {v}")
    if anneal_start not in ANNEAL_STARTS:
        raise ValueError(f"anneal_start must be one of {ANNEAL_STARTS}, got {anneal_start!r}")
    if solver == "anneal":
        if epsilon != 0:
            raise ValueError("solver='anneal' places one gene per pixel; epsilon must be 0 "
                             f"(epsilon > 0 is the reference's entropic loop), got {epsilon!r}")
        if multilevel:
            raise ValueError("multilevel=True is a variant of solver='exact'; "
                             "solver='anneal' does not take it")


def solve_anneal(C1: FloatArray, grid: _core.GridCost, seed: int = 0, restarts: int = 1,
                 start: str = "exact",
                 polish_iter: int = 1000, num_threads: int = 1,
                 **options: Any) -> _core.AnnealResult:
    """Annealed GW placement of the genes of C1 (n, n) float64 on ``grid``'s classes.

    1. a start: "exact" (the reference's fixed point, from the exact iteration) or "entropic"
       (epsilon scaling: warm-started log-domain Sinkhorn steps over the grid's classes while
       epsilon shrinks, rounded by the exact transport on the last linear term, then the exact
       iteration as a polish);
    2. pair-swap descent (exact change of the quadratic objective) alternating with the exact
       iteration while either improves;
    3. simulated annealing over pair swaps (seeded), then step 2 again;
    4. ``restarts`` runs with their own annealing seeds (and, entropic start, perturbed starts);
       the lowest objective wins.

    Returns a typed ``_core.AnnealResult``: ``assign`` (n,) int64 class per gene,
    ``objective``, ``restart_objectives``, ``rounded_objective`` (the start's), work counters.
    Deterministic for a given seed, whatever the thread count. ``options`` go to
    ``_core.solve_gw_anneal`` (schedule parameters; those not given run as
    :func:`anneal_schedule` and the core's defaults say).
    """
    if start not in ANNEAL_STARTS:
        raise ValueError(f"start must be one of {ANNEAL_STARTS}, got {start!r}")
    if start == "auto":
        start = anneal_start_for(grid)
    return _core.solve_gw_anneal(C1, grid, entropic_start=start == "entropic",
                                 multilevel_start=start == "multilevel",
                                 polish_iter=int(polish_iter), restarts=int(restarts),
                                 seed=int(seed), num_threads=int(num_threads), **options)


def anneal_schedule(start: str, grid: _core.GridCost) -> dict[str, Any]:
    """The start- and grid-dependent annealing keywords that run for ``start`` ("exact",
    "entropic" or "multilevel") on ``grid`` (the C++ core's table)."""
    return _core.anneal_schedule(grid, start)


def anneal_start_for(grid: _core.GridCost) -> str:
    """The start "auto" picks: "multilevel" on a grid with coarse levels (euclidean) of
    MULTILEVEL_START_GENES classes or more, else "exact"."""
    if grid.has_coarse_levels and grid.n_classes >= MULTILEVEL_START_GENES:
        return "multilevel"
    return "exact"
