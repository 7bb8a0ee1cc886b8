"""Atomic writes (genomap_fast._atomic and its users: the CLI's outputs, stores, saved models)
under SIGKILL: kill a writer at random points (several seeds) and check what is left.

After a kill the output path is absent, or a store ``open_images`` refuses as incomplete, or
complete and equal to an uninterrupted run; the input is untouched (checksum); and the next
write to the same path removes the killed run's temporary (``.NAME.partial-*``), so retries do
not pile up litter.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts
from genomap_fast.store import open_images

SEEDS = range(4)
ROWS = COLS = 12


def sha256(path) -> str:
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(f.encode() + fh.read())
        return h.hexdigest()
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def partials(directory, name):
    return sorted(p for p in os.listdir(directory) if p.startswith(f".{name}.partial-"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("kill_in")
    X, _ = synthetic_counts(6000, 130, n_types=4, n_modules=10, seed=3)
    X = X.astype(np.float64)
    np.save(d / "cells.npy", X)
    gm = gf.Genomap(ROWS, COLS, select_genes="variance", num_threads=1).fit(X)
    gm.save(d / "model.npz")
    return d, X, gm


def cli(inp, out):
    return [sys.executable, "-m", "genomap_fast.cli", "construct", str(inp), "-o", str(out),
            "--rows", str(ROWS), "--cols", str(COLS), "--genes", "variance", "--threads", "1",
            "--batch-size", "500", "-q"]


def script(body):
    return [sys.executable, "-c", textwrap.dedent(body)]


def run_and_kill(cmd, seed, watch_dir, name, full_seconds):
    """Starts cmd and SIGKILLs it: for even seeds at a random time within its uninterrupted
    run time; for odd seeds as soon as its temporary output appears (seeds 1, 5, ...) or a
    random moment up to 4 ms later (3, 7, ...: a small write can be over by then)."""
    rng = np.random.default_rng(seed)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if seed % 2 == 0:
        time.sleep(rng.uniform(0.1, 1.0) * full_seconds)
    else:
        deadline = time.time() + full_seconds + 10
        while time.time() < deadline and not partials(watch_dir, name) and proc.poll() is None:
            time.sleep(0.0005)
        if seed % 4 == 3:
            time.sleep(rng.uniform(0.0, 0.004))
    mid_write = bool(partials(watch_dir, name)) and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return mid_write


def timed(cmd):
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return time.perf_counter() - t0


def check_outcome(out, reference_equal):
    """absent | incomplete (refused) | complete and equal; returns which."""
    if not os.path.exists(out):
        return "absent"
    if str(out).endswith(".zarr"):
        try:
            images = open_images(out)
        except ValueError as err:
            assert "incomplete" in str(err)
            return "incomplete"
        reference_equal(np.asarray(images[...]))
        return "complete"
    reference_equal(out)
    return "complete"


CLI_FORMATS = ["zarr", "npy", "npz", "h5ad"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", CLI_FORMATS)
def test_kill_construct(tmp_path, inputs, fmt):
    d, X, _ = inputs
    inp = d / "cells.npy"
    before = sha256(inp)
    ref_out = tmp_path / f"ref.{fmt}"
    full = timed(cli(inp, ref_out))
    ref = {"zarr": lambda: np.asarray(open_images(ref_out)[...]),
           "npy": lambda: np.load(ref_out),
           "npz": lambda: np.load(ref_out)["images"],
           "h5ad": lambda: __import__("anndata").read_h5ad(ref_out).obsm["X_genomap"]}[fmt]()

    def equal(got):
        if not isinstance(got, np.ndarray):
            got = {"npy": lambda: np.load(got), "npz": lambda: np.load(got)["images"],
                   "h5ad": lambda: __import__("anndata").read_h5ad(got).obsm["X_genomap"],
                   }[fmt]()
        np.testing.assert_array_equal(got, ref)

    outcomes = []
    for seed in SEEDS:
        out = tmp_path / f"out{seed}.{fmt}"
        mid = run_and_kill(cli(inp, out), seed, tmp_path, out.name, full)
        outcomes.append((check_outcome(out, equal), "mid-write" if mid else "other"))
        assert sha256(inp) == before, "the input file changed"
        # the retry completes, and removes the killed run's temporary
        res = subprocess.run(cli(inp, out), capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert check_outcome(out, equal) == "complete"
        assert partials(tmp_path, out.name) == []
    # at least one kill must have hit the write itself, or the test proves nothing
    assert any(m == "mid-write" for _, m in outcomes), outcomes
    print(f"kill construct {fmt}: {outcomes}")


@pytest.mark.slow
def test_kill_write_zarr_and_save(tmp_path, inputs):
    d, X, gm = inputs
    ref_images = gm.transform(X)
    store_body = f"""
        import numpy as np, genomap_fast as gf
        gm = gf.Genomap.load({str(d / 'model.npz')!r})
        X = np.load({str(d / 'cells.npy')!r}, mmap_mode="r")
        gm.write_zarr({{out!r}}, X, batch_size=500)
    """
    save_body = f"""
        import genomap_fast as gf
        gm = gf.Genomap.load({str(d / 'model.npz')!r})
        for _ in range(200):
            gm.save({{out!r}})
    """
    before = sha256(d / "cells.npy"), sha256(d / "model.npz")
    hits = []
    for kind, body in (("zarr", store_body), ("npz", save_body)):
        full = timed(script(body.replace("{out!r}", repr(str(tmp_path / f"ref.{kind}")))))
        for seed in SEEDS:
            out = tmp_path / f"out{seed}.{kind}"
            cmd = script(body.replace("{out!r}", repr(str(out))))
            hits.append(run_and_kill(cmd, seed, tmp_path, out.name, full))
            if kind == "zarr":
                check_outcome(out, lambda got: np.testing.assert_array_equal(got, ref_images))
            elif out.exists():  # a saved model: whole and equal, or absent
                back = gf.Genomap.load(out)
                np.testing.assert_array_equal(back.placement_, gm.placement_)
            assert (sha256(d / "cells.npy"), sha256(d / "model.npz")) == before
            subprocess.run(cmd if kind == "zarr" else script(save_body.replace(
                "range(200)", "range(1)").replace("{out!r}", repr(str(out)))), check=True)
            assert partials(tmp_path, out.name) == []
        assert any(hits[-len(SEEDS):]), f"no {kind} kill hit the write itself"
    print(f"kill write_zarr/save: {sum(hits)} of {len(hits)} kills mid-write")


def test_stale_partials_removed_but_live_ones_kept(tmp_path):
    """The cleanup rule: a temporary whose writer process is gone is removed by the next
    write (or ``genomap-fast clean``); one whose writer is alive is left alone."""
    from genomap_fast import cli

    X = np.random.default_rng(0).random((6, 4))
    gm = gf.Genomap(2, 2).fit(X)
    target = tmp_path / "m.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale_file = tmp_path / f".m.npz.partial-{dead_pid}-deadbeef"
    stale_file.write_bytes(b"half a file")
    stale_dir = tmp_path / f".s.zarr.partial-{dead_pid}-0badcafe"
    stale_dir.mkdir()
    (stale_dir / "chunk").write_bytes(b"x")
    live = tmp_path / f".m.npz.partial-{os.getppid()}-00000001"  # our parent is alive
    live.write_bytes(b"someone is writing")
    other = tmp_path / ".unrelated.partial-notapid"
    other.write_bytes(b"")
    gm.save(target)
    assert not stale_file.exists() and live.exists() and stale_dir.exists()
    assert cli.main(["clean", str(tmp_path / "s.zarr")]) == 0
    assert not stale_dir.exists()
    stale_file.write_bytes(b"again")
    assert cli.main(["clean", str(tmp_path)]) == 0
    assert not stale_file.exists() and live.exists() and other.exists()
    assert gf.Genomap.load(target).n_genes_in_ == 4
