"""Dask arrays in, dask arrays out: genomaps for atlases spread over many machines.

- The interaction statistics are a dask reduction: one partial accumulator per row block of
  ``chunk_size`` rows (the blocks the single-process pass uses), computed in parallel and
  merged in block order (``genomap_fast.interaction.fold``, the order the streaming pass
  uses), so any scheduler, worker count or cluster gives bitwise the single-process result.
- Rasterisation is ``map_blocks`` with the fitted Genomap passed once as a dask dependency.
- ``Genomap.write_zarr`` of a dask array writes the image blocks from the workers (``to_zarr``);
  on a multi-machine cluster the target path must be on storage every worker can reach.

Used through :class:`genomap_fast.Genomap` (``fit``/``transform``/``write_zarr`` of a dask array)
and ``genomap-fast construct --scheduler ADDRESS`` (:func:`on_cluster`: workers read their own
row blocks of the input file); dask is imported only when a dask array is given.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ._codecs import image_compressor
from ._source import check_block
from .interaction import (
    block_accumulator,
    block_moments,
    default_chunk_rows,
    fold,
    merge_moments,
    merged_accumulators,
    moments_from,
    stats_from_accumulator,
)
from .raster import image_shape


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("dask arrays need dask: pip install 'dask[array]'") from err
    return dask, da


def _row_blocks(X, chunk_size, width):
    """X rechunked to the single-process blocks: ``chunk_size`` rows, all genes; with the
    delayed blocks and their first rows."""
    step = chunk_size or default_chunk_rows(width)
    Xb = X.rechunk({0: step, 1: -1})
    starts = np.concatenate([[0], np.cumsum(Xb.chunks[0])[:-1]]).astype(int)
    return Xb.to_delayed().ravel(), starts


def _block_accumulator(raw, start, columns):
    return block_accumulator(check_block(raw, int(start), "data", columns), 1)


def _block_moments_task(raw, start):
    return block_moments(check_block(raw, int(start), "data"))


def interaction_stats(X, chunk_size=None, num_threads=None, columns=None, progress=None):
    """The gene statistics of a dask array, as a dask reduction over row blocks.

    One partial accumulator per row block of ``chunk_size`` rows, merged in block order: any
    scheduler, worker count or cluster gives bitwise the single-process result of
    :func:`genomap_fast.interaction_matrix`.

    Parameters
    ----------
    X : dask.array.Array of shape (n_cells, n_genes)
        Cells x genes (float ndarray or scipy.sparse blocks).
    chunk_size : int, optional
        Rows per block (default: the single-process pass's).
    num_threads : int, optional
        Threads of the final conversion to distances.
    columns : sequence of int, optional
        Restricts the result to these genes, in this order.
    progress : tqdm.tqdm, optional
        A progress bar advanced once the reduction is done.

    Returns
    -------
    genomap_fast.interaction.InteractionStats
        ``distance`` (genes, genes) float64 and the per-gene statistics.

    Raises
    ------
    ValueError
        Fewer than 2 cells, or values that are not finite (the message names the cell).
    ImportError
        dask is not installed.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from genomap_fast import interaction_matrix
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.distributed import interaction_stats
    >>> X, _ = synthetic_counts(n_cells=200, n_genes=30, seed=0)
    >>> stats = interaction_stats(da.from_array(X, chunks=(50, 30)), chunk_size=50)
    >>> stats.distance.shape, stats.n_cells
    ((30, 30), 200)
    >>> bool((stats.distance == interaction_matrix(X, chunk_size=50).distance).all())
    True
    """
    dask, _ = _dask()
    width = X.shape[1] if columns is None else len(columns)
    blocks, starts = _row_blocks(X, chunk_size, width)
    part = dask.delayed(_block_accumulator, pure=True)
    parts = [part(b, s, columns) for b, s in zip(blocks, starts)]
    acc = fold(parts, dask.delayed(merged_accumulators, pure=True)).compute()
    if progress is not None:
        progress.update(X.shape[0])
    return stats_from_accumulator(acc, num_threads)


def gene_moments(X, chunk_size=None):
    """Per-gene mean and population variance of a dask array, as a dask reduction.

    Parameters
    ----------
    X : dask.array.Array of shape (n_cells, n_genes)
        Cells x genes.
    chunk_size : int, optional
        Rows per block (default: the single-process pass's); blocks are merged in the order
        of the single-process pass.

    Returns
    -------
    mean, var : numpy.ndarray of shape (n_genes,)
        float64 per-gene mean and population variance (ddof=0).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.distributed import gene_moments
    >>> X, _ = synthetic_counts(n_cells=200, n_genes=30, seed=0)
    >>> mean, var = gene_moments(da.from_array(X, chunks=(50, 30)))
    >>> mean.shape, var.dtype, bool(np.allclose(var, X.astype(np.float64).var(axis=0)))
    ((30,), dtype('float64'), True)
    """
    dask, _ = _dask()
    blocks, starts = _row_blocks(X, chunk_size, X.shape[1])
    part = dask.delayed(_block_moments_task, pure=True)
    parts = [part(b, s) for b, s in zip(blocks, starts)]
    return moments_from(fold(parts, dask.delayed(merge_moments, pure=True)).compute())


def _images_block(block, genomap, layout, block_info=None):
    start = block_info[0]["array-location"][0][0] if block_info else 0
    clean = check_block(block, int(start), "data", check=False)  # the kernels check values
    out = np.empty(image_shape(clean.shape[0], genomap.rows, genomap.cols, layout),
                   dtype=genomap.dtype)
    genomap.rasterize_block(clean, out, layout, 1, int(start))
    return out


def transform_blocks(genomap, X, layout="nchw", batch_size=None):
    """Genomaps of a dask array, as a lazy dask array.

    :meth:`genomap_fast.Genomap.transform` of a dask array calls this.

    Parameters
    ----------
    genomap : genomap_fast.Genomap
        A fitted Genomap (passed to the workers once, as a dask dependency).
    X : dask.array.Array of shape (n_cells, n_genes)
        Cells x genes of the fit.
    layout : str, default "nchw"
        "nchw" or "nhwc".
    batch_size : int, optional
        Rows per image block (default: X's own row chunks).

    Returns
    -------
    dask.array.Array of shape (n_cells, 1, rows, cols) or (n_cells, rows, cols, 1)
        One image block per row block, of the Genomap's dtype.

    Examples
    --------
    >>> import dask.array as da
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.distributed import transform_blocks
    >>> X, _ = synthetic_counts(n_cells=200, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> lazy = transform_blocks(gm, da.from_array(X, chunks=(50, 60)))
    >>> lazy.shape, lazy.numblocks
    ((200, 1, 8, 8), (4, 1, 1, 1))
    >>> bool((lazy.compute() == gm.transform(X)).all())
    True
    """
    dask, da = _dask()
    Xb = X.rechunk({0: batch_size if batch_size else X.chunks[0], 1: -1})
    tail = (((1,), (genomap.rows,), (genomap.cols,)) if layout == "nchw"
            else ((genomap.rows,), (genomap.cols,), (1,)))
    return Xb.map_blocks(_images_block, dask.delayed(genomap, pure=True), layout,
                         dtype=genomap.dtype, chunks=(Xb.chunks[0], *tail), new_axis=[2, 3],
                         meta=np.empty((0, 0, 0, 0), dtype=genomap.dtype))


def write_images(genomap, X, group, component, chunks):
    """Writes the float32 genomaps of a dask array into a zarr group, from the workers.

    Image blocks are whole multiples of the zarr chunks, so no two tasks write the same chunk.
    :func:`genomap_fast.store.write_zarr` of a dask array calls this.

    Parameters
    ----------
    genomap : genomap_fast.Genomap
        A fitted Genomap.
    X : dask.array.Array of shape (n_cells, n_genes)
        Cells x genes of the fit.
    group : zarr.Group
        The group to write into (on storage every worker can reach).
    component : str
        Name of the new array, of shape (n_cells, 1, rows, cols).
    chunks : tuple of int
        Its zarr chunks, ``(cells per chunk, 1, rows, cols)``.

    Examples
    --------
    >>> import os, tempfile
    >>> import dask.array as da
    >>> import zarr
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.distributed import write_images
    >>> X, _ = synthetic_counts(n_cells=200, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     g = zarr.open_group(os.path.join(tmp, "maps.zarr"), mode="w")
    ...     write_images(gm, da.from_array(X, chunks=(50, 60)), g, "images", (25, 1, 8, 8))
    ...     g["images"].shape
    (200, 1, 8, 8)
    """
    _, da = _dask()
    images = transform_blocks(genomap, X.rechunk({0: chunks[0] * 8}), "nchw")
    target = group.create_array(component, shape=images.shape, chunks=chunks, dtype="float32",
                                compressors=image_compressor())
    # da.store, not da.to_zarr: to_zarr would rechunk the image blocks to its "auto" size
    da.store(images.astype(np.float32), target, lock=False, compute=True)


@contextmanager
def on_cluster(address, X, chunk_rows=None):
    """Connects to a dask.distributed scheduler and yields X as a dask array read by the workers.

    The client is the default one inside the ``with`` block. The dask array's tasks read their
    own row blocks where they run: only paths travel, never rows. Used by
    ``genomap-fast construct --scheduler ADDRESS``.

    Parameters
    ----------
    address : str
        The scheduler's address (``tcp://host:8786``).
    X : genomap_fast.h5ad.H5adMatrix or zarr.Array
        An :class:`~genomap_fast.h5ad.H5adMatrix` (each worker opens the file by path) or a
        zarr array on storage every worker can reach.
    chunk_rows : int, optional
        Rows per block (default: the rows of one single-process statistics block, so no
        rechunking).

    Yields
    ------
    dask.array.Array of shape (n_cells, n_genes)
        X, lazily, for :meth:`genomap_fast.Genomap.fit` / ``transform`` / ``write_zarr``.

    Raises
    ------
    ValueError
        X is neither an ``.h5ad`` matrix nor a zarr array, or the scheduler cannot be reached.
    ImportError
        dask.distributed is not installed.

    Examples
    --------
    A local cluster stands in for a real one here:

    >>> import os, tempfile
    >>> import zarr
    >>> from dask.distributed import LocalCluster
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.distributed import on_cluster
    >>> X, _ = synthetic_counts(n_cells=200, n_genes=60, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp, LocalCluster(
    ...         n_workers=1, threads_per_worker=1, processes=False,
    ...         dashboard_address=None) as cluster:
    ...     z = zarr.create_array(os.path.join(tmp, "X.zarr"), data=X, chunks=(100, 60))
    ...     with on_cluster(cluster.scheduler_address, z, chunk_rows=100) as lazy:
    ...         gm = gf.Genomap(8, 8).fit(lazy)
    ...         gm.transform(lazy).shape
    (200, 1, 8, 8)
    """
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("--scheduler needs dask.distributed: pip install distributed") from err
    _, da = _dask()
    step = chunk_rows or default_chunk_rows(X.shape[1])
    if getattr(X, "is_h5ad_matrix", False):
        lazy = X.to_dask(step)
    elif type(X).__module__.startswith("zarr."):
        lazy = da.from_array(X, chunks=(step, -1), asarray=True)
    else:
        raise ValueError(f"a cluster run reads an .h5ad or .zarr input from its workers; got "
                         f"{type(X).__name__}")
    try:
        client = distributed.Client(address, set_as_default=True)
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(f"cannot reach the dask scheduler at {address!r}: {err}") from err
    with client:
        yield lazy
