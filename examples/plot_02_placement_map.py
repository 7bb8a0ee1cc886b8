"""
Where each gene sits: the placement map
=======================================

A genomap's pixels are genes. :func:`genomap_fast.pl.placement` draws the grid coloured by a
per-gene value (here each gene's variance across cells) and writes the names of the genes with
the highest values on their pixels; :meth:`genomap_fast.Genomap.pixel_of` finds genes by name.
"""

import numpy as np

import genomap_fast as gf
from genomap_fast.datasets import pbmc68k_reduced

adata = pbmc68k_reduced()
X = np.asarray(adata.X, dtype=np.float64)

# gene names are kept from the AnnData (``var_names``) when the AnnData itself is fitted
gm = gf.Genomap(28, 28).fit(adata)
print(gm.placement_.shape, gm.placement_.dtype)  # flat pixel of each gene, -1 if not placed

# %%
# The map, coloured by variance
# -----------------------------
# ``var_`` is aligned with the placed genes (``genes_``); every gene is placed here, so it is
# also aligned with ``placement_``.

variance = np.zeros(adata.n_vars)
variance[gm.genes_] = gm.var_
fig = gf.pl.placement(gm.placement_, 28, 28, gene_names=adata.var_names, values=variance,
                      top=25, title="pbmc68k_reduced: gene placement (colour: variance)")

# %%
# Genes by name
# -------------
# Marker genes of the same lineage lie close together: the placement keeps correlated genes
# near each other.

markers = ["CD3E", "CD79A", "MS4A1", "LYZ", "S100A8", "NKG7", "GNLY", "PPBP"]
markers = [g for g in markers if g in set(adata.var_names)]
rows, cols = gm.pixel_of(markers)
for name, r, c in zip(markers, rows, cols):
    print(f"{name:8s} row {r:2d}  col {c:2d}")

# %%
# The same genes on the genomap of a single cell
# ----------------------------------------------

import matplotlib.pyplot as plt  # noqa: E402

image = gm.transform(X[:1])[0, 0]
fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
ax.imshow(image, cmap="viridis", interpolation="nearest")
for name, r, c in zip(markers, rows, cols):
    ax.text(c, r, name, color="white", fontsize=7, ha="center", va="center")
ax.set_title(f"cell {adata.obs_names[0]} ({adata.obs['bulk_labels'].iloc[0]})", fontsize=9)
ax.set_axis_off()
