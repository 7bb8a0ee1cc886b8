"""The scikit-learn-style estimator: fit learns the gene placement, transform rasterises cells."""
from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib

import numpy as np

from ._atomic import atomic_path
from ._memory import check_fit_memory
from ._source import all_finite, as_source, check_block
from ._validate import (
    NotFittedError,
    check_grid_shape,
    default_threads,
)
from .backends import resolve_device
from .interaction import default_chunk_rows, gene_moments, interaction_matrix
from .placement import (
    FFT_MIN_PIXELS,
    GRID_METRICS,
    Placement,
    check_solver,
    make_grid,
    solve_placement,
)
from .raster import LAYOUTS, image_shape, rasterize

_FORMAT = "genomap_fast.Genomap/1"


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _gpu_module():
    from . import _gpu  # only with device="cuda": never imports cupy/torch by itself

    return _gpu


class Genomap:
    """Genomap construction as an estimator.

    Parameters
    ----------
    rows, cols : grid shape; a genomap has ``rows * cols`` pixels.
    grid_metric : "radial" (the reference's cost: distance from the centre only) or
        "euclidean" (true pixel-to-pixel distance).
    epsilon : 0 for exact GW steps (the reference default), > 0 for entropic steps.
    max_iter : cap on GW iterations (the reference's ``num_iter``).
    dtype : dtype of the images ``transform`` returns (float32 by default).
    layout : "nchw" -> ``(n, 1, rows, cols)`` (torch), "nhwc" -> ``(n, rows, cols, 1)`` (reference).
    select_genes : None (more genes than pixels is an error) or "variance" (keep the
        ``rows * cols`` genes of highest variance, as the reference's task functions do).
    refine_rounds : rounds of the within-ring tie-breaking (radial metric), 0 to disable.
    multilevel : euclidean metric only: solve on 2x2-pixel tiles first, then on pixels (another
        fixed point of the same iteration, sooner on mid-size grids); see
        :func:`genomap_fast.solve_placement`.
    num_threads : threads for the C++ kernels and BLAS (default: all available cores).
    device : "cpu", "cuda" (the interaction statistics on the GPU, host arrays streamed to it;
        the GW placement stays on the CPU) or "auto" (cuda when :func:`genomap_fast.backends`
        has it). Device arrays (cupy, CUDA torch) given to ``transform`` are rasterised on the
        GPU and give device arrays back; host arrays are rasterised on the CPU, which beats the
        round trip through the device (1M x 1,089 on an H200 node: 0.35 s vs 1.8 s).
    chunk_size : cells per chunk when streaming the interaction statistics.
    progress : show a progress bar during transform of many cells.
    standardize : transform per-gene z-scores (the fit's mean and standard deviation, ddof=1,
        as the reference's task functions), computed on the fly, never as a standardised copy.
    solver : "exact" (default: the reference's fixed point) or "anneal" (aims at the lowest GW
        objective: never worse than the exact fixed point, one gene per pixel; needs
        ``epsilon=0``); see :func:`genomap_fast.placement.solve_anneal`.
    seed, restarts : "anneal" only: the annealing seed (same seed, same placement, whatever
        the thread count) and the number of independent runs (the best one is kept).

    Attributes after ``fit``
    ------------------------
    genes_ : (n_placed,) int64, columns of X that were placed (all of them unless selected)
    placement_ : (n_genes_in,) int64, flat pixel of each input gene (reference order: image
        row ``p % rows``, column ``p // rows``), -1 for genes not placed (exact mode)
    coupling_ : (n_placed, n_placed) float64 gene x used-pixel coupling (the reference's T)
    objective_, n_iter_, converged_ : GW objective, iterations, whether the iteration settled
    constant_genes_ : (n_placed,) bool, placed genes with zero variance (correlation 0 with all
        others), aligned with ``genes_``
    mean_, var_ : (n_placed,) float64 per-gene mean and population variance, aligned with ``genes_``
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
        max_iter = _check_int(max_iter, "max_iter", 1)
        refine_rounds = _check_int(refine_rounds, "refine_rounds", 0)
        if num_threads is not None:
            default_threads(num_threads)  # ValueError naming num_threads
        if chunk_size is not None:
            chunk_size = _check_int(chunk_size, "chunk_size", 1)
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
        if multilevel and grid_metric != "euclidean":
            raise ValueError("multilevel placement needs grid_metric='euclidean'")
        self.multilevel = bool(multilevel)
        check_solver(solver, self.epsilon, self.multilevel, seed, restarts)
        self.solver = solver
        self.seed = int(seed)
        self.restarts = int(restarts)
        self.device = device
        self.device_ = resolve_device(device)  # "cpu" or "cuda"; a one-line error when absent

    @property
    def n_pixels(self) -> int:
        return self.rows * self.cols

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample: int | None = None, random_state=None,
            gene_names=None, layer: str | None = None) -> Genomap:
        """Learns the placement from X (cells x genes), streamed in row blocks of ``chunk_size``.

        Parameters
        ----------
        X : array-like, AnnData or path
            ndarray, scipy.sparse, DataFrame, AnnData (in memory or backed; ``layer=`` or X),
            a path to an ``.h5ad`` file (read backed), a zarr/h5py array or a dask array (the
            statistics are then a dask reduction, see :mod:`genomap_fast.distributed`).
        sample : int, optional
            Fit on a reproducible random subset of that many cells (``random_state``).
        gene_names : sequence of str, optional
            (genes,) names (by default AnnData ``var_names`` or DataFrame columns), kept as
            ``feature_names_in_`` so the placement can be read by name (:meth:`pixel_of`).
        """
        if self.device_ == "cuda" and _gpu_module().is_device_array(X):
            return self._fit_device(X, gene_names)
        src = as_source(X, layer, gene_names)
        gene_names = src.var_names
        if sample is not None:
            if not (isinstance(sample, (int, np.integer)) and 2 <= sample):
                raise ValueError(f"sample must be an integer >= 2, got {sample!r}")
            if sample < src.shape[0]:
                rng = np.random.default_rng(random_state)
                rows = np.sort(rng.choice(src.shape[0], int(sample), replace=False))
                src = as_source(src.take(rows))
        n_cells, n_genes = src.shape
        if n_cells < 2:
            raise ValueError(f"fit needs at least 2 cells to correlate genes, got {n_cells}")
        nt = default_threads(self.num_threads)
        data = src.data if src.is_dask else src
        if src.is_dask:
            from . import distributed

            moments_of, stats_of = distributed.gene_moments, distributed.interaction_stats
        else:
            moments_of, stats_of = gene_moments, interaction_matrix
            if self.device_ == "cuda":
                stats_of = _gpu_module().interaction_matrix
        genes = None
        if n_genes > self.n_pixels:
            if self.select_genes != "variance":
                raise ValueError(
                    f"X has {n_genes} genes but a {self.rows}x{self.cols} genomap has only "
                    f"{self.n_pixels} pixels; pass select_genes='variance' to keep the "
                    f"{self.n_pixels} most variable genes, or use a larger grid"
                )
            # a cheap first pass picks the genes; only they are correlated in the second
            _, var_all = moments_of(data, self.chunk_size)
            genes = np.sort(np.argsort(-var_all, kind="stable")[: self.n_pixels])
        n_placed = n_genes if genes is None else genes.size
        n_classes = (make_grid(self.rows, self.cols, n_placed, "radial").n_classes
                     if self.grid_metric == "radial" else n_placed)
        check_fit_memory(n_genes, n_placed, n_classes,
                         self.chunk_size or default_chunk_rows(n_placed),
                         f"fitting a {self.rows}x{self.cols} genomap of {n_placed} genes",
                         dense_grid=not (self.grid_metric == "euclidean"
                                         and n_placed >= FFT_MIN_PIXELS))
        bar = self._bar(n_cells, "statistics")
        try:
            stats = stats_of(data, self.chunk_size, nt, genes, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        placement = solve_placement(
            stats.distance, self.rows, self.cols, self.grid_metric, self.epsilon, self.max_iter,
            refine_rounds=self.refine_rounds, num_threads=nt, multilevel=self.multilevel,
            solver=self.solver, seed=self.seed, restarts=self.restarts,
        )
        genes = np.arange(n_genes, dtype=np.int64) if genes is None else genes.astype(np.int64)
        self._set_fitted(n_genes, genes, placement, stats.constant, stats.mean, stats.var,
                         stats.n_cells, gene_names)
        return self

    def _fit_device(self, X, gene_names=None) -> Genomap:
        """fit for a device matrix (cupy array, CUDA torch tensor): statistics on the device."""
        gpu = _gpu_module()
        n_cells, n_genes = X.shape
        if n_cells < 2:
            raise ValueError(f"fit needs at least 2 cells to correlate genes, got {n_cells}")
        genes = None
        if n_genes > self.n_pixels:
            if self.select_genes != "variance":
                raise ValueError(
                    f"X has {n_genes} genes but a {self.rows}x{self.cols} genomap has only "
                    f"{self.n_pixels} pixels; pass select_genes='variance'")
            var_all = gpu.column_variance(X)
            genes = np.sort(np.argsort(-var_all, kind="stable")[: self.n_pixels])
        nt = default_threads(self.num_threads)
        stats = gpu.interaction_matrix(X, self.chunk_size, nt, genes)
        placement = solve_placement(
            stats.distance, self.rows, self.cols, self.grid_metric, self.epsilon, self.max_iter,
            refine_rounds=self.refine_rounds, num_threads=nt, multilevel=self.multilevel,
            solver=self.solver, seed=self.seed, restarts=self.restarts,
        )
        genes = np.arange(n_genes, dtype=np.int64) if genes is None else genes.astype(np.int64)
        self._set_fitted(n_genes, genes, placement, stats.constant, stats.mean, stats.var,
                         stats.n_cells, gene_names)
        return self

    def _bar(self, total, desc):
        if not self.progress or total <= 0:
            return None
        from ._progress import progress_bar

        return progress_bar(total=total, unit="cell", desc=desc)

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
        """(rows, cols) image positions of the named genes; -1 for genes that were not placed.
        Needs gene names at fit (``gene_names=`` or a DataFrame)."""
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
        self._check_fitted()
        return self.placement_obj_.coupling()

    # ------------------------------------------------------------ transform
    def transform(self, X, batch_size: int | None = None, layout: str | None = None,
                  out: np.ndarray | None = None, layer: str | None = None):
        """Genomaps of the cells of X: ``(n, 1, rows, cols)`` (nchw) or ``(n, rows, cols, 1)``.

        Any cells with the genes seen in ``fit`` (same columns) can be transformed; X is any
        input :meth:`fit` accepts, read in row blocks of ``batch_size`` cells. A dask array
        gives a lazy dask array of images (one image block per row block).
        """
        self._check_fitted()
        layout = layout or self.layout
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if self.device_ == "cuda" and _gpu_module().is_device_array(X):
            shape = image_shape(X.shape[0], self.rows, self.cols, layout)
            return _gpu_module().transform_device(self, X, shape)
        src = self._check_input(X, layer)
        if src.is_dask:
            from .distributed import transform_blocks

            return transform_blocks(self, src.data, layout, batch_size)
        shape = image_shape(src.shape[0], self.rows, self.cols, layout)
        if out is None:
            out = np.empty(shape, dtype=self.dtype)
        elif out.shape != shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {self.dtype} array of shape {shape}")
        nt = default_threads(self.num_threads)
        bar = self._bar(src.shape[0], "genomaps")
        try:
            for start, block in src.blocks(batch_size or self._batch_rows(), check=False):
                self.rasterize_block(block, out[start : start + block.shape[0]], layout, nt, start)
                if bar is not None:
                    bar.update(block.shape[0])
        finally:
            if bar is not None:
                bar.close()
        return out

    def _check_input(self, X, layer=None):
        src = as_source(X, layer)
        if src.shape[1] != self.n_genes_in_:
            raise ValueError(
                f"X has {src.shape[1]} genes but this Genomap was fitted on {self.n_genes_in_}"
            )
        return src

    def _batch_rows(self) -> int:
        return default_chunk_rows(max(self.n_genes_in_, self.n_pixels))

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
        """Rasterises one in-memory block (float ndarray or CSR from :func:`as_source`, all
        input genes; its first row is cell ``start`` of the input, for error messages) into
        ``out`` (block rows, image shape); with ``standardize``, per-gene z-scores with the
        fit's ``mean_`` and ``scale_``, for this block only."""
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
        """Rasterises every cell of X into a chunked, compressed zarr store at ``path``, batch
        by batch, written atomically (see :mod:`genomap_fast.store`). X is any input
        :meth:`fit` accepts; ``obs_names``/``var_names`` default to the AnnData's. A dask array
        is written block by block by the dask workers (``to_zarr``)."""
        from .store import write_zarr

        self._check_fitted()
        src = self._check_input(X, layer)
        obs_names = src.obs_names if obs_names is None else obs_names
        if var_names is None:
            var_names = src.var_names if src.var_names is not None else self.feature_names_in_
        bar = self._bar(src.shape[0], "genomaps -> zarr")
        try:
            return write_zarr(path, self, src, obs_names, var_names, batch_size, bar)
        finally:
            if bar is not None:
                bar.close()

    def fit_transform(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X).transform(X, **kwargs)

    # --------------------------------------------------------- persistence
    def get_params(self) -> dict:
        """The constructor's parameters (scikit-learn style)."""
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
        """A new, unfitted Genomap with these parameters (``overrides`` replace some)."""
        params = {**self.get_params(), **overrides}
        return type(self)(**{**params, "dtype": np.dtype(params["dtype"])})

    def to_state(self) -> tuple[dict, dict]:
        """(meta, arrays): everything needed to rebuild this fitted Genomap (JSON-able meta,
        numpy arrays)."""
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
        """Inverse of :meth:`to_state`."""
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
        """Writes parameters and the fitted placement to ``path`` (.npz), atomically."""
        meta, arrays = self.to_state()
        arrays = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path) -> Genomap:
        """Reads a Genomap written by ``save``."""
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

