"""A torch Dataset that rasterises genomaps lazily, so a CNN can train on more cells than fit
in memory as images."""
from __future__ import annotations

import numpy as np
import torch

from .._source import as_matrix
from .._validate import NotFittedError


class GenomapDataset(torch.utils.data.Dataset):
    """A torch Dataset of genomaps rasterised on access, for more cells than fit in memory as
    images.

    Yields ``(image, label)`` per cell: image a (1, rows, cols) float32 tensor rasterised by a
    fitted :class:`~genomap_fast.Genomap`, label from ``labels`` (or the cell index when None).
    Batches are rasterised in one call (``__getitems__``) when the DataLoader asks for several
    cells at once.

    Parameters
    ----------
    genomap : genomap_fast.Genomap
        A fitted Genomap.
    X : numpy.ndarray or scipy.sparse matrix of shape (n_cells, n_genes)
        Cells x genes of the fit.
    labels : array-like of shape (n_cells,), optional
        Label of each cell.

    Raises
    ------
    NotFittedError
        An unfitted Genomap.
    ValueError
        X with other genes than the fit, or labels of another length.

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> import genomap_fast as gf
    >>> from genomap_fast.cnn import GenomapDataset
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> ds = GenomapDataset(gf.Genomap(8, 8).fit(X), X, y)
    >>> image, label = ds[0]
    >>> tuple(image.shape), image.dtype
    ((1, 8, 8), torch.float32)
    >>> images, labels = next(iter(DataLoader(ds, batch_size=32)))
    >>> tuple(images.shape), tuple(labels.shape)
    ((32, 1, 8, 8), (32,))
    """

    def __init__(self, genomap, X, labels=None):
        if not hasattr(genomap, "placement_"):
            raise NotFittedError("GenomapDataset needs a fitted Genomap")
        self.genomap = genomap
        self.X = as_matrix(X)
        if self.X.shape[1] != genomap.n_genes_in_:
            raise ValueError(f"X has {self.X.shape[1]} genes but the Genomap was fitted on "
                             f"{genomap.n_genes_in_}")
        if labels is not None and len(labels) != self.X.shape[0]:
            raise ValueError(f"{self.X.shape[0]} cells but {len(labels)} labels")
        self.labels = None if labels is None else np.asarray(labels)

    def __len__(self) -> int:
        return self.X.shape[0]

    def _images(self, idx):
        imgs = self.genomap.transform(self.X[idx], layout="nchw")
        return torch.from_numpy(np.ascontiguousarray(imgs, dtype=np.float32))

    def _label(self, i):
        return i if self.labels is None else self.labels[i]

    def __getitem__(self, i):
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"cell {i} out of range for {len(self)} cells")
        i %= len(self)
        return self._images(np.array([i]))[0], self._label(i)

    def __getitems__(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        imgs = self._images(idx)
        return [(imgs[k], self._label(int(i))) for k, i in enumerate(idx)]


class GenomapStoreDataset(torch.utils.data.Dataset):
    """A torch Dataset of the genomaps of a zarr store (see :mod:`genomap_fast.store`).

    Yields ``(image, label)`` per cell: image a (1, rows, cols) float32 tensor, label from
    ``labels`` (or the cell index when None). Images are read on access, whole zarr chunks at a
    time, with an LRU cache of ``cache_chunks`` decoded chunks, so a CNN can train on more
    images than fit in memory. Works with ``DataLoader(num_workers=...)``: each worker reopens
    the store. Pair with :class:`ChunkShuffleSampler` to shuffle without a chunk read per item.

    Parameters
    ----------
    store : str, os.PathLike or zarr.Array
        A store path (incomplete stores are refused) or an opened zarr array
        ``(cells, 1, rows, cols)``.
    labels : array-like of shape (n_cells,), optional
        Label of each cell.
    cache_chunks : int, default 2
        Decoded chunks kept in memory.

    Raises
    ------
    ValueError
        Not a complete genomap store, images not 4-D, labels of another length; a damaged
        chunk when it is read (the message names the store and the cells).

    Examples
    --------
    >>> import os, tempfile
    >>> import genomap_fast as gf
    >>> from genomap_fast.cnn import GenomapStoreDataset
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ds = GenomapStoreDataset(gm.write_zarr(os.path.join(tmp, "maps.zarr"), X), y)
    ...     image, label = ds[3]
    ...     len(ds), tuple(image.shape), int(label) == int(y[3])
    (100, (1, 8, 8), True)
    """

    def __init__(self, store, labels=None, cache_chunks: int = 2):
        from collections import OrderedDict

        from ..store import open_images

        self.path = None if hasattr(store, "shape") else store
        self.images = open_images(store) if self.path is not None else store
        if self.images.ndim != 4:
            raise ValueError(f"expected images (cells, 1, rows, cols), got {self.images.shape}")
        self.n = int(self.images.shape[0])
        self.chunk_len = int(self.images.chunks[0])
        if labels is not None and len(labels) != self.n:
            raise ValueError(f"{self.n} cells in the store but {len(labels)} labels")
        self.labels = None if labels is None else np.asarray(labels)
        self.cache_chunks = int(cache_chunks)
        self._cache = OrderedDict()
        self.n_chunk_reads = 0

    def __len__(self) -> int:
        return self.n

    def __getstate__(self):  # workers reopen the store from its path
        state = dict(self.__dict__)
        if self.path is not None:
            state["images"] = None
        state["_cache"] = type(self._cache)()
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self.images is None:
            from ..store import open_images

            self.images = open_images(self.path)

    def _chunk(self, c: int) -> np.ndarray:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        lo = c * self.chunk_len
        hi = min(self.n, lo + self.chunk_len)
        try:
            data = np.asarray(self.images[lo:hi], dtype=np.float32)
        except (RuntimeError, ValueError, OSError, TypeError) as err:  # zstd, zarr, the disk
            raise ValueError(f"{self.path or 'the store'}: cannot read cells {lo}-{hi - 1} "
                             f"({type(err).__name__}: {err})") from err
        if data.shape != (hi - lo,) + tuple(self.images.shape[1:]):
            raise ValueError(f"{self.path or 'the store'}: cells {lo}-{hi - 1} read as shape "
                             f"{data.shape}")
        self.n_chunk_reads += 1
        if self.cache_chunks > 0:
            self._cache[c] = data
            while len(self._cache) > self.cache_chunks:
                self._cache.popitem(last=False)
        return data

    def _index(self, i) -> int:
        i = int(i)
        if not -self.n <= i < self.n:
            raise IndexError(f"cell {i} out of range for {self.n} cells")
        return i % self.n

    def _label(self, i):
        return i if self.labels is None else self.labels[i]

    def __getitem__(self, i):
        i = self._index(i)
        img = self._chunk(i // self.chunk_len)[i % self.chunk_len]
        return torch.from_numpy(img.copy()), self._label(i)

    def __getitems__(self, indices):
        idx = [self._index(i) for i in indices]
        out = [None] * len(idx)
        by_chunk: dict = {}
        for k, i in enumerate(idx):
            by_chunk.setdefault(i // self.chunk_len, []).append(k)
        for c, ks in by_chunk.items():  # each needed chunk read once
            data = self._chunk(c)
            for k in ks:
                i = idx[k]
                out[k] = (torch.from_numpy(data[i % self.chunk_len].copy()), self._label(i))
        return out


class ChunkShuffleSampler(torch.utils.data.Sampler):
    """A reproducible shuffle for :class:`GenomapStoreDataset` that reads each chunk once.

    Random order of chunks, random order of cells within each chunk. Random access into a
    compressed store decodes a whole chunk per item; this order decodes each chunk once per
    epoch (with a 1-chunk cache). ``set_epoch(e)`` gives each epoch its own permutation.

    Parameters
    ----------
    dataset : GenomapStoreDataset
        The dataset to shuffle.
    seed : int, default 0
        Seed of the permutations.

    Examples
    --------
    >>> import os, tempfile
    >>> from torch.utils.data import DataLoader
    >>> import genomap_fast as gf
    >>> from genomap_fast.cnn import ChunkShuffleSampler, GenomapStoreDataset
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, _ = synthetic_counts(n_cells=100, n_genes=60, seed=0)
    >>> gm = gf.Genomap(8, 8).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ds = GenomapStoreDataset(gm.write_zarr(os.path.join(tmp, "maps.zarr"), X))
    ...     sampler = ChunkShuffleSampler(ds, seed=0)
    ...     order = list(sampler)
    ...     batches = [images.shape[0] for images, _ in DataLoader(ds, 40, sampler=sampler)]
    >>> sorted(order) == list(range(100)), batches
    (True, [40, 40, 20])
    """

    def __init__(self, dataset, seed: int = 0):
        self.n, self.chunk_len = len(dataset), dataset.chunk_len
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration the permutation of epoch ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        n_chunks = -(-self.n // self.chunk_len)
        for c in rng.permutation(n_chunks):
            lo = int(c) * self.chunk_len
            yield from (lo + rng.permutation(min(self.chunk_len, self.n - lo))).tolist()
