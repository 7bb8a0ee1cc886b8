"""``num_threads`` across its whole range through every entry point that takes it.

Property: an integer >= 1 of any size (Python or numpy) gives the same result as one thread
(the kernels use at most the processors available; results never depend on the thread count);
0, negatives, bool, float, str and other types raise ValueError/TypeError naming num_threads;
nothing ends the process (a team of millions of OpenMP threads did).
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genomap_fast as gf
from genomap_fast import _core, cli
from genomap_fast._validate import available_threads, default_threads

C_LIMITS = [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, 2**63 - 1, 2**63, -(2**63),
            2**64, 2**100, -(2**100)]
thread_counts = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-3, 64),
    st.sampled_from(C_LIMITS + [10**5, 10**6, 10**9]),
    st.sampled_from([np.int32(7), np.int64(10**12), np.uint64(2**64 - 1), np.int8(-1),
                     np.int16(0)]),
    st.sampled_from([True, False, 1.0, 2.5, float("nan"), float("inf"), "2", b"2", [2],
                     np.float64(3.0), complex(2, 0)]),
)

X = np.random.default_rng(0).random((24, 14))


def valid(nt) -> bool:
    return (isinstance(nt, (int, np.integer)) and not isinstance(nt, (bool, np.bool_))
            and nt >= 1)


def outcome(fn, nt):
    """fn(nt), or None after a ValueError/TypeError naming num_threads for an invalid nt."""
    if valid(nt):
        return fn(nt)
    with pytest.raises((ValueError, TypeError), match="num_threads"):
        fn(nt)
    return None


@pytest.fixture(scope="module")
def baseline():
    gm = gf.Genomap(4, 4, num_threads=1, max_iter=20).fit(X)
    return gm, gm.transform(X), gf.interaction_matrix(X, num_threads=1).distance


@settings(max_examples=60)
@given(thread_counts)
def test_python_entry_points(baseline, nt):
    gm1, images1, dist1 = baseline
    gm = outcome(lambda n: gf.Genomap(4, 4, num_threads=n, max_iter=20).fit(X), nt)
    if gm is not None:
        assert np.array_equal(gm.placement_, gm1.placement_)
        np.testing.assert_array_equal(gm.transform(X), images1)
    dist = outcome(lambda n: gf.interaction_matrix(X, num_threads=n).distance, nt)
    if dist is not None:
        np.testing.assert_array_equal(dist, dist1)
    p = outcome(lambda n: gf.solve_placement(dist1, 4, 4, max_iter=20, num_threads=n), nt)
    if p is not None:
        assert p.objective == pytest.approx(gm1.objective_, rel=1e-12)


@settings(max_examples=60)
@given(thread_counts)
def test_core_bindings(nt):
    """The compiled module checks num_threads itself (it is public too: genomap_fast._core)."""
    acc = _core.CorrelationAccumulator(X.shape[1])
    if outcome(lambda n: acc.add_dense(X, n), nt) is None and not valid(nt):
        assert acc.count == 0
    dest = np.arange(X.shape[1], dtype=np.int64)
    out = np.zeros((X.shape[0], 16))
    bad = outcome(lambda n: _core.rasterize_dense(X, dest, 2.0, out, n), nt)
    if bad is not None:
        assert bad == -1
        np.testing.assert_array_equal(out[:, : X.shape[1]], X * 2.0)


@pytest.mark.parametrize("nt", [2**31 - 1, 2**31, 2**63, 10**6])
def test_absurd_thread_count_regression(nt):
    """The report: Genomap(num_threads=N) with N far above 1,000 ended in a segmentation
    fault; now it runs on the processors available with the one-thread result."""
    gm = gf.Genomap(4, 4, num_threads=nt, max_iter=20).fit(X)
    one = gf.Genomap(4, 4, num_threads=1, max_iter=20).fit(X)
    assert np.array_equal(gm.placement_, one.placement_)
    assert default_threads(nt) == available_threads()


@pytest.mark.parametrize("arg", ["0", "-4", "99999999999999999999", "2.5", "x"])
def test_cli_threads(tmp_path, arg):
    np.save(tmp_path / "x.npy", X)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(["construct", str(tmp_path / "x.npy"), "-o",
                             str(tmp_path / "out.npy"), "--rows", "4", "--cols", "4",
                             "--threads", arg, "-q"])
        except SystemExit as exit_:  # argparse refuses a non-integer
            code = exit_.code
    if arg == "99999999999999999999":
        assert code == 0, err.getvalue()
    else:
        assert code in (1, 2) and "thread" in err.getvalue()
        assert not (tmp_path / "out.npy").exists()
