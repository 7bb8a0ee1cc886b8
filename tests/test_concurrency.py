"""Concurrency: one fitted Genomap shared by threads; processes writing stores side by side;
and a fit that cannot fit in the address space failing early with the fix."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

import genomap_fast as gf
from genomap_fast.datasets import synthetic_counts
from genomap_fast.store import open_images


@pytest.fixture(scope="module")
def fitted():
    X, _ = synthetic_counts(400, 90, n_types=4, n_modules=8, seed=11)
    X = X.astype(np.float64)
    return X, gf.Genomap(10, 10, num_threads=2).fit(X), gf.Genomap(10, 10, epsilon=0.05).fit(X)


@pytest.mark.parametrize("which", [1, 2])
def test_transform_from_8_threads_equals_serial(fitted, which):
    X, *models = fitted
    gm = models[which - 1]
    parts = [X[i::8] for i in range(8)] + [sp.csr_matrix(X[i::8]) for i in range(8)]
    serial = [gm.transform(p) for p in parts]
    for _ in range(3):  # several rounds: races are intermittent
        with ThreadPoolExecutor(8) as pool:
            threaded = list(pool.map(gm.transform, parts))
        for a, b in zip(serial, threaded):
            np.testing.assert_array_equal(a, b)


def test_two_processes_write_stores_at_once(tmp_path, fitted):
    X, gm, _ = fitted
    gm.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    body = textwrap.dedent(f"""
        import sys, numpy as np, genomap_fast as gf
        gm = gf.Genomap.load({str(tmp_path / 'm.npz')!r})
        X = np.load({str(tmp_path / 'x.npy')!r})
        for _ in range(3):
            gm.write_zarr(sys.argv[1], X, batch_size=50)
    """)
    targets = ["a.zarr", "b.zarr", "a.zarr"]  # two different stores, and two writers of one
    procs = [subprocess.Popen([sys.executable, "-c", body, str(tmp_path / t)],
                              stderr=subprocess.PIPE, text=True) for t in targets]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    expected = gm.transform(X)
    for t in ("a.zarr", "b.zarr"):
        np.testing.assert_array_equal(np.asarray(open_images(tmp_path / t)[...]), expected)
    assert [p for p in os.listdir(tmp_path) if ".partial-" in p] == []


def test_fit_beyond_the_address_space_fails_early(tmp_path):
    """Under ``ulimit -v`` a fit whose interaction matrix cannot be allocated raises
    MemoryError with the estimate and the fix before reading the data, instead of dying."""
    body = textwrap.dedent("""
        import resource, time, numpy as np, genomap_fast as gf
        X = np.random.default_rng(0).random((4, 14000))
        with open("/proc/self/status") as fh:
            vm = [int(l.split()[1]) * 1024 for l in fh if l.startswith("VmSize:")][0]
        resource.setrlimit(resource.RLIMIT_AS, (vm + (600 << 20), resource.RLIM_INFINITY))
        t0 = time.perf_counter()
        try:
            gf.Genomap(120, 120, num_threads=1).fit(X)
        except MemoryError as err:
            print(f"{time.perf_counter() - t0:.3f}", err)
        else:
            print("fitted")
    """)
    res = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    seconds, msg = res.stdout.split(" ", 1)
    assert "GiB" in msg and "select_genes='variance'" in msg and "14000 x 14000" in msg
    assert float(seconds) < 5.0
    # the CLI turns it into a one-line error
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).random((4, 14000)))
    cli = textwrap.dedent(f"""
        import resource, sys
        with open("/proc/self/status") as fh:
            vm = [int(l.split()[1]) * 1024 for l in fh if l.startswith("VmSize:")][0]
        resource.setrlimit(resource.RLIMIT_AS, (vm + (900 << 20), resource.RLIM_INFINITY))
        from genomap_fast.cli import main
        sys.exit(main(["construct", {str(tmp_path / 'wide.npy')!r}, "-o",
                       {str(tmp_path / 'out.npy')!r}, "--rows", "120", "--cols", "120", "-q"]))
    """)
    res = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1, res.stderr
    assert "--genes variance" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out.npy").exists()
