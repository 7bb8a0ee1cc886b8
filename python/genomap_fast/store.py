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

FORMAT = "genomap_fast.store/1"
NAME_CHUNK = 1 << 16  # names copied per step (an atlas has millions; a file's are read lazily)


def _zarr():
    try:
        import zarr
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("zarr stores need the zarr package: pip install zarr") from err
    return zarr


def chunk_cells(rows: int, cols: int, target_bytes: int = 1 << 21) -> int:
    """Cells per chunk so that a chunk of float32 images is about ``target_bytes`` (2 MiB)."""
    return max(1, target_bytes // (rows * cols * 4))


def write_zarr(path, genomap, X, obs_names=None, var_names=None, batch_size=None,
               progress=None) -> str:
    """Rasterises every cell of X (any input :func:`~genomap_fast._source.as_source` accepts)
    with a fitted Genomap straight into a new zarr store at ``path``, block by block (memory:
    one block of cells and its images). A dask array is rasterised and written by the dask
    workers, one task per block."""
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
                                    dtype="float32")
            nt = default_threads(genomap.num_threads)
            out = np.empty((min(step, n), 1, rows, cols), dtype=np.float32)
            for start, block in src.blocks(step, check=False):  # the kernels check values
                m = block.shape[0]
                genomap.rasterize_block(block, out[:m], "nchw", nt, start)
                images[start : start + m] = out[:m]
                if progress is not None:
                    progress.update(m)
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
    """The ``images`` array of a complete store (lazy zarr array); ValueError otherwise."""
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
