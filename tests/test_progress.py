"""Progress output: a live bar on a terminal, short whole lines in a log file, nothing with
--quiet; every bar of the package is made by genomap_fast._progress."""
import io
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from genomap_fast._progress import LogBar, progress_bar

EXE = [sys.executable, "-m", "genomap_fast.cli"]
N_CELLS = 1000


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(N_CELLS, 16)).astype(np.float32)
    path = tmp_path_factory.mktemp("progress") / "cells.npy"
    np.save(path, X)
    return path


def _construct_log(tmp_path, cells, out, extra=(), interval=None):
    """Runs `genomap-fast construct` with stderr redirected to a file (as a batch job does);
    --batch-size 1 makes one progress update per cell. Returns the log's text."""
    env = dict(os.environ)
    env.pop("GENOMAP_FAST_PROGRESS_INTERVAL", None)
    if interval is not None:
        env["GENOMAP_FAST_PROGRESS_INTERVAL"] = str(interval)
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        res = subprocess.run(EXE + ["construct", str(cells), "-o", str(tmp_path / out),
                                    "--rows", "4", "--cols", "4", "--batch-size", "1",
                                    *extra],
                             stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                             timeout=300)
    text = log.read_text()
    assert res.returncode == 0, text
    return text


@pytest.mark.parametrize("out", ["images.npy", "images.zarr"])
def test_log_file_gets_few_whole_lines(tmp_path, cells, out):
    if out.endswith(".zarr"):
        pytest.importorskip("zarr")
    text = _construct_log(tmp_path, cells, out)
    lines = text.splitlines()
    assert "\r" not in text and text.endswith("\n")
    # 1,000 updates of the image bar; by default a line at most every 10 s, so a short run logs
    # the start and the end of its two bars (statistics, images)
    assert 2 <= len(lines) <= 8, text
    assert all(re.match(r"(statistics|genomaps): +\d+% \d+/\d+ \[", ln) for ln in lines), text
    assert lines[-1].startswith(f"genomaps: 100% {N_CELLS}/{N_CELLS} [")


@pytest.mark.parametrize("out", ["images.npy", "images.zarr"])
def test_log_lines_at_most_one_per_percent(tmp_path, cells, out):
    """With no time limit between lines, the per-percent step alone bounds a bar's log."""
    if out.endswith(".zarr"):
        pytest.importorskip("zarr")
    lines = _construct_log(tmp_path, cells, out, interval=0).splitlines()
    images = [ln for ln in lines if ln.startswith("genomaps:")]
    assert 50 <= len(images) <= 102, len(images)  # start, <= 100 steps, end
    percents = [int(re.match(r"genomaps: +(\d+)%", ln).group(1)) for ln in images]
    assert percents == sorted(percents) and percents[-1] == 100
    assert len(lines) < 2 * 102


def test_quiet_writes_no_progress(tmp_path, cells):
    assert _construct_log(tmp_path, cells, "images.npy", extra=["-q"], interval=0) == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_the_live_bar_and_a_file_gets_lines():
    live = progress_bar(total=10, file=_Terminal())
    assert not isinstance(live, LogBar)
    live.close()
    stream = io.StringIO()
    bar = progress_bar(total=1000, desc="cells", file=stream)
    assert isinstance(bar, LogBar)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and text.splitlines()[-1].startswith("cells: 100% 1000/1000")
    assert len(text.splitlines()) <= 3
    silent = io.StringIO()
    for _ in progress_bar(range(5), file=silent, disable=True):
        pass
    assert silent.getvalue() == ""


def test_every_bar_is_made_by_the_helper():
    root = pathlib.Path(__file__).resolve().parents[1] / "python" / "genomap_fast"
    raw = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py") if p.name != "_progress.py"
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r"\btqdm\s*\(|import tqdm|from tqdm", line)]
    assert raw == []
