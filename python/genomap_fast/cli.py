"""Command line: ``genomap-fast demo``."""
from __future__ import annotations

import argparse
import sys
import time


def _demo(args) -> int:
    import numpy as np

    from .datasets import pbmc68k_reduced
    from .estimator import Genomap
    from .plotting import genomaps

    adata = pbmc68k_reduced()
    X = np.asarray(adata.X, dtype=np.float64)
    labels = adata.obs["bulk_labels"].astype(str).to_numpy()
    t0 = time.perf_counter()
    gm = Genomap(args.rows, args.cols, grid_metric=args.metric, num_threads=args.threads)
    images = gm.fit_transform(X)
    elapsed = time.perf_counter() - t0
    genomaps(images, labels, n_per_class=args.per_class, save=args.out,
             title=f"genomaps of PBMC 68k (reduced): {X.shape[0]} cells x {X.shape[1]} genes, "
                   f"{args.rows}x{args.cols}, {args.metric}")
    print(f"genomap_fast: {X.shape[0]} cells x {X.shape[1]} genes -> {args.rows}x{args.cols} "
          f"genomaps in {elapsed:.2f} s ({gm.n_iter_} GW iterations, objective "
          f"{gm.objective_:.6f}); figure written to {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="genomap-fast", description="Fast genomaps.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="genomaps of the PBMC data that ships with scanpy, as a PNG figure",
        description="Example: genomap-fast demo --out genomap_demo.png",
    )
    demo.add_argument("--out", default="genomap_demo.png", help="PNG to write")
    demo.add_argument("--rows", type=int, default=28)
    demo.add_argument("--cols", type=int, default=28)
    demo.add_argument("--metric", default="radial", choices=["radial", "euclidean"])
    demo.add_argument("--per-class", type=int, default=6, help="cells shown per class")
    demo.add_argument("--threads", type=int, default=None)
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError) as err:
        if args.debug:
            raise
        print(f"genomap-fast: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
