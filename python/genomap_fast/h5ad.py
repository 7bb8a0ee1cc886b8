"""``.h5ad`` files read with h5py, block by block: X (or a layer) in row blocks, cell and gene
names in chunks. Nothing here grows with the number of cells.

anndata, even backed, reads the whole ``obs`` table (one name per cell: about 1 GB at 10M
cells) and the whole ``indptr`` of a sparse X when it opens a file; :class:`H5adMatrix` reads
only the rows and names asked for. Supported encodings (anndata >= 0.7 and the older
``h5sparse`` layout): dense X, ``csr_matrix`` and ``csc_matrix`` groups, and names stored as
string arrays (variable or fixed length), categoricals, nullable strings, numbers, or a field
of the legacy compound ``obs``/``var`` dataset. Anything else raises :class:`UnsupportedH5ad`
(``as_source`` then falls back to anndata).

A CSC matrix has no cheap row access (every row block would scan every column), so a CSC X of
at most ``CSC_IN_MEMORY_BYTES`` is converted to CSR in memory once; a larger one is refused with
the conversion command (:func:`csc_to_csr`, bounded memory) in the message.
"""
from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

NAME_CHUNK = 1 << 16  # names read (and written to a store) per chunk
CSC_IN_MEMORY_BYTES = 1 << 30  # a CSC X up to this many bytes is converted to CSR in memory


class UnsupportedH5ad(ValueError):
    """The file is HDF5 but uses an encoding only anndata reads."""


def _h5py():
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(".h5ad files need h5py: pip install h5py") from err
    return h5py


def _attr(obj, key, default=None):
    value = obj.attrs.get(key, default)
    return value.decode() if isinstance(value, bytes) else value


def _buffer(buffers: dict, key: str, size: int, dtype) -> np.ndarray:
    """The first ``size`` values of the reused buffer ``key`` (grown by a quarter when short)."""
    buf = buffers.get(key)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = buffers[key] = np.empty(max(size, size + size // 4), dtype=dtype)
    return buf[:size]


def _read_into(buffers: dict, key: str, dset, lo: int, hi: int) -> np.ndarray:
    out = _buffer(buffers, key, hi - lo, dset.dtype)
    if hi > lo:
        dset.read_direct(out, np.s_[lo:hi])
    return out


class H5adNames:
    """(n,) names of an ``obs``/``var`` table, read lazily by chunk.

    ``len(names)``, ``names[lo:hi]`` -> (hi - lo,) str ndarray, ``names[i]`` -> str,
    iteration and ``np.asarray(names)`` (reads them all; for gene names) work like an array.
    """

    def __init__(self, matrix: H5adMatrix, key: str, n: int):
        self._matrix, self._key, self._n = matrix, key, int(n)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, item):
        if isinstance(item, (int, np.integer)):
            i = int(item) + (self._n if item < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"name index {item} out of range for {self._n} names")
            return str(self[i : i + 1][0])
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("names are read by contiguous slices (names[lo:hi]) or one index")
        lo, hi, _ = item.indices(self._n)
        return self._matrix._read_names(self._key, lo, max(lo, hi))

    def __iter__(self):
        for lo in range(0, self._n, NAME_CHUNK):
            yield from self[lo : lo + NAME_CHUNK].tolist()

    def __array__(self, dtype=None, copy=None):
        out = self[0 : self._n]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"H5adNames({self._matrix.path!r}, {self._key}, {self._n} names)"


class H5adMatrix:
    """X or ``layers[layer]`` of an ``.h5ad`` file as a (cells, genes) matrix read in row blocks.

    ``m[start:stop]`` -> (stop - start, genes) ndarray (dense X, file dtype) or CSR matrix;
    ``m[rows]`` (sorted int array) -> those rows. ``obs_names``/``var_names``:
    :class:`H5adNames`. ``format``: "dense", "csr" or "csc". The file is opened on first use and
    reopened after pickling (a dask worker opens it itself: only the path travels).
    Bad or truncated files raise ValueError naming the file.
    """

    is_h5ad_matrix = True  # recognised by genomap_fast._source.as_source

    def __init__(self, path, layer: str | None = None):
        self.path = os.path.abspath(os.fspath(path))
        self.layer = layer
        self._file = None
        self._csr = None  # a small CSC X, converted to CSR in memory
        try:
            self._setup(layer)
        except (OSError, RuntimeError, KeyError, TypeError, IndexError) as err:
            self.close()  # h5py's errors for a damaged file: named as the file's
            raise ValueError(f"{self.path} is not a readable .h5ad file "
                             f"({type(err).__name__}: {err})") from err
        except BaseException:
            self.close()
            raise

    def _setup(self, layer):
        f = self._open()
        where = "X" if layer is None else f"layers/{layer}"
        if layer is not None and ("layers" not in f or layer not in f["layers"]):
            names = list(f["layers"]) if "layers" in f else []
            raise ValueError(f"{self.path} has no layer {layer!r} (layers: {names})")
        if where not in f:
            raise ValueError(f"{self.path} has no expression matrix X; pass layer=")
        self._where = where
        self.format, self.shape, self.dtype = self._describe(f[where])
        self.obs_names = H5adNames(self, "obs", self.shape[0])
        self.var_names = H5adNames(self, "var", self.shape[1])

    # -------------------------------------------------------------- file
    @property
    def element(self) -> str:
        """The matrix's place in the file, "X" or "layers/<name>"."""
        return self._where

    def file(self):
        """The open h5py.File (opened on first use, in this process)."""
        return self._open()

    def _open(self):
        if self._file is None:
            h5py = _h5py()
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise ValueError(f"{self.path} is not a readable .h5ad file: {err}") from err
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        return {"path": self.path, "layer": self.layer}

    def __setstate__(self, state):
        self.__init__(state["path"], state["layer"])

    def _fail(self, what, err=None):
        detail = f": {type(err).__name__}: {err}" if err is not None else ""
        return ValueError(f"{self.path}: {what}{detail}")

    # ---------------------------------------------------------- encodings
    def _describe(self, elem):
        h5py = _h5py()
        where = self._where
        if isinstance(elem, h5py.Dataset):
            if elem.dtype.names is not None or elem.ndim != 2:
                raise UnsupportedH5ad(f"{self.path}: {where} is not a 2-D numeric dataset")
            return "dense", tuple(int(s) for s in elem.shape), np.dtype(elem.dtype)
        kind = _attr(elem, "encoding-type") or _attr(elem, "h5sparse_format")
        kind = {"csr": "csr_matrix", "csc": "csc_matrix"}.get(kind, kind)
        if kind not in ("csr_matrix", "csc_matrix"):
            raise UnsupportedH5ad(f"{self.path}: {where} has encoding {kind!r}")
        shape = elem.attrs.get("shape", elem.attrs.get("h5sparse_shape"))
        try:
            rows, cols = (int(s) for s in shape)
            data, indices, indptr = elem["data"], elem["indices"], elem["indptr"]
            fmt = kind[:3]
            major = rows if fmt == "csr" else cols
            if indptr.shape != (major + 1,) or data.shape != indices.shape:
                raise ValueError(f"indptr has {indptr.shape[0]} entries for {major} "
                                 f"{'rows' if fmt == 'csr' else 'columns'}, data "
                                 f"{data.shape[0]} and indices {indices.shape[0]}")
            if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
                raise ValueError("indices and indptr must be integers")
            if int(indptr[0]) != 0 or int(indptr[major]) != data.shape[0]:
                raise ValueError(f"indptr runs {int(indptr[0])}..{int(indptr[major])} over "
                                 f"{data.shape[0]} stored values")
        except (KeyError, TypeError, ValueError, OSError) as err:
            raise self._fail(f"{where} is not a valid {kind} group", err) from err
        if np.dtype(data.dtype).kind not in "biuf":
            raise TypeError(f"{self.path}: {where} has dtype {data.dtype}; expected a real "
                            f"numeric dtype")
        return fmt, (rows, cols), np.dtype(data.dtype)

    def _check_csc_size(self):
        elem = self._open()[self._where]
        nbytes = sum(elem[k].dtype.itemsize * elem[k].shape[0] for k in ("data", "indices"))
        if nbytes > CSC_IN_MEMORY_BYTES:
            raise ValueError(
                f"{self.path}: {self._where} is stored CSC ({nbytes / 2**20:,.0f} MiB), which "
                f"cannot be read by rows without scanning every column for every block; "
                f"convert it once (bounded memory): python -c \"from genomap_fast.h5ad import "
                f"csc_to_csr; csc_to_csr('{self.path}', 'rows.h5ad')\"")

    # --------------------------------------------------------------- rows
    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nnz(self) -> int | None:
        return None if self.format == "dense" else int(self._open()[self._where]["data"].shape[0])

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            return self.rows(start, max(start, stop))
        rows = np.asarray(key)
        if rows.ndim == 1 and rows.dtype.kind in "iu":
            return self.take(rows)
        raise TypeError("H5adMatrix is read by row slices m[start:stop] or sorted row indices")

    def rows(self, start: int, stop: int, buffers: dict | None = None):
        """Rows start:stop: ndarray (dense X) or CSR matrix, dtype of the file.

        ``buffers``: a dict the values are read into and kept in for the next call (grown when
        a block needs more), instead of new arrays per block; the block returned is then only
        valid until the next call with the same dict. A streamed pass allocating its blocks
        anew left freed blocks the allocator kept: h5py reads of 4M cells grew the RSS from
        75 to 155 MB, reads into reused buffers stayed at 90 MB."""
        f = self._open()
        elem = f[self._where]
        try:
            if self.format == "dense":
                if buffers is None:
                    return elem[start:stop]
                out = _buffer(buffers, "dense", (stop - start) * self.shape[1], elem.dtype)
                out = out.reshape(stop - start, self.shape[1])
                if out.size:
                    elem.read_direct(out, np.s_[start:stop])
                return out
            if self.format == "csc":
                return self._csc_rows(start, stop)
            ptr = np.asarray(elem["indptr"][start : stop + 1], dtype=np.int64)
            lo, hi = int(ptr[0]), int(ptr[-1])
            if np.any(np.diff(ptr) < 0) or lo < 0 or hi > elem["data"].shape[0]:
                raise self._fail(f"{self._where} is corrupt in rows {start}-{stop - 1} "
                                 f"(indptr not increasing or past the stored values)")
            if buffers is None:
                data, indices = elem["data"][lo:hi], elem["indices"][lo:hi]
            else:
                data = _read_into(buffers, "data", elem["data"], lo, hi)
                indices = _read_into(buffers, "indices", elem["indices"], lo, hi)
        except (OSError, RuntimeError, KeyError) as err:
            raise self._fail(f"cannot read rows {start}-{stop - 1} of {self._where}",
                             err) from err
        ptr -= lo
        if indices.size and (indices.min() < 0 or indices.max() >= self.shape[1]):
            raise self._fail(f"{self._where} is corrupt in rows {start}-{stop - 1} (indptr not "
                             f"increasing or column indices outside 0..{self.shape[1] - 1})")
        return sp.csr_matrix((data, indices, ptr), shape=(stop - start, self.shape[1]),
                             copy=False)

    def _csc_rows(self, start, stop):
        if self._csr is None:
            self._check_csc_size()
            elem = self._open()[self._where]
            csc = sp.csc_matrix((elem["data"][:], elem["indices"][:], elem["indptr"][:]),
                                shape=self.shape)
            csc.check_format(full_check=True)
            self._csr = csc.tocsr()
        X = self._csr
        lo, hi = int(X.indptr[start]), int(X.indptr[stop])
        return sp.csr_matrix((X.data[lo:hi], X.indices[lo:hi], X.indptr[start : stop + 1] - lo),
                             shape=(stop - start, self.shape[1]))

    def take(self, rows, window: int = 1 << 14):
        """The given rows (sorted int array), read in windows of ``window`` consecutive rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows[0] < 0 or rows[-1] >= self.shape[0]
                          or np.any(np.diff(rows) < 0)):
            raise ValueError(f"rows must be sorted indices in 0..{self.shape[0] - 1}")
        parts, i = [], 0
        while i < rows.size:
            lo = int(rows[i])
            j = int(np.searchsorted(rows, lo + window, side="left"))
            parts.append(self.rows(lo, int(rows[j - 1]) + 1)[rows[i:j] - lo])
            i = j
        if not parts:
            return self.rows(0, 0)
        return sp.vstack(parts, format="csr") if sp.issparse(parts[0]) else np.concatenate(parts)

    # -------------------------------------------------------------- names
    def _read_names(self, key, lo, hi):
        """Names lo:hi of ``obs`` or ``var`` as a str ndarray."""
        f = self._open()
        try:
            table = f[key]
            h5py = _h5py()
            if isinstance(table, h5py.Dataset):  # legacy: a compound dataset, field "index"
                field = _attr(table, "_index") or "index"
                raw = table.fields(field)[lo:hi]
            else:
                column = _attr(table, "_index") or "_index"
                raw = _column_slice(table[column], lo, hi)
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
            raise self._fail(f"cannot read {key} names {lo}-{hi - 1}", err) from err
        return _as_str(raw)

    # --------------------------------------------------------------- dask
    def to_dask(self, chunk_rows: int):
        """Lazy dask array of these rows in blocks of ``chunk_rows``: each task opens the file
        by path and reads its own block (scipy CSR chunks for sparse X)."""
        import dask.array as da

        n, g = self.shape
        sizes = tuple(min(chunk_rows, n - lo) for lo in range(0, n, chunk_rows))
        meta = (np.empty((0, 0), dtype=self.dtype) if self.format == "dense"
                else sp.csr_matrix((0, 0), dtype=self.dtype))
        return da.map_blocks(_read_block, self.path, self.layer, chunks=(sizes, (g,)),
                             dtype=self.dtype, meta=meta,
                             name=f"h5ad-{_token(self.path, self.layer)}")

    def __repr__(self) -> str:
        return (f"H5adMatrix({self.path!r}, {self._where}, {self.format}, shape={self.shape}, "
                f"dtype={self.dtype})")


def _column_slice(elem, lo, hi):
    h5py = _h5py()
    if isinstance(elem, h5py.Dataset):
        if elem.dtype.kind in "SOU" or h5py.check_string_dtype(elem.dtype) is not None:
            return elem.asstr()[lo:hi]
        return elem[lo:hi]
    kind = _attr(elem, "encoding-type")
    if kind == "categorical":
        codes = np.asarray(elem["codes"][lo:hi], dtype=np.int64)
        used = np.unique(codes[codes >= 0])
        categories = _as_str(_points(elem["categories"], used))
        out = np.full(codes.size, "nan", dtype=object)
        out[codes >= 0] = categories[np.searchsorted(used, codes[codes >= 0])]
        return out
    if kind in ("nullable-string-array", "nullable-integer", "nullable-boolean"):
        values = _column_slice(elem["values"], lo, hi)
        out = _as_str(values).astype(object)
        if "mask" in elem:
            out[np.asarray(elem["mask"][lo:hi], dtype=bool)] = "nan"
        return out
    raise UnsupportedH5ad(f"names with encoding {kind!r}")


def _points(elem, index):
    """elem[index] for sorted unique indices, read as one covering slice when dense enough."""
    if index.size == 0:
        return elem[0:0]
    lo, hi = int(index[0]), int(index[-1]) + 1
    if hi - lo <= 4 * index.size + NAME_CHUNK:
        block = elem.asstr()[lo:hi] if elem.dtype.kind in "SO" else elem[lo:hi]
        return np.asarray(block)[index - lo]
    return np.asarray([_column_slice(elem, int(i), int(i) + 1)[0] for i in index])


def _as_str(raw):
    raw = np.asarray(raw)
    if raw.dtype.kind == "S":
        return np.char.decode(raw, "utf-8")
    if raw.dtype.kind == "O":
        return np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in raw],
                          dtype=str)
    return raw.astype(str)


def _token(path, layer):
    st = os.stat(path)
    from hashlib import sha1

    return sha1(f"{path}|{layer}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


_OPEN: dict = {}  # per process: one open matrix per (path, layer, file version)


def _read_block(path, layer, block_info=None):
    """One row block of an .h5ad matrix, read where the task runs (a dask worker)."""
    key = (path, layer, _token(path, layer))
    matrix = _OPEN.get(key)
    if matrix is None:
        if len(_OPEN) >= 4:
            _OPEN.pop(next(iter(_OPEN))).close()
        matrix = _OPEN[key] = H5adMatrix(path, layer)
    (start, stop), _ = block_info[None]["array-location"]
    return matrix.rows(start, stop)


def open_h5ad(path, layer: str | None = None) -> H5adMatrix:
    """X (or ``layers[layer]``) of an ``.h5ad`` file, read block by block.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5ad`` file.
    layer : str, optional
        Read ``layers[layer]`` instead of X.

    Returns
    -------
    H5adMatrix
        The (cells, genes) matrix; rows are read when sliced.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a readable ``.h5ad`` file, no such layer, or a damaged matrix (naming the file).

    Examples
    --------
    >>> import os, tempfile
    >>> import anndata
    >>> import scipy.sparse as sp
    >>> from genomap_fast.h5ad import open_h5ad
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "cells.h5ad")
    ...     anndata.AnnData(sp.random(50, 8, density=0.3, format="csr")).write_h5ad(path)
    ...     with open_h5ad(path) as m:
    ...         print(m.shape, m.format, m[10:15].shape)
    (50, 8) csr (5, 8)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    return H5adMatrix(path, layer)


def csc_to_csr(src, dst, layer: str | None = None, rows_per_pass: int | None = None,
               memory_bytes: int = 1 << 29) -> str:
    """Writes a copy of the ``.h5ad`` file ``src`` whose X (or layer) is CSR instead of CSC,
    in bounded memory.

    The columns are scanned once per band of rows (about ``memory_bytes`` of non-zeros per
    band), so large files take several passes. Other elements are copied unchanged. Written
    atomically.

    Parameters
    ----------
    src, dst : str or os.PathLike
        The CSC file and the CSR copy to write.
    layer : str, optional
        Convert ``layers[layer]`` instead of X.
    rows_per_pass : int, optional
        Rows per band (default: from ``memory_bytes``).
    memory_bytes : int
        About how many bytes of non-zeros a band holds.

    Returns
    -------
    str
        ``dst``.

    Raises
    ------
    ValueError
        ``src`` is not stored CSC, or is not a readable ``.h5ad`` file.

    Examples
    --------
    >>> import os, tempfile
    >>> import anndata
    >>> import scipy.sparse as sp
    >>> from genomap_fast.h5ad import csc_to_csr, open_h5ad
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     src, dst = os.path.join(tmp, "csc.h5ad"), os.path.join(tmp, "csr.h5ad")
    ...     anndata.AnnData(sp.random(40, 6, density=0.3, format="csc")).write_h5ad(src)
    ...     with open_h5ad(csc_to_csr(src, dst, rows_per_pass=7)) as m:
    ...         print(m.format, m.shape)
    csr (40, 6)
    """
    from ._atomic import atomic_path

    h5py = _h5py()
    with H5adMatrix(src, layer) as m:
        if m.format != "csc":
            raise ValueError(f"{m.path}: {m.element} is not stored CSC")
        n, g = m.shape
        nnz = m.nnz
        elem = m.file()[m.element]
        if rows_per_pass is None:
            per_row = max(1.0, nnz / max(n, 1)) * (elem["data"].dtype.itemsize + 8)
            rows_per_pass = max(1, int(memory_bytes // per_row))
        indptr = np.asarray(elem["indptr"][:], dtype=np.int64)  # (genes + 1,): genes, not cells
        with atomic_path(dst) as tmp, h5py.File(tmp, "w") as out:
            for k, v in m.file().attrs.items():
                out.attrs[k] = v
            for key in m.file():
                if key != m.element.split("/")[0]:
                    m.file().copy(key, out)
            if m.layer is not None:
                out.create_group("layers")
                for k, v in m.file()["layers"].attrs.items():
                    out["layers"].attrs[k] = v
                for key in m.file()["layers"]:
                    if key != m.layer:
                        m.file().copy(f"layers/{key}", out["layers"])
            grp = out.create_group(m.element)
            for k, v in elem.attrs.items():
                grp.attrs[k] = v
            grp.attrs["encoding-type"] = "csr_matrix"
            grp.attrs["shape"] = np.array([n, g], dtype=np.int64)
            data = grp.create_dataset("data", shape=(nnz,), maxshape=(None,),
                                      dtype=elem["data"].dtype, chunks=True)
            indices = grp.create_dataset("indices", shape=(nnz,), maxshape=(None,),
                                         dtype=np.int32, chunks=True)
            out_ptr = grp.create_dataset("indptr", shape=(n + 1,), dtype=np.int64, chunks=True)
            out_ptr[0:1] = 0
            written = 0
            col_step = max(1, int(memory_bytes // max(1, 12 * nnz / max(g, 1))))
            for lo in range(0, n, rows_per_pass):
                hi = min(n, lo + rows_per_pass)
                r_parts, c_parts, v_parts = [], [], []
                for c0 in range(0, g, col_step):
                    c1 = min(g, c0 + col_step)
                    a, b = int(indptr[c0]), int(indptr[c1])
                    r = np.asarray(elem["indices"][a:b], dtype=np.int64)
                    keep = (r >= lo) & (r < hi)
                    cols = np.repeat(np.arange(c0, c1), np.diff(indptr[c0 : c1 + 1]))
                    r_parts.append(r[keep] - lo)
                    c_parts.append(cols[keep])
                    v_parts.append(elem["data"][a:b][keep])
                band = sp.csr_matrix((np.concatenate(v_parts), (np.concatenate(r_parts),
                                                                 np.concatenate(c_parts))),
                                     shape=(hi - lo, g))
                band.sum_duplicates()
                k = band.nnz
                data[written : written + k] = band.data
                indices[written : written + k] = band.indices
                out_ptr[lo + 1 : hi + 1] = band.indptr[1:].astype(np.int64) + written
                written += k
            data.resize((written,))
            indices.resize((written,))
    return os.fspath(dst)
