"""Gene-gene interaction matrix (correlation distance), accumulated in one streaming pass."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _core
from ._blas import single_threaded_blas
from ._source import as_source
from ._validate import default_threads

DEFAULT_CHUNK_ELEMENTS = 1 << 22  # float64 elements per dense chunk (32 MB)


def default_chunk_rows(n_genes: int) -> int:
    return max(1, DEFAULT_CHUNK_ELEMENTS // max(1, n_genes))


def fold(items, merge):
    """Left fold ``merge(...merge(merge(items[0], items[1]), items[2])...)``: the one order in
    which per-block statistics are combined, here, in a streaming pass and on dask workers."""
    items = iter(items)
    try:
        acc = next(items)
    except StopIteration:
        raise ValueError("nothing to reduce") from None
    for item in items:
        acc = merge(acc, item)
    return acc


def merged_accumulators(a, b):
    out = a.copy()  # never mutate an input (a dask task may be retried)
    out.merge(b)
    return out


def add_block(acc, block, num_threads: int = 1) -> None:
    """One fold step: merges the statistics of a row block (float ndarray or canonical CSR)
    into ``acc`` as ``acc.merge(block_accumulator(block))`` would, bit for bit, without a second
    genes x genes matrix."""
    if sp.issparse(block):
        if block.shape[0]:
            acc.add_csr_block(block.indptr, block.indices, block.data, num_threads)
    else:
        with single_threaded_blas():
            acc.add_dense_block(np.ascontiguousarray(block, dtype=np.float64), num_threads)


def block_accumulator(block, num_threads: int = 1):
    """The correlation statistics of one row block (float ndarray or canonical CSR)."""
    acc = _core.CorrelationAccumulator(block.shape[1])
    add_block(acc, block, num_threads)
    return acc


def block_moments(block):
    """(count, shift, sums, squares) of one block: dense blocks shifted by their first row,
    sparse blocks unshifted (their zeros stay zeros)."""
    if sp.issparse(block):
        shift = np.zeros(block.shape[1])
        sums = np.asarray(block.sum(axis=0), dtype=np.float64).ravel()
        sq = np.asarray(block.multiply(block).sum(axis=0), dtype=np.float64).ravel()
        return block.shape[0], shift, sums, sq
    block = np.asarray(block, dtype=np.float64)
    shift = block[0].copy()
    c = block - shift
    return block.shape[0], shift, c.sum(axis=0), np.einsum("ij,ij->j", c, c)


def merge_moments(a, b):
    n, s, t, q = a
    m, s2, t2, q2 = b
    d = s2 - s  # re-express b around a's shift: x - s = (x - s2) + d
    return n + m, s, t + t2 + m * d, q + q2 + 2 * d * t2 + m * d * d


def gene_moments(X, chunk_size: int | None = None):
    """Per-gene mean and population variance (ddof=0), float64, in one streaming pass."""
    src = as_source(X)
    step = chunk_size or default_chunk_rows(src.shape[1])
    return moments_from(fold((block_moments(b) for _, b in src.blocks(step)), merge_moments))


def moments_from(partial):
    n, shift, total, sq = partial
    m = total / n
    return shift + m, np.maximum(sq / n - m * m, 0.0)


@dataclass
class InteractionStats:
    """The gene statistics of one pass over the cells (:func:`genomap_fast.interaction_matrix`).

    Attributes
    ----------
    distance : numpy.ndarray of shape (n_genes, n_genes)
        float64, 1 - Pearson correlation, clipped to [0, 2].
    mean, var : numpy.ndarray of shape (n_genes,)
        float64 per-gene mean and population variance (ddof=0).
    constant : numpy.ndarray of shape (n_genes,)
        bool, genes with zero variance.
    n_cells : int
        Cells seen.
    """

    distance: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    constant: np.ndarray
    n_cells: int


def accumulate(X, chunk_size: int | None = None, num_threads: int | None = None, name="data",
               columns=None, progress=None):
    """One pass over row blocks of X (any input :func:`as_source` accepts); returns the C++
    accumulator. Blocks of ``chunk_size`` rows are folded in order (:func:`fold`), so the
    result depends on neither the thread count nor where the blocks were computed; memory is
    one genes x genes matrix."""
    nt = default_threads(num_threads)
    src = as_source(X, name=name)
    width = src.shape[1] if columns is None else len(columns)
    acc = _core.CorrelationAccumulator(width)
    for _, block in src.blocks(chunk_size or default_chunk_rows(width), columns, prefetch=True,
                               reuse=True):
        add_block(acc, block, nt)
        if progress is not None:
            progress.update(block.shape[0])
    return acc


def interaction_matrix(X, chunk_size: int | None = None, num_threads: int | None = None,
                       columns=None, progress=None):
    """Correlation distance between the gene columns of X, in one streaming pass.

    The same quantity as ``sklearn.metrics.pairwise_distances(X.T, metric="correlation")``
    (the reference's interaction matrix), computed from float64 sums and cross-products
    accumulated over row chunks: memory is O(genes^2), sparse input is never densified, and
    inputs on disk (backed AnnData, zarr) are read block by block. Zero-variance genes, whose
    correlation is undefined (NaN in the reference), are given correlation 0 with every other
    gene: distance 1 to all genes and 0 to themselves.

    Parameters
    ----------
    X : array-like, AnnData or str
        Cells x genes, any input :meth:`Genomap.fit` accepts except dask arrays.
    chunk_size : int, optional
        Cells per chunk (default: about 32 MB of float64 per chunk).
    num_threads : int, optional
        Threads (default: all available cores); the result does not depend on it.
    columns : sequence of int, optional
        Restricts the result to these genes, in this order.
    progress : tqdm.tqdm, optional
        A progress bar advanced by the cells of each block.

    Returns
    -------
    genomap_fast.interaction.InteractionStats
        A dataclass: ``distance`` (genes, genes) float64, 1 - Pearson correlation clipped to
        [0, 2]; ``mean`` and ``var`` (genes,) float64 per-gene mean and population variance;
        ``constant`` (genes,) bool, the zero-variance genes; ``n_cells``.

    Raises
    ------
    ValueError
        Fewer than 2 cells, values that are not finite or too large for float64 sums, or
        malformed sparse input.

    Examples
    --------
    >>> import numpy as np
    >>> from genomap_fast import interaction_matrix
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=30, seed=0)
    >>> stats = interaction_matrix(X)
    >>> stats.distance.shape, stats.distance.dtype, stats.n_cells
    ((30, 30), dtype('float64'), 100)
    >>> expected = 1 - np.corrcoef(X.T.astype(np.float64))
    >>> bool(np.allclose(stats.distance, expected, atol=1e-6))
    True
    """
    src = as_source(X)
    if src.shape[0] < 2:
        raise ValueError(f"the interaction matrix needs at least 2 cells, got {src.shape[0]}")
    nt = default_threads(num_threads)
    acc = accumulate(src, chunk_size, nt, columns=columns, progress=progress)
    return stats_from_accumulator(acc, nt)


def stats_from_accumulator(acc, num_threads: int | None = None) -> InteractionStats:
    nt = default_threads(num_threads)
    mean, var = acc.moments(0)
    constant, n_cells = acc.constant_genes(), acc.count
    # in place: the accumulator's n x n buffer becomes the distance matrix
    distance = acc.take_correlation_distance(nt)
    if not (np.isfinite(var).all() and np.isfinite(distance.sum())):  # entries lie in [0, 2]
        raise ValueError(
            f"data values are too large for float64 statistics (largest gene mean "
            f"{np.nanmax(np.abs(mean)):.3g}): sums of squares overflow; rescale the data "
            f"(e.g. log1p)"
        )
    return InteractionStats(
        distance=distance,
        mean=mean,
        var=var,
        constant=constant,
        n_cells=n_cells,
    )
