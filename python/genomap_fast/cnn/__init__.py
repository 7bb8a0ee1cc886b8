"""CNN tasks on genomaps (PyTorch): cell recognition, regression, clustering/visualisation,
dimensionality reduction, trajectories.

Needs torch (``pip install 'genomap_fast[cnn]'``); imported lazily by the task functions.
"""
from .cluster import GenoDEC, estimate_n_clusters, genoDR, genoVis
from .moi import genoMOItraj, genoMOIvis, prealign
from .signature import attribute, class_signatures, genoSig, integrated_gradients
from .tasks import GenoNetClassifier, GenoNetRegressor, genoClassification, genoRegression
from .traj import class_discriminative_projection, cluster_distances, genoTraj


def __getattr__(name):  # the datasets need torch at import: load them on first use
    if name in ("GenomapDataset", "GenomapStoreDataset", "ChunkShuffleSampler"):
        from . import data

        return getattr(data, name)
    if name == "training_thread_count":  # torch at import too
        from .training import training_thread_count

        return training_thread_count
    raise AttributeError(name)


__all__ = [
    "ChunkShuffleSampler", "GenoDEC", "GenomapDataset", "GenomapStoreDataset",
    "GenoNetClassifier", "GenoNetRegressor",
    "attribute", "class_discriminative_projection", "class_signatures", "cluster_distances",
    "estimate_n_clusters",
    "genoClassification", "genoDR", "genoMOItraj", "genoMOIvis", "genoRegression", "genoSig",
    "genoTraj", "genoVis", "integrated_gradients", "prealign", "training_thread_count",
]
