"""Rasterisation: cells x genes -> genomap images (C++ gather kernel or a BLAS product)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _core
from ._blas import single_threaded_blas
from ._source import all_finite, check_block
from .interaction import default_chunk_rows
from .placement import Placement, image_offsets

LAYOUTS = ("nchw", "nhwc")


def image_shape(n_cells: int, rows: int, cols: int, layout: str) -> tuple[int, ...]:
    if layout == "nchw":
        return (n_cells, 1, rows, cols)
    if layout == "nhwc":
        return (n_cells, rows, cols, 1)
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def _overflow(block, cell, dtype):
    """Raises for finite data whose scaled values do not fit the image dtype."""
    top = abs(block.data).max() if sp.issparse(block) else np.abs(block).max()
    raise ValueError(
        f"data values up to {top:.3g} overflow the {np.dtype(dtype).name} images (first at "
        f"cell {cell}); rescale the data (e.g. log1p) or use dtype=np.float64"
    )


def rasterize(
    X,
    placement: Placement,
    genes: np.ndarray,
    dtype=np.float32,
    layout: str = "nchw",
    batch_size: int | None = None,
    num_threads: int = 1,
    out: np.ndarray | None = None,
    progress=None,
    row_offset: int = 0,
) -> np.ndarray:
    """Images of the cells of X (dense float ndarray or CSR, cells x all genes).

    ``genes`` are the columns of X that were placed, in placement order. Values are
    ``X[:, g] * rows * cols / n_placed`` at each gene's pixel (the reference's ``T * rowNum *
    colNum`` scaling), zero elsewhere. NaN/inf raise ValueError naming the cell (counted from
    ``row_offset``), gene and block; the kernels check values as they read them.
    """
    rows, cols = placement.rows, placement.cols
    n_cells = X.shape[0]
    shape = image_shape(n_cells, rows, cols, layout)
    dtype = np.dtype(dtype)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {shape}")
    flat = out.reshape(n_cells, rows * cols)
    n_placed = placement.n_genes
    scale = rows * cols / n_placed
    step = batch_size or max(1, default_chunk_rows(rows * cols))
    if placement.pixel is not None:
        dest = np.full(X.shape[1], -1, dtype=np.int64)
        dest[genes] = image_offsets(placement.pixel, rows, cols)
        for start in range(0, n_cells, step):
            block = X[start : start + step]
            target = flat[start : start + block.shape[0]]
            if sp.issparse(block):
                bad = _core.rasterize_csr(block.indptr, block.indices, block.data, dest, scale,
                                          target, num_threads)
            else:
                block = np.ascontiguousarray(block)
                bad = _core.rasterize_dense(block, dest, scale, target, num_threads)
            if bad >= 0:  # raises with the first bad value and the block's rows
                check_block(block, row_offset + start, "data")
                _overflow(block, row_offset + start + bad, dtype)
            if progress is not None:
                progress.update(block.shape[0])
        return out
    # Dense coupling: X_used @ T. T spreads a class's mass evenly over its pixels, so the
    # product is taken per class (cells x classes) and expanded.
    grid = placement.grid()
    cls = grid.class_of_pixel
    inv_cap = 1.0 / grid.capacity[cls]
    offsets = image_offsets(np.arange(n_placed), rows, cols)
    Tc = placement.class_coupling
    for start in range(0, n_cells, step):
        block = X[start : start + step][:, genes]
        if not sp.issparse(block) and not all_finite(block):  # raises, naming cell and gene
            check_block(X[start : start + step], row_offset + start, "data", genes)
        with single_threaded_blas():  # thread-count-independent sums
            proj = np.asarray(block @ Tc)  # (cells, classes)
        img = proj[:, cls] * (inv_cap * rows * cols)
        target = flat[start : start + block.shape[0]]
        target[...] = 0
        target[:, offsets] = img
        if not all_finite(target):
            _overflow(block, row_offset + start + int(np.argmin(np.isfinite(target).all(1))),
                      dtype)
        if progress is not None:
            progress.update(block.shape[0])
    return out
