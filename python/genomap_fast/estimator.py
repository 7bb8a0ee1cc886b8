"""The scikit-learn-style estimator: fit learns the gene placement, transform rasterises cells."""
from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from contextlib import contextmanager

import numpy as np

from ._atomic import atomic_path
from ._execution import execution_for
from ._memory import check_fit_memory
from ._source import all_finite, check_block
from ._validate import (
    NotFittedError,
    check_grid_shape,
    check_int,
    default_threads,
)
from .backends import resolve_device
from .interaction import default_chunk_rows
from .placement import (
    GRID_METRICS,
    Placement,
    check_multilevel,
    check_solver,
    make_grid,
    solve_on_grid,
)
from .raster import LAYOUTS, rasterize

_FORMAT = "genomap_fast.Genomap/1"


class Genomap:
    """Genomap construction as a scikit-learn-style estimator.

    ``fit`` learns where each gene goes on a ``rows x cols`` pixel grid (Gromov-Wasserstein
    placement of the gene-gene correlation distances onto the grid's pixel distances);
    ``transform`` turns any cells with those genes into images. The fitted placement can be
    saved, loaded and reused on new cells.

    Parameters
    ----------
    rows, cols : int
        Grid shape; a genomap has ``rows * cols`` pixels.
    grid_metric : str, default "radial"
        "radial" (the reference's cost: distance from the centre only) or "euclidean" (true
        pixel-to-pixel distance).
    epsilon : float, default 0.0
        0 for exact GW steps (the reference's default), > 0 for entropic steps.
    max_iter : int, default 1000
        Cap on GW iterations (the reference's ``num_iter``).
    dtype : numpy.dtype, default numpy.float32
        dtype of the images ``transform`` returns: float32 or float64.
    layout : str, default "nchw"
        "nchw" gives ``(n, 1, rows, cols)`` images (torch), "nhwc" ``(n, rows, cols, 1)``
        (the reference).
    select_genes : str or None, default None
        None (more genes than pixels is an error) or "variance" (keep the ``rows * cols`` genes
        of highest variance, as the reference's task functions do).
    refine_rounds : int, default 10
        Rounds of the within-ring tie-breaking (radial metric); 0 disables it.
    num_threads : int or None, default None
        Threads for the C++ kernels and BLAS; None uses all available cores (more than the
        available cores are capped). Results do not depend on it.
    chunk_size : int or None, default None
        Cells per chunk when streaming the interaction statistics (None: about 32 MB of
        float64 per chunk).
    progress : bool, default False
        Show a progress bar while fitting and transforming.
    standardize : bool, default False
        ``transform`` rasterises per-gene z-scores (the fit's mean and standard deviation,
        ddof=1, as the reference's task functions), computed on the fly, never as a
        standardised copy.
    multilevel : bool, default False
        Euclidean metric only: solve on 2x2-pixel tiles first, then on pixels (another fixed
        point of the same iteration, sooner on mid-size grids); see
        :func:`genomap_fast.solve_placement`.
    solver : str, default "exact"
        "exact" (the reference's fixed point) or "anneal" (aims at the lowest GW objective:
        never worse than the exact fixed point, one gene per pixel; needs ``epsilon=0``).
    seed : int, default 0
        The annealing seed ("anneal" only): same seed, same placement, whatever the thread
        count.
    restarts : int, default 1
        Independent annealing runs ("anneal" only); the best one is kept.
    device : str, default "cpu"
        "cpu", "cuda" (the interaction statistics and the GW iteration on the GPU, host
        arrays streamed to it; ``solver="anneal"``, ``multilevel`` and the within-class
        refinement stay on the CPU) or "auto" (cuda when :func:`genomap_fast.backends` has
        it). Device arrays (cupy, CUDA torch) given to ``transform`` are rasterised on the GPU
        and give device arrays back; host arrays are rasterised on the CPU, which beats the
        round trip through the device (1M x 1,089 on an H200 node: 0.35 s vs 1.8 s).

    Attributes
    ----------
    genes_ : numpy.ndarray of shape (n_placed,)
        int64 columns of X that were placed (all of them unless selected).
    placement_ : numpy.ndarray of shape (n_genes_in,)
        int64 flat pixel of each input gene (reference order: image row ``p % rows``, column
        ``p // rows``), -1 for genes not placed.
    coupling_ : numpy.ndarray of shape (n_placed, n_placed)
        float64 gene x used-pixel coupling (the reference's ``T``).
    objective_ : float
        GW objective of the placement (lower is better).
    n_iter_ : int
        GW iterations run.
    converged_ : bool
        Whether the iteration settled before ``max_iter``.
    constant_genes_ : numpy.ndarray of shape (n_placed,)
        bool, placed genes with zero variance (correlation 0 with all others), aligned with
        ``genes_``.
    mean_, var_ : numpy.ndarray of shape (n_placed,)
        float64 per-gene mean and population variance, aligned with ``genes_``.
    feature_names_in_ : numpy.ndarray of shape (n_genes_in,) or None
        Gene names seen in ``fit`` (AnnData ``var_names``, DataFrame columns or
        ``gene_names=``).

    Raises
    ------
    ValueError
        An unknown ``grid_metric``, ``layout``, ``select_genes``, ``solver`` or ``device``, a
        negative ``epsilon``, ``multilevel`` without the euclidean metric, ``solver="anneal"``
        with ``epsilon > 0``, or an integer parameter below its minimum.
    TypeError
        A non-integer grid size, ``max_iter`` or thread count, or a dtype other than float32
        and float64.
    RuntimeError
        ``device="cuda"`` where CUDA is unavailable (the message says why).

    See Also
    --------
    construct_genomap : the reference's function, built on this estimator.
    genomap_fast.tl.genomap : the same on an AnnData, scanpy-style.

    Examples
    --------
    >>> from genomap_fast import Genomap
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, labels = synthetic_counts(n_cells=200, n_genes=60, seed=0)
    >>> gm = Genomap(8, 8).fit(X)
    >>> gm
    Genomap(rows=8, cols=8, grid_metric='radial', epsilon=0.0)
    >>> images = gm.transform(X)
    >>> images.shape, images.dtype
    ((200, 1, 8, 8), dtype('float32'))
    >>> gm.placement_.shape, gm.placement_.dtype, gm.converged_
    ((60,), dtype('int64'), True)

    More genes than pixels: keep the most variable ones.

    >>> gm = Genomap(6, 6, select_genes="variance").fit(X)
    >>> gm.genes_.shape, int((gm.placement_ >= 0).sum())
    ((36,), 36)
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        grid_metric: str = "radial",
        epsilon: float = 0.0,
        max_iter: int = 1000,
        dtype=np.float32,
        layout: str = "nchw",
        select_genes: str | None = None,
        refine_rounds: int = 10,
        num_threads: int | None = None,
        chunk_size: int | None = None,
        progress: bool = False,
        standardize: bool = False,
        multilevel: bool = False,
        solver: str = "exact",
        seed: int = 0,
        restarts: int = 1,
        device: str = "cpu",
    ):
        self.rows, self.cols = check_grid_shape(rows, cols)
        if grid_metric not in GRID_METRICS:
            raise ValueError(f"grid_metric must be one of {GRID_METRICS}, got {grid_metric!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if select_genes not in (None, "variance"):
            raise ValueError(f"select_genes must be None or 'variance', got {select_genes!r}")
        if not (np.isfinite(epsilon) and epsilon >= 0):
            raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        max_iter = check_int(max_iter, "max_iter", 1)
        refine_rounds = check_int(refine_rounds, "refine_rounds", 0)
        if num_threads is not None:
            default_threads(num_threads)  # ValueError naming num_threads
        if chunk_size is not None:
            chunk_size = check_int(chunk_size, "chunk_size", 1)
        self.grid_metric = grid_metric
        self.epsilon = float(epsilon)
        self.max_iter = int(max_iter)
        self.dtype = np.dtype(dtype)
        self.layout = layout
        self.select_genes = select_genes
        self.refine_rounds = int(refine_rounds)
        self.num_threads = num_threads
        self.chunk_size = chunk_size
        self.progress = progress
        self.standardize = bool(standardize)
        if multilevel:  # asked from the grid: has it coarse levels?
            check_multilevel(make_grid(self.rows, self.cols, 1, grid_metric))
        self.multilevel = bool(multilevel)
        check_solver(solver, self.epsilon, self.multilevel, seed, restarts)
        self.solver = solver
        self.seed = int(seed)
        self.restarts = int(restarts)
        self.device = device
        self.device_ = resolve_device(device)  # "cpu" or "cuda"; a one-line error when absent

    @property
    def n_pixels(self) -> int:
        """Number of pixels of a genomap (``rows * cols``)."""
        return self.rows * self.cols

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample: int | None = None, random_state=None,
            gene_names=None, layer: str | None = None) -> Genomap:
        """Learns the gene placement from the cells of X.

        X is read in row blocks of ``chunk_size`` cells: sparse input is never densified and
        inputs on disk are never loaded whole.

        Parameters
        ----------
        X : array-like, AnnData or str
            Cells x genes: a numpy array, scipy.sparse matrix, pandas.DataFrame, AnnData (in
            memory or backed; ``layer=`` or X), a path to an ``.h5ad`` file (read backed), a
            zarr or h5py array, or a dask array (the statistics are then a dask reduction, see
            :mod:`genomap_fast.distributed`).
        y : None
            Ignored (scikit-learn convention).
        sample : int, optional
            Fit on a reproducible random subset of that many cells (``random_state``).
        random_state : int, optional
            Seed of the ``sample`` subset.
        gene_names : sequence of str, optional
            One name per gene (by default AnnData ``var_names`` or DataFrame columns), kept as
            ``feature_names_in_`` so the placement can be read by name (:meth:`pixel_of`).
        layer : str, optional
            The AnnData layer to read instead of X.

        Returns
        -------
        Genomap
            self, fitted.

        Raises
        ------
        ValueError
            More genes than pixels without ``select_genes="variance"``, fewer than 2 cells,
            values that are not finite (the message names the cell and gene), malformed sparse
            structure, an unreadable file, or a bad ``sample``.
        MemoryError
            The fit would exceed the process's address-space limit (checked before anything
            is allocated); a fit larger than the available memory warns
            (:class:`MemoryEstimateWarning`) instead.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> names = [f"g{j}" for j in range(60)]
        >>> gm = Genomap(8, 8).fit(X, gene_names=names)
        >>> gm.n_genes_in_, gm.feature_names_in_[:3].tolist()
        (60, ['g0', 'g1', 'g2'])
        """
        run = execution_for(X, self.device_, layer, gene_names)  # where the fit runs
        gene_names = run.var_names
        if sample is not None:
            run = run.sample(sample, random_state)
        n_cells, n_genes = run.shape
        if n_cells < 2:
            raise ValueError(f"fit needs at least 2 cells to correlate genes, got {n_cells}")
        nt = default_threads(self.num_threads)
        genes = None
        if n_genes > self.n_pixels:
            if self.select_genes != "variance":
                raise ValueError(
                    f"X has {n_genes} genes but a {self.rows}x{self.cols} genomap has only "
                    f"{self.n_pixels} pixels; pass select_genes='variance' to keep the "
                    f"{self.n_pixels} most variable genes, or use a larger grid"
                )
            # a cheap first pass picks the genes; only they are correlated in the second
            var_all = run.gene_variance(self.chunk_size)
            genes = np.sort(np.argsort(-var_all, kind="stable")[: self.n_pixels])
        n_placed = n_genes if genes is None else genes.size
        # the memory estimate asks the grid (its classes, whether it stores dense class costs)
        grid = make_grid(self.rows, self.cols, n_placed, self.grid_metric)
        check_fit_memory(n_genes, n_placed, grid.n_classes,
                         self.chunk_size or default_chunk_rows(n_placed),
                         f"fitting a {self.rows}x{self.cols} genomap of {n_placed} genes",
                         dense_grid=grid.stores_dense_cost)
        with self._progress(n_cells, "statistics") as bar:
            stats = run.statistics(self.chunk_size, nt, genes, bar)
        placement = solve_on_grid(
            stats.distance, grid, self.grid_metric, self.epsilon, self.max_iter,
            refine_rounds=self.refine_rounds, num_threads=nt, multilevel=self.multilevel,
            solver=self.solver, seed=self.seed, restarts=self.restarts, device=self.device_,
        )
        genes = np.arange(n_genes, dtype=np.int64) if genes is None else genes.astype(np.int64)
        self._set_fitted(n_genes, genes, placement, stats.constant, stats.mean, stats.var,
                         stats.n_cells, gene_names)
        return self

    @contextmanager
    def _progress(self, total, desc):
        """A progress bar of ``total`` cells (None without ``progress``), closed on exit."""
        bar = None
        if self.progress and total > 0:
            from ._progress import progress_bar

            bar = progress_bar(total=total, unit="cell", desc=desc)
        try:
            yield bar
        finally:
            if bar is not None:
                bar.close()

    def _set_fitted(self, n_genes_in, genes, placement: Placement, constant, mean, var,
                    n_cells=0, gene_names=None):
        self.n_genes_in_ = int(n_genes_in)
        self.n_cells_ = int(n_cells)
        self.feature_names_in_ = (None if gene_names is None
                                  else np.asarray(list(map(str, gene_names))))
        self.genes_ = np.asarray(genes, dtype=np.int64)
        self.placement_obj_ = placement
        self.objective_ = float(placement.objective)
        self.n_iter_ = int(placement.n_iter)
        self.converged_ = bool(placement.converged)
        self.constant_genes_ = np.asarray(constant, dtype=bool)
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.var_ = np.asarray(var, dtype=np.float64)
        placement_full = np.full(self.n_genes_in_, -1, dtype=np.int64)
        if placement.pixel is not None:
            placement_full[self.genes_] = placement.pixel
        self.placement_ = placement_full

    def _check_fitted(self):
        if not hasattr(self, "placement_obj_"):
            raise NotFittedError("this Genomap is not fitted yet; call fit(X) first")

    def pixel_of(self, names) -> tuple[np.ndarray, np.ndarray]:
        """Image positions of genes, by name.

        Parameters
        ----------
        names : str or sequence of str
            Gene names seen in ``fit`` (``gene_names=``, AnnData ``var_names`` or DataFrame
            columns).

        Returns
        -------
        rows, cols : numpy.ndarray of shape (len(names),)
            int64 image row and column of each gene; -1 for genes that were not placed.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            Fitted without gene names, or an unknown name.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> gm = Genomap(8, 8).fit(X, gene_names=[f"g{j}" for j in range(60)])
        >>> r, c = gm.pixel_of(["g0", "g5"])
        >>> r.shape, bool(((0 <= r) & (r < 8) & (0 <= c) & (c < 8)).all())
        ((2,), True)
        """
        self._check_fitted()
        if self.feature_names_in_ is None:
            raise ValueError("this Genomap was fitted without gene names; pass gene_names= to fit")
        index = {n: i for i, n in enumerate(self.feature_names_in_)}
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ValueError(f"unknown genes: {unknown[:5]}")
        p = self.placement_[[index[n] for n in names]]
        return np.where(p >= 0, p % self.rows, -1), np.where(p >= 0, p // self.rows, -1)

    @property
    def coupling_(self) -> np.ndarray:
        """(n_placed, n_placed) float64 gene x used-pixel coupling (the reference's ``T``)."""
        self._check_fitted()
        return self.placement_obj_.coupling()

    # ------------------------------------------------------------ transform
    def transform(self, X, batch_size: int | None = None, layout: str | None = None,
                  out: np.ndarray | None = None, layer: str | None = None):
        """Genomaps of the cells of X.

        Any cells with the genes seen in ``fit`` (same columns) can be transformed; X is read
        in row blocks of ``batch_size`` cells.

        Parameters
        ----------
        X : array-like, AnnData or str
            Cells x genes, any input :meth:`fit` accepts, with the genes of the fit.
        batch_size : int, optional
            Cells rasterised per block (default: about 32 MB of input per block).
        layout : str, optional
            "nchw" or "nhwc"; default: the estimator's ``layout``.
        out : numpy.ndarray, optional
            A C-contiguous array of the result's shape and dtype to write into.
        layer : str, optional
            The AnnData layer to read instead of X.

        Returns
        -------
        numpy.ndarray of shape (n_cells, 1, rows, cols) or (n_cells, rows, cols, 1)
            Images of dtype ``self.dtype`` (float32 by default). A dask array gives a lazy dask
            array of images (one image block per row block); a device array (cupy, CUDA torch)
            with ``device="cuda"`` gives a device array.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            X has other genes than the fit, values that are not finite, a bad ``layout`` or
            ``out``.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> gm = Genomap(8, 8).fit(X[:80])
        >>> gm.transform(X[80:]).shape
        (20, 1, 8, 8)
        >>> gm.transform(X[80:], layout="nhwc").shape
        (20, 8, 8, 1)
        >>> gm.transform(X[:, :50])
        Traceback (most recent call last):
        ...
        ValueError: X has 50 genes but this Genomap was fitted on 60
        """
        self._check_fitted()
        layout = layout or self.layout
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        run = self._check_input(X, layer)  # where the transform runs
        return run.images(self, layout, batch_size, out, default_threads(self.num_threads),
                          self._progress)

    def _check_input(self, X, layer=None):
        """The execution backend of X (:func:`genomap_fast._execution.execution_for`), X
        checked for the fit's genes."""
        run = execution_for(X, self.device_, layer)
        if run.shape[1] != self.n_genes_in_:
            raise ValueError(
                f"X has {run.shape[1]} genes but this Genomap was fitted on {self.n_genes_in_}"
            )
        return run

    @property
    def scale_(self) -> np.ndarray:
        """(n_placed,) float64 per-gene standard deviation (ddof=1, as the reference's task
        functions) used by ``standardize``; 1 for constant genes (their z-scores are 0)."""
        self._check_fitted()
        n = max(self.n_cells_, 2)
        sd = np.sqrt(self.var_ * n / (n - 1))
        return np.where(sd > 0, sd, 1.0)

    def rasterize_block(self, block, out, layout: str = "nchw", num_threads: int = 1,
                        start: int = 0) -> None:
        """Rasterises one in-memory block of cells into ``out`` (a building block of
        :meth:`transform` and the stores).

        With ``standardize``, the images are per-gene z-scores with the fit's ``mean_`` and
        ``scale_``, computed for this block only.

        Parameters
        ----------
        block : numpy.ndarray or scipy.sparse.csr_matrix
            Float values of all input genes, one row per cell.
        out : numpy.ndarray
            Destination of the block's images, ``(len(block),)`` + the image shape.
        layout : str, default "nchw"
            "nchw" or "nhwc".
        num_threads : int, default 1
            Threads of the rasteriser.
        start : int, default 0
            Index of the block's first cell in the whole input (for error messages).
        """
        # Host blocks are rasterised on the CPU with device="cuda" too: the round trip through
        # the device costs more than the gather itself (benchmarks/results/test_gpu.md).
        if not self.standardize:
            rasterize(block, self.placement_obj_, self.genes_, out.dtype, layout, None,
                      num_threads, out, row_offset=start)
            return
        placed = block[:, self.genes_]
        placed = placed.toarray() if hasattr(placed, "toarray") else np.asarray(placed)
        z = (placed - self.mean_) / self.scale_
        if not all_finite(z):
            check_block(block, start)  # raises naming the input cell, gene and rows
        rasterize(z, self.placement_obj_, np.arange(self.genes_.size), out.dtype, layout, None,
                  num_threads, out)

    def write_zarr(self, path, X, obs_names=None, var_names=None,
                   batch_size: int | None = None, layer: str | None = None) -> str:
        """Rasterises every cell of X into a chunked, compressed zarr store at ``path``.

        Written batch by batch and atomically (see :mod:`genomap_fast.store`); a dask array is
        written block by block by the dask workers (``to_zarr``).

        Parameters
        ----------
        path : str or os.PathLike
            The store to write (a directory; an existing store is replaced when the new one
            is complete).
        X : array-like, AnnData or str
            Cells x genes, any input :meth:`fit` accepts, with the genes of the fit.
        obs_names, var_names : sequence of str, optional
            Cell and gene names; default: the AnnData's (or generated names).
        batch_size : int, optional
            Cells rasterised per block.
        layer : str, optional
            The AnnData layer to read instead of X.

        Returns
        -------
        str
            The path of the store.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            X has other genes than the fit, or the names have the wrong length.
        ImportError
            zarr is not installed.

        Examples
        --------
        >>> import os, tempfile
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X = synthetic_counts(n_cells=100, n_genes=60, seed=0)[0]
        >>> gm = Genomap(8, 8).fit(X)
        >>> from genomap_fast.store import open_images
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = gm.write_zarr(os.path.join(tmp, "maps.zarr"), X)
        ...     open_images(path).shape
        (100, 1, 8, 8)
        """
        from .store import write_zarr

        self._check_fitted()
        src = self._check_input(X, layer).src  # host data: the store reads its row blocks
        obs_names = src.obs_names if obs_names is None else obs_names
        if var_names is None:
            var_names = src.var_names if src.var_names is not None else self.feature_names_in_
        with self._progress(src.shape[0], "genomaps -> zarr") as bar:
            return write_zarr(path, self, src, obs_names, var_names, batch_size, bar)

    def fit_transform(self, X, y=None, **kwargs) -> np.ndarray:
        """``fit(X)`` then ``transform(X, **kwargs)``: the genomaps of the fit's own cells.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> Genomap(8, 8, dtype="float64").fit_transform(X).dtype
        dtype('float64')
        """
        return self.fit(X).transform(X, **kwargs)

    # --------------------------------------------------------- persistence
    def get_params(self) -> dict:
        """The constructor's parameters (scikit-learn style).

        Returns
        -------
        dict
            Parameter name to value; ``dtype`` as its name ("float32").

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> params = Genomap(8, 8, solver="anneal").get_params()
        >>> params["rows"], params["solver"], params["dtype"]
        (8, 'anneal', 'float32')
        """
        return {
            "rows": self.rows, "cols": self.cols, "grid_metric": self.grid_metric,
            "epsilon": self.epsilon, "max_iter": self.max_iter, "dtype": self.dtype.name,
            "layout": self.layout, "select_genes": self.select_genes,
            "refine_rounds": self.refine_rounds, "num_threads": self.num_threads,
            "chunk_size": self.chunk_size, "progress": self.progress,
            "standardize": self.standardize, "multilevel": self.multilevel,
            "solver": self.solver, "seed": self.seed, "restarts": self.restarts,
            "device": self.device,
        }

    def clone(self, **overrides) -> Genomap:
        """A new, unfitted Genomap with these parameters, ``overrides`` replacing some.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> Genomap(8, 8).clone(grid_metric="euclidean")
        Genomap(rows=8, cols=8, grid_metric='euclidean', epsilon=0.0)
        """
        params = {**self.get_params(), **overrides}
        return type(self)(**{**params, "dtype": np.dtype(params["dtype"])})

    def to_state(self) -> tuple[dict, dict]:
        """Everything needed to rebuild this fitted Genomap.

        Returns
        -------
        meta : dict
            JSON-serialisable parameters and scalars (format, parameters, objective, ...).
        arrays : dict of str to numpy.ndarray
            The fitted arrays (placed genes, pixels, statistics, gene names).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted()
        p = self.placement_obj_
        meta = {
            "format": _FORMAT, "params": self.get_params(), "n_genes_in": self.n_genes_in_,
            "objective": p.objective, "n_iter": p.n_iter, "converged": p.converged,
            "euclidean_term": p.euclidean_term, "n_cells": self.n_cells_,
        }
        arrays = {"genes": self.genes_, "constant": self.constant_genes_, "mean": self.mean_,
                  "var": self.var_, "trace": p.trace}
        if p.pixel is not None:
            arrays["pixel"] = p.pixel
            arrays["classes"] = p.classes
        else:
            arrays["class_coupling"] = p.class_coupling
        if self.feature_names_in_ is not None:
            arrays["feature_names"] = self.feature_names_in_
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict) -> Genomap:
        """The fitted Genomap that :meth:`to_state` described.

        Raises
        ------
        ValueError
            ``meta`` is not a Genomap state.

        Examples
        --------
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> meta, arrays = Genomap(8, 8).fit(X).to_state()
        >>> copy = Genomap.from_state(meta, arrays)
        >>> bool((copy.transform(X) == Genomap(8, 8).fit(X).transform(X)).all())
        True
        """
        if meta.get("format") != _FORMAT:
            raise ValueError(f"not a Genomap state (format {meta.get('format')!r})")
        params = meta["params"]
        obj = cls(**{**params, "dtype": np.dtype(params["dtype"])})
        placement = Placement(
            rows=params["rows"], cols=params["cols"], metric=params["grid_metric"],
            epsilon=params["epsilon"], pixel=arrays.get("pixel"), classes=arrays.get("classes"),
            class_coupling=arrays.get("class_coupling"), objective=meta["objective"],
            n_iter=meta["n_iter"], converged=meta["converged"], trace=arrays["trace"],
            euclidean_term=meta["euclidean_term"],
        )
        obj._set_fitted(meta["n_genes_in"], arrays["genes"], placement, arrays["constant"],
                        arrays["mean"], arrays["var"], meta.get("n_cells", 0),
                        arrays.get("feature_names"))
        return obj

    def save(self, path) -> None:
        """Writes the parameters and the fitted placement to ``path`` (.npz), atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write; an interrupted write never leaves a partial file there.

        Raises
        ------
        NotFittedError
            Before ``fit``.

        Examples
        --------
        >>> import os, tempfile
        >>> from genomap_fast import Genomap
        >>> from genomap_fast.datasets import synthetic_counts
        >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
        >>> gm = Genomap(8, 8).fit(X)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     gm.save(os.path.join(tmp, "gm.npz"))
        ...     loaded = Genomap.load(os.path.join(tmp, "gm.npz"))
        >>> bool((loaded.placement_ == gm.placement_).all())
        True
        """
        meta, arrays = self.to_state()
        arrays = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path) -> Genomap:
        """Reads a Genomap written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`.

        Returns
        -------
        Genomap
            The fitted estimator.

        Raises
        ------
        ValueError
            The file is missing, truncated, altered or not a Genomap file (the message names
            it).
        """
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            meta = json.loads(bytes(data.pop("meta")).decode())
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                struct.error, UnicodeDecodeError, TypeError, NotImplementedError) as err:
            # a truncated or altered file fails anywhere in zipfile, zlib or numpy's npy reader
            raise ValueError(f"{path} is not a readable Genomap file "
                             f"({type(err).__name__}: {err})") from err
        try:
            return cls.from_state(meta, data)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
            raise ValueError(f"{path} is not a Genomap file "
                             f"({type(err).__name__}: {err})") from err

    def __repr__(self) -> str:
        solver = "" if self.solver == "exact" else f", solver={self.solver!r}"
        return (f"Genomap(rows={self.rows}, cols={self.cols}, grid_metric={self.grid_metric!r}, "
                f"epsilon={self.epsilon}{solver})")

