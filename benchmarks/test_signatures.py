"""Gene signatures: recall of canonical marker genes in each class's top 50, genoSig's captum
attributions against scanpy's ``rank_genes_groups`` (wilcoxon), same data, same run.

Data: pbmc68k_reduced (700 cells, 765 genes, ``bulk_labels``), genomaps from
``construct_genomap_returnT(X, 28, 28)`` as in the reference's tutorial. One genoNet is trained
per seed (seeds 0 and 1; 100 epochs, class-weighted loss, as genoSig trains it) and every
attribution method x aggregation (class mean, or minus the mean over 256 other cells) x
smoothing (none, 3 x 3) is read from that same model (times: attributions per seed); genoSig
itself is then run end to end with its defaults (timed). The reference's genoSig (LIME on a
Keras CNN) needs TensorFlow and is not run here.

Markers: textbook markers of four populations, kept where the gene is among the 765
(``MARKERS``); recall of a class = markers found in its top 50 / markers present; the score is
the mean over the four classes.
"""
import time

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import pbmc68k_reduced

SUITE = "test_signatures"
TOP = 50
SEEDS = (0, 1)
MARKERS = {
    "CD19+ B": ["CD79A", "CD79B", "MS4A1", "CD19", "CD22", "BANK1", "TCL1A", "VPREB3", "IGHM",
                "IGHD", "FCER2", "LINC00926", "CD74", "HLA-DQA1", "HLA-DQB1", "HLA-DRA"],
    "CD56+ NK": ["NKG7", "GNLY", "GZMB", "GZMA", "GZMH", "PRF1", "KLRD1", "KLRF1", "NCAM1",
                 "FCGR3A", "CST7", "CTSW", "KLRB1", "XCL2", "SPON2", "FGFBP2"],
    "CD14+ Monocyte": ["CD14", "LYZ", "S100A8", "S100A9", "S100A12", "FCN1", "VCAN", "CD68",
                       "MNDA", "LGALS2", "CST3", "TYROBP", "FCER1G", "CSF1R", "CEBPD", "SERPINA1"],
    "CD34+": ["CD34", "PRSS57", "SPINK2", "SOX4", "MYB", "GATA2", "KIT", "CRHBP", "NPR3",
              "EGFL7", "SMIM24", "CYTL1", "AVP", "MLLT3", "HOPX", "FLT3"],
}
METHODS = ("integrated_gradients", "deeplift", "gradient_shap", "occlusion")
_CACHE: dict = {}


def _data():
    if "data" not in _CACHE:
        ad = pbmc68k_reduced()
        X = np.asarray(ad.X, dtype=np.float64)
        labels = ad.obs["bulk_labels"].astype(str).to_numpy()
        names = np.asarray(ad.var_names)
        G, T = gf.construct_genomap_returnT(X, 28, 28)
        markers = {c: [g for g in m if g in set(names)] for c, m in MARKERS.items()}
        _CACHE["data"] = (ad, X, labels, names, G, T, markers)
    return _CACHE["data"]


def _recall(top_by_class, markers):
    per = {c: len(set(top_by_class[c][:TOP]) & set(m)) / len(m) for c, m in markers.items()}
    return float(np.mean(list(per.values()))), per


def test_wilcoxon(benchmark, record, quick):
    sc = pytest.importorskip("scanpy")
    ad, X, labels, names, G, T, markers = _data()
    a = ad.copy()

    def run():
        sc.tl.rank_genes_groups(a, "bulk_labels", method="wilcoxon", n_genes=TOP)

    benchmark.group = "signatures, pbmc68k_reduced"
    t0 = time.perf_counter()
    benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = time.perf_counter() - t0
    top = {c: list(a.uns["rank_genes_groups"]["names"][c]) for c in markers}
    score, per = _recall(top, markers)
    record(SUITE, "scanpy rank_genes_groups wilcoxon", "genomap_fast", seconds,
           marker_recall=round(score, 4),
           **{f"recall {c}": round(v, 3) for c, v in per.items()})
    assert score > 0.2


def _train(G, labels, seed, epochs):
    import torch

    from genomap_fast.cnn.models import GenoNet
    from genomap_fast.cnn.signature import _as_nchw
    from genomap_fast.cnn.training import train

    images = _as_nchw(G)
    classes, codes = np.unique(labels, return_inverse=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GenoNet(images.shape[2], images.shape[3], classes.size)
    counts = np.bincount(codes)
    loss = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(counts.sum() / counts, dtype=torch.float32))
    train(model, images, codes.astype(np.int64), loss, epochs, 128, 1e-3, 1e-5, seed, "cpu",
          False, desc="signature benchmark")
    return model, images, classes, codes


def test_attribution_grid(record, quick):
    """Every method x aggregation x smoothing on the same trained models (2 seeds): each
    method's attributions are computed once per class (the class's cells, and 256 other cells
    for the contrast) and aggregated every way."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    from genomap_fast.cnn.signature import _pixels, attribute, importance_image, rank_genes

    torch.set_num_threads(2)
    ad, X, labels, names, G, T, markers = _data()
    seeds = SEEDS[:1] if quick else SEEDS
    methods = METHODS[:1] if quick else METHODS
    scores: dict = {}
    seconds = {m: 0.0 for m in methods}
    for seed in seeds:
        model, images, classes, codes = _train(G, labels, seed, 2 if quick else 100)
        k, used, gene_of_pixel = _pixels(T, names, images.shape[2], images.shape[3])
        rng = np.random.default_rng(seed)
        wanted = {c: int(np.flatnonzero(classes == c)[0]) for c in markers}
        # the same draw of other cells as class_signatures(..., seed=seed)
        others = {}
        for c, ci in wanted.items():
            o = np.flatnonzero(codes != ci)
            others[c] = np.sort(rng.choice(o, 256, replace=False)) if o.size > 256 else o
        for method in methods:
            t0 = time.perf_counter()
            attrs = {c: (attribute(model, images[codes == ci], ci, method, seed=seed)[:, 0],
                         attribute(model, images[others[c]], ci, method, seed=seed)[:, 0])
                     for c, ci in wanted.items()}
            seconds[method] += time.perf_counter() - t0
            for aggregate in ("mean", "contrast"):
                for smooth in (0, 1):
                    top = {}
                    for c, (a_in, a_out) in attrs.items():
                        image = importance_image(a_in, a_out if aggregate == "contrast" else None,
                                                 used, smooth)
                        top[c] = list(rank_genes(image, k, gene_of_pixel)[0])
                    scores.setdefault((method, aggregate, smooth), []).append(
                        _recall(top, markers)[0])
    for (method, aggregate, smooth), v in scores.items():
        record(SUITE, f"genoSig {method}, {aggregate}, smooth {smooth} ({len(seeds)} seeds)",
               "genomap_fast", seconds[method] / len(seeds),
               marker_recall=round(float(np.mean(v)), 4),
               marker_recall_sd=round(float(np.std(v)), 4))
    assert max(np.mean(v) for v in scores.values()) > 0.2


def test_genosig_defaults(benchmark, record, quick):
    """genoSig end to end (training included) with its defaults, seed 0."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("captum")
    from genomap_fast.cnn import genoSig

    torch.set_num_threads(2)
    ad, X, labels, names, G, T, markers = _data()
    out = {}

    def run():
        out["sig"] = genoSig(G, T, labels, np.array(list(markers)), names,
                             epochs=2 if quick else 100, seed=0)

    benchmark.group = "signatures, pbmc68k_reduced"
    t0 = time.perf_counter()
    benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = time.perf_counter() - t0
    top = {c: list(out["sig"][f"{c}_geneName"]) for c in markers}
    score, per = _recall(top, markers)
    record(SUITE, "genoSig defaults (deeplift, contrast, smooth 0), seed 0, training included",
           "genomap_fast", seconds,
           marker_recall=round(score, 4),
           **{f"recall {c}": round(v, 3) for c, v in per.items()})
    assert score > 0.2
