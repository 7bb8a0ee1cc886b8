"""Dask arrays in, dask arrays out: genomaps for atlases spread over many machines.

- The interaction statistics are a dask reduction: one partial accumulator per row block of
  ``chunk_size`` rows (the blocks the single-process pass uses), computed in parallel and
  merged in block order (:func:`~genomap_fast.interaction.fold`, the order the streaming pass
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
    """:class:`~genomap_fast.interaction.InteractionStats` of a dask array (cells x genes);
    ``progress`` (a tqdm bar) is advanced once the reduction is done."""
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
    """Per-gene mean and population variance of a dask array (the single-process tree)."""
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
    """Lazy dask array of genomaps, one image block per row block of X (of ``batch_size``
    rows when given, else X's own row chunks)."""
    dask, da = _dask()
    Xb = X.rechunk({0: batch_size if batch_size else X.chunks[0], 1: -1})
    tail = (((1,), (genomap.rows,), (genomap.cols,)) if layout == "nchw"
            else ((genomap.rows,), (genomap.cols,), (1,)))
    return Xb.map_blocks(_images_block, dask.delayed(genomap, pure=True), layout,
                         dtype=genomap.dtype, chunks=(Xb.chunks[0], *tail), new_axis=[2, 3],
                         meta=np.empty((0, 0, 0, 0), dtype=genomap.dtype))


def write_images(genomap, X, group, component, chunks):
    """Writes the float32 genomaps of X into a new array ``component`` of the zarr ``group``
    from the workers; image blocks are whole multiples of the zarr chunks, so no two tasks
    write the same chunk."""
    from .store import image_compressor

    _, da = _dask()
    images = transform_blocks(genomap, X.rechunk({0: chunks[0] * 8}), "nchw")
    target = group.create_array(component, shape=images.shape, chunks=chunks, dtype="float32",
                                compressors=image_compressor())
    # da.store, not da.to_zarr: to_zarr would rechunk the image blocks to its "auto" size
    da.store(images.astype(np.float32), target, lock=False, compute=True)


@contextmanager
def on_cluster(address, X, chunk_rows=None):
    """Connects to the dask.distributed scheduler at ``address`` (the default client inside the
    block) and yields X as a dask array whose tasks read their own row blocks where they run:
    an :class:`~genomap_fast.h5ad.H5adMatrix` (each worker opens the file by path) or a zarr
    array; only paths travel, never rows. Blocks of ``chunk_rows`` (default: the rows of one
    single-process statistics block, so no rechunking)."""
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
