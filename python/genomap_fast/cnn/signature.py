"""Gene signatures (the reference's genoSig): which genes make a CNN call a cell class.

A genoNet classifier is trained on the genomaps; each pixel's importance for a class is its
integrated-gradients attribution (zero image as baseline) averaged over the class's cells; each
pixel's gene comes from the coupling T. (The reference uses LIME on a Keras CNN; integrated
gradients needs no sampling and no extra package.)
"""
from __future__ import annotations

import numpy as np


def _as_nchw(genoMaps):
    g = np.asarray(genoMaps, dtype=np.float32)
    if g.ndim == 4 and g.shape[-1] == 1 and g.shape[1] != 1:
        g = np.transpose(g, (0, 3, 1, 2))
    if g.ndim != 4 or g.shape[1] != 1:
        raise ValueError(f"genoMaps must be (cells, rows, cols, 1) or (cells, 1, rows, cols), "
                         f"got {np.shape(genoMaps)}")
    return np.ascontiguousarray(g)


def integrated_gradients(model, images: np.ndarray, target: int, steps: int = 32,
                         device="cpu") -> np.ndarray:
    """(n, 1, rows, cols) attributions of ``images`` to output ``target`` (zero baseline)."""
    import torch

    x = torch.from_numpy(images).to(device)
    total = torch.zeros_like(x)
    model.eval()
    for a in (np.arange(steps) + 0.5) / steps:
        xa = (x * float(a)).requires_grad_(True)
        out = model(xa)[:, target].sum()
        (grad,) = torch.autograd.grad(out, xa)
        total += grad
    return (x * total / steps).detach().cpu().numpy()


def genoSig(genoMaps, T, label, userPD, gene_names, epochs=100, seed=0, steps=32, **kwargs):
    """Genes ranked by importance for each class in ``userPD``, as genomap 1.3.6's genoSig.

    genoMaps : (cells, rows, cols, 1) (the reference's layout) or (cells, 1, rows, cols).
    T : (genes, used pixels) coupling from ``construct_genomap_returnT`` (or a Genomap's
    ``coupling_``). label : (cells,) classes; userPD : classes to explain; gene_names :
    (genes,). Returns a DataFrame with columns ``<class>_geneName`` and ``<class>_importance``
    per class, genes sorted by decreasing importance.
    """
    import pandas as pd
    import torch

    from .models import GenoNet
    from .training import device_for, train

    images = _as_nchw(genoMaps)
    n, _, rows, cols = images.shape
    label = np.asarray(label)
    if label.shape[0] != n:
        raise ValueError(f"{n} genomaps but {label.shape[0]} labels")
    T = np.asarray(T)
    names = np.asarray(gene_names)
    if T.ndim != 2 or T.shape[0] != names.shape[0]:
        raise ValueError(f"T must be (genes, used pixels) with one row per gene name; got "
                         f"{T.shape} for {names.shape[0]} names")
    classes, codes = np.unique(label, return_inverse=True)
    if classes.size < 2:
        raise ValueError("a signature needs at least 2 classes")
    wanted = np.atleast_1d(np.asarray(userPD))
    missing = [c for c in wanted if c not in set(classes.tolist())]
    if missing:
        raise ValueError(f"classes {missing} are not in label")
    device = device_for(kwargs.pop("device", None))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GenoNet(rows, cols, classes.size)
    counts = np.bincount(codes)
    loss = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(counts.sum() / counts, dtype=torch.float32).to(device))
    train(model, images, codes.astype(np.int64), loss, int(epochs), kwargs.pop("batch_size", 128),
          1e-3, 1e-5, seed, device, kwargs.pop("progress", False), desc="genoSig")
    # flat pixel k (reference order: image row k % rows, column k // rows) -> its gene
    n_used = T.shape[1]
    gene_of_pixel = names[np.argmax(T, axis=0)]
    k = np.arange(n_used)
    result = {}
    for c in wanted:
        ci = int(np.flatnonzero(classes == c)[0])
        attr = integrated_gradients(model, images[codes == ci], ci, steps, device)
        mean = attr.mean(axis=0)[0]
        importance = mean[k % rows, k // rows]
        order = np.argsort(-importance, kind="stable")
        result[f"{c}_geneName"] = gene_of_pixel[order]
        result[f"{c}_importance"] = importance[order]
    return pd.DataFrame(result)
