"""CNN tasks on genomaps (PyTorch): cell recognition and regression.

Needs torch (``pip install 'genomap_fast[cnn]'``); imported lazily by the task functions.
"""
from .tasks import GenoNetClassifier, GenoNetRegressor, genoClassification, genoRegression

__all__ = ["GenoNetClassifier", "GenoNetRegressor", "genoClassification", "genoRegression"]
