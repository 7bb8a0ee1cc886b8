"""Gene signatures (the reference's genoSig): which genes make a CNN call a cell class.

A genoNet classifier is trained on the genomaps; each pixel's importance for a class is an
attribution of the class's output to that pixel, computed by captum (integrated gradients,
DeepLIFT, GradientSHAP or occlusion), aggregated over cells (the class's mean, or that mean
minus the mean over the other cells) and optionally smoothed over the pixel's neighbourhood;
each pixel's gene comes from the coupling T. (The reference uses LIME on a Keras CNN.) The
defaults were chosen by marker recall on pbmc68k_reduced (benchmarks/test_signatures.py):
DeepLIFT with the contrast aggregation, no smoothing.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_int

ATTRIBUTIONS = ("integrated_gradients", "deeplift", "gradient_shap", "occlusion")
AGGREGATES = ("mean", "contrast")
_BATCH = 256


def _as_nchw(genoMaps):
    g = np.asarray(genoMaps, dtype=np.float32)
    if g.ndim == 4 and g.shape[-1] == 1 and g.shape[1] != 1:
        g = np.transpose(g, (0, 3, 1, 2))
    if g.ndim != 4 or g.shape[1] != 1:
        raise ValueError(f"genoMaps must be (cells, rows, cols, 1) or (cells, 1, rows, cols), "
                         f"got {np.shape(genoMaps)}")
    if not np.isfinite(g).all():
        raise ValueError("genoMaps contain NaN or inf")
    return np.ascontiguousarray(g)


def _captum():
    try:
        import captum.attr as attr
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("gene signatures need captum: pip install 'genomap_fast[cnn]'") from err
    return attr


def attribute(model, images: np.ndarray, target: int, method: str = "integrated_gradients",
              steps: int = 32, seed: int = 0, device="cpu") -> np.ndarray:
    """Attributions of each pixel of ``images`` to one output of ``model``, by captum.

    Computed in batches of 256 cells, the model in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        A network taking (n, 1, rows, cols) float32 images (e.g. a genoNet).
    images : numpy.ndarray of shape (n, 1, rows, cols)
        float32 genomaps.
    target : int
        The output (class) explained.
    method : str, default "integrated_gradients"
        "integrated_gradients" (zero baseline, ``steps`` points), "deeplift" (zero baseline),
        "gradient_shap" (``steps`` samples around the images, zero baseline; seeded) or
        "occlusion" (each pixel set to 0 in turn).
    steps : int, default 32
        Integration points or samples.
    seed : int, default 0
        Seed of GradientSHAP's samples.
    device : str or torch.device, default "cpu"
        Where the model is.

    Returns
    -------
    numpy.ndarray of shape (n, 1, rows, cols)
        float32 attributions.

    Raises
    ------
    ValueError
        An unknown method, or ``steps`` < 1.
    ImportError
        captum is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from genomap_fast.cnn.models import GenoNet
    >>> _ = torch.manual_seed(0)
    >>> model = GenoNet(8, 8, 3)  # an untrained genoNet: 8x8 genomaps, 3 classes
    >>> images = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    >>> a = attribute(model, images, target=1, method="deeplift")
    >>> a.shape, a.dtype
    ((4, 1, 8, 8), dtype('float32'))
    """
    import torch

    check_int(steps, "steps", 1)

    if method not in ATTRIBUTIONS:
        raise ValueError(f"method must be one of {ATTRIBUTIONS}, got {method!r}")
    attr = _captum()
    model.eval()
    explainers = {"integrated_gradients": attr.IntegratedGradients, "deeplift": attr.DeepLift,
                  "gradient_shap": attr.GradientShap, "occlusion": attr.Occlusion}
    explainer: Any = explainers[method](model)
    from .training import training_threads

    out = np.empty(images.shape, dtype=np.float32)
    with torch.random.fork_rng(devices=[]), training_threads():
        torch.manual_seed(seed)
        for s in range(0, images.shape[0], _BATCH):
            x = torch.from_numpy(np.ascontiguousarray(images[s:s + _BATCH])).to(device)
            zero = torch.zeros_like(x)
            kw: dict[str, Any] = {
                "integrated_gradients": {"baselines": zero, "n_steps": steps},
                "deeplift": {"baselines": zero},
                "gradient_shap": {"baselines": zero[:1], "n_samples": steps, "stdevs": 0.1},
                "occlusion": {"baselines": 0.0, "sliding_window_shapes": (1, 1, 1),
                              "strides": (1, 1, 1)},
            }[method]
            a = explainer.attribute(x, target=target, **kw)
            out[s:s + x.shape[0]] = a.detach().cpu().numpy()
    return out


def integrated_gradients(model, images: np.ndarray, target: int, steps: int = 32,
                         device="cpu") -> np.ndarray:
    """Integrated-gradients attributions (zero baseline; captum): :func:`attribute` with
    ``method="integrated_gradients"``.

    Returns
    -------
    numpy.ndarray of shape (n, 1, rows, cols)
        float32 attributions of ``images`` to output ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from genomap_fast.cnn.models import GenoNet
    >>> _ = torch.manual_seed(0)
    >>> model = GenoNet(8, 8, 3)  # an untrained genoNet: 8x8 genomaps, 3 classes
    >>> images = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    >>> integrated_gradients(model, images, target=0, steps=8).shape
    (4, 1, 8, 8)
    """
    return attribute(model, images, target, "integrated_gradients", steps, device=device)


def _smooth(image: np.ndarray, used: np.ndarray, radius: int) -> np.ndarray:
    """Mean of each pixel's (2 radius + 1)^2 neighbourhood over used pixels only."""
    if radius <= 0:
        return image
    rows, cols = image.shape
    pad = radius
    v = np.pad(np.where(used, image, 0.0), pad)
    w = np.pad(used.astype(np.float64), pad)
    num = np.zeros((rows, cols))
    den = np.zeros((rows, cols))
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            num += v[pad + dr:pad + dr + rows, pad + dc:pad + dc + cols]
            den += w[pad + dr:pad + dr + rows, pad + dc:pad + dc + cols]
    return np.where(den > 0, num / np.maximum(den, 1.0), 0.0)


def importance_image(attr_in: np.ndarray, attr_out: np.ndarray | None, used: np.ndarray,
                     smooth: int = 0) -> np.ndarray:
    """(rows, cols) float64 pixel importance from attributions (cells, rows, cols) of the
    class's cells (``attr_in``) and, for the "contrast" aggregation, of other cells
    (``attr_out``; None for "mean"), mean-filtered over ``smooth`` pixels of used pixels."""
    image = attr_in.mean(axis=0).astype(np.float64)
    if attr_out is not None:
        image = image - attr_out.mean(axis=0).astype(np.float64)
    return _smooth(image, used, int(smooth))


def class_signatures(model, images: np.ndarray, codes: np.ndarray, wanted_codes, T,
                     gene_names, method: str = "integrated_gradients", aggregate: str = "mean",
                     smooth: int = 0, steps: int = 32, seed: int = 0, device="cpu",
                     max_other: int = 256) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Genes ranked by importance for classes of a trained classifier.

    Parameters
    ----------
    model : torch.nn.Module
        A trained classifier of genomaps.
    images : numpy.ndarray of shape (n, 1, rows, cols)
        float32 genomaps of the cells.
    codes : numpy.ndarray of shape (n,)
        Class code (output index) of each cell.
    wanted_codes : sequence of int
        The classes explained.
    T : numpy.ndarray of shape (n_genes, n_used)
        Gene x used-pixel coupling (:attr:`genomap_fast.Genomap.coupling_`): the gene of each
        pixel.
    gene_names : array-like of shape (n_genes,)
        Names of the genes.
    method : str, default "integrated_gradients"
        See :func:`attribute`.
    aggregate : str, default "mean"
        "mean" (attributions averaged over the class's cells) or "contrast" (that mean minus
        the mean over up to ``max_other`` other cells, drawn with ``seed``).
    smooth : int, default 0
        Radius in pixels of a mean filter over the importance image (0: none).
    steps, seed, device
        See :func:`attribute`.
    max_other : int, default 256
        Other cells in the "contrast" mean.

    Returns
    -------
    dict of int to (numpy.ndarray, numpy.ndarray)
        ``{code: (gene names, importances)}``, genes sorted by decreasing importance (ties:
        pixel order).

    Raises
    ------
    ValueError
        An unknown aggregate or a negative ``smooth``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from genomap_fast.cnn.models import GenoNet
    >>> _ = torch.manual_seed(0)
    >>> model = GenoNet(8, 8, 3)  # an untrained genoNet: 8x8 genomaps, 3 classes
    >>> images = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    >>> T = np.eye(64) / 64  # one gene per pixel
    >>> names = np.array([f"g{j}" for j in range(64)])
    >>> sigs = class_signatures(model, images, np.array([0, 0, 1, 2]), [0], T, names,
    ...                         method="deeplift")
    >>> genes, importance = sigs[0]
    >>> genes.shape, importance.shape
    ((64,), (64,))
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    if int(smooth) < 0:
        raise ValueError(f"smooth must be >= 0, got {smooth}")
    _, _, rows, cols = images.shape
    k, used, gene_of_pixel = _pixels(T, gene_names, rows, cols)
    rng = np.random.default_rng(seed)
    out = {}
    for ci in wanted_codes:
        inside = np.flatnonzero(codes == ci)
        a_in = attribute(model, images[inside], int(ci), method, steps, seed, device)[:, 0]
        a_out = None
        if aggregate == "contrast":
            others = np.flatnonzero(codes != ci)
            if others.size > max_other:
                others = np.sort(rng.choice(others, max_other, replace=False))
            a_out = attribute(model, images[others], int(ci), method, steps, seed, device)[:, 0]
        out[int(ci)] = rank_genes(importance_image(a_in, a_out, used, smooth), k, gene_of_pixel)
    return out


def _pixels(T, gene_names, rows: int, cols: int):
    """Flat used pixels k, the (rows, cols) used mask and the gene of each used pixel (flat
    pixel k, reference order: image row k % rows, column k // rows)."""
    T = np.asarray(T)
    names = np.asarray(gene_names)
    k = np.arange(T.shape[1])
    used = np.zeros((rows, cols), dtype=bool)
    used[k % rows, k // rows] = True
    return k, used, names[np.argmax(T, axis=0)]


def rank_genes(image: np.ndarray, k: np.ndarray, gene_of_pixel: np.ndarray):
    """(gene names, importances) of the used pixels k of an importance image, by decreasing
    importance (ties: pixel order)."""
    rows = image.shape[0]
    importance = image[k % rows, k // rows]
    order = np.argsort(-importance, kind="stable")
    return gene_of_pixel[order], importance[order]


def genoSig(genoMaps, T, label, userPD, gene_names, epochs=100, seed=0, steps=32,
            method="deeplift", aggregate="contrast", smooth=0, **kwargs):
    """Genes ranked by importance for each class in ``userPD``, as genomap 1.3.6's genoSig.

    A genoNet classifier is trained on the genomaps; each pixel's importance for a class is a
    captum attribution aggregated over cells, and each pixel's gene comes from the coupling T.
    The defaults (DeepLIFT, class mean minus the mean over other cells, no smoothing) had the
    best marker recall on pbmc68k_reduced (0.680 over 2 seeds; scanpy's wilcoxon 0.607;
    benchmarks/test_signatures.py).

    Parameters
    ----------
    genoMaps : array-like of shape (n_cells, rows, cols, 1) or (n_cells, 1, rows, cols)
        Genomaps (the reference's layout or torch's).
    T : array-like of shape (n_genes, n_used)
        Gene x used-pixel coupling from :func:`genomap_fast.construct_genomap_returnT` (or
        :attr:`genomap_fast.Genomap.coupling_`).
    label : array-like of shape (n_cells,)
        Class of each cell.
    userPD : array-like
        The classes to explain.
    gene_names : array-like of shape (n_genes,)
        Names of the genes (rows of T).
    epochs : int, default 100
        Training epochs of the classifier.
    seed : int, default 0
        Seed of the classifier and the attributions.
    steps : int, default 32
        See :func:`attribute`.
    method : str, default "deeplift"
        See :func:`attribute`.
    aggregate : str, default "contrast"
        See :func:`class_signatures`.
    smooth : int, default 0
        See :func:`class_signatures`.
    **kwargs
        ``device``, ``batch_size``, ``progress`` of the training.

    Returns
    -------
    pandas.DataFrame
        Columns ``<class>_geneName`` and ``<class>_importance`` per class, genes sorted by
        decreasing importance.

    Raises
    ------
    ValueError
        Genomaps and labels of different lengths, NaN or inf in the genomaps, T without one
        row per gene name, an unknown method or aggregate, ``epochs`` or ``steps`` < 1, fewer
        than 2 classes, or a class of ``userPD`` not in ``label``.
    ImportError
        captum is not installed (checked before training).

    Examples
    --------
    >>> from genomap_fast import construct_genomap_returnT
    >>> from genomap_fast.cnn import genoSig
    >>> from genomap_fast.datasets import synthetic_counts
    >>> X, y = synthetic_counts(n_cells=60, n_genes=64, n_types=3, seed=0)
    >>> images, T = construct_genomap_returnT(X, rowNum=8, colNum=8)
    >>> names = [f"g{j}" for j in range(64)]
    >>> sig = genoSig(images, T, y, [0, 2], names, epochs=1)
    >>> sig.columns.tolist()
    ['0_geneName', '0_importance', '2_geneName', '2_importance']
    >>> sig.shape
    (64, 4)
    """
    import pandas as pd
    import torch

    from .models import GenoNet
    from .training import device_for, train

    epochs, steps = check_int(epochs, "epochs", 1), check_int(steps, "steps", 1)
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
    if method not in ATTRIBUTIONS:
        raise ValueError(f"method must be one of {ATTRIBUTIONS}, got {method!r}")
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    classes, codes = np.unique(label, return_inverse=True)
    if classes.size < 2:
        raise ValueError("a signature needs at least 2 classes")
    wanted = np.atleast_1d(np.asarray(userPD))
    missing = [c for c in wanted if c not in set(classes.tolist())]
    if missing:
        raise ValueError(f"classes {missing} are not in label")
    _captum()  # fail before training when captum is missing
    device = device_for(kwargs.pop("device", None))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GenoNet(rows, cols, classes.size)
    counts = np.bincount(codes)
    loss = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(counts.sum() / counts, dtype=torch.float32).to(device))
    train(model, images, codes.astype(np.int64), loss, epochs, kwargs.pop("batch_size", 128),
          1e-3, 1e-5, seed, device, kwargs.pop("progress", False), desc="genoSig")
    wanted_codes = [int(np.flatnonzero(classes == c)[0]) for c in wanted]
    sigs = class_signatures(model, images, codes, wanted_codes, T, names, method, aggregate,
                            smooth, steps, seed, device)
    result = {}
    for c, ci in zip(wanted, wanted_codes):
        result[f"{c}_geneName"], result[f"{c}_importance"] = sigs[ci]
    return pd.DataFrame(result)
