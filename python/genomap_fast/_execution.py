"""Where a fit or a transform runs, decided once per call.

:func:`execution_for` looks at the input and the estimator's resolved device once and returns
an execution backend; :class:`genomap_fast.Genomap` then asks it for the per-gene variance
(gene selection), the interaction statistics and the images, and never branches on where the
data lives (in the spirit of POT's ``ot.backend``: chosen once from the inputs, called
through). The memory estimate and the progress bars stay in the estimator, the same for every
backend.

- :class:`InProcess`: row blocks in this process (numpy/scipy in memory, or read from disk),
  :mod:`genomap_fast.interaction` and :func:`genomap_fast.raster.rasterize`.
- :class:`HostOnDevice`: the same blocks with ``device="cuda"``: their statistics are summed on
  the GPU (:mod:`genomap_fast._gpu`); images are rasterised on the CPU (faster than a round
  trip through the device).
- :class:`OnDask`: a dask array: statistics as a dask reduction, images as a lazy dask array
  (:mod:`genomap_fast.distributed`).
- :class:`OnDevice`: a device matrix (cupy, CUDA torch) with ``device="cuda"``, used in place;
  images come back as device arrays.
"""
from __future__ import annotations

import numpy as np

from ._source import RowSource, as_source, checked_names
from .interaction import default_chunk_rows, gene_moments, interaction_matrix
from .raster import image_shape


def _gpu():
    from . import _gpu  # only with device="cuda": never imports cupy/torch by itself

    return _gpu


def sample_rows(n_cells: int, sample, random_state) -> np.ndarray | None:
    """The sorted rows of a reproducible random subset of ``sample`` cells, or None when
    ``sample`` is not smaller than ``n_cells`` (all cells are used)."""
    if not (isinstance(sample, (int, np.integer)) and 2 <= sample):
        raise ValueError(f"sample must be an integer >= 2, got {sample!r}")
    if sample >= n_cells:
        return None
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_cells, int(sample), replace=False))


class InProcess:
    """Row blocks of a :class:`~genomap_fast._source.RowSource` processed in this process."""

    def __init__(self, src: RowSource, device: str = "cpu"):
        self.src = src
        self.device = device

    @property
    def shape(self) -> tuple[int, int]:
        return self.src.shape

    @property
    def var_names(self):
        return self.src.var_names

    @property
    def obs_names(self):
        return self.src.obs_names

    def sample(self, sample, random_state):
        """The backend of a random subset of the cells (read into memory)."""
        rows = sample_rows(self.shape[0], sample, random_state)
        if rows is None:
            return self
        return for_source(as_source(self.src.take(rows)), self.device)

    def gene_variance(self, chunk_size):
        return gene_moments(self.src, chunk_size)[1]

    def statistics(self, chunk_size, num_threads, genes, progress):
        return interaction_matrix(self.src, chunk_size, num_threads, genes, progress=progress)

    def images(self, genomap, layout, batch_size, out, num_threads, progress):
        shape = image_shape(self.shape[0], genomap.rows, genomap.cols, layout)
        if out is None:
            out = np.empty(shape, dtype=genomap.dtype)
        elif out.shape != shape or out.dtype != genomap.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {genomap.dtype} array of shape {shape}")
        with progress(self.shape[0], "genomaps") as bar:
            step = batch_size or default_chunk_rows(max(genomap.n_genes_in_, genomap.n_pixels))
            for start, block in self.src.blocks(step, check=False):
                genomap.rasterize_block(block, out[start : start + block.shape[0]], layout,
                                        num_threads, start)
                if bar is not None:
                    bar.update(block.shape[0])
        return out


class HostOnDevice(InProcess):
    """Host row blocks whose interaction statistics are summed on the GPU."""

    def statistics(self, chunk_size, num_threads, genes, progress):
        return _gpu().interaction_matrix(self.src, chunk_size, num_threads, genes,
                                         progress=progress)


class OnDask(InProcess):
    """A dask array: the statistics are a dask reduction, the images a lazy dask array."""

    def gene_variance(self, chunk_size):
        from .distributed import gene_moments as dask_moments

        return dask_moments(self.src.data, chunk_size)[1]

    def statistics(self, chunk_size, num_threads, genes, progress):
        from .distributed import interaction_stats

        return interaction_stats(self.src.data, chunk_size, num_threads, genes,
                                 progress=progress)

    def images(self, genomap, layout, batch_size, out, num_threads, progress):
        # lazy: nothing is computed here, so there is no progress to report
        from .distributed import transform_blocks

        return transform_blocks(genomap, self.src.data, layout, batch_size)


class OnDevice:
    """A device matrix (cupy array, CUDA torch tensor), used in place."""

    def __init__(self, X, layer=None, gene_names=None):
        if layer is not None:
            raise ValueError("layer= is only meaningful for AnnData input")
        self.X = X
        self.shape = tuple(int(s) for s in X.shape)
        self.var_names = checked_names(gene_names, self.shape[1], "gene names", "data")
        self.obs_names = None

    @property
    def src(self):
        raise TypeError("a device array is not read in host row blocks (a store is written "
                        "from host data): copy it to the host first")

    def sample(self, sample, random_state):
        rows = sample_rows(self.shape[0], sample, random_state)
        if rows is None:
            return self
        return OnDevice(_gpu().take_rows(self.X, rows), None, self.var_names)

    def gene_variance(self, chunk_size):
        return _gpu().column_variance(self.X)

    def statistics(self, chunk_size, num_threads, genes, progress):
        return _gpu().interaction_matrix(self.X, chunk_size, num_threads, genes,
                                         progress=progress)

    def images(self, genomap, layout, batch_size, out, num_threads, progress):
        shape = image_shape(self.shape[0], genomap.rows, genomap.cols, layout)
        with progress(self.shape[0], "genomaps") as bar:
            images = _gpu().transform_device(genomap, self.X, shape)
            if bar is not None:
                bar.update(self.shape[0])
        return images


def for_source(src: RowSource, device: str = "cpu"):
    """The backend of host data: dask arrays on dask, the rest in this process (statistics on
    the GPU with ``device="cuda"``)."""
    if src.is_dask:
        return OnDask(src, device)
    return HostOnDevice(src, device) if device == "cuda" else InProcess(src, device)


def execution_for(X, device: str = "cpu", layer: str | None = None, gene_names=None):
    """The one place that decides where work on X runs (``device``: the estimator's resolved
    "cpu" or "cuda"). X is anything :func:`~genomap_fast._source.as_source` accepts, or a
    device array with ``device="cuda"``."""
    if device == "cuda" and _gpu().is_device_array(X):
        return OnDevice(X, layer, gene_names)
    return for_source(as_source(X, layer, gene_names), device)
