"""Training loop shared by the CNN tasks: seeded, batched, progress bar, optional early stop."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import torch


def device_for(device: str | None = None) -> torch.device:
    """The requested device, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: Default size of the fixed CPU thread team of every training, inference and attribution step
#: (:func:`training_threads`); the environment variable ``GENOMAP_FAST_TRAINING_THREADS``
#: overrides it.
DEFAULT_TRAINING_THREADS = 1
_MAX_TRAINING_THREADS = 64


def training_thread_count() -> int:
    """Size of the CPU thread team CNN training runs on: ``GENOMAP_FAST_TRAINING_THREADS`` when
    set (an integer from 1 to 64), else ``DEFAULT_TRAINING_THREADS`` (1).

    The team's size, not the caller's thread count, fixes how PyTorch splits its reductions,
    so a seed gives the same model at any ``num_threads`` or ``torch.set_num_threads``; a team
    of another size gives another model for the same seed (equally reproducible). On 2 cores
    a team of 2 trains 1.35-1.9x faster than one thread; see :doc:`/guide/genovis`.

    Raises
    ------
    ValueError
        The variable is not an integer from 1 to 64.
    """
    value = os.environ.get("GENOMAP_FAST_TRAINING_THREADS")
    if value is None or value.strip() == "":
        return DEFAULT_TRAINING_THREADS
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= _MAX_TRAINING_THREADS:
        raise ValueError(f"GENOMAP_FAST_TRAINING_THREADS must be an integer from 1 to "
                         f"{_MAX_TRAINING_THREADS}, got {value!r}")
    return n


@contextlib.contextmanager
def training_threads():
    """PyTorch on a fixed team of :func:`training_thread_count` CPU threads (k-means and BLAS
    calls inside on one), restoring the caller's settings.

    PyTorch's CPU kernels split their reductions by the thread count (bias gradients, sums and
    means over a batch, oneDNN's convolutions), so the same seed gave other models, embeddings
    and labels with 1 and 2 threads. A fixed team makes a seed give the same result whatever
    the caller's setting. The genomap placement and rasterisation still use ``num_threads``
    (their results never depend on it).
    """
    from threadpoolctl import threadpool_limits

    team = training_thread_count()
    threads = torch.get_num_threads()
    try:
        with threadpool_limits(limits=1):  # k-means and BLAS (their own OpenMP runtimes)
            torch.set_num_threads(team)  # after: torch's runtime gets the team
            yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def deterministic(seed: int):
    """Seeds torch, makes its algorithms deterministic and runs on a fixed CPU thread team
    (:func:`training_threads`), restoring the caller's settings."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    try:
        with training_threads():
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
    with torch.no_grad(), training_threads():
        for start in range(0, x.shape[0], batch_size):
            out.append(model(x[start : start + batch_size].to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
