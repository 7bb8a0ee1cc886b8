"""genoAnnotate (scType): the reference's cluster-level procedure, ours per cell, and per-cell
baselines, in one run, on three real labelled data sets with scType's marker table; and the
scoring pass on 1,000,000 synthetic cells.

Data sets (issue #26 asks for at least three):

- ``pbmc68k_reduced`` (scanpy; 700 cells x 765 genes, log-normalised), scType's "Immune system"
  rows, truth = the FACS-based ``bulk_labels``.
- ``pbmc_ifnb`` (Kang et al. 2018 control + IFN-beta PBMC, every 5th cell, as shipped by
  chthub/rDeepmaps: 2,800 cells x 14,053 genes, raw counts -> normalize_total 1e4 + log1p),
  scType's "Immune system" rows, truth = Seurat's integration-vignette labels.
- ``pancreas_xin`` (Xin et al. 2016 human islets, the subset shipped by SydneyBioX/scClassify:
  674 cells x 980 genes, already log-expression, used as shipped), scType's "Pancreas" rows,
  truth = the authors' four endocrine types.

Accuracy is measured on coarse classes, because scType's types and each data set's labels name
different granularities. Every mapping is written out below (``*_TO_COARSE``). A predicted
scType type without a coarse class (basophils, neutrophils, "ISG expressing immune cells",
acinar cells, ...) counts as wrong, and so does "Unknown". A truth label without a scType
counterpart is listed in ``UNSCORED`` and its cells are left out of the accuracy (they are
still annotated). Macro-F1 is over the coarse classes of the scored truth.

Data and the marker table are read from local clones at pinned commits
(``real_datasets``; GENOMAP_FAST_REAL_DATA, openpyxl for the table, the pure-Python ``rdata``
package for the two .rda files); each test skips without them.
"""
import os
import sys
import time
import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(__file__))

import real_datasets  # noqa: E402

from genomap_fast import annotate as an  # noqa: E402

SUITE = "test_annotate"
SEEDS = (0, 1, 2)

# pbmc68k_reduced's bulk_labels -> coarse class (every label has one)
BULK_TO_COARSE = {
    "CD14+ Monocyte": "Monocyte",
    "CD19+ B": "B",
    "CD34+": "HSPC",
    "CD4+/CD25 T Reg": "CD4 T",
    "CD4+/CD45RA+/CD25- Naive T": "CD4 T",
    "CD4+/CD45RO+ Memory": "CD4 T",
    "CD56+ NK": "NK",
    "CD8+ Cytotoxic T": "CD8 T",
    "CD8+/CD45RA+ Naive Cytotoxic": "CD8 T",
    "Dendritic": "DC",
}
# pbmc_ifnb's Seurat labels -> coarse class. Not scored (no single scType counterpart):
# "T activated" (CD4 and CD8 T cells together) and "Mono/Mk Doublets" (absent from the
# 2,800-cell subset anyway).
IFNB_TO_COARSE = {
    "CD14 Mono": "Monocyte", "CD16 Mono": "Monocyte",
    "CD4 Naive T": "CD4 T", "CD4 Memory T": "CD4 T",
    "CD8 T": "CD8 T",
    "NK": "NK",
    "B": "B", "B Activated": "B",
    "DC": "DC", "pDC": "DC",
    "Mk": "Megakaryocyte",
    "Eryth": "Erythroid",
    "HSPC": "HSPC",
}
# pancreas_xin's labels -> coarse class (every label has one)
XIN_TO_COARSE = {"alpha": "Alpha", "beta": "Beta", "delta": "Delta", "gamma": "Gamma (PP)"}
UNSCORED = {"pbmc_ifnb": ("T activated", "Mono/Mk Doublets")}

# scType "Immune system" cell types -> coarse class (types not listed: no counterpart)
SCTYPE_TO_COARSE = {
    "Pro-B cells": "B", "Pre-B cells": "B", "Naive B cells": "B", "Memory B cells": "B",
    "Plasma B cells": "B",
    "Naive CD4+ T cells": "CD4 T", "Memory CD4+ T cells": "CD4 T",
    "Effector CD4+ T cells": "CD4 T",
    "Naive CD8+ T cells": "CD8 T", "Memory CD8+ T cells": "CD8 T",
    "Effector CD8+ T cells": "CD8 T", "CD8+ NKT-like cells": "CD8 T",
    "Natural killer  cells": "NK",  # (two spaces, as in the table)
    "Classical Monocytes": "Monocyte", "Non-classical monocytes": "Monocyte",
    "Intermediate monocytes": "Monocyte", "Macrophages": "Monocyte",
    "Myeloid Dendritic cells": "DC", "Plasmacytoid Dendritic cells": "DC",
    "HSC/MPP cells": "HSPC", "Progenitor cells": "HSPC",
    # classes only pbmc_ifnb's truth has (on pbmc68k these predictions stay wrong)
    "Platelets": "Megakaryocyte", "Megakaryocyte": "Megakaryocyte",
    "Erythroid-like and erythroid precursor cells": "Erythroid",
}
# scType "Pancreas" cell types -> coarse class (acinar, ductal, stellate, immune, ...: none)
SCTYPE_PANCREAS_TO_COARSE = {
    "Alpha cells": "Alpha", "Beta cells": "Beta", "Delta cells": "Delta",
    "Gamma (PP) cells": "Gamma (PP)",
}
NO_COUNTERPART = "(no counterpart)"
GOAL = {}  # data set -> (reference's procedure, ours per cell): mean accuracy over seeds


def coarse(labels, mapping=None):
    mapping = SCTYPE_TO_COARSE if mapping is None else mapping
    return np.asarray([mapping.get(str(t), NO_COUNTERPART) for t in labels])


def sctype_coarse(labels):
    return coarse(labels, SCTYPE_TO_COARSE)


def scores_of(truth, pred):
    from sklearn.metrics import f1_score

    classes = sorted(set(truth))
    acc = float(np.mean(truth == pred))
    f1 = float(f1_score(truth, pred, labels=classes, average="macro", zero_division=0))
    return acc, f1


@pytest.fixture(scope="module")
def table():
    t = real_datasets.marker_table("sctype")
    if t is None:
        pytest.skip(f"no clone of IanevskiAleksandr/sc-type under ${real_datasets.ENV}")
    return t


def _log_normalised(ad):
    """normalize_total 1e4 + log1p when X holds counts (integers), else X as it is."""
    X = ad.X
    vals = X.data if sp.issparse(X) else np.asarray(X).ravel()
    if np.all(vals == np.round(vals)) and vals.min() >= 0:
        import scanpy as sc

        sc.pp.normalize_total(ad, target_sum=1e4)
        sc.pp.log1p(ad)
        ad.uns["counts_normalised"] = True
    else:
        ad.uns["counts_normalised"] = False
    ad.X = sp.csr_matrix(ad.X, dtype=np.float32)
    return ad


def _real(name):
    pytest.importorskip("rdata", reason="reading the .rda files needs the rdata package")
    ad = real_datasets.load(name, log_normalise=False)
    if ad is None:
        src = real_datasets.SOURCES[name]
        pytest.skip(f"no clone of {src.repo} under ${real_datasets.ENV}")
    return _log_normalised(ad)


def run_dataset(name, ad, truth, table, tissue, mapping, record, quick):
    """(a), (b) for every confidence rule, (c): accuracy and macro-F1 on the cells with a
    truth class (``truth`` None: not scored), seeds 0-2, recorded as ``<name>: <case>``."""
    scored = np.asarray([t is not None for t in truth])
    truth = np.asarray([t for t in truth if t is not None])
    sets = an.read_markers(table, tissue=tissue)
    w = an.MarkerWeights(sets, ad.var_names, drop_empty=True)
    t0 = time.perf_counter()
    S = an.sctype_scores(ad, w)
    t_scores = time.perf_counter() - t0
    types = np.asarray(w.types, dtype=object)
    own = types[np.argmax(S, axis=1)].astype(str)
    rows = {}  # case -> list of (acc, f1, seconds) over seeds

    def add(case, labels, seconds):
        rows.setdefault(case, []).append(
            (*scores_of(truth, coarse(labels, mapping)[scored]), seconds))

    # baselines that need no clusters (deterministic: one value, repeated per seed)
    import scanpy as sc

    t0 = time.perf_counter()
    b = ad.copy()
    for k, t in enumerate(w.types):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.tl.score_genes(b, [g for g in ad.var_names if g.upper() in set(w.used[t][0])],
                              score_name=f"s{k}", random_state=0)
    sg = types[np.argmax(b.obs[[f"s{k}" for k in range(len(types))]].to_numpy(), axis=1)]
    t_sg = time.perf_counter() - t0
    seeds = SEEDS[:1] if quick else SEEDS
    epochs = 3 if quick else 30
    side = an.grid_side(ad.n_vars)
    for seed in seeds:
        add("(c) baseline: scanpy score_genes per type, argmax per cell", sg, t_sg)
        add("(c) baseline: scType score argmax per cell", own, t_scores)
        t0 = time.perf_counter()
        pcs = an.pca_embedding(ad, seed=seed)
        clusters = an.leiden_clusters(pcs, seed=seed)
        tab = an.cluster_table(S, w.types, clusters)
        by = dict(zip(tab["cluster"], tab["type"]))
        cluster_labels = np.asarray([by[c] for c in clusters])
        t_ref = time.perf_counter() - t0 + t_scores
        add("(a) reference's procedure: scType, Leiden clusters", cluster_labels, t_ref)
        t0 = time.perf_counter()
        agreement = an.neighbour_agreement(pcs, own, 10)
        t_agree = time.perf_counter() - t0
        for rule in an.CONFIDENCE_RULES:
            conf = an.confident_cells(S, cluster_labels, w.types, rule, agreement=agreement)
            target = cluster_labels if rule == "cluster" else own
            idx = np.flatnonzero(conf)
            idx = idx[an.balanced_subset(target[idx], 2000, seed)]
            t0 = time.perf_counter()
            labels, _, _ = an.cnn_labels(ad, None, idx, target[idx], side, side, epochs, seed)
            t_cnn = time.perf_counter() - t0 + t_ref + (t_agree if rule == "neighbors" else 0)
            add(f"(b) ours per cell, confidence={rule!r}", labels, t_cnn)
            sidx = idx[scored[idx]]  # the training cells that have a truth class
            full_truth = np.full(ad.n_obs, None, dtype=object)
            full_truth[scored] = truth
            c_acc = float(np.mean(coarse(target[sidx], mapping) == full_truth[sidx]))
            rows.setdefault(f"   confident cells of {rule!r} (their own labels)", []).append(
                (c_acc, float("nan"), 0.0, idx.size))
    for case, vals in rows.items():
        v = np.asarray([x[:3] for x in vals], dtype=float)
        metrics = {"accuracy (mean of seeds)": round(float(v[:, 0].mean()), 4),
                   "accuracy per seed": " / ".join(f"{x:.3f}" for x in v[:, 0])}
        if case.startswith("   "):
            metrics["confident cells"] = " / ".join(str(x[3]) for x in vals)
            record(SUITE, f"{name}{case}", "genomap_fast", None, **metrics)
            continue
        metrics["macro-F1 (mean of seeds)"] = round(float(v[:, 1].mean()), 4)
        record(SUITE, f"{name}: {case}", "genomap_fast", float(v[:, 2].mean()), **metrics)
    ref = float(np.mean([x[0] for x in rows["(a) reference's procedure: scType, Leiden clusters"]]))
    ours = float(np.mean([x[0] for x in rows["(b) ours per cell, confidence='neighbors'"]]))
    GOAL[name] = (ref, ours)
    print(f"\n{name}: {int(scored.sum())} of {ad.n_obs} cells scored; reference's procedure "
          f"{ref:.4f}, ours per cell {ours:.4f}")
    return ref, ours


def test_pbmc68k_quality(table, record, quick):
    from genomap_fast.datasets import pbmc68k_reduced

    a = pbmc68k_reduced()  # X is scaled; raw holds the log-normalised expression
    ad = anndata.AnnData(a.raw.X.copy(), obs=a.obs[["bulk_labels"]].copy(),
                         var=pd.DataFrame(index=a.raw.var_names.copy()))
    truth = ad.obs["bulk_labels"].astype(str).map(BULK_TO_COARSE).to_numpy()
    run_dataset("pbmc68k_reduced", ad, truth, table, "Immune system", SCTYPE_TO_COARSE,
                record, quick)


def test_pbmc_ifnb_quality(table, record, quick):
    ad = _real("pbmc_ifnb")
    assert ad.uns["counts_normalised"]  # raw counts as shipped
    truth = [None if t in UNSCORED["pbmc_ifnb"] else IFNB_TO_COARSE[t]
             for t in ad.obs["label"].astype(str)]
    run_dataset("pbmc_ifnb", ad, truth, table, "Immune system", SCTYPE_TO_COARSE,
                record, quick)


def test_pancreas_xin_quality(table, record, quick):
    ad = _real("pancreas_xin")
    assert not ad.uns["counts_normalised"]  # log-expression as shipped
    truth = [XIN_TO_COARSE[t] for t in ad.obs["label"].astype(str)]
    run_dataset("pancreas_xin", ad, truth, table, "Pancreas", SCTYPE_PANCREAS_TO_COARSE,
                record, quick)


def test_goals(record, quick):
    """Issue #26's goals over the data sets measured in this run: ours per cell at least the
    reference's procedure on every data set, and 0.03 above it on average."""
    if not GOAL:
        pytest.skip("no data set was measured")
    diffs = {k: ours - ref for k, (ref, ours) in GOAL.items()}
    for k, (ref, ours) in GOAL.items():
        record(SUITE, f"goal on {k}: ours per cell - reference's procedure", "genomap_fast",
               None, **{"accuracy (mean of seeds)": round(ours - ref, 4),
                        "accuracy per seed": f"{ours:.3f} vs {ref:.3f}"})
    mean = float(np.mean(list(diffs.values())))
    record(SUITE, f"goal over {len(GOAL)} data sets: mean of (ours - reference's procedure)",
           "genomap_fast", None, **{"accuracy (mean of seeds)": round(mean, 4),
                                    "accuracy per seed": "goal: >= 0.03, and >= 0 on each"})
    print(f"\nours - reference's procedure: {diffs}; mean {mean:.4f}")
    if not quick:
        assert all(d >= 0 for d in diffs.values()), diffs


def test_million_cells_scoring(record, quick):
    """The scoring pass (moments + one sparse product) over 1,000,000 x 2,000 CSR cells:
    100,000 synthetic log-normalised cells (cut to about 10% non-zeros) stacked ten times in memory,
    8 types x 10 positive and 2 negative markers."""
    from genomap_fast.datasets import synthetic_counts

    n_base, reps, n_genes = (2000, 2, 2000) if quick else (100_000, 10, 2000)
    X, _ = synthetic_counts(n_cells=n_base, n_genes=n_genes, n_types=8, seed=0, sparse=True,
                            dtype=np.float32)
    X.data[X.data < np.quantile(X.data, 0.75)] = 0  # about 10% non-zeros, as 10x data
    X.eliminate_zeros()
    X = sp.vstack([X] * reps, format="csr")
    rng = np.random.default_rng(0)
    genes = [f"G{j}" for j in range(n_genes)]
    markers = {f"type{t}": ([genes[j] for j in rng.choice(n_genes, 10, replace=False)],
                            [genes[j] for j in rng.choice(n_genes, 2, replace=False)])
               for t in range(8)}
    ad = anndata.AnnData(X, var=pd.DataFrame(index=genes))
    w = an.MarkerWeights(an.read_markers(markers), ad.var_names)
    t0 = time.perf_counter()
    S = an.sctype_scores(ad, w)
    seconds = time.perf_counter() - t0
    assert S.shape == (X.shape[0], 8) and np.isfinite(S).all()
    record(SUITE, f"scType scores of {X.shape[0]:,} x {n_genes:,} CSR cells "
           f"({X.nnz / X.shape[0]:.0f} non-zeros per cell, {w.columns.size} marker genes)",
           "genomap_fast", seconds, **{"cells per second": f"{X.shape[0] / seconds:,.0f}"})
