"""Atomic file output: write to a temporary sibling, then rename over the target."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yields a temporary path next to ``path``; on success it replaces ``path`` (same
    permissions as a normally created file), on failure it is removed. An interrupted run never
    leaves a half-written file under the final name."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".genomap-", suffix=suffix + ".part", dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
