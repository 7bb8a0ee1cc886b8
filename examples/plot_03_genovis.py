"""
A genoVis embedding
===================

genoVis (:func:`genomap_fast.cnn.genoVis`) learns features of the cells from their genomaps
with a convolutional autoencoder and deep embedded clustering, then draws them in two
dimensions with UMAP. Here on the 700 PBMC cells, with short training so that the example runs
in seconds (the defaults are ``pretrain_epochs=100, maxiter=300``); the figure is coloured by
the annotated cell types, which genoVis never sees.
"""

import numpy as np

import genomap_fast as gf
from genomap_fast.cnn import genoVis
from genomap_fast.datasets import pbmc68k_reduced

adata = pbmc68k_reduced()
labels = adata.obs["bulk_labels"].astype(str).to_numpy()

embedding, clusters = genoVis(adata, n_clusters=8, rowNum=28, colNum=28, pretrain_epochs=5,
                              maxiter=50, seed=0)
print(embedding.shape, embedding.dtype, clusters.shape, clusters.dtype)

# %%
# Coloured by cell type
# ---------------------

fig = gf.pl.embedding(embedding, labels, title="genoVis of pbmc68k_reduced (cell types)")

# %%
# Coloured by the clusters genoVis found
# --------------------------------------
# The adjusted Rand index measures how well the clusters match the annotated types (1 is a
# perfect match); longer training raises it.

from sklearn.metrics import adjusted_rand_score  # noqa: E402

fig = gf.pl.embedding(embedding, clusters, title="genoVis clusters")
print(f"ARI against the cell types: {adjusted_rand_score(labels, clusters):.2f}")
