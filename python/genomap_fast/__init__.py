"""genomap_fast: fast genomaps (gene-expression images by Gromov-Wasserstein gene placement)."""
from . import _blas  # noqa: F401  (hands SciPy's BLAS to the C++ core)
