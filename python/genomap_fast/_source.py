"""Row-block access to a cells x genes matrix wherever it lives: in memory (ndarray, scipy.sparse,
DataFrame, AnnData), on disk (backed ``.h5ad``, zarr, h5py) or in a dask array.

Every pass over the cells (interaction statistics, gene moments, rasterisation) reads row blocks
through a :class:`RowSource`, so the whole matrix is never materialised unless it already is.
"""
from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from ._validate import as_matrix


class RowSource:
    """A (cells, genes) matrix read in row blocks.

    ``block(start, stop, columns=None)`` -> float ndarray (C order) or canonical CSR matrix of
    rows ``start:stop`` (optionally only ``columns``), checked for NaN/inf with its row range.
    ``obs_names`` / ``var_names``: names when the input carries them (AnnData, DataFrame, .h5ad
    file), else None; anything with ``len`` and ``[lo:hi]`` slices (a file's names are read
    lazily, chunk by chunk: :class:`genomap_fast.h5ad.H5adNames`).
    """

    def __init__(self, data, name="data", obs_names=None, var_names=None, lazy=False):
        self.data = data
        self.name = name
        self.obs_names = obs_names
        self.var_names = var_names
        self.lazy = lazy  # True when blocks are read from disk or computed (dask)
        shape = tuple(int(s) for s in data.shape)
        if len(shape) != 2:
            raise ValueError(f"{name} must be 2-D (cells x genes), got shape {shape}")
        if shape[0] == 0:
            raise ValueError(f"{name} has no cells (shape {shape})")
        if shape[1] == 0:
            raise ValueError(f"{name} has no genes (shape {shape})")
        self.shape = shape
        dtype = np.dtype(getattr(data, "dtype", np.float64))
        if dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {dtype}; expected a real numeric dtype")

    @property
    def is_dask(self) -> bool:
        return _is_dask(self.data)

    def block(self, start: int, stop: int, columns=None, check: bool = True):
        if sp.issparse(self.data) and self.data.format == "csr":
            raw = _csr_rows(self.data, start, stop)
        else:
            raw = self.data[start:stop]
        if _is_dask(raw):
            raw = raw.compute()
        return _clean_block(raw, start, self.name, columns, check)

    def take(self, rows: np.ndarray):
        """The given rows (sorted int array) as an in-memory float ndarray or CSR matrix."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.lazy:
            return _clean_block(self.data[rows], 0, self.name)
        parts = []  # sorted fancy indexing, read in row blocks (h5py needs increasing indices)
        for lo in range(0, rows.size, 65536):
            r = rows[lo : lo + 65536]
            if _is_dask(self.data):
                raw = self.data[r].compute()
            elif hasattr(self.data, "oindex"):  # zarr
                raw = self.data.oindex[r]
            else:
                raw = self.data[r]
            parts.append(_clean_block(raw, int(r[0]), self.name))
        if sp.issparse(parts[0]):
            return sp.vstack(parts, format="csr")
        return np.concatenate(parts)

    def blocks(self, step: int, columns=None, check: bool = True):
        """Yields (start, block) over consecutive row blocks of ``step`` rows (``check=False``
        leaves the NaN/inf check to the caller)."""
        for start in range(0, self.shape[0], step):
            yield start, self.block(start, min(start + step, self.shape[0]), columns, check)


def _csr_rows(X, start, stop):
    """Rows start:stop of an in-memory CSR matrix as views of its arrays (scipy's slicing
    copies them)."""
    lo, hi = int(X.indptr[start]), int(X.indptr[stop])
    return sp.csr_matrix((X.data[lo:hi], X.indices[lo:hi], X.indptr[start : stop + 1] - lo),
                         shape=(stop - start, X.shape[1]), copy=False)


def _is_dask(x) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "compute")


def _clean_block(raw, start: int, name: str, columns=None, check: bool = True):
    """A float ndarray or canonical CSR block, NaN/inf reported with the block's row range."""
    if hasattr(raw, "to_memory"):  # anndata backed sparse slice
        raw = raw.to_memory()
    if sp.issparse(raw):
        block = raw.tocsr()
        if columns is not None:
            block = block[:, columns]
        if block.dtype.kind != "f" or block.dtype.itemsize not in (4, 8):
            block = block.astype(np.float64)
        if not block.has_canonical_format:
            block = block.copy()
            block.sum_duplicates()
        block = sp.csr_matrix(block)
        if check and not _all_finite(block.data):
            p = int(np.flatnonzero(~np.isfinite(block.data))[0])
            row = int(np.searchsorted(block.indptr, p, side="right") - 1)
            gene = int(block.indices[p]) if columns is None else int(np.asarray(columns)[
                block.indices[p]])
            raise ValueError(_nan_message(name, start + row, gene, start, block.shape[0]))
        return block
    block = np.asarray(raw)
    if block.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {block.dtype}; expected a real numeric dtype")
    if block.ndim != 2:
        raise ValueError(f"{name} must be 2-D (cells x genes), got a {block.ndim}-D block")
    if columns is not None:
        block = block[:, columns]
    if block.dtype.kind != "f" or block.dtype.itemsize not in (4, 8):
        block = block.astype(np.float64)
    block = np.ascontiguousarray(block)
    if check and not _all_finite(block):
        r, c = np.argwhere(~np.isfinite(block))[0]
        gene = int(c) if columns is None else int(np.asarray(columns)[c])
        raise ValueError(_nan_message(name, start + int(r), gene, start, block.shape[0]))
    return block


def _all_finite(a) -> bool:
    # a sum is NaN/inf iff some value is (or, rarely, it overflowed): one read, no mask array
    return bool(np.isfinite(np.sum(a))) or bool(np.isfinite(a).all())


def _nan_message(name, cell, gene, start, rows):
    return (f"{name} contains NaN or inf (first at cell {cell}, gene {gene}; "
            f"in rows {start}-{start + rows - 1})")


def as_source(X, layer: str | None = None, name: str = "data") -> RowSource:
    """Wraps any supported input as a :class:`RowSource` without reading it whole.

    Accepted: ndarray, scipy.sparse (CSC/COO are converted to CSR in memory), pandas DataFrame,
    AnnData in memory or backed (``X`` or ``layers[layer]``; ``var_names`` and ``obs_names``
    kept), a path to an ``.h5ad`` file (read in row blocks with h5py, names by chunk; see
    :mod:`genomap_fast.h5ad`), zarr and h5py
    arrays, and dask arrays (dense or with scipy.sparse chunks).
    """
    if isinstance(X, RowSource):
        return X
    if isinstance(X, (str, os.PathLike)):
        path = os.fspath(X)
        if not path.endswith(".h5ad"):
            raise ValueError(f"{path}: only .h5ad paths are read directly; use "
                             f"genomap_fast.io.read_table for other formats")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file: {path}")
        from .h5ad import H5adMatrix, UnsupportedH5ad

        try:  # streamed with h5py: rows and names by block, obs never read whole
            X, layer = H5adMatrix(path, layer), None
        except UnsupportedH5ad:  # an encoding only anndata reads
            import anndata

            try:
                X = anndata.read_h5ad(path, backed="r")
            except Exception as err:
                raise ValueError(f"{path} is not a readable .h5ad file: {err}") from err
    if getattr(X, "is_h5ad_matrix", False):  # genomap_fast.h5ad.H5adMatrix
        if layer is not None:
            raise ValueError("layer= is given to genomap_fast.h5ad.open_h5ad for a file")
        return RowSource(X, name, X.obs_names, X.var_names, lazy=True)
    if hasattr(X, "obs") and hasattr(X, "var") and hasattr(X, "layers"):  # AnnData
        if layer is not None:
            if layer not in X.layers:
                raise ValueError(f"AnnData has no layer {layer!r} (layers: {list(X.layers)})")
            data = X.layers[layer]
        else:
            data = X.X
        if data is None:
            raise ValueError("AnnData has no X; pass layer=")
        obs, var = X.obs_names, X.var_names  # pandas Index: converted block by block when written
        if getattr(X, "isbacked", False) and layer is None:
            return RowSource(data, name, obs, var, lazy=True)
        # in memory: blocks are checked (with their row range) as they are read
        return RowSource(as_matrix(data, name, check_finite=False), name, obs, var)
    if layer is not None:
        raise ValueError("layer= is only meaningful for AnnData input")
    if _is_dask(X) or _is_lazy_array(X):
        return RowSource(X, name, lazy=True)
    var = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # DataFrame
        var = np.asarray(list(map(str, X.columns)))
        obs = np.asarray(list(map(str, X.index)))
        return RowSource(as_matrix(X, name, check_finite=False), name, obs, var)
    return RowSource(as_matrix(X, name, check_finite=False), name)


def _is_lazy_array(X) -> bool:
    mod = type(X).__module__
    return mod.startswith(("zarr.", "h5py.", "anndata.")) and hasattr(X, "shape")
