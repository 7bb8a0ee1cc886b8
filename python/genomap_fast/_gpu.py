"""GPU execution paths (``device="cuda"``): rasterisation and the interaction statistics.

Device arrays (cupy arrays, CUDA torch tensors: anything with ``__cuda_array_interface__``) are
used in place, zero-copy, and give the same kind of array back. For the interaction statistics,
host arrays and on-disk atlases are streamed to the device in blocks whose size follows a
device-memory cap (``max_device_bytes``, default :data:`DEFAULT_DEVICE_BYTES` or the
environment variable ``GENOMAP_FAST_DEVICE_MEMORY``); ``Genomap`` rasterises host arrays on the
CPU, faster than a round trip (:func:`rasterize_host_block` is that round trip). The GW
placement on the device is :mod:`genomap_fast._gpu_gw`.
"""
from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from . import _core
from ._source import as_source, check_block

DEFAULT_DEVICE_BYTES = 1 << 30
# Without a cap given (argument or GENOMAP_FAST_DEVICE_MEMORY), the interaction statistics of a
# wide matrix (two genes x genes float64 matrices: 1.6 GB at 10,000 genes) get the room they need
# plus this many rows per block, rather than an error.
DEFAULT_MIN_BLOCK_ROWS = 1024


def _cuda():
    from . import _cuda

    return _cuda


def device_bytes(max_device_bytes: int | None = None) -> int:
    if max_device_bytes is None:
        max_device_bytes = int(os.environ.get("GENOMAP_FAST_DEVICE_MEMORY", DEFAULT_DEVICE_BYTES))
    if max_device_bytes < 1:
        raise ValueError(f"max_device_bytes must be positive, got {max_device_bytes}")
    return int(max_device_bytes)


def is_device_array(x) -> bool:
    """True for cupy arrays/sparse matrices and CUDA torch tensors (never imports either)."""
    if hasattr(x, "__cuda_array_interface__"):
        return True
    mod = type(x).__module__
    return mod.startswith("cupyx.scipy.sparse") or (
        mod.startswith("torch") and getattr(x, "is_cuda", False))


def _interface(x) -> tuple[int, str, tuple]:
    """(device pointer, numpy dtype name, shape) of a C-contiguous device array."""
    cai = x.__cuda_array_interface__
    dtype = np.dtype(cai["typestr"])
    shape = tuple(cai["shape"])
    strides = cai.get("strides")
    if strides is not None and tuple(strides) != tuple(
            int(np.prod(shape[i + 1:])) * dtype.itemsize for i in range(len(shape))):
        raise ValueError("device arrays must be C-contiguous")
    return int(cai["data"][0]), dtype.name, shape


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _empty_like_kind(x, shape, dtype):
    """An uninitialised device array of the same library as x."""
    if _is_torch(x):
        import torch

        return torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=x.device)
    import cupy

    return cupy.empty(shape, dtype=dtype)


def _to_device_like(x, host: np.ndarray):
    if _is_torch(x):
        import torch

        return torch.as_tensor(host, device=x.device)
    import cupy

    return cupy.asarray(host)


def _float_device(x):
    """x as a C-contiguous float32/float64 device array of the same library (no copy when it
    already is one)."""
    if _is_torch(x):
        import torch

        if x.dtype not in (torch.float32, torch.float64):
            x = x.to(torch.float32)
        return x.contiguous()
    import cupy

    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return cupy.ascontiguousarray(x)


# ---------------------------------------------------------------- rasterisation
def rasterize_device(X, dest: np.ndarray, scale: float, shape: tuple, dtype):
    """Images of a device matrix X (cells x genes, dense or cupyx CSR) by the gather kernel:
    ``out.reshape(cells, -1)[c, dest[g]] = X[c, g] * scale``. Returns an array of ``shape``
    and ``dtype`` (float16/32/64) of X's library."""
    cu = _cuda()
    dtype = np.dtype(dtype)
    n_cells = shape[0]
    image = int(np.prod(shape[1:]))
    if hasattr(X, "indptr"):  # cupyx.scipy.sparse CSR
        X = X.tocsr()
        out = _empty_like_kind(X.data, shape, dtype)
        d_dest = _to_device_like(X.data, dest.astype(np.int64))
        ip, idx, _ = _interface(X.indptr)
        ix, _, _ = _interface(X.indices)
        data = X.data if X.data.dtype in (np.float32, np.float64) else X.data.astype(np.float32)
        dp, dname, _ = _interface(data)
        bad = cu.raster_csr(ip, ix, idx, dp, dname, n_cells, int(X.nnz), _interface(d_dest)[0],
                            scale, _interface(out)[0], dtype.name, image)
        if bad >= 0:
            raise ValueError(f"data holds NaN or inf values (first in cell {bad})")
        return out
    X = _float_device(X)
    xp, xname, xshape = _interface(X)
    if len(xshape) != 2:
        raise ValueError(f"X must be 2-D (cells x genes), got shape {xshape}")
    out = _empty_like_kind(X, shape, dtype)
    d_dest = _to_device_like(X, dest.astype(np.int64))
    bad = cu.raster_dense(xp, xname, n_cells, xshape[1], xshape[1], _interface(d_dest)[0], scale,
                          _interface(out)[0], dtype.name, image)
    if bad >= 0:
        raise ValueError(f"data holds NaN or inf values (first in cell {bad})")
    return out


def rasterize_host_block(block, dest: np.ndarray, scale: float, out: np.ndarray,
                         row_offset: int = 0, max_device_bytes: int | None = None) -> None:
    """Host block (float ndarray or CSR, cells x genes) -> ``out`` (cells, ...) through the
    device, in sub-blocks that fit ``max_device_bytes``."""
    if sp.issparse(block):
        block = block.toarray()
    block = np.ascontiguousarray(block)
    if block.dtype not in (np.float32, np.float64):
        block = block.astype(np.float32)
    flat = out.reshape(out.shape[0], -1)
    per_row = block.shape[1] * block.dtype.itemsize + flat.shape[1] * flat.dtype.itemsize
    chunk = max(1, device_bytes(max_device_bytes) // max(per_row, 1))
    bad = _cuda().raster_dense_streamed(block, dest.astype(np.int64), scale, flat, chunk)
    if bad >= 0:
        check_block(block, row_offset, "data")


# ---------------------------------------------------------------- interaction matrix
def _accumulator_from_state(count, shift, sums, cross):
    n = shift.shape[0]
    acc = _core.CorrelationAccumulator.__new__(_core.CorrelationAccumulator)
    acc.__setstate__((n, int(count), count > 0, shift, sums, cross))
    return acc


def block_rows(n_genes: int, max_device_bytes: int | None = None) -> int:
    """Rows per device block: three row-blocks (two in flight, one centred) and two
    genes x genes matrices within the cap. With no cap given (neither argument nor
    ``GENOMAP_FAST_DEVICE_MEMORY``) the default cap grows to hold the statistics and
    :data:`DEFAULT_MIN_BLOCK_ROWS` rows; a cap given that cannot hold them is an error."""
    cap = device_bytes(max_device_bytes)
    stats, per_row = 2 * n_genes * n_genes * 8, 3 * n_genes * 8
    if max_device_bytes is None and "GENOMAP_FAST_DEVICE_MEMORY" not in os.environ:
        cap = max(cap, stats + DEFAULT_MIN_BLOCK_ROWS * per_row)
    rows = (cap - stats) // per_row
    if rows < 1:
        raise ValueError(f"max_device_bytes={cap} cannot hold the {n_genes} x {n_genes} "
                         f"statistics ({stats + per_row} bytes at least)")
    return int(rows)


def accumulate(X, chunk_size: int | None = None, columns=None, progress=None,
               max_device_bytes: int | None = None):
    """The C++ core's block fold (:func:`genomap_fast.interaction.accumulate`) on the device:
    returns a ``_core.CorrelationAccumulator`` holding the device's statistics. Blocks of
    ``chunk_size`` rows (capped by device memory); sparse blocks are densified per block."""
    cu = _cuda()
    device_input = is_device_array(X)
    if device_input:
        X = _float_device(X if columns is None else X[:, _to_device_like(X, np.asarray(columns))])
        width = _interface(X)[2][1]
        n_rows = _interface(X)[2][0]
    else:
        src = as_source(X)
        width = src.shape[1] if columns is None else len(columns)
    rows = block_rows(width, max_device_bytes)
    if chunk_size is not None:
        rows = min(rows, int(chunk_size))
    dev = cu.DeviceAccumulator(width, rows)
    if device_input:
        ptr, name, _ = _interface(X)
        itemsize = np.dtype(name).itemsize
        for start in range(0, n_rows, rows):
            m = min(rows, n_rows - start)
            dev.add_device_block(ptr + start * width * itemsize, name, m)
            if progress is not None:
                progress.update(m)
    else:
        for _, block in src.blocks(rows, columns):
            if sp.issparse(block):
                block = block.toarray()
            # float32 blocks travel as float32 (widened on the device, as the core widens them)
            dtype = np.float32 if block.dtype == np.float32 else np.float64
            dev.add_host_block(np.ascontiguousarray(block, dtype=dtype))
            if progress is not None:
                progress.update(block.shape[0])
    return _accumulator_from_state(*dev.state())


def interaction_matrix(X, chunk_size: int | None = None, num_threads: int | None = None,
                       columns=None, progress=None, max_device_bytes: int | None = None):
    """:func:`genomap_fast.interaction.interaction_matrix` with the statistics on the device
    (the final genes x genes distance is formed on the host)."""
    from .interaction import stats_from_accumulator

    acc = accumulate(X, chunk_size, columns, progress, max_device_bytes)
    if acc.count < 2:
        raise ValueError(f"the interaction matrix needs at least 2 cells, got {acc.count}")
    return stats_from_accumulator(acc, num_threads)


def sinkhorn_classes(M, capacity, reg: float, max_iter: int = 1000, stop_thr: float = 1e-9):
    """Log-domain Sinkhorn on the device (genes x classes); (class mass, iterations, error)."""
    return _cuda().sinkhorn_log(np.ascontiguousarray(M, dtype=np.float64),
                                np.ascontiguousarray(capacity, dtype=np.int64), float(reg),
                                int(max_iter), float(stop_thr))


# ---------------------------------------------------------------- estimator glue
def placement_dest(placement, genes: np.ndarray, n_genes_in: int) -> tuple[np.ndarray, float]:
    """(dest, scale) of a permutation placement: each input gene's offset in an image (-1 when
    not placed) and the reference's rows*cols/n_placed scale."""
    from .placement import image_offsets

    dest = np.full(n_genes_in, -1, dtype=np.int64)
    dest[genes] = image_offsets(placement.pixel, placement.rows, placement.cols)
    return dest, placement.rows * placement.cols / placement.n_genes


def take_rows(X, rows: np.ndarray):
    """Rows ``rows`` (a host int array) of a device matrix, as a device array of its library."""
    return X[_to_device_like(X, np.asarray(rows, dtype=np.int64))]


def column_variance(X) -> np.ndarray:
    """Per-column population variance (ddof=0) of a device matrix, as float64 on the host."""
    X = _float_device(X)
    if _is_torch(X):
        return X.double().var(dim=0, unbiased=False).cpu().numpy()
    return X.astype(np.float64).var(axis=0).get()


def transform_device(gm, X, shape):
    """Images of a device matrix by a fitted Genomap (permutation placement), same library."""
    if gm.placement_obj_.pixel is None:
        raise ValueError("device arrays need an exact (epsilon=0) placement; transform a host "
                         "array for dense couplings")
    if X.shape[1] != gm.n_genes_in_:
        raise ValueError(f"X has {X.shape[1]} genes but this Genomap was fitted on "
                         f"{gm.n_genes_in_}")
    if gm.standardize:
        Xf = _float_device(X)
        np_dtype = np.float64 if "64" in str(Xf.dtype) else np.float32
        cols = _to_device_like(Xf, gm.genes_)
        mean = _to_device_like(Xf, gm.mean_.astype(np_dtype))
        sd = _to_device_like(Xf, gm.scale_.astype(np_dtype))
        z = (Xf[:, cols] - mean) / sd
        dest, s = placement_dest(gm.placement_obj_, np.arange(gm.genes_.size), gm.genes_.size)
        return rasterize_device(z, dest, s, shape, gm.dtype)
    dest, s = placement_dest(gm.placement_obj_, gm.genes_, gm.n_genes_in_)
    return rasterize_device(X, dest, s, shape, gm.dtype)
