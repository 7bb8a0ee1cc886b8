"""Which compute backends this installation has: ``backends()`` and ``device=`` resolution.

The CUDA backend is the optional extension ``genomap_fast._cuda`` (built when a CUDA compiler
was found at install time, see ``cuda/``). Importing it makes no CUDA call; asking for the
device count loads the driver. Nothing here imports cupy or torch.
"""
from __future__ import annotations

import functools

DEVICES = ("cpu", "cuda", "auto")


@functools.cache
def _cuda_status() -> tuple[bool, str, dict]:
    """(available, reason when not, details)."""
    try:
        from . import _cuda
    except ImportError as err:
        return False, f"genomap_fast._cuda is not built (no CUDA compiler at install): {err}", {}
    details = {"runtime_version": _cuda.runtime_version(),
               "architectures": getattr(_cuda, "architectures", "")}
    driver = _cuda.driver_version()
    details["driver_version"] = driver
    if driver == 0:
        return False, "no CUDA driver (libcuda.so not found)", details
    count, why = _cuda.device_count()
    if count == 0:
        return False, f"no usable CUDA device ({why})", details
    details["devices"] = [_cuda.device_name(i) for i in range(count)]
    return True, "", details


def _steps(cuda_ok: bool) -> dict:
    """Where each step of ``device="cuda"`` runs (all "cpu" when CUDA is unavailable)."""
    steps = {"statistics": "cpu", "placement": "cpu", "rasterisation": "cpu",
             "anneal": "cpu", "refinement": "cpu"}
    if not cuda_ok:
        return steps
    from ._gpu_gw import math_libraries

    placed, why = math_libraries()
    steps.update(statistics="cuda", rasterisation="cuda (device arrays); cpu (host arrays)",
                 placement="cuda" if placed else f"cpu ({why})")
    return steps


def backends() -> dict:
    """The compute backends of this installation, why one is unavailable and where each step
    of ``device="cuda"`` runs.

    Returns
    -------
    dict
        ``{"cpu": {"available": True}, "cuda": {"available": bool, "steps": {...}, ...}}``.
        The CUDA entry has ``"reason"`` when it is unavailable (module not built, no driver,
        no device) and, when the module is built, its CUDA runtime, driver and architectures
        (and ``"devices"``, their names, when available). ``"steps"`` maps each step of a fit
        with ``device="cuda"`` ("statistics", "placement" (the GW iteration), "rasterisation",
        "anneal", "refinement" (within-class)) to where it runs; the placement runs on the
        device when cuBLAS and cuFFT load, and says why not otherwise. Nothing here imports
        cupy or torch.

    Examples
    --------
    >>> from genomap_fast import backends
    >>> info = backends()
    >>> info["cpu"]
    {'available': True}
    >>> isinstance(info["cuda"]["available"], bool)
    True
    """
    ok, reason, details = _cuda_status()
    cuda = {"available": ok, **details, "steps": _steps(ok)}
    if not ok:
        cuda["reason"] = reason
    return {"cpu": {"available": True}, "cuda": cuda}


def resolve_device(device: str) -> str:
    """"cpu" or "cuda" for ``device`` ("cpu", "cuda" or "auto": cuda when available).
    Asking for "cuda" where it is unavailable is a one-line RuntimeError naming the reason."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu"
    ok, reason, _ = _cuda_status()
    if ok:
        return "cuda"
    if device == "auto":
        return "cpu"
    raise RuntimeError(f"device='cuda' is unavailable: {reason}")
