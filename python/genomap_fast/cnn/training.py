"""Training loop shared by the CNN tasks: seeded, batched, progress bar, optional early stop."""
from __future__ import annotations

import contextlib

import numpy as np
import torch


def device_for(device: str | None = None) -> torch.device:
    """The requested device, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def one_thread():
    """PyTorch (and k-means, BLAS) on one CPU thread, restoring the caller's settings.

    PyTorch's CPU kernels split their reductions by the thread count (bias gradients, sums and
    means over a batch, oneDNN's convolutions), so the same seed gave other models, embeddings
    and labels with 1 and 2 threads. Training, inference and attribution run inside this, so a
    seed gives the same result on any machine size; the genomap placement and rasterisation
    still use ``num_threads`` (their results never depend on it).
    """
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):  # k-means and BLAS calls inside too
            yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def deterministic(seed: int):
    """Seeds torch, makes its algorithms deterministic and runs on one CPU thread
    (:func:`one_thread`), restoring the caller's settings."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    try:
        with one_thread():
            yield torch.Generator().manual_seed(seed)
    finally:
        torch.use_deterministic_algorithms(previous)


def train(model, images, targets: np.ndarray, loss_fn, epochs: int, batch_size: int,
          lr: float, weight_decay: float, seed: int, device, progress: bool,
          patience: int | None = None, desc: str = "training") -> list:
    """Trains ``model`` in place with AdamW; returns the per-epoch mean loss.

    images: (n, 1, rows, cols) float32 array, or a function ``rows -> images`` that rasterises
    a batch on demand (cells given as an int64 index array), so that more cells than fit in
    memory as images can be trained on. targets (n,) int64 classes or (n, k) float32 values.
    With ``patience``, stops once the epoch loss has not improved by 1e-4 (relative) for that
    many epochs.
    """
    from .._progress import progress_bar

    if callable(images):
        def batch(idx):
            return torch.from_numpy(np.ascontiguousarray(images(idx.numpy()), dtype=np.float32))
    else:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))

        def batch(idx):
            return x[idx]
    y = torch.from_numpy(np.ascontiguousarray(targets))
    n = y.shape[0]
    history = []
    with deterministic(seed) as gen:
        model.to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        best, stale = np.inf, 0
        bar = progress_bar(range(epochs), desc=desc, unit="epoch", disable=not progress)
        for _ in bar:
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                xb, yb = batch(idx).to(device), y[idx].to(device)
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            epoch_loss = total / n
            history.append(epoch_loss)
            bar.set_postfix(loss=f"{epoch_loss:.4f}")
            if patience is not None:
                if epoch_loss < best * (1 - 1e-4):
                    best, stale = epoch_loss, 0
                else:
                    stale += 1
                    if stale >= patience:
                        break
    return history


def predict(model, images: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Model outputs for images (n, 1, rows, cols), in evaluation mode, as float32 numpy."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    model.eval()
    out = []
    with torch.no_grad(), one_thread():
        for start in range(0, x.shape[0], batch_size):
            out.append(model(x[start : start + batch_size].to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
