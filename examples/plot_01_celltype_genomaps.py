"""
Genomaps of each cell type
==========================

The PBMC data set that ships inside scanpy (700 cells x 765 genes) as 28x28 genomaps. A
:class:`genomap_fast.Genomap` places the genes on the grid once (Gromov-Wasserstein, with the
reference's radial grid cost), then every cell becomes an image; :func:`genomap_fast.pl.genomaps`
draws a few cells of each cell type, one row per type.
"""

import numpy as np

import genomap_fast as gf
from genomap_fast.datasets import pbmc68k_reduced

adata = pbmc68k_reduced()
X = np.asarray(adata.X, dtype=np.float64)  # cells x genes
labels = adata.obs["bulk_labels"].astype(str).to_numpy()
print(X.shape, len(np.unique(labels)), "cell types")

# %%
# Fit the placement and rasterise every cell
# ------------------------------------------
# 765 genes fit on the 784 pixels of a 28x28 grid. ``fit`` learns where each gene goes;
# ``transform`` turns cells into ``(cells, 1, rows, cols)`` float32 images.

gm = gf.Genomap(28, 28)
images = gm.fit_transform(X)
print(images.shape, images.dtype)
print(f"GW objective {gm.objective_:.4f} after {gm.n_iter_} iterations")

# %%
# Six cells per cell type
# -----------------------
# All panels share one colour scale. Correlated genes sit together, so each cell type has its
# own pattern: compare the monocytes (CD14+) with the T cells (CD4+, CD8+).

fig = gf.pl.genomaps(images, labels, n_per_class=6)

# %%
# The mean genomap of each cell type
# ----------------------------------
# Averaging the images of a type shows its pattern without the noise of single cells.

import matplotlib.pyplot as plt  # noqa: E402

types = sorted(np.unique(labels))
fig, axes = plt.subplots(2, (len(types) + 1) // 2, figsize=(10, 4), layout="constrained")
for ax, t in zip(axes.flat, types):
    ax.imshow(images[labels == t, 0].mean(axis=0), cmap="viridis", interpolation="nearest")
    ax.set_title(t, fontsize=8)
for ax in axes.flat:
    ax.set_axis_off()
