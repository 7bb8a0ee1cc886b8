"""Snapshot of every C++ solver and path on fixed inputs, to check that a refactor of the core
changes no bit of any result.

    python tools/snapshot_core.py save OUT.npz        # outputs of the genomap_fast imported
    python tools/snapshot_core.py compare A.npz B.npz  # every array, bit for bit

Run ``save`` with the build before the change (e.g. PYTHONPATH pointing at a package copy holding
that build's ``_core``) and again after it; ``compare`` lists every array that differs. Every
case runs at 1 and 2 threads. Keep the snapshots themselves out of git (under build/).

Covers: the exact iteration, entropic GW and Sinkhorn, multilevel, within-class placement, the
class transport, linear terms; the annealing (exact, entropic and multilevel starts, restarts,
the package's schedules), the swap descent and ``swap_anneal`` on each class-sums layout (gene
blocks with and without the log-cost table and with C1 in double, class-major on and off, the
log-cost lookup of one-gene-per-pixel grids, the gather through the assignment); radial,
euclidean (BLAS and FFT), tiles and a dense user grid cost; pbmc68k_reduced and synthetic data.
"""
from __future__ import annotations

import sys

import numpy as np

import genomap_fast as gf
from genomap_fast import _core
from genomap_fast.placement import make_grid, solve_anneal


def _get(result, name):
    return result[name] if isinstance(result, dict) else getattr(result, name)


def _c1(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, n)) @ rng.normal(size=(n, n)) * 0.1 + rng.normal(size=(80, n))
    return gf.interaction_matrix(X).distance


def _pbmc_c1() -> np.ndarray:
    from genomap_fast.datasets import pbmc68k_reduced

    return gf.interaction_matrix(pbmc68k_reduced().X).distance


def _fields(out: dict, key: str, result, names) -> None:
    for f in names:
        out[f"{key}/{f}"] = np.asarray(_get(result, f))


ANNEAL = ("assign", "objective", "restart_objectives", "coupling_objective", "rounded_objective",
          "gw_steps", "sinkhorn_iters", "exact_iters", "swaps", "sa_proposals", "sa_accepted")
SWAP_ANNEAL = ("assign", "objective", "proposals", "accepted", "class_major_proposals")


def _problems():
    """name -> (C1, grid, rows, cols)"""
    pb = _pbmc_c1()
    n = pb.shape[0]
    P = np.random.default_rng(99).normal(size=(49, 3))
    user = np.sqrt(((P[:, None] - P[None]) ** 2).sum(-1))
    return {
        "pbmc_radial": (pb, make_grid(28, 28, n, "radial"), 28, 28),
        "radial_12x12": (_c1(144, 1), make_grid(12, 12, 144, "radial"), 12, 12),
        "radial_10x13": (_c1(120, 2), make_grid(10, 13, 120, "radial"), 10, 13),
        "euc_blas_10x10": (_c1(100, 3), make_grid(10, 10, 100, "euclidean", fft=False), 10, 10),
        "euc_fft_20x20": (_c1(400, 4), make_grid(20, 20, 400, "euclidean", fft=True), 20, 20),
        "dense_7x7": (_c1(49, 5), make_grid(7, 7, 49, user), 7, 7),
    }


def _core_solvers(out, name, C1, grid, rows, cols, nt):
    k = f"{name}/t{nt}"
    r = _core.solve_gw_exact(C1, grid, 1000, nt)
    _fields(out, f"{k}/exact", r, ("assign", "objective", "n_iter", "trace"))
    a = np.asarray(_get(r, "assign"))
    placed = _core.place_within_classes(C1, grid, a, 10, nt)
    _fields(out, f"{k}/place", placed, ("pixel", "euclidean_after"))
    e = _core.solve_gw_entropic(C1, grid, 0.05, 40, 1e-9, nt)
    _fields(out, f"{k}/entropic", e, ("objective", "n_iter", "coupling", "last_change"))
    A = _core.linear_term_assignment(C1, grid, a, nt)
    out[f"{k}/linear_term"] = np.asarray(A)
    out[f"{k}/objective_assignment"] = np.asarray(_core.objective_assignment(C1, grid, a, nt))
    rng = np.random.default_rng(7)
    b = a.copy()
    for _ in range(3):
        i, j = rng.integers(0, len(b), 2)
        b[i], b[j] = b[j], b[i]
    out[f"{k}/update_linear_term"] = np.asarray(_core.update_linear_term(C1, grid, a, b, A, nt))
    M = -np.asarray(A)
    T, it, err = _core.sinkhorn_classes(M - M.min(), np.asarray(grid.capacity), 0.05 * np.ptp(M),
                                        200, 1e-9, nt)
    out[f"{k}/sinkhorn_classes/T"] = np.asarray(T)
    out[f"{k}/sinkhorn_classes/stats"] = np.array([it, err])
    tr = _core.solve_transport(np.ascontiguousarray(M), np.asarray(grid.capacity))
    _fields(out, f"{k}/transport", tr, ("assign", "cost", "potentials", "n_augment", "n_greedy",
                                                "n_kept", "n_scans"))
    sw = _core.swap_local_search(C1, grid, a, 50, nt)
    _fields(out, f"{k}/swap_local_search", sw, ("assign", "swaps", "passes", "objective"))
    if grid.metric == "euclidean":
        m = _core.solve_gw_multilevel(C1, grid, 1000, nt, 16, 3)
        _fields(out, f"{k}/multilevel", m, ("assign", "objective", "tiles", "level_iter"))
        tiles = _core.euclidean_tiles(rows, cols, C1.shape[0], 2, grid.n_classes >= 256)
        rt = _core.solve_gw_exact(C1, tiles, 1000, nt)
        _fields(out, f"{k}/tiles2", rt, ("assign", "objective"))


def _annealing(out, name, C1, grid, nt, pbmc):
    k = f"{name}/t{nt}"
    sweeps = {} if pbmc else {"sa_sweeps": 300.0}
    a = solve_anneal(C1, grid, seed=3, restarts=3, num_threads=nt, **sweeps)
    _fields(out, f"{k}/anneal_exact", a, ANNEAL)
    a = solve_anneal(C1, grid, seed=1, restarts=2, start="entropic", num_threads=nt,
                     sa_sweeps=100.0)
    _fields(out, f"{k}/anneal_entropic", a, ANNEAL)
    a = _core.solve_gw_anneal(C1, grid, entropic_start=True, restarts=2, seed=5,
                              sa_sweeps=0.0, swap_rounds=1, num_threads=nt)
    _fields(out, f"{k}/anneal_entropic_raw", a, ANNEAL)
    start = np.asarray(_core.solve_gw_exact(C1, grid, 1000, nt).assign)
    n = C1.shape[0]
    for label, kw in (("default", {}), ("cm_off", {"class_major_max_bytes": 0}),
                      ("neigh", {"neighbours": 12}), ("gather", {"gather_min_genes": 0}),
                      ("lookup", {"lookup_min_genes": 0}),
                      ("blocks", {"lookup_min_genes": 10**9, "gather_min_genes": 10**9})):
        s = _core.swap_anneal(C1, grid, start.copy(), 200 * n, 0.3, 0.003, 11, nt, **kw)
        _fields(out, f"{k}/swap_anneal_{label}", s, SWAP_ANNEAL)


# side, seed of C1, swap_anneal layouts (label -> keywords), seed of the walk, anneal keywords
LARGE = [(48, 21, {"lookup": {}, "blocks_nodup": {"lookup_min_genes": 10**9}}, 5,
          {"seed": 2, "restarts": 2, "sa_sweeps": 10.0}),
         (65, 22, {"gather": {}, "blocks_double": {"gather_min_genes": 10**9}}, 6,
          {"seed": 4, "sa_sweeps": 5.0, "sa_max_work": 4e10})]


def _large(out, nt):
    """Layouts that need many classes or genes: the log-cost rows converted per proposal (over
    2,048 classes), C1 in double (4,097+ genes), the default lookup and gather paths, the
    multilevel start."""
    for side, c1_seed, layouts, walk_seed, anneal_kw in LARGE:
        n = side * side
        C1 = _c1(n, c1_seed)
        grid = make_grid(side, side, n, "euclidean")
        start = np.asarray(_core.solve_gw_multilevel(C1, grid, 1000, nt).assign)
        for label, kw in layouts.items():
            s = _core.swap_anneal(C1, grid, start.copy(), 20000, 0.1, 0.001, walk_seed, nt, **kw)
            _fields(out, f"euc{side}/t{nt}/swap_anneal_{label}", s, SWAP_ANNEAL)
        a = solve_anneal(C1, grid, num_threads=nt, **anneal_kw)
        _fields(out, f"euc{side}/t{nt}/anneal_auto", a, ANNEAL)


def snapshot() -> dict:
    out: dict = {}
    problems = _problems()
    for nt in (1, 2):
        for name, (C1, grid, rows, cols) in problems.items():
            _core_solvers(out, name, C1, grid, rows, cols, nt)
            _annealing(out, name, C1, grid, nt, name.startswith("pbmc"))
        _large(out, nt)
    return out


def _same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    """Bit for bit: same dtype, shape and bytes (NaN equals NaN, -0.0 differs from 0.0)."""
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    missing = sorted(set(a.files) ^ set(b.files))
    differ = [f for f in sorted(set(a.files) & set(b.files)) if not _same_bits(a[f], b[f])]
    for f in missing:
        print("only in one:", f)
    for f in differ:
        print("differs:", f)
    print(f"{len(a.files)} arrays, {len(differ)} differ, {len(missing)} in one only")
    return 1 if differ or missing else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["save"]:
        print(gf.__file__)
        np.savez(sys.argv[2], **snapshot())
    elif sys.argv[1:2] == ["compare"]:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
