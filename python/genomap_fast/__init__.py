"""genomap_fast: fast genomaps (gene-expression images by Gromov-Wasserstein gene placement).

Drop-in functions of genomap 1.3.6: :func:`construct_genomap`, :func:`construct_genomap_returnT`.
Estimator: :class:`Genomap` (fit / transform / save / load).
"""
from importlib import metadata as _metadata

from . import (  # noqa: F401  (scanpy-style tools and plots)
    _blas,  # noqa: F401  (hands SciPy's BLAS to the C++ core)
    pl,
    tl,
)
from ._memory import MemoryEstimateWarning
from ._validate import NotFittedError
from .backends import backends
from .compat import construct_genomap, construct_genomap_returnT
from .estimator import Genomap
from .interaction import interaction_matrix
from .placement import Placement, PlacementResult, pixel_distance_matrix, solve_placement

try:  # one source: `version` in pyproject.toml, read from the installed package's metadata
    __version__ = _metadata.version("genomap_fast")
except _metadata.PackageNotFoundError:  # imported from a folder, not installed: the C++ core
    from ._core import __version__  # is compiled with the same string (SKBUILD_PROJECT_VERSION)

__all__ = [
    "Genomap",
    "MemoryEstimateWarning",
    "NotFittedError",
    "Placement",
    "PlacementResult",
    "__version__",
    "backends",
    "construct_genomap",
    "construct_genomap_returnT",
    "interaction_matrix",
    "pixel_distance_matrix",
    "solve_placement",
]
