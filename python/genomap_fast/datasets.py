"""Data for demos, tests and benchmarks (nothing is downloaded)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def synthetic_counts(
    n_cells: int = 1000,
    n_genes: int = 500,
    n_types: int = 5,
    n_modules: int = 20,
    seed: int = 0,
    sparse: bool = False,
    dtype=np.float32,
):
    """Log-normalised counts with cell types and correlated gene modules.

    Each gene belongs to one module; a module's activity in a cell is a type effect plus cell
    noise shared by the module's genes (hence correlated genes). Counts are Poisson with a
    per-cell size factor, then normalised to 1e4 per cell and log1p-transformed, like
    ``scanpy.pp.normalize_total`` + ``log1p``.

    Parameters
    ----------
    n_cells, n_genes : int
        Shape of the matrix (>= 1).
    n_types : int
        Number of cell types (>= 1).
    n_modules : int
        Number of gene modules (>= 1).
    seed : int
        Seed of the generator.
    sparse : bool
        Return a CSR matrix instead of an ndarray.
    dtype : numpy.dtype
        dtype of the values.

    Returns
    -------
    X : numpy.ndarray or scipy.sparse.csr_matrix of shape (n_cells, n_genes)
        Log-normalised values of ``dtype``.
    labels : numpy.ndarray of shape (n_cells,)
        int64 cell types.

    Raises
    ------
    ValueError
        A size below 1.

    Examples
    --------
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=100, n_genes=50, n_types=3, seed=0)
    >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
    ((100, 50), dtype('float32'), dtype('int64'), [0, 1, 2])
    """
    if n_cells < 1 or n_genes < 1 or n_types < 1 or n_modules < 1:
        raise ValueError("n_cells, n_genes, n_types and n_modules must be >= 1")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_types, size=n_cells)
    module = rng.integers(0, n_modules, size=n_genes)
    type_effect = rng.normal(0.0, 1.0, size=(n_types, n_modules))
    activity = type_effect[labels] + rng.normal(0.0, 0.6, size=(n_cells, n_modules))
    base = rng.normal(-1.0, 1.0, size=n_genes)
    loading = rng.uniform(0.5, 1.5, size=n_genes)
    size = rng.lognormal(0.0, 0.3, size=n_cells)
    rate = np.exp(base[None, :] + loading[None, :] * activity[:, module]) * size[:, None]
    counts = rng.poisson(rate).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    X = np.log1p(counts / total * 1e4).astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), labels.astype(np.int64)


def pbmc68k_reduced():
    """The 700-cell x 765-gene PBMC data set that ships inside scanpy.

    Returns
    -------
    anndata.AnnData
        700 cells x 765 genes, log-normalised float32 X, gene symbols in ``var_names``, ten
        FACS-based cell types in ``obs['bulk_labels']``.

    Raises
    ------
    ImportError
        Without scanpy (``pip install genomap_fast[demo]``).

    Examples
    --------
    >>> from genomap_fast.datasets import pbmc68k_reduced
    >>> adata = pbmc68k_reduced()
    >>> adata.shape, adata.obs["bulk_labels"].nunique()
    ((700, 765), 10)
    """
    try:
        import scanpy as sc
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("pbmc68k_reduced needs scanpy: pip install 'genomap_fast[demo]'") from err
    return sc.datasets.pbmc68k_reduced()


def write_synthetic_atlas(path, n_cells: int, n_genes: int, n_types: int = 8,
                          n_modules: int = 40, seed: int = 0, sparsity: float = 2.0,
                          chunk: int = 50_000, progress: bool = False) -> str:
    """Writes an atlas-sized ``.h5ad`` of raw counts chunk by chunk, never holding the matrix
    in memory.

    Cell types, gene modules and size factors as in :func:`synthetic_counts`; Poisson counts,
    not normalised; written atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5ad`` file to write.
    n_cells, n_genes : int
        Shape (>= 1).
    n_types, n_modules : int
        Cell types and gene modules.
    seed : int
        Seed of the generator.
    sparsity : float
        Lowers every gene's base rate by that many log units (2.0 gives about 10% non-zeros).
    chunk : int
        Cells generated and appended at a time.
    progress : bool
        A progress bar.

    Returns
    -------
    str
        ``path``. X is CSR float32 (cells x genes); ``obs['cell_type']`` holds the labels.

    Raises
    ------
    ValueError
        A size below 1.

    Examples
    --------
    >>> import os, tempfile
    >>> import anndata
    >>> from genomap_fast.datasets import write_synthetic_atlas
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_synthetic_atlas(os.path.join(tmp, "atlas.h5ad"), 1000, 40, chunk=300)
    ...     adata = anndata.read_h5ad(path)
    ...     print(adata.shape, adata.X.format, adata.X.dtype)
    (1000, 40) csr float32
    """
    import anndata
    import h5py
    import pandas as pd
    from anndata.io import sparse_dataset, write_elem

    from ._atomic import atomic_path
    from ._progress import progress_bar

    if n_cells < 1 or n_genes < 1:
        raise ValueError("n_cells and n_genes must be >= 1")
    rng = np.random.default_rng(seed)
    module = rng.integers(0, n_modules, size=n_genes)
    type_effect = rng.normal(0.0, 1.0, size=(n_types, n_modules))
    base = rng.normal(-1.0 - sparsity, 1.0, size=n_genes)
    loading = rng.uniform(0.5, 1.5, size=n_genes)
    labels = rng.integers(0, n_types, size=n_cells)
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels.astype(str))},
                       index=[f"cell{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    with atomic_path(path) as tmp:
        anndata.AnnData(obs=obs, var=var).write_h5ad(tmp)
        with h5py.File(tmp, "a") as f:
            if "X" in f:
                del f["X"]
            for start in progress_bar(range(0, n_cells, chunk), desc="synthetic atlas",
                                      unit="chunk", disable=not progress):
                lab = labels[start : start + chunk]
                activity = type_effect[lab] + rng.normal(0.0, 0.6, size=(lab.size, n_modules))
                size = rng.lognormal(0.0, 0.3, size=lab.size)
                rate = np.exp(base + loading * activity[:, module]) * size[:, None]
                block = sp.csr_matrix(rng.poisson(rate).astype(np.float32))
                if start == 0:
                    write_elem(f, "X", block)
                else:
                    sparse_dataset(f["X"]).append(block)
    return str(path)
