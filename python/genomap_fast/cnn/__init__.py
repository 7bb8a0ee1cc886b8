"""CNN tasks on genomaps (PyTorch): cell recognition, regression, clustering/visualisation and
dimensionality reduction.

Needs torch (``pip install 'genomap_fast[cnn]'``); imported lazily by the task functions.
"""
from .cluster import GenoDEC, estimate_n_clusters, genoDR, genoVis
from .tasks import GenoNetClassifier, GenoNetRegressor, genoClassification, genoRegression

__all__ = ["GenoDEC", "GenoNetClassifier", "GenoNetRegressor", "estimate_n_clusters",
           "genoClassification", "genoDR", "genoRegression", "genoVis"]
