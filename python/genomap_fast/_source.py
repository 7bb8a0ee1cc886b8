"""The one input path: every entry point (estimator, drop-in functions, CNN tasks, ``tl``, CLI,
dask, stores) reads its cells x genes matrix through :func:`as_source`.

A :class:`RowSource` gives row blocks of the matrix wherever it lives: in memory (ndarray,
scipy.sparse, DataFrame, AnnData), on disk (backed ``.h5ad``, zarr, h5py) or in a dask array, so
the whole matrix is never materialised unless it already is. Shape and dtype are checked once,
when the source is made; values (NaN/inf) are checked block by block as they are read, with one
message naming the cell, the gene and the block (:func:`check_block`).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp


class RowSource:
    """A (cells, genes) matrix and its names: the package's one "matrix plus names" type, made
    by ``genomap_fast._source.as_source`` for every entry point and returned by
    :func:`genomap_fast.io.read_table` (``genomap_fast.io.Table`` is this class).

    ``data`` (also ``X``): the matrix where it lives (in memory, on disk or a dask array).
    ``block(start, stop, columns=None)`` -> float ndarray (C order) or canonical CSR matrix of
    rows ``start:stop`` (optionally only ``columns``), checked for NaN/inf with its row range.
    ``obs_names`` / ``var_names``: names when the input carries them (AnnData, DataFrame, .h5ad
    file, ``gene_names=``), else None; anything with ``len`` and ``[lo:hi]`` slices (a file's
    names are read lazily, chunk by chunk: :class:`genomap_fast.h5ad.H5adNames`). ``lazy``:
    blocks are read from disk or computed (dask).
    """

    def __init__(self, data, name="data", obs_names=None, var_names=None, lazy=False):
        self.data = data
        self.name = name
        self.lazy = lazy
        shape = tuple(int(s) for s in data.shape)
        check_matrix(shape, getattr(data, "dtype", np.float64), name)
        if shape[0] == 0:
            raise ValueError(f"{name} has no cells (shape {shape})")
        if shape[1] == 0:
            raise ValueError(f"{name} has no genes (shape {shape})")
        self.shape = shape
        self.obs_names = checked_names(obs_names, shape[0], "cell names", name)
        self.var_names = checked_names(var_names, shape[1], "gene names", name)

    @property
    def X(self):
        """The matrix (``data``), as AnnData calls it."""
        return self.data

    @property
    def is_dask(self) -> bool:
        return is_dask(self.data)

    def block(self, start: int, stop: int, columns=None, check: bool = True,
              buffers: dict | None = None):
        """Rows start:stop, converted and checked. ``buffers`` (a dict): an ``.h5ad`` file's
        values are read into reused arrays (see ``H5adMatrix.rows``): the block is only valid
        until the next call with the same dict."""
        if sp.issparse(self.data) and self.data.format == "csr":
            raw = _csr_rows(self.data, start, stop)
        elif getattr(self.data, "is_h5ad_matrix", False):  # its errors name the file already
            raw = self.data.rows(start, stop, buffers) if buffers is not None else \
                self.data[start:stop]
        elif self.lazy:
            try:  # a damaged file fails anywhere in zarr, h5py or anndata
                raw = self.data[start:stop]
                if is_dask(raw):
                    raw = raw.compute()
            except (ValueError, TypeError, OSError, KeyError, IndexError, RuntimeError) as err:
                raise ValueError(f"{self.name}: cannot read rows {start}-{stop - 1} "
                                 f"({type(err).__name__}: {err})") from err
        else:
            raw = self.data[start:stop]
        return check_block(raw, start, self.name, columns, check)

    def take(self, rows: np.ndarray):
        """The given rows (sorted int array) as an in-memory float ndarray or CSR matrix."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.lazy:
            return check_block(self.data[rows], 0, self.name)
        parts = []  # sorted fancy indexing, read in row blocks (h5py needs increasing indices)
        for lo in range(0, rows.size, 65536):
            r = rows[lo : lo + 65536]
            if is_dask(self.data):
                raw = self.data[r].compute()
            elif hasattr(self.data, "oindex"):  # zarr
                raw = self.data.oindex[r]
            else:
                raw = self.data[r]
            parts.append(check_block(raw, int(r[0]), self.name))
        if sp.issparse(parts[0]):
            return sp.vstack(parts, format="csr")
        return np.concatenate(parts)

    def to_memory(self):
        """The whole matrix in memory: a float ndarray or canonical CSR matrix, checked."""
        return self.block(0, self.shape[0])

    def blocks(self, step: int, columns=None, check: bool = True, prefetch: bool = False,
               reuse: bool = False):
        """Yields (start, block) over consecutive row blocks of ``step`` rows (``check=False``
        leaves the NaN/inf check to the caller). ``prefetch``: a source on disk reads the next
        block in a background thread while the caller works on this one (the kernels release
        the GIL); blocks come in the same order either way. ``reuse``: an ``.h5ad`` file's
        blocks are read into two alternating sets of buffers, so a block is only valid until
        the caller asks for the next one (for passes that drop each block: peak memory flat)."""
        starts = range(0, self.shape[0], step)
        sets = [{}, {}] if reuse else [None, None]

        def read(k):
            start = starts[k]
            return self.block(start, min(start + step, self.shape[0]), columns, check,
                              sets[k % 2])

        if not (prefetch and self.lazy and not self.is_dask and len(starts) > 1):
            for k, start in enumerate(starts):
                yield start, read(k)
            return
        with ThreadPoolExecutor(1) as reader:  # closing the generator waits for the read
            ahead = reader.submit(read, 0)
            for k, start in enumerate(starts):
                block = ahead.result()
                if k + 1 < len(starts):  # into the other set: the caller is done with it
                    ahead = reader.submit(read, k + 1)
                yield start, block


def as_source(X, layer: str | None = None, gene_names=None, name: str = "data",
              cell_names=None) -> RowSource:
    """Wraps any supported input as a :class:`RowSource` without reading it whole.

    Accepted: ndarray (any real dtype, any memory layout), scipy.sparse (CSC/COO are converted
    to CSR in memory), pandas DataFrame, AnnData in memory or backed (``X`` or
    ``layers[layer]``; ``var_names`` and ``obs_names`` kept), a path to an ``.h5ad`` file (read
    in row blocks with h5py, names by chunk, ``obs`` never read whole; see
    :mod:`genomap_fast.h5ad`), zarr and h5py arrays, and dask arrays (dense or with
    scipy.sparse chunks). ``gene_names`` (genes,) and ``cell_names`` (cells,) override the
    input's names.
    """
    if isinstance(X, RowSource):
        src = X
    elif isinstance(X, (str, os.PathLike)):
        src = _from_path(os.fspath(X), layer, name)
    elif getattr(X, "is_h5ad_matrix", False):  # genomap_fast.h5ad.H5adMatrix
        src = _from_h5ad_matrix(X, layer, name)
    elif _is_anndata(X):
        src = _from_anndata(X, layer, name)
    else:
        if layer is not None:
            raise ValueError("layer= is only meaningful for AnnData input")
        src = _from_array(X, name)
    if gene_names is not None:
        src.var_names = checked_names(gene_names, src.shape[1], "gene names", name)
    if cell_names is not None:
        src.obs_names = checked_names(cell_names, src.shape[0], "cell names", name)
    return src


def as_matrix(X, name: str = "data", layer: str | None = None):
    """X (any input :func:`as_source` accepts) in memory: a float ndarray or canonical CSR
    matrix (sparse input is never densified), NaN/inf refused."""
    return as_source(X, layer, name=name).to_memory()


def check_matrix(shape, dtype, name: str = "data", what: str = "") -> None:
    """The one dtype and shape check of a matrix (a source, or ``what="block"`` one of its row
    blocks): a real numeric dtype (TypeError), 2-D (ValueError)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {dtype}; expected a real numeric dtype")
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (cells x genes), got a {len(shape)}-D "
                         f"{what or 'array'} of shape {tuple(shape)}")


def check_block(raw, start: int, name: str = "data", columns=None, check: bool = True):
    """One row block as a float ndarray (float32/float64, C order) or canonical CSR matrix;
    NaN/inf raise ValueError naming the cell (counted from ``start``), the gene and the block.
    ``columns`` keeps only those genes (gene numbers in messages stay the input's)."""
    if hasattr(raw, "to_memory"):  # anndata backed sparse slice
        raw = raw.to_memory()
    if not sp.issparse(raw):
        raw = np.asarray(raw)
    check_matrix(raw.shape, raw.dtype, name, "block")
    if sp.issparse(raw):
        check_sparse_structure(raw, name, start)
        block = raw.tocsr()
        if columns is not None:
            block = block[:, columns]
        if block.dtype.kind != "f" or block.dtype.itemsize not in (4, 8):
            block = block.astype(np.float64)
        if not block.has_canonical_format:
            block = block.copy()
            block.sum_duplicates()
        block = sp.csr_matrix(block)
        if check and not all_finite(block.data):
            p = int(np.flatnonzero(~np.isfinite(block.data))[0])
            row = int(np.searchsorted(block.indptr, p, side="right") - 1)
            gene = int(block.indices[p])
            _raise_not_finite(name, start, block.shape[0], row, gene, columns)
        return block
    block = raw
    if columns is not None:
        block = block[:, columns]
    if block.dtype.kind != "f" or block.dtype.itemsize not in (4, 8):
        block = block.astype(np.float64)
    block = np.ascontiguousarray(block)
    if check and not all_finite(block):
        r, c = np.argwhere(~np.isfinite(block))[0]
        _raise_not_finite(name, start, block.shape[0], int(r), int(c), columns)
    return block


def check_sparse_structure(X, name: str = "data", start: int = 0) -> None:
    """Refuses a scipy.sparse matrix whose index arrays do not describe a matrix of its shape.

    scipy's compiled routines (format conversion, sorting, slicing) trust ``indptr`` and
    ``indices`` and read or write out of bounds when they are wrong, so the structure is checked
    here, with numpy, before any of them runs: CSR/CSC ``indptr`` of length major + 1, starting
    at 0, non-decreasing, ending within ``indices`` and ``data``; every stored index in
    ``[0, minor)``; COO coordinates in range and of equal lengths. Raises ValueError naming
    ``name`` (and, for a block, its first row ``start``). O(nnz), no copies.
    """
    fmt = X.format
    where = name if not start else f"{name} (block from row {start})"
    try:
        if fmt in ("csr", "csc", "bsr"):
            major, minor = X.shape if fmt != "csc" else X.shape[::-1]
            if fmt == "bsr":
                r, c = X.blocksize
                major, minor = major // max(r, 1), minor // max(c, 1)
            _check_compressed(np.asarray(X.indptr), np.asarray(X.indices), X.data, major, minor)
        elif fmt == "coo":
            coords = getattr(X, "coords", None) or (X.row, X.col)
            nnz = np.asarray(X.data).shape[0]
            for axis, (idx, size) in enumerate(zip(coords, X.shape)):
                idx = np.asarray(idx)
                if idx.ndim != 1 or idx.shape[0] != nnz:
                    raise ValueError(f"{idx.shape[0] if idx.ndim else 0} coordinates on axis "
                                     f"{axis} for {nnz} stored values")
                if idx.dtype.kind not in "iu":
                    raise ValueError(f"coordinates must be integers, got {idx.dtype}")
                if nnz and (int(idx.min()) < 0 or int(idx.max()) >= size):
                    raise ValueError(f"a coordinate on axis {axis} is outside [0, {size})")
    except ValueError as err:
        raise ValueError(f"{where} is a malformed sparse {fmt.upper()} matrix: {err}") from None


def _check_compressed(indptr, indices, data, major: int, minor: int,
                      stored: int | None = None) -> None:
    """The compressed structure's checks; ``stored`` (the stored values' count) when the index
    arrays are not given (only ``indptr`` is then checked)."""
    if indptr.ndim != 1 or indptr.shape[0] != major + 1:
        raise ValueError(f"indptr has {indptr.shape[0] if indptr.ndim else 0} entries, "
                         f"expected {major + 1}")
    if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
        raise ValueError("indptr and indices must be integer arrays")
    if indices.ndim != 1 or np.ndim(data) < 1:
        raise ValueError("indices and data must be 1-dimensional")
    if stored is None:
        stored = min(indices.shape[0], np.shape(data)[0])
    if int(indptr[0]) != 0:
        raise ValueError(f"indptr[0] is {int(indptr[0])}, expected 0")
    if major and int(np.diff(indptr).min()) < 0:
        raise ValueError("indptr is not non-decreasing")
    nnz = int(indptr[-1])
    if nnz > stored:
        raise ValueError(f"indptr ends at {nnz} but only {stored} values are stored")
    if nnz and indices.size:
        used = indices[:nnz]
        lo, hi = int(used.min()), int(used.max())
        if lo < 0 or hi >= minor:
            bad = lo if lo < 0 else hi
            raise ValueError(f"index {bad} is outside [0, {minor})")


def all_finite(a) -> bool:
    """True when every value of ``a`` is finite."""
    # a sum is NaN/inf iff some value is (or, rarely, it overflowed): one read, no mask array
    return bool(np.isfinite(np.sum(a))) or bool(np.isfinite(a).all())


def is_dask(x) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "compute")


def _raise_not_finite(name, start, rows, row, gene, columns):
    if columns is not None:
        gene = int(np.asarray(columns)[gene])
    raise ValueError(f"{name} contains NaN or inf (first at cell {start + row}, gene {gene}; "
                     f"in rows {start}-{start + rows - 1})")


def checked_names(names, size, what, name):
    if names is None:
        return None
    if len(names) != size:
        raise ValueError(f"{name}: {len(names)} {what} for {size} "
                         f"{'cells' if what == 'cell names' else 'genes'}")
    return names


def _csr_rows(X, start, stop):
    """Rows start:stop of an in-memory CSR matrix as views of its arrays (scipy's slicing
    copies them)."""
    lo, hi = int(X.indptr[start]), int(X.indptr[stop])
    return sp.csr_matrix((X.data[lo:hi], X.indices[lo:hi], X.indptr[start : stop + 1] - lo),
                         shape=(stop - start, X.shape[1]), copy=False)


def _is_anndata(X) -> bool:
    return hasattr(X, "obs") and hasattr(X, "var") and hasattr(X, "layers")


def _from_path(path, layer, name):
    if not path.endswith(".h5ad"):
        raise ValueError(f"{path}: only .h5ad paths are read directly; use "
                         f"genomap_fast.io.read_table for other formats")
    return read_h5ad(path, layer, backed=True, name=name)


def read_h5ad(path, layer: str | None = None, backed: bool = True,
              name: str = "data") -> RowSource:
    """The one ``.h5ad`` reader: X (or ``layers[layer]``) of the file and its names.

    ``backed``: streamed with h5py (:class:`genomap_fast.h5ad.H5adMatrix`: rows and names by
    block, ``obs`` never read whole), or, for an encoding only anndata reads, a backed AnnData;
    else read into memory by anndata. A file that cannot be read is a ValueError naming it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if backed:
        from .h5ad import H5adMatrix, UnsupportedH5ad

        try:
            return _from_h5ad_matrix(H5adMatrix(path, layer), None, name)
        except UnsupportedH5ad:  # an encoding only anndata reads
            pass
    import anndata

    try:
        adata = anndata.read_h5ad(path, backed="r" if backed else None)
    except Exception as err:  # anndata and h5py raise many kinds of errors
        raise ValueError(f"cannot read {path}: not a readable .h5ad file "
                         f"({type(err).__name__}: {err})") from err
    return _from_anndata(adata, layer, name, what=path)


def _from_h5ad_matrix(X, layer, name):
    """A :class:`genomap_fast.h5ad.H5adMatrix` (X or a layer of a file, names read lazily)."""
    if layer is not None:
        raise ValueError("layer= is given to genomap_fast.h5ad.open_h5ad for a file")
    return RowSource(X, name, X.obs_names, X.var_names, lazy=True)


def _from_anndata(adata, layer, name, what="AnnData"):
    """An AnnData's X or layer (``what`` names it in errors: "AnnData" or its file)."""
    if layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"{what} has no layer {layer!r} (layers: {list(adata.layers)})")
        data = adata.layers[layer]
    else:
        data = adata.X
    if data is None:
        raise ValueError(f"{what} has no expression matrix X; pass layer=")
    obs, var = adata.obs_names, adata.var_names  # pandas Index: converted block by block
    if getattr(adata, "isbacked", False) and layer is None:
        _check_backed_indptr(data, name)
        return RowSource(data, name, obs, var, lazy=True)
    return _from_array(data, name, obs, var)


def _check_backed_indptr(data, name):
    """A backed AnnData's sparse X: its whole ``indptr`` (cells + 1 integers) checked once.
    anndata's row slices clip a decreasing ``indptr`` silently (a row would read another's
    values, or none), so a block-by-block check cannot see every defect; the stored indices are
    checked block by block as they are read."""
    group = getattr(data, "group", None)
    if group is None or "indptr" not in group or getattr(data, "format", None) != "csr":
        return
    try:
        ptr = np.asarray(group["indptr"][:])
        n_indices, n_data = group["indices"].shape[0], group["data"].shape[0]
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{name}: the backed sparse X cannot be read "
                         f"({type(err).__name__}: {err})") from err
    try:
        if n_indices != n_data:
            raise ValueError(f"{n_indices} indices for {n_data} stored values")
        _check_compressed(ptr, np.empty(0, dtype=np.int64), np.empty(0), data.shape[0], 0,
                          stored=n_data)
    except ValueError as err:
        raise ValueError(f"{name} is a malformed sparse CSR matrix: {err}") from None


def _from_array(X, name, obs=None, var=None):
    """In-memory and lazy arrays. Values are converted and checked block by block as they are
    read, so nothing is copied here except what row blocks need (CSC/COO -> CSR, pandas ->
    numpy)."""
    if is_dask(X) or _is_lazy_array(X):
        return RowSource(X, name, obs, var, lazy=True)
    if sp.issparse(X):
        src = RowSource(X, name, obs, var)  # shape, dtype and names checked
        check_sparse_structure(X, name)  # before scipy's own code reads it
        if X.format != "csr":
            src.data = sp.csr_matrix(X)
        return src
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # DataFrame
        var = np.asarray(list(map(str, X.columns))) if var is None else var
        obs = np.asarray(list(map(str, X.index))) if obs is None else obs
        X = X.to_numpy()
    elif hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # other pandas objects
        X = X.to_numpy()
    return RowSource(np.asarray(X), name, obs, var)


def _is_lazy_array(X) -> bool:
    mod = type(X).__module__
    return mod.startswith(("zarr.", "h5py.", "anndata.")) and hasattr(X, "shape")
