"""Reading expression tables (cells x genes) from the formats single-cell users have."""
from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from ._source import RowSource, as_source, read_h5ad

# An expression table read by read_table: the package's one "matrix plus names" type.
# ``X`` (cells x genes values: numpy.ndarray or scipy.sparse.csr_matrix; read with
# ``backed=True``, an array on disk, an ``.h5ad`` matrix or a zarr array, read in row blocks),
# ``obs_names`` and ``var_names`` (one name per cell, per gene).
Table = RowSource


def _names(prefix, n):
    return [f"{prefix}{i}" for i in range(n)]


def _table(X, path, obs=None, var=None) -> Table:
    """X with its names (generated ``cell0``... and ``gene0``... where the file has none)."""
    obs = _names("cell", X.shape[0]) if obs is None else obs
    var = _names("gene", X.shape[1]) if var is None else var
    return as_source(X, gene_names=var, name=path, cell_names=obs)


def read_table(path, layer: str | None = None, backed: bool = False) -> Table:
    r"""Reads an expression table (cells x genes) from the formats single-cell users have.

    Parameters
    ----------
    path : str or os.PathLike
        ``.h5ad`` (``layer`` or X); ``.csv``, ``.tsv``, ``.txt`` (optionally gzipped; cells x
        genes, with or without a header row and an index column); a 10x directory
        (``matrix.mtx[.gz]`` + ``features.tsv`` or ``genes.tsv`` + ``barcodes.tsv``);
        ``.npy``; ``.npz`` (scipy.sparse); or a ``.zarr`` array.
    layer : str, optional
        ``.h5ad`` only: the layer to read instead of X.
    backed : bool, default False
        Leave ``.h5ad`` X and ``.zarr`` arrays on disk (read later in row blocks by
        :class:`~genomap_fast.Genomap`; an ``.h5ad`` is then a
        :class:`~genomap_fast.h5ad.H5adMatrix` with lazily read names, its ``obs`` never
        loaded); other formats are read into memory.

    Returns
    -------
    Table
        ``X`` (cells, genes) and the cell and gene names (generated, ``cell0``... and
        ``gene0``..., where the file has none).

    Raises
    ------
    FileNotFoundError
        A missing path.
    ValueError
        An unknown format, an unreadable file, non-numeric values, a missing layer, or names
        that do not match the matrix.

    Examples
    --------
    >>> import os, tempfile
    >>> from genomap_fast.io import read_table
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "counts.csv")
    ...     with open(path, "w") as f:
    ...         _ = f.write("cell,CD3E,MS4A1\nc1,1.0,0.0\nc2,0.0,2.5\nc3,3.0,1.0\n")
    ...     table = read_table(path)
    >>> table.X.shape, table.X.dtype, table.obs_names, table.var_names
    ((3, 2), dtype('float64'), ['c1', 'c2', 'c3'], ['CD3E', 'MS4A1'])
    >>> read_table("missing.h5ad")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no such file or directory: missing.h5ad
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path}")
    lower = path.lower().rstrip("/")
    try:
        if lower.endswith(".h5ad"):
            table = read_h5ad(path, layer, backed, name=path)
            for attr in ("obs_names", "var_names"):  # an AnnData's index: a list of str
                names = getattr(table, attr)
                if hasattr(names, "to_numpy"):  # (a file's lazily read names stay lazy)
                    setattr(table, attr, list(map(str, names)))
            return table
        if layer is not None:
            raise ValueError("--layer only applies to .h5ad input")
        if os.path.isdir(path) and not lower.endswith(".zarr"):
            return _read_10x(path)
        if lower.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")):
            return _read_delimited(path)
        if lower.endswith(".npy"):
            return _table(np.load(path, allow_pickle=False), path)
        if lower.endswith(".npz"):
            return _table(sp.load_npz(path).tocsr(), path)
        if lower.endswith(".zarr"):
            import zarr

            X = zarr.open_array(path, mode="r")
            return _table(X if backed else np.asarray(X[...]), path)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as err:  # the underlying readers raise many kinds of errors
        raise ValueError(f"cannot read {path}: {type(err).__name__}: {err}") from err
    raise ValueError(
        f"unknown input format for {path}: expected .h5ad, .csv, .tsv, a 10x .mtx directory, "
        f".npy, .npz or .zarr"
    )


def _read_delimited(path):
    import pandas as pd

    sep = "\t" if ".tsv" in path.lower() else ","
    raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False)
    if raw.empty:
        raise ValueError(f"{path} is empty")

    def numeric(values):
        try:
            np.asarray(values, dtype=np.float64)
            return True
        except ValueError:
            return False

    has_header = not numeric(raw.iloc[0, 1:].to_numpy())
    body = raw.iloc[1:] if has_header else raw
    has_index = not numeric(body.iloc[:, 0].to_numpy())
    values = body.iloc[:, 1:] if has_index else body
    try:
        X = values.to_numpy(dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path} has non-numeric values: {err}") from err
    cols = raw.iloc[0, 1:] if has_index else raw.iloc[0]
    var = list(map(str, cols)) if has_header else _names("gene", X.shape[1])
    obs = list(map(str, body.iloc[:, 0])) if has_index else None
    return _table(X, path, obs, var)


def _read_10x(path):
    import gzip

    from scipy.io import mmread

    def find(*names):
        for n in names:
            for suffix in ("", ".gz"):
                p = os.path.join(path, n + suffix)
                if os.path.exists(p):
                    return p
        return None

    mtx = find("matrix.mtx")
    if mtx is None:
        raise ValueError(f"{path} is a directory without matrix.mtx[.gz] (not a 10x directory)")
    # mmread gets the path, never an open binary file: scipy 1.17's reader aborts the whole
    # process (std::terminate) on a damaged header read from a file object (tests/test_fuzz_io.py)
    X = sp.csr_matrix(mmread(mtx).T)  # 10x stores genes x cells
    genes = find("features.tsv", "genes.tsv")
    cells = find("barcodes.tsv")

    def lines(p, col):
        if p is None:
            return None
        op = gzip.open if p.endswith(".gz") else open
        with op(p, "rt") as fh:
            return [ln.rstrip("\n").split("\t")[min(col, len(ln.split("\t")) - 1)]
                    for ln in fh if ln.strip()]

    var = lines(genes, 1) or _names("gene", X.shape[1])
    obs = lines(cells, 0) or _names("cell", X.shape[0])
    if len(var) != X.shape[1] or len(obs) != X.shape[0]:
        raise ValueError(f"{path}: names do not match the matrix shape {X.shape}")
    return _table(X, path, obs, var)
