"""Hand SciPy's BLAS dgemm to the C++ core (no build-time BLAS dependency)."""
import ctypes
from contextlib import contextmanager

from . import _core

_CONTROLLER = None


@contextmanager
def single_threaded_blas():
    """Keeps the BLAS library at one thread while the core runs.

    The core calls BLAS from its own OpenMP threads on fixed row blocks; a multi-threaded BLAS
    call would change the summation order with the thread count (and oversubscribe the cores).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()  # built once: library discovery is slow
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def _capsule_pointer(capsule) -> int:
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(get_pointer(capsule, get_name(capsule)))


def install() -> bool:
    """Point the core at scipy.linalg.cython_blas.dgemm; returns whether it worked."""
    try:
        from scipy.linalg import cython_blas

        _core.set_dgemm(_capsule_pointer(cython_blas.__pyx_capi__["dgemm"]))
        return True
    except Exception:  # pragma: no cover - the core falls back to its own loops
        _core.set_dgemm(0)
        return False


HAVE_BLAS = install()
