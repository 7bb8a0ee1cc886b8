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

    Returns ``(X, labels)``: X (n_cells, n_genes) ``dtype`` ndarray (CSR if ``sparse``),
    labels (n_cells,) int64 cell types.
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
    """The 700-cell x 765-gene PBMC data set that ships inside scanpy (cell types in
    ``obs['bulk_labels']``). Needs scanpy (``pip install genomap_fast[demo]``)."""
    try:
        import scanpy as sc
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("pbmc68k_reduced needs scanpy: pip install 'genomap_fast[demo]'") from err
    return sc.datasets.pbmc68k_reduced()
