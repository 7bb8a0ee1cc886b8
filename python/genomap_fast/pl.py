"""scanpy-style plots (matplotlib); each returns the Figure and writes it with ``save=``."""
from __future__ import annotations

from .plotting import embedding, genomaps, placement

__all__ = ["embedding", "genomaps", "placement"]
