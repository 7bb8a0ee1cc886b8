"""Gene-gene interaction matrix (correlation distance), accumulated in one streaming pass."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _core
from ._blas import single_threaded_blas
from ._validate import as_matrix, check_finite_chunk, default_threads

DEFAULT_CHUNK_ELEMENTS = 1 << 22  # float64 elements per dense chunk (32 MB)


def default_chunk_rows(n_genes: int) -> int:
    return max(1, DEFAULT_CHUNK_ELEMENTS // max(1, n_genes))


def iter_row_chunks(X, chunk_size: int | None = None, dtype=np.float64, columns=None):
    """Yields (start, dense chunk) over row blocks of a dense or CSR matrix, optionally keeping
    only ``columns`` (selected per chunk: the whole matrix is never copied)."""
    n = X.shape[0]
    width = X.shape[1] if columns is None else len(columns)
    step = chunk_size or default_chunk_rows(width)
    for start in range(0, n, step):
        block = X[start : start + step]
        if columns is not None:
            block = block[:, columns]
        block = block.toarray() if sp.issparse(block) else block
        yield start, np.ascontiguousarray(block, dtype=dtype)


def gene_moments(X, chunk_size: int | None = None):
    """Per-gene mean and population variance (ddof=0), float64, in one streaming pass."""
    shift = None
    total = None
    sq = None
    for start, chunk in iter_row_chunks(X, chunk_size):
        check_finite_chunk(chunk, start)
        if shift is None:
            shift = chunk[0].copy()
            total = np.zeros(X.shape[1])
            sq = np.zeros(X.shape[1])
        c = chunk - shift
        total += c.sum(axis=0)
        sq += np.einsum("ij,ij->j", c, c)
    n = X.shape[0]
    m = total / n
    return shift + m, np.maximum(sq / n - m * m, 0.0)


@dataclass
class InteractionStats:
    """Result of one pass over the cells.

    distance : (genes, genes) float64, 1 - Pearson correlation, clipped to [0, 2]
    mean, var : (genes,) float64 per-gene mean and population variance (ddof=0)
    constant : (genes,) bool, genes with zero variance
    n_cells : cells seen
    """

    distance: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    constant: np.ndarray
    n_cells: int


def accumulate(X, chunk_size: int | None = None, num_threads: int | None = None, name="data",
               columns=None):
    """One pass over row chunks of X (dense or sparse); returns the C++ accumulator."""
    nt = default_threads(num_threads)
    acc = _core.CorrelationAccumulator(X.shape[1] if columns is None else len(columns))
    with single_threaded_blas():
        for start, chunk in iter_row_chunks(X, chunk_size, columns=columns):
            check_finite_chunk(chunk, start, name)
            acc.add_dense(chunk, nt)
    return acc


def interaction_matrix(X, chunk_size: int | None = None, num_threads: int | None = None,
                       columns=None):
    """Correlation distance between gene columns of X (cells x genes).

    The same quantity as ``sklearn.metrics.pairwise_distances(X.T, metric="correlation")``
    (the reference's interaction matrix), computed from float64 sums and cross-products
    accumulated over row chunks: memory is O(genes^2), sparse input is never densified whole.

    Zero-variance genes, whose correlation is undefined (NaN in the reference), are given
    correlation 0 with every other gene: distance 1 to all genes and 0 to themselves.
    ``columns`` restricts the result to those genes (in that order).
    """
    X = as_matrix(X)
    if X.shape[0] < 2:
        raise ValueError(f"the interaction matrix needs at least 2 cells, got {X.shape[0]}")
    nt = default_threads(num_threads)
    acc = accumulate(X, chunk_size, nt, columns=columns)
    return stats_from_accumulator(acc, nt)


def stats_from_accumulator(acc, num_threads: int | None = None) -> InteractionStats:
    nt = default_threads(num_threads)
    mean, var = acc.moments(0)
    constant, n_cells = acc.constant_genes(), acc.count
    return InteractionStats(
        # in place: the accumulator's n x n buffer becomes the distance matrix
        distance=acc.take_correlation_distance(nt),
        mean=mean,
        var=var,
        constant=constant,
        n_cells=n_cells,
    )
