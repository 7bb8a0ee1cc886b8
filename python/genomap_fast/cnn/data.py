"""A torch Dataset that rasterises genomaps lazily, so a CNN can train on more cells than fit
in memory as images."""
from __future__ import annotations

import numpy as np
import torch

from .._validate import NotFittedError, as_matrix


class GenomapDataset(torch.utils.data.Dataset):
    """Yields ``(image, label)`` per cell: image (1, rows, cols) float32 tensor rasterised on
    access by a fitted :class:`~genomap_fast.Genomap`, label from ``labels`` (or the cell index
    when None). X is (cells, genes) ndarray or scipy.sparse; batches are rasterised in one call
    (``__getitems__``) when the DataLoader asks for several cells at once."""

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
