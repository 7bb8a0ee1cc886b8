"""The CNN tasks on real labelled data beyond pbmc68k_reduced, each next to its comparators in
the same run: cell recognition (ours, the reference genomap 1.3.6 genoClassification, logistic
regression), clustering (genoVis vs k-means and Leiden on PCA), trajectory (genoTraj vs PHATE
on a time course with known stages) and batch integration (genoMOIvis vs scanorama + k-means).

The data come from local clones of public repositories at pinned commits
(``benchmarks/real_datasets.py``; set ``GENOMAP_FAST_REAL_DATA``): without them every case
skips. Writes ``benchmarks/results/test_real_tasks.md``. About 30 minutes on 2 cores
(``--bench-quick``: a few epochs, to check the code paths).

Data are log-normalised (log1p of counts per 10,000; the time course is RPKM, log1p of it).
Every method sees the same matrix; ours and the reference z-score genes internally, logistic
regression and PCA on z-scores fitted on the training cells.
"""
from __future__ import annotations

import datetime
import math
import os
import platform
import sys
import time
import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.neighbors import NearestNeighbors

from genomap_fast._atomic import atomic_path

sys.path.insert(0, os.path.dirname(__file__))
import real_datasets  # noqa: E402
from test_cluster_quality import leiden_labels  # noqa: E402
from test_cnn_quality import _reference_classification  # noqa: E402

SUITE = "test_real_tasks"
SPLITS = 5
REF_SPLITS = 2  # the reference's GW placement takes ~5 minutes per fit at 45x45 on 2 cores
TABLES: dict = {}


def _load(name):
    ad = real_datasets.load(name)
    if ad is None:
        pytest.skip(f"no clone of {real_datasets.SOURCES[name].repo} under "
                    f"${real_datasets.ENV} (see benchmarks/real_datasets.py)")
    X = ad.X.toarray() if hasattr(ad.X, "toarray") else np.asarray(ad.X)
    return ad, np.asarray(X, dtype=np.float64), ad.obs["label"].astype(str).to_numpy()


def _side(genes: int) -> int:
    return min(45, math.ceil(math.sqrt(genes)))  # all genes up to 2,025, else the most variable


def _zscore(X, fit=None):
    fit = X if fit is None else fit
    mu, sd = fit.mean(0), fit.std(0, ddof=1)
    return (X - mu) / np.where(sd > 0, sd, 1.0)


def _pcs(X, n=50):
    return PCA(min(n, X.shape[1] - 1, X.shape[0] - 1), random_state=0).fit_transform(_zscore(X))


def _row(table, head, cells):
    TABLES.setdefault(table, {"head": head, "rows": []})["rows"].append(cells)


def _ms(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


@pytest.mark.parametrize("name", ["atlas", "atlas_pbmc68k"])
def test_recognition(quick, name):
    import torch  # noqa: F401

    from genomap_fast.cnn import GenoNetClassifier

    reference = _reference_classification()
    ad, X, y = _load(name)
    keep = X.std(0) > 0  # the reference's z-scores turn constant genes into NaN
    X = X[:, keep]
    # ours at its default (50 epochs), the reference at its own (100)
    side, epochs, ref_epochs = _side(X.shape[1]), (3 if quick else None), (3 if quick else 100)
    acc = {"ours": [], "reference": [], "logistic regression": []}
    secs = {"ours": [], "reference": []}
    splits = StratifiedShuffleSplit(2 if quick else SPLITS, test_size=0.2, random_state=0)
    for k, (tr, te) in enumerate(splits.split(X, y)):
        Xtr, Xte = X[tr], X[te]
        # genes constant in a training split: dropped for the reference (NaN z-scores)
        ok = Xtr.std(0) > 0
        t0 = time.perf_counter()
        clf = GenoNetClassifier(side, side, epochs=epochs, seed=k).fit(Xtr, y[tr])
        acc["ours"].append(float(np.mean(clf.predict(Xte) == y[te])))
        secs["ours"].append(time.perf_counter() - t0)
        classes, codes = np.unique(y[tr], return_inverse=True)
        if k < REF_SPLITS:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = reference(Xtr[:, ok], codes, Xte[:, ok], rowNum=side, colNum=side,
                                epoch=ref_epochs)
            secs["reference"].append(time.perf_counter() - t0)
            acc["reference"].append(float(np.mean(classes[ref] == y[te])))
        lr = LogisticRegression(max_iter=2000).fit(_zscore(Xtr[:, ok]), y[tr])
        acc["logistic regression"].append(
            float(np.mean(lr.predict(_zscore(Xte[:, ok], Xtr[:, ok])) == y[te])))
    n_types = len(np.unique(y))
    _row(f"Cell recognition: accuracy, mean ± sd over {SPLITS} stratified 80/20 splits (the "
         f"reference on the first {REF_SPLITS}; ours on those: in the last column)",
         ["dataset", "cells x genes", "grid", "genomap_fast", f"reference ({REF_SPLITS} splits)",
          "logistic regression",
          "ours - LR", "time per fit: ours / reference (s)",
          f"ours / LR on the reference's {REF_SPLITS} splits"],
         [f"{name} ({n_types} types)", f"{X.shape[0]} x {X.shape[1]}", f"{side}x{side}",
          _ms(acc["ours"]), _ms(acc["reference"]), _ms(acc["logistic regression"]),
          f"{np.mean(acc['ours']) - np.mean(acc['logistic regression']):+.3f}",
          f"{np.mean(secs['ours']):.1f} / {np.mean(secs['reference']):.1f}",
          f"{np.mean(acc['ours'][:REF_SPLITS]):.3f} / "
          f"{np.mean(acc['logistic regression'][:REF_SPLITS]):.3f}"])
    assert np.mean(acc["ours"]) > 1.5 / n_types


@pytest.mark.parametrize("name", ["timecourse", "batches", "atlas"])
def test_clustering(quick, name):
    from genomap_fast.cnn import genoVis

    ad, X, y = _load(name)
    X = X[:, X.std(0) > 0]
    k = len(np.unique(y))
    side = _side(X.shape[1]) if X.shape[1] <= 2025 else 32  # as genoVis: 1,024 variable genes
    kw = {"pretrain_epochs": 3, "maxiter": 10} if quick else {}
    t0 = time.perf_counter()
    _, labels = genoVis(X, n_clusters=k, rowNum=side, colNum=side, **kw)
    t_ours = time.perf_counter() - t0
    pcs = _pcs(X)
    t0 = time.perf_counter()
    km = KMeans(k, n_init=10, random_state=0).fit_predict(pcs)
    t_km = time.perf_counter() - t0
    leiden = leiden_labels(pcs)
    _row("Clustering: ARI against the known labels (true number of clusters for genoVis and "
         "k-means)",
         ["dataset", "cells x genes", "genoVis (ours)", "k-means on 50 PCs", "Leiden on PCA kNN",
          "time: genoVis / k-means (s)"],
         [f"{name} ({k} labels)", f"{X.shape[0]} x {X.shape[1]}",
          f"{adjusted_rand_score(y, labels):.3f}", f"{adjusted_rand_score(y, km):.3f}",
          f"{adjusted_rand_score(y, leiden):.3f}", f"{t_ours:.1f} / {t_km:.1f}"])


def _time_score(emb, day):
    """Spearman correlation of each cell's embedding distance from the earliest cells' centre
    with its known time point."""
    root = emb[day == day.min()].mean(0)
    return float(spearmanr(np.linalg.norm(emb - root, axis=1), day)[0])


def test_trajectory(quick):
    import phate

    from genomap_fast.cnn import genoTraj

    ad, X, _ = _load("timecourse")
    keep = X.std(0) > 0
    X, day = X[:, keep], ad.obs["day"].to_numpy()
    side = _side(X.shape[1])
    kw = {"pretrain_epochs": 3, "maxiter": 10} if quick else {}
    t0 = time.perf_counter()
    traj = genoTraj(X, rowNum=side, colNum=side, n_clusters=33, architecture="reference",
                    phate_input="states", **kw)
    t_ours = time.perf_counter() - t0
    # the number of states estimated (Louvain on a kNN graph) instead of the reference's 33
    estimated = [_time_score(genoTraj(X, rowNum=side, colNum=side, seed=seed, **kw), day)
                 for seed in (0, 1, 2)]  # the defaults: states estimated, compact network
    t0 = time.perf_counter()
    base = phate.PHATE(random_state=0, verbose=0, knn=5).fit_transform(_pcs(X))
    t_phate = time.perf_counter() - t0
    _row("Trajectory: Spearman of the embedding distance from the earliest cells with the known "
         "stage",
         ["dataset", "cells x genes", "genoTraj with the reference's settings (33 states, "
          "its network)", "genoTraj defaults (states estimated, compact network), seeds 0/1/2",
          "PHATE on 50 PCs",
          "time: genoTraj / PHATE (s)"],
         ["timecourse (10 stages, zygote to late blastocyst)", f"{X.shape[0]} x {X.shape[1]}",
          f"{_time_score(traj, day):.3f}", " / ".join(f"{v:.3f}" for v in estimated),
          f"{_time_score(base, day):.3f}", f"{t_ours:.1f} / {t_phate:.1f}"])


def _batch_mixing(emb, batch, k=30):
    """Mean over cells of the entropy of batch labels among the k nearest neighbours in the
    embedding, divided by log(number of batches): 1 is fully mixed."""
    idx = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(return_distance=False)[:, 1:]
    cats, codes = np.unique(batch, return_inverse=True)
    ent = []
    for row in codes[idx]:
        p = np.bincount(row, minlength=cats.size) / k
        p = p[p > 0]
        ent.append(-(p * np.log(p)).sum())
    return float(np.mean(ent) / np.log(cats.size))


def load_batches():
    """CellBench split by batch, in first-appearance order: (AnnData, X, arrays (one per batch),
    labels and batch names of the cells in the order of the stacked arrays, batch names)."""
    ad, X, y = _load("batches")
    batch = ad.obs["batch"].astype(str).to_numpy()
    names = list(dict.fromkeys(batch))
    arrays = [X[batch == b] for b in names]
    y = np.concatenate([y[batch == b] for b in names])
    batch = np.concatenate([batch[batch == b] for b in names])
    return ad, X, arrays, y, batch, names


def compile_umap():
    """UMAP's numba compilation (about 19 s) done once, out of any timing."""
    import umap

    umap.UMAP(n_neighbors=5, random_state=0).fit_transform(
        np.random.default_rng(0).normal(size=(60, 4)))


def test_integration(quick):
    import scanorama
    import umap

    from genomap_fast.cnn import genoMOIvis

    ad, X, arrays, y, batch, names = load_batches()
    k = len(np.unique(y))
    kw = {"epoch": 3, "maxiter": 10} if quick else {}
    compile_umap()  # whichever method ran first would pay it for both
    t0 = time.perf_counter()
    emb, labels, _ = genoMOIvis(*arrays, n_clusters=k, **kw)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    genes = list(ad.var_names)
    corrected, _ = scanorama.correct([a.copy() for a in arrays], [genes] * len(arrays),
                                     return_dense=True, verbose=False)
    pcs = _pcs(np.concatenate([np.asarray(c, dtype=np.float64) for c in corrected]))
    km = KMeans(k, n_init=10, random_state=0).fit_predict(pcs)
    base = umap.UMAP(n_neighbors=30, min_dist=0.3, random_state=0).fit_transform(pcs)
    t_base = time.perf_counter() - t0
    _row("Integration: cluster ARI against the cell lines / batch mixing in the 2-D embedding "
         "(entropy of batch labels among 30 neighbours, 1 = fully mixed)",
         ["dataset", "cells x genes", "genoMOIvis (ours)", "scanorama + k-means on PCA (UMAP)",
          "time: ours / baseline (s)"],
         [f"batches ({len(names)} batches, {k} cell lines)", f"{X.shape[0]} x {X.shape[1]}",
          f"{adjusted_rand_score(y, labels):.3f} / {_batch_mixing(emb, batch):.3f}",
          f"{adjusted_rand_score(y, km):.3f} / {_batch_mixing(base, batch):.3f}",
          f"{t_ours:.1f} / {t_base:.1f}"])


@pytest.fixture(scope="module", autouse=True)
def _write_tables(quick):
    yield
    if not TABLES:
        return
    sections = {}
    for title, t in TABLES.items():
        lines = ["| " + " | ".join(t["head"]) + " |", "|" + "---|" * len(t["head"])]
        lines += ["| " + " | ".join(r) + " |" for r in t["rows"]]
        sections[title] = f"Measured {datetime.date.today()}.\n\n" + "\n".join(lines)
    print(f"\n\n{SUITE}\n" + "\n\n".join(f"## {k}\n\n{v}" for k, v in sections.items()))
    if quick:
        return
    here = os.path.dirname(__file__)
    path = os.path.join(here, "results", f"{SUITE}.md")
    if os.path.exists(path):  # a run of some tasks keeps the other tasks' last tables
        with open(path) as fh:
            old = fh.read().split("\n## ")[1:]
        kept = {b.split("\n", 1)[0]: b.split("\n", 1)[1].strip() for b in old}
        sections = {**{k: v for k, v in kept.items() if k not in sections}, **sections}
    text = "\n\n".join(f"## {k}\n\n{v}" for k, v in sections.items())
    sources = "; ".join(f"{n}: {s.repo}@{s.commit[:10]}"
                        for n, s in real_datasets.SOURCES.items())
    header = (f"# {SUITE}\n\nMeasured {datetime.date.today()} on {platform.machine()} "
              f"({os.cpu_count()} cores), Python {platform.python_version()}. Data: {sources}.\n"
              "Reproduce: `GENOMAP_FAST_REAL_DATA=<clones> .venv/bin/python -m pytest "
              "benchmarks/test_real_tasks.py -s` (see benchmarks/real_datasets.py).\n\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(header + text + "\n")
