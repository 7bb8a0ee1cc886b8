"""Progress bars, made in one place (every bar of the package comes from :func:`progress_bar`).

- On a terminal: a live tqdm bar (in a Jupyter kernel: tqdm's notebook widget).
- On anything else (stderr redirected to a file, a batch job's log, a pipe): whole lines, no
  carriage returns, one when the bar starts, one when it ends and in between at most one line
  every ``GENOMAP_FAST_PROGRESS_INTERVAL`` seconds (default 10) and at most one per percent of
  the total, so a bar writes at most about 100 lines however long the run is.
- ``disable=True`` (the command line's ``--quiet``, ``progress=False`` in the API): nothing.
"""
from __future__ import annotations

import os
import sys

from tqdm import tqdm as _std_tqdm

INTERVAL_ENV = "GENOMAP_FAST_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0
# tqdm's default bar without the bar itself: "statistics:  42% 420000/1000000 [00:05<00:07, ...]"
_LOG_FORMAT = ("{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} "
               "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")


def log_interval() -> float:
    """Seconds between two progress lines on a non-terminal stream (>= 0)."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value >= 0 else DEFAULT_INTERVAL


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # a closed stream
        return False


def _in_notebook() -> bool:
    from tqdm.autonotebook import tqdm as auto

    return auto.__module__.startswith("tqdm.notebook")


class _Lines:
    """The stream of a log bar: drops the bare newline tqdm writes on close (each of our
    lines already ends with one) and any carriage return."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s):
        s = str(s).replace("\r", "")
        if s.strip():
            self._stream.write(s)

    def flush(self):
        flush = getattr(self._stream, "flush", None)
        if callable(flush):
            flush()


class LogBar(_std_tqdm):
    """A tqdm whose every refresh is one complete line (for files and pipes)."""

    # no monitor thread: it would refresh a quiet bar every maxinterval seconds and reset the
    # per-percent step; a log line needs progress and the interval
    monitor_interval = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.disable:
            self.fp = _Lines(self.fp)

    def display(self, msg=None, pos=None):
        text = self.__str__() if msg is None else msg
        text = text.replace("\r", "").strip()
        if text:
            self.fp.write(text + "\n")
            self.fp.flush()
        return True


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", disable=False,
                 file=None, **kwargs):
    """A tqdm bar that suits where it is shown (see the module docstring). Takes tqdm's
    arguments; ``file`` defaults to ``sys.stderr``."""
    stream = sys.stderr if file is None else file
    if total is None and iterable is not None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    if disable or _is_terminal(stream) or _in_notebook():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, file=file,
                    **kwargs)
    interval = log_interval()
    options = {"mininterval": interval}
    if total:
        options.update(miniters=max(1, -(-int(total) // 100)), bar_format=_LOG_FORMAT)
    options.update(kwargs)
    return LogBar(iterable, total=total, desc=desc, unit=unit, file=stream, **options)
