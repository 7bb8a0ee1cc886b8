"""
A genoTraj trajectory
=====================

genoTraj (:func:`genomap_fast.cnn.genoTraj`) clusters the genomaps of the cells into many small
states (deep embedded clustering), projects each cell's distances to the states on the
directions that separate them, and draws the result with PHATE. The data: a branching tree
simulated by PHATE's diffusion-limited aggregation (300 cells, 100 features, 5 branches), with
short training so that the example runs in seconds.
"""

import numpy as np
import phate

import genomap_fast as gf
from genomap_fast.cnn import genoTraj

data, branch = phate.tree.gen_dla(n_dim=100, n_branch=5, branch_length=60, seed=0)
print(data.shape, np.unique(branch).size, "branches")

# %%
# The trajectory embedding
# ------------------------
# 100 features fit on a 10x10 genomap. ``n_clusters=None`` estimates the number of states from
# the data (Louvain on a kNN graph); the reference's default is 33.

embedding = genoTraj(data, n_clusters=None, rowNum=10, colNum=10, pretrain_epochs=5,
                     maxiter=50, seed=0)
print(embedding.shape, embedding.dtype)

fig = gf.pl.embedding(embedding, branch.astype(str),
                      title="genoTraj of a DLA tree (colour: simulated branch)")
