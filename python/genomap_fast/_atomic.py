"""Atomic file output: write to a temporary sibling, then rename over the target.

Temporaries are hidden siblings of the target named ``.NAME.partial-PID-RANDOM`` (PID: the
writing process). A killed writer leaves its temporary behind; the next write to the same
target (or ``genomap-fast clean``) removes every such sibling whose process is gone, so retries
never pile up litter, while a live concurrent writer's temporary is left alone.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from contextlib import contextmanager

_PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)-[0-9a-f]+")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def partial_path(path, suffix: str = "", tag: str = "") -> str:
    """A fresh temporary sibling of ``path``: ``DIR/.NAME.partial-PID-RANDOM[tag][suffix]``."""
    path = os.path.abspath(os.fspath(path)).rstrip("/")
    directory, name = os.path.split(path)
    return os.path.join(directory,
                        f".{name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}{tag}{suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # possibly another thread of this process writing the same target
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def stale_partials(directory, name: str | None = None) -> list:
    """Temporary siblings in ``directory`` (of the target ``name`` only, if given) whose writing
    process no longer exists."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    out = []
    for entry in entries:
        m = _PARTIAL.match(entry)
        if m and (name is None or m["name"] == name) and not _alive(int(m["pid"])):
            out.append(os.path.join(directory, entry))
    return sorted(out)


def remove_stale_partials(path=None, directory=None) -> list:
    """Removes the stale temporaries of target ``path`` (or of every target in ``directory``);
    returns the paths removed."""
    if path is not None:
        path = os.path.abspath(os.fspath(path)).rstrip("/")
        directory, name = os.path.split(path)
    else:
        name = None
    removed = []
    for p in stale_partials(directory, name):
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                continue
        removed.append(p)
    return removed


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yields a temporary path next to ``path``; on success it replaces ``path`` (same
    permissions as a normally created file), on failure it is removed. An interrupted run never
    leaves a half-written file under the final name, and stale temporaries of earlier killed
    writes to ``path`` are removed first."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory; expected a file path")
    remove_stale_partials(path)
    tmp = partial_path(path, suffix)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
