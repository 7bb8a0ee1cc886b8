"""Clustering quality: genoVis (ours, deep embedded clustering of genomaps) vs k-means on PCA,
and Leiden and Louvain on a kNN graph of PCA; ARI and NMI against known cell types. The
reference genoVis needs TensorFlow, which this project does not install, so it is not run here."""
import time

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from genomap_fast.datasets import pbmc68k_reduced, synthetic_counts

SUITE = "test_cluster_quality"


def leiden_labels(features, n_neighbors=15, seed=0):
    """Leiden (modularity, resolution 1) on the kNN graph of the features."""
    import igraph
    import leidenalg
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(features).kneighbors(
        return_distance=False)
    edges = {(min(i, int(j)), max(i, int(j))) for i, row in enumerate(idx) for j in row[1:]
             if i != j}
    g = igraph.Graph(n=len(features), edges=sorted(edges))
    part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, seed=seed)
    return np.asarray(part.membership)


def _data(name, quick):
    if name.startswith("pbmc"):
        ad = pbmc68k_reduced()
        X = np.asarray(ad.X, dtype=np.float64)
        y = ad.obs["bulk_labels"].astype(str).to_numpy()
        side = 28
    else:
        X, y = synthetic_counts(1500, 400, n_types=6, n_modules=30, seed=3)
        X, side = X.astype(np.float64), 20
    return (X[:300], y[:300], side) if quick else (X, y, side)


@pytest.mark.parametrize("name", ["synthetic (6 types, 1500 cells)",
                                  "pbmc68k_reduced (10 cell types)"])
def test_cluster_quality(benchmark, record, quick, name):
    from genomap_fast.cnn import estimate_n_clusters, genoVis

    X, y, side = _data(name, quick)
    k = len(np.unique(y))
    kw = {"pretrain_epochs": 5, "maxiter": 20} if quick else {}
    benchmark.group = name
    t0 = time.perf_counter()
    _, labels = benchmark.pedantic(genoVis, args=(X,), kwargs={"n_clusters": k, "rowNum": side,
                                                               "colNum": side, **kw},
                                   rounds=1, iterations=1)
    t_ours = time.perf_counter() - t0
    Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    pcs = PCA(min(50, Z.shape[1] - 1), random_state=0).fit_transform(Z)
    km = KMeans(k, n_init=10, random_state=0).fit_predict(pcs)
    _, louvain = estimate_n_clusters(pcs, seed=0)
    leiden = leiden_labels(pcs)

    def scores(lab):
        return adjusted_rand_score(y, lab), normalized_mutual_info_score(y, lab)

    _, eu_labels = genoVis(X, n_clusters=k, rowNum=side, colNum=side, grid_metric="euclidean",
                           **kw)
    ours, kmeans, lv, eu = scores(labels), scores(km), scores(louvain), scores(eu_labels)
    ld = scores(leiden)
    record(SUITE, name, "genomap_fast", t_ours, **{
        "ARI genoVis": ours[0], "NMI genoVis": ours[1],
        "ARI k-means(PCA)": kmeans[0], "NMI k-means(PCA)": kmeans[1],
        "ARI Louvain(PCA)": lv[0], "NMI Louvain(PCA)": lv[1],
        "ARI genoVis euclidean": eu[0], "NMI genoVis euclidean": eu[1],
        "ARI Leiden(PCA)": ld[0], "NMI Leiden(PCA)": ld[1]})
    assert ours[0] > 0.0
