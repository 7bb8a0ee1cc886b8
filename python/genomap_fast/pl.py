"""scanpy-style plots (matplotlib); each returns the Figure and writes it with ``save=``."""
from __future__ import annotations

from .plotting import (
    genomaps,  # noqa: F401  (pl.genomaps)
    placement,  # noqa: F401  (pl.placement)
)
