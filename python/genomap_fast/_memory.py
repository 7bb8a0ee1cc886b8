"""Memory estimates: warn before a fit that would not fit in RAM."""
from __future__ import annotations

import warnings


class MemoryEstimateWarning(UserWarning):
    """Warning: the estimated peak memory of a fit exceeds the memory available now.

    :meth:`genomap_fast.Genomap.fit` warns before it allocates anything; the run may then swap
    or be killed. A fit that would exceed the address-space limit (``ulimit -v``) raises
    MemoryError instead. Silence it with the ``warnings`` module.

    Examples
    --------
    >>> import warnings
    >>> from genomap_fast import MemoryEstimateWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", MemoryEstimateWarning)
    >>> issubclass(MemoryEstimateWarning, UserWarning)
    True
    """


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return None
    return None


def address_space_headroom() -> int | None:
    """Bytes this process may still map under its address-space limit (``ulimit -v``,
    RLIMIT_AS), or None when unlimited or unknown. Beyond it, allocations fail for sure."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except OSError:  # pragma: no cover - not Linux
        return None
    return None


def fit_bytes(n_genes_in: int, n_placed: int, n_classes: int, chunk_rows: int,
              dense_grid: bool = True) -> int:
    """Peak bytes of a fit: the n x n interaction matrix (accumulated and converted in place),
    a float64 chunk and its centred copy, the solver's genes x classes buffers, and the grid's
    classes x classes cost matrices unless the grid keeps a displacement table (FFT grids)."""
    interaction = 8 * n_placed * n_placed
    chunk = 2 * 8 * chunk_rows * n_genes_in
    grid = 2 * n_classes * n_classes if dense_grid else 0
    solver = 8 * (4 * n_placed * n_classes + grid + 8 * n_placed)
    return interaction + chunk + solver


def check_fit_memory(n_genes_in: int, n_placed: int, n_classes: int, chunk_rows: int,
                     what: str, dense_grid: bool = True) -> int:
    """Warns (MemoryEstimateWarning) when the estimate exceeds available memory; raises
    MemoryError, before anything is allocated, when it exceeds the address-space limit (the
    run would fail for certain); returns the estimate."""
    need = fit_bytes(n_genes_in, n_placed, n_classes, chunk_rows, dense_grid)
    limit = address_space_headroom()
    if limit is not None and need > limit:
        raise MemoryError(
            f"{what} needs about {need / 2**30:.2f} GiB but the address-space limit (ulimit -v) "
            f"leaves {limit / 2**30:.2f} GiB; the {n_placed} x {n_placed} interaction matrix "
            f"alone is {8 * n_placed**2 / 2**30:.2f} GiB. Place fewer genes: a smaller grid "
            f"with select_genes='variance' (CLI: --genes variance) keeps only the rows * cols "
            f"most variable genes, or pass fewer genes"
        )
    have = available_bytes()
    if have is not None and need > have:
        warnings.warn(
            f"{what} needs about {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB is "
            f"available: it may swap or be killed (the interaction matrix alone is "
            f"{8 * n_placed**2 / 2**30:.1f} GiB for {n_placed} genes); use a smaller grid or "
            f"fewer genes",
            MemoryEstimateWarning,
            stacklevel=3,
        )
    return need


def cap_malloc_arenas(arenas: int = 1) -> bool:
    """Caps glibc's malloc arenas (M_ARENA_MAX) for this process; True if set. A streamed run
    reads, rasterises and encodes blocks of several MB in three threads, and each thread's
    arena keeps its own freed blocks: the peak RSS grew over the run (1M cells 0.20 GiB, 10M
    0.25 GiB) where one arena keeps it flat (0.17 GiB). glibc fixes the limit when a second
    thread first allocates: call this before any thread starts; a no-op away from glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:  # pragma: no cover - not glibc
        return False
    try:
        return bool(ctypes.CDLL(name).mallopt(-8, int(arenas)))  # M_ARENA_MAX
    except (OSError, AttributeError):  # pragma: no cover - a libc without mallopt
        return False
