"""Chunked, compressed zarr stores of genomaps, written atomically.

A store is a zarr group: ``images`` (cells, 1, rows, cols) float32 chunked along cells,
``obs_names`` (cells,), ``var_names`` and ``placement`` (genes,), and attributes (grid, GW
objective, iterations). It is written under a temporary name next to the target and renamed
into place only when complete (the ``complete`` attribute is set last), so an interrupted run
never leaves a store that looks complete; :func:`open_images` refuses incomplete stores. The
temporary (``.NAME.partial-PID-RANDOM``) of a killed write is removed by the next write to the
same path or by ``genomap-fast clean``.
"""
from __future__ import annotations

import os
import shutil

import numpy as np

from ._atomic import partial_path, remove_stale_partials
from ._codecs import IMAGE_LEVEL, image_compressor  # noqa: F401  (the store's codec, here too)

FORMAT = "genomap_fast.store/1"
NAME_CHUNK = 1 << 16  # names copied per step (an atlas has millions; a file's are read lazily)


def _zarr():
    try:
        import zarr
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("zarr stores need the zarr package: pip install zarr") from err
    return zarr


def chunk_cells(rows: int, cols: int, target_bytes: int = 1 << 21) -> int:
    """Cells per zarr chunk so that a chunk of float32 images is about ``target_bytes``.

    Parameters
    ----------
    rows, cols : int
        Grid shape.
    target_bytes : int, default 2 MiB
        Size of a chunk's float32 images before compression.

    Returns
    -------
    int
        Cells per chunk, at least 1.

    Examples
    --------
    >>> from genomap_fast.store import chunk_cells
    >>> chunk_cells(32, 32)
    512
    """
    return max(1, target_bytes // (rows * cols * 4))


class ChunkWriter:
    """Writes whole chunks of a new float32 zarr array of a local store straight to its files.

    Used by :func:`write_zarr`. Zarr's own write path costs about eight times the encoding
    (1.4 s against 0.17 s of plain file writes per 100k 33x33 images, all of it in zarr's event
    loop), which made it the
    atlas path's bottleneck. The bytes are zarr's own: zstd frames of the chunk's little-endian
    float32 values, chunk keys from the array's metadata, edge chunks padded with the fill value
    0 and chunks that are all fill value not written (zarr's ``write_empty_chunks=False``); a
    test reads the store back with zarr and compares the files with zarr's. Any other array
    (not on a local store, other codecs) is written by zarr.

    Parameters
    ----------
    array : zarr.Array
        A new float32 array of shape (cells, ...) chunked along cells only.
    num_threads : int, default 1
        Threads encoding chunks in the background.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import zarr
    >>> from genomap_fast.store import ChunkWriter, image_compressor
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     a = zarr.create_array(os.path.join(tmp, "a.zarr"), shape=(10, 1, 4, 4),
    ...                           chunks=(4, 1, 4, 4), dtype="float32",
    ...                           compressors=image_compressor())
    ...     w = ChunkWriter(a)
    ...     w.write(0, np.ones((7, 1, 4, 4), np.float32))
    ...     w.write(7, np.ones((3, 1, 4, 4), np.float32))
    ...     w.flush()
    ...     w.close()
    ...     float(a[...].sum())
    160.0
    """

    def __init__(self, array, num_threads: int = 1):
        import numcodecs

        self.array = array
        self.rows = array.chunks[0]
        self.codec = numcodecs.Zstd(level=IMAGE_LEVEL, checksum=True)
        root = getattr(array.store, "root", None)
        codecs = [c.to_dict() for c in array.metadata.codecs]
        expected = [{"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "zstd", "configuration": {"level": IMAGE_LEVEL, "checksum": True}}]
        self.direct = (root is not None and codecs == expected
                       and array.dtype == np.float32 and array.metadata.fill_value == 0)
        self.folder = os.path.join(str(root), array.path) if self.direct else None
        self.pool, self.pending, self.fill, self.index, self.next = None, None, 0, 0, 0
        self.running: list = []
        if self.direct and num_threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(num_threads)  # numcodecs releases the GIL

    def write(self, start: int, images: np.ndarray) -> None:
        """Writes the images of cells ``start`` to ``start + len(images)``.

        Blocks must come in order; a chunk is written once whole (blocks need not align with
        chunks), the last one by :meth:`flush`. With threads, chunks are encoded in the
        background: ``images`` must stay unchanged until the next write() or flush() returns.

        Parameters
        ----------
        start : int
            Index of the block's first cell.
        images : numpy.ndarray of shape (m, ...)
            float32 images of the block.

        Raises
        ------
        ValueError
            A block out of order.
        """
        if not self.direct:
            self.array[start : start + len(images)] = images
            return
        if start != self.next:
            raise ValueError(f"blocks must come in order: expected cell {self.next}, got {start}")
        self.next += len(images)
        work, pos = [], 0
        if self.fill:  # complete the pending chunk first
            take = min(self.rows - self.fill, len(images))
            self.pending[self.fill : self.fill + take] = images[:take]
            self.fill += take
            pos = take
            if self.fill == self.rows:
                work.append((self.index, self.pending.copy()))
                self.index += 1
                self.fill = 0
        while len(images) - pos >= self.rows:  # whole chunks straight from the block
            work.append((self.index, images[pos : pos + self.rows]))
            self.index += 1
            pos += self.rows
        if pos < len(images):
            if self.pending is None:
                self.pending = np.zeros((self.rows,) + images.shape[1:], dtype=np.float32)
            self.fill = len(images) - pos
            self.pending[: self.fill] = images[pos:]
        self._wait()
        if self.pool is None:
            list(map(self._chunk, work))
        else:  # encoded while the caller makes the next block; the caller's buffers alternate
            self.running = [self.pool.submit(self._chunk, item) for item in work]

    def _wait(self) -> None:
        running, self.running = self.running, []
        for future in running:
            future.result()

    def flush(self) -> None:
        """Waits for the chunks in flight and writes the last, partial chunk (the edge)."""
        self._wait()
        if self.direct and self.fill:
            self._chunk((self.index, self.pending[: self.fill]))
            self.fill = 0

    def _chunk(self, item) -> None:
        index, values = item
        if not values.any():  # all fill value (0): zarr writes nothing either
            return
        if len(values) < self.rows:  # the edge chunk is stored whole, padded with 0
            padded = np.zeros((self.rows,) + values.shape[1:], dtype=np.float32)
            padded[: len(values)] = values
            values = padded
        key = self.array.metadata.encode_chunk_key((index,) + (0,) * (values.ndim - 1))
        path = os.path.join(self.folder, *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = self.codec.encode(np.ascontiguousarray(values, dtype="<f4"))
        with open(path, "wb") as fh:
            fh.write(data)

    def close(self) -> None:
        """Stops the encoding threads (call :meth:`flush` first to write everything)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def write_zarr(path, genomap, X, obs_names=None, var_names=None, batch_size=None,
               progress=None) -> str:
    """Rasterises every cell of X with a fitted Genomap into a new zarr store at ``path``.

    Written block by block (memory: one block of cells and its images) under a temporary name,
    renamed into place when complete. A dask array is rasterised and written by the dask
    workers, one task per block. :meth:`genomap_fast.Genomap.write_zarr` calls this.

    Parameters
    ----------
    path : str or os.PathLike
        The store (a directory); an existing one is replaced once the new one is complete.
    genomap : genomap_fast.Genomap
        A fitted Genomap.
    X : array-like, AnnData or str
        Cells x genes, any input :meth:`genomap_fast.Genomap.fit` accepts, with the genes of
        the fit.
    obs_names, var_names : sequence of str, optional
        Cell and gene names (default: ``obs0, obs1, ...`` and ``var0, var1, ...``).
    batch_size : int, optional
        Cells rasterised per block (default: 8 zarr chunks).
    progress : tqdm.tqdm, optional
        A progress bar advanced by the cells of each block.

    Returns
    -------
    str
        The path of the store: a zarr group with ``images`` (cells, 1, rows, cols) float32,
        ``obs_names`` (cells,), ``var_names`` and ``placement`` (genes,), and attributes (grid,
        GW objective, iterations, ``complete``).

    Raises
    ------
    ValueError
        Names of the wrong length, or input errors of the Genomap.
    ImportError
        zarr is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> import zarr
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.store import write_zarr
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_zarr(os.path.join(tmp, "maps.zarr"), gm, X)
    ...     g = zarr.open_group(path, mode="r")
    ...     g["images"].shape, str(g["images"].dtype), g.attrs["complete"]
    ((100, 1, 8, 8), 'float32', True)
    """
    from ._source import as_source
    from ._validate import default_threads

    zarr = _zarr()
    src = as_source(X)
    path = os.fspath(path).rstrip("/")
    n = src.shape[0]
    rows, cols = genomap.rows, genomap.cols
    chunk = chunk_cells(rows, cols)
    step = batch_size or 8 * chunk
    remove_stale_partials(path)  # temporaries of earlier killed writes to this path
    tmp = partial_path(path)
    try:
        g = zarr.open_group(tmp, mode="w")
        g.attrs.update({"format": FORMAT, "complete": False, "rows": rows, "cols": cols,
                        "grid_metric": genomap.grid_metric, "objective": genomap.objective_,
                        "n_iter": genomap.n_iter_, "n_cells": int(n)})
        g.create_array("placement", data=np.asarray(genomap.placement_, dtype=np.int64))
        for name, values, size in (("obs_names", obs_names, n),
                                   ("var_names", var_names, genomap.n_genes_in_)):
            if values is not None and len(values) != size:
                raise ValueError(f"{name} has {len(values)} entries, expected {size}")
            arr = g.create_array(name, shape=(size,), dtype=str, chunks=(min(size, 1 << 16),))
            for lo in range(0, size, NAME_CHUNK):  # in blocks: an atlas has millions of names
                hi = min(size, lo + NAME_CHUNK)
                arr[lo:hi] = (np.asarray(values[lo:hi], dtype=str) if values is not None else
                              np.array([f"{name[:3]}{i}" for i in range(lo, hi)], dtype=str))
        chunks = (min(chunk, max(n, 1)), 1, rows, cols)
        if src.is_dask:
            from .distributed import write_images

            write_images(genomap, src.data, g, "images", chunks)
            if progress is not None:
                progress.update(n)
        else:
            images = g.create_array("images", shape=(n, 1, rows, cols), chunks=chunks,
                                    dtype="float32", compressors=image_compressor())
            nt = default_threads(genomap.num_threads)
            # two image buffers: the writer encodes one while the next block is rasterised
            outs = [np.empty((min(step, n), 1, rows, cols), dtype=np.float32) for _ in range(2)]
            writer = ChunkWriter(images, nt)
            try:
                # the kernels check values
                blocks = src.blocks(step, check=False, prefetch=True, reuse=True)
                for k, (start, block) in enumerate(blocks):
                    m, out = block.shape[0], outs[k % 2]
                    genomap.rasterize_block(block, out[:m], "nchw", nt, start)
                    writer.write(start, out[:m])
                    if progress is not None:
                        progress.update(m)
                writer.flush()
            finally:
                writer.close()
        g.attrs["complete"] = True  # last: the store is whole from here on
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _replace_dir(tmp, path):
    if not os.path.exists(path):
        os.replace(tmp, path)
        return
    old = partial_path(path, tag="-old")  # a kill from here on leaves only stale temporaries
    os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def open_images(path):
    """The ``images`` array of a complete genomap store, read lazily.

    Parameters
    ----------
    path : str or os.PathLike
        A store written by :func:`write_zarr` or :meth:`genomap_fast.Genomap.write_zarr`.

    Returns
    -------
    zarr.Array
        ``(cells, 1, rows, cols)`` float32, read chunk by chunk when indexed. A damaged chunk
        raises zarr's own error when it is read (RuntimeError from zstd: chunks carry
        checksums); :class:`genomap_fast.cnn.GenomapStoreDataset` turns it into a ValueError.

    Raises
    ------
    ValueError
        Not a readable genomap store, or an incomplete one (an interrupted write).

    Examples
    --------
    >>> import os, tempfile
    >>> import genomap_fast as gf
    >>> from genomap_fast.datasets import synthetic_counts
    >>> from genomap_fast.store import open_images
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     images = open_images(gm.write_zarr(os.path.join(tmp, "maps.zarr"), X))
    ...     images.shape, images[:5].shape
    ((100, 1, 8, 8), (5, 1, 8, 8))
    >>> open_images("no-such-store.zarr")
    Traceback (most recent call last):
    ...
    ValueError: no-such-store.zarr is not a readable genomap store: ...
    """
    zarr = _zarr()
    try:
        g = zarr.open_group(os.fspath(path), mode="r")
        attrs = dict(g.attrs)
    except Exception as err:
        raise ValueError(f"{path} is not a readable genomap store: {err}") from err
    if attrs.get("format") != FORMAT:
        raise ValueError(f"{path} is not a genomap store")
    if not attrs.get("complete"):
        raise ValueError(f"{path} is an incomplete genomap store (an interrupted write); "
                         f"write it again")
    return g["images"]
