"""The 2-D UMAP drawing of genoVis and genoMOIvis, with umap's compiled code cached on disk.

umap-learn compiles its numba functions (the kNN graph's weights, the layout's epochs) on
their first call in each process and does not cache them: 8-19 s of a first genoVis or
genoMOIvis call on a small data set, against 0.5 s for the embedding itself. Before the first
call, :func:`cache_umap_compilation` turns on numba's own on-disk cache for those functions
(``Dispatcher.enable_caching``, what ``@njit(cache=True)`` does): the same dispatchers with the
same options, so the machine code and the embedding are those of an uncached run. Numba keeps
the cache in umap's ``__pycache__``, or in ``NUMBA_CACHE_DIR`` / its user-wide cache folder when
that is read-only, and recompiles when umap's sources change. ``GENOMAP_FAST_NUMBA_CACHE=0``
turns this off. A cache that cannot be read (a damaged file) or written is not fatal: UMAP
compiles afresh into a temporary folder, with a RuntimeWarning that names the way out.

While that cache is still empty (the first call after installing), genoVis and genoMOIvis call
:func:`start_umap_warmup` before they train: a helper process compiles umap's functions into the
cache on another core while the network trains, and :func:`umap_2d` waits for it, then reads
the cache. ``GENOMAP_FAST_UMAP_WARMUP=0`` turns the helper off.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np

_UMAP_MODULES = ("umap.distances", "umap.utils", "umap.sparse", "umap.layouts", "umap.umap_",
                 "umap.spectral")
_enabled = False
_cached = []  # the dispatchers whose cache this module turned on
_warmup: subprocess.Popen | None = None  # the helper process compiling umap, while it runs
_warmup_failed = False  # a helper ended without filling the cache: none again in this process
# umap's costliest function (the layout's epoch), compiled last by a UMAP call; a warm-up that
# was cut short leaves no index file for it
_WARM_MARKER = "layouts._optimize_layout_euclidean_single_epoch-"
_WARMUP_SCRIPT = (
    "import numpy as np\n"
    "from genomap_fast.cnn.embedding import umap_2d\n"
    "rng = np.random.default_rng(0)\n"
    "umap_2d(rng.normal(size=(200, 8)).astype(np.float32), 0)\n"
)
WARMUP_TIMEOUT_S = 600.0  # umap_2d waits at most this long for the helper, then compiles


def cache_umap_compilation() -> int:
    """Turns on numba's on-disk cache for umap's compiled functions (once per process).

    Returns
    -------
    int
        Number of functions whose cache this call turned on (0 when already done, when
        ``GENOMAP_FAST_NUMBA_CACHE=0`` or without numba's dispatcher type).
    """
    global _enabled
    if _enabled or os.environ.get("GENOMAP_FAST_NUMBA_CACHE", "1") == "0":
        return 0
    _enabled = True
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # a numba without it: run uncached
        return 0
    count = 0
    for name in _UMAP_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(module).values():
            if (isinstance(value, CPUDispatcher)
                    and getattr(value.py_func, "__module__", None) == name):
                try:  # (umap's one cached function gets the same cache again)
                    value.enable_caching()
                except RuntimeError:  # no writable cache location: stays uncached
                    continue
                _cached.append(value)
                count += 1
    return count


def _cache_folders() -> list[str]:
    """Where numba keeps umap's cache: NUMBA_CACHE_DIR when set, else umap's __pycache__ or,
    when that is read-only, numba's user-wide cache folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [os.environ["NUMBA_CACHE_DIR"]]
    spec = importlib.util.find_spec("umap")
    folders = [os.path.join(p, "__pycache__") for p in (spec.submodule_search_locations or [])
               ] if spec is not None else []
    return folders + [os.path.join(os.path.expanduser("~"), ".cache", "numba")]


def umap_cache_is_filled() -> bool:
    """Whether numba's cache already holds umap's compiled layout (looked up on disk, without
    importing umap or numba)."""
    for folder in _cache_folders():
        for _, _, files in os.walk(folder):
            if any(f.startswith(_WARM_MARKER) and f.endswith(".nbi") for f in files):
                return True
    return False


def start_umap_warmup() -> bool:
    """Starts a helper process that compiles umap's functions into numba's cache, when the
    cache is on and still empty; :func:`umap_2d` waits for it. Meant to be called before a
    long training, so that compilation (8-19 s) runs on another core meanwhile.

    Returns
    -------
    bool
        Whether a helper was started (False: the cache is off or filled, umap is missing, no
        helper could start, one already runs, UMAP already ran in this process (its functions
        are compiled here), or an earlier helper ended without filling the cache, e.g. no
        writable cache folder).
    """
    global _warmup
    if (_warmup is not None or _warmup_failed or _enabled  # _enabled: UMAP already ran here
            or os.environ.get("GENOMAP_FAST_NUMBA_CACHE", "1") == "0"
            or os.environ.get("GENOMAP_FAST_UMAP_WARMUP", "1") == "0" or not sys.executable
            or importlib.util.find_spec("umap") is None or umap_cache_is_filled()):
        return False
    try:
        _warmup = subprocess.Popen([sys.executable, "-c", _WARMUP_SCRIPT],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    except OSError:
        return False
    atexit.register(_stop_warmup)
    return True


def _stop_warmup() -> None:
    global _warmup
    if _warmup is not None:
        if _warmup.poll() is None:
            _warmup.kill()
        _warmup.wait()
        _warmup = None


def _wait_for_warmup(timeout: float = WARMUP_TIMEOUT_S) -> None:
    """Lets a running helper finish filling the cache (whatever its outcome: a failed helper
    only means this process compiles), killing it after ``timeout`` seconds."""
    global _warmup, _warmup_failed
    if _warmup is None:
        return
    try:
        _warmup.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    _stop_warmup()
    _warmup_failed = not umap_cache_is_filled()


def _recache_in_a_temporary_folder() -> str:
    """Points the functions this module cached at a new, empty cache folder for the rest of
    the process (removed at exit), away from a damaged one; returns the folder."""
    import atexit
    import shutil
    import tempfile

    import numba

    folder = tempfile.mkdtemp(prefix="genomap_fast-numba-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = folder  # read when a function's cache is created
    try:
        for dispatcher in _cached:
            dispatcher.enable_caching()
    finally:
        numba.config.CACHE_DIR = previous
    return folder


def _raised_by_numba_cache(err: BaseException) -> bool:
    """Whether ``err`` was raised inside numba's cache code (reading or writing a cache file),
    not by umap or the input."""
    tb = err.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename.replace(os.sep, "/")
        if path.endswith("numba/core/caching.py"):
            return True
        tb = tb.tb_next
    return False


def _prefer_workqueue_threads() -> None:
    """numba's own thread pool ("workqueue") for umap's parallel loops, unless the caller chose
    a threading layer or numba already started one.

    numba's OpenMP layer shares the process's libgomp with PyTorch and the C++ core; once it had
    run, the next CNN training on a team of two threads took twice as long on 2 cores (genoVis
    on pbmc68k_reduced: 24.4 s, then 57.0 s in the same process; 25.1 s and 25.2 s with the
    workqueue). umap's parallel loops treat each cell apart, so the layer does not change the
    embedding.
    """
    if os.environ.get("NUMBA_THREADING_LAYER"):
        return
    import numba

    try:
        numba.threading_layer()  # raises ValueError until numba starts its pool
    except ValueError:
        numba.config.THREADING_LAYER = "workqueue"


def umap_2d(features: np.ndarray, seed: int) -> np.ndarray:
    """UMAP of the learned features as the reference draws them (30 neighbours, min_dist 0.3,
    200 epochs), seeded.

    Parameters
    ----------
    features : numpy.ndarray of shape (n_cells, n_dim)
        One row per cell (at least 4 rows).
    seed : int
        UMAP's random state.

    Returns
    -------
    numpy.ndarray of shape (n_cells, 2)
        float32 embedding.

    Raises
    ------
    ValueError
        Fewer than 4 rows (UMAP's spectral initialisation needs more rows than 3).
    """
    if len(features) < 4:
        raise ValueError(f"a 2-D UMAP embedding needs at least 4 cells, got {len(features)}")
    _wait_for_warmup()
    import umap

    cache_umap_compilation()
    _prefer_workqueue_threads()

    def fit():
        with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            return umap.UMAP(n_neighbors=min(30, len(features) - 1), min_dist=0.3,
                             n_epochs=200, random_state=seed).fit_transform(features)

    try:
        emb = fit()
    except Exception as err:
        if not (_cached and _raised_by_numba_cache(err)):
            raise
        # numba reads and writes its cache while compiling: a damaged or unwritable cache
        # file surfaces here (e.g. UnpicklingError)
        folder = _recache_in_a_temporary_folder()
        warnings.warn(f"numba's cache of umap's compiled functions failed "
                      f"({type(err).__name__}: {err}); UMAP compiled afresh into {folder} for "
                      f"this process. Remove numba's cache (umap's __pycache__ or "
                      f"NUMBA_CACHE_DIR) or set GENOMAP_FAST_NUMBA_CACHE=0.", RuntimeWarning,
                      stacklevel=2)
        emb = fit()
    return np.asarray(emb, dtype=np.float32)
