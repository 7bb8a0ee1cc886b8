"""Command line: ``genomap-fast demo``, ``construct``, ``bench``, ``classify``, ``vis``, ``traj``,
``clean``.

Exit codes: 0 success, 1 bad input or failed run (one-line error; ``--debug`` for the
traceback), 2 bad command-line usage.
"""
from __future__ import annotations

import argparse
import re
import sys
import time

# The Python argument names that errors raised by the library may name, and the command line's
# option for each (a message is shown in the command's own words: see cli_message).
PYTHON_TO_OPTION = {
    "select_genes": "--genes", "grid_metric": "--metric", "num_threads": "--threads",
    "batch_size": "--batch-size", "epsilon": "--epsilon", "multilevel": "--multilevel",
    "solver": "--solver", "seed": "--seed", "restarts": "--restarts", "rows": "--rows",
    "cols": "--cols", "rowNum": "--rows", "colNum": "--cols", "layer": "--layer",
    "n_clusters": "--clusters", "pretrain_epochs": "--pretrain-epochs", "maxiter": "--maxiter",
    "epochs": "--epochs", "num_iter": "--num-iter",
}
# advice that has no command-line equivalent: dropped from the message
_NO_OPTION = [
    (re.compile(r",? or use dtype=np\.float64"), ""),  # the command line writes float32 images
    (re.compile(r" or None\b"), ""),                   # None: the option left out
]
_ASSIGNMENT = re.compile(r"(?<![\w.-])([A-Za-z_]\w*)=(?!=)('[^']*'|\"[^\"]*\"|[^\s,;:)]*)")
# a bare argument name as the subject of a sentence ("num_threads must be ...")
_SUBJECT = re.compile(r"(?<![\w.-])([A-Za-z_]\w*)(?= (?:must|is|>|<|>=|<=) )")


def _option_text(action, flag, value):
    """``--flag value`` for a Python ``name=value``, or None when it does not fit the option."""
    if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
        value = value[1:-1]
    if action.nargs == 0:  # a switch: name=True, name=
        return flag if value in ("True", "") else None
    if value == "":
        return f"{flag} {action.metavar or action.dest.upper()}"
    if action.choices is not None and value not in action.choices:
        return None
    if action.type in (int, float):
        try:
            action.type(value)
        except ValueError:
            return None
    return f"{flag} {value}"


def cli_message(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` (raised by the Python API) in the words of the command whose ``parser`` is
    given: ``select_genes='variance'`` becomes ``--genes variance``, ``num_threads must ...``
    becomes ``--threads must ...``; a name is translated only where the command has that
    option (and the value fits it)."""
    actions = parser.options

    def option(name):
        flag = PYTHON_TO_OPTION.get(name)
        return flag if flag in actions else None

    def assignment(m):
        flag = option(m.group(1))
        text = flag and _option_text(actions[flag], flag, m.group(2))
        return text or m.group(0)

    def subject(m):
        return option(m.group(1)) or m.group(0)

    for pattern, repl in _NO_OPTION:
        message = pattern.sub(repl, message)
    message = _ASSIGNMENT.sub(assignment, message)
    message = _SUBJECT.sub(subject, message)
    names = "|".join(n for n in PYTHON_TO_OPTION if "_" in n or not n.islower())
    return re.sub(rf"(?<![\w.-])({names})(?![\w=])", subject, message)


def _demo(args) -> int:
    import numpy as np

    from .datasets import pbmc68k_reduced
    from .estimator import Genomap
    from .plotting import genomaps

    adata = pbmc68k_reduced()
    X = np.asarray(adata.X, dtype=np.float64)
    labels = adata.obs["bulk_labels"].astype(str).to_numpy()
    t0 = time.perf_counter()
    gm = Genomap(args.rows, args.cols, grid_metric=args.metric, num_threads=args.threads,
                 select_genes=args.genes)
    images = gm.fit_transform(X)
    elapsed = time.perf_counter() - t0
    genomaps(images, labels, n_per_class=args.per_class, save=args.out,
             title=f"genomaps of PBMC 68k (reduced): {X.shape[0]} cells x {X.shape[1]} genes, "
                   f"{args.rows}x{args.cols}, {args.metric}")
    print(f"genomap_fast: {X.shape[0]} cells x {X.shape[1]} genes -> {args.rows}x{args.cols} "
          f"genomaps in {elapsed:.2f} s ({gm.n_iter_} GW iterations, objective "
          f"{gm.objective_:.6f}); figure written to {args.out}")
    return 0


def _write_output(path, images, table, gm, args):
    """Writes images (+ names and placement) atomically; the format follows the extension."""
    import numpy as np

    from ._atomic import atomic_path

    lower = path.lower().rstrip("/")
    if lower.endswith(".npy"):
        with atomic_path(path, ".npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, images)
    elif lower.endswith(".npz"):
        with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, images=images, obs_names=np.asarray(table.obs_names),
                                var_names=np.asarray(table.var_names),
                                placement=gm.placement_, rows=gm.rows, cols=gm.cols)
    elif lower.endswith(".h5ad"):
        import anndata

        from . import tl

        adata = anndata.AnnData(X=table.X)
        adata.obs_names = table.obs_names
        adata.var_names = table.var_names
        tl.store(adata, gm, images=images, key_added="genomap")
        with atomic_path(path, ".h5ad") as tmp:
            adata.write_h5ad(tmp)
    else:
        raise ValueError(f"unknown output format for {path}: use .zarr, .npy, .npz or .h5ad")


def _construct(args) -> int:
    import os

    from .io import read_table

    t0 = time.perf_counter()
    to_store = args.output.lower().rstrip("/").endswith(".zarr")
    scheduler = args.scheduler or os.environ.get("GENOMAP_FAST_SCHEDULER") or None
    if scheduler and not to_store:
        raise ValueError("--scheduler writes a .zarr store: pass -o OUT.zarr")
    if to_store:  # streamed: peak memory flat in cells (before any thread starts)
        from ._memory import cap_malloc_arenas

        cap_malloc_arenas(1)
    table = read_table(args.input, layer=args.layer, backed=to_store)  # a store: streamed
    if scheduler:  # the cluster's workers read their own row blocks of the file
        from .distributed import on_cluster

        with on_cluster(scheduler, table.X) as X:
            return _construct_with(args, table, X, t0, to_store)
    return _construct_with(args, table, table.X, t0, to_store)


def _construct_with(args, table, X, t0, to_store) -> int:
    import numpy as np

    from .estimator import Genomap

    gm = Genomap(args.rows, args.cols, grid_metric=args.metric, epsilon=args.epsilon,
                 select_genes=args.genes, num_threads=args.threads,
                 progress=not args.quiet, layout="nchw", dtype=np.float32,
                 multilevel=args.multilevel, solver=args.solver, seed=args.seed,
                 restarts=args.restarts, device=args.device)
    gm.fit(X)
    if to_store:  # streamed from disk to disk: never all cells or all images at once
        from ._progress import progress_bar
        from .store import write_zarr

        with progress_bar(total=table.X.shape[0], unit="cell", desc="genomaps",
                          disable=args.quiet) as bar:
            write_zarr(args.output, gm, X, table.obs_names, table.var_names,
                       args.batch_size, progress=bar)
    else:
        images = gm.transform(table.X, batch_size=args.batch_size)
        _write_output(args.output, images, table, gm, args)
    elapsed = time.perf_counter() - t0
    n_cells, n_genes = table.X.shape
    print(f"construct: {n_cells} cells x {n_genes} genes ({gm.genes_.size} placed) -> "
          f"{args.rows}x{args.cols} genomaps, {gm.n_iter_} GW iterations, objective "
          f"{gm.objective_:.6f}, {elapsed:.2f} s; wrote {args.output}")
    return 0


def _bench(args) -> int:
    import numpy as np

    from .compat import construct_genomap_returnT
    from .datasets import synthetic_counts

    checks = [("--cells", args.cells), ("--rows", args.rows), ("--cols", args.cols),
              ("--num-iter", args.num_iter)] + ([("--genes", args.genes)] if args.genes else [])
    for flag, value in checks:
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    genes = args.genes or args.rows * args.cols
    if genes > args.rows * args.cols:
        raise ValueError(f"--genes {genes} is more than the {args.rows * args.cols} pixels of "
                         f"a {args.rows}x{args.cols} genomap (the reference places one gene "
                         f"per pixel)")
    X, _ = synthetic_counts(args.cells, genes, n_types=8, n_modules=40, seed=args.seed)
    X = X.astype(np.float64)
    t0 = time.perf_counter()
    _, T = construct_genomap_returnT(X, args.rows, args.cols, num_iter=args.num_iter)
    ours = time.perf_counter() - t0
    print(f"genomap_fast: {args.cells} cells x {genes} genes, {args.rows}x{args.cols}: "
          f"{ours:.3f} s")
    if args.no_reference:
        return 0
    try:
        from genomap.genomap import construct_genomap_returnT as reference
    except ImportError as err:
        raise ImportError("the reference needs `pip install --no-deps genomap==1.3.6 pot "
                          "scikit-learn` (or pass --no-reference)") from err
    t0 = time.perf_counter()
    reference(X, args.rows, args.cols, num_iter=args.num_iter)
    ref = time.perf_counter() - t0
    print(f"genomap 1.3.6: {ref:.3f} s  ->  genomap_fast is {ref / ours:.0f}x faster")
    return 0


def _labels_for(table, spec, path):
    """Labels of the cells of ``table``: an obs column of an .h5ad input, or a file with one
    label per line (an optional header line is skipped when the count is one too many)."""
    import os

    import numpy as np

    if path.lower().endswith(".h5ad") and not os.path.exists(spec):
        import anndata

        obs = anndata.read_h5ad(path, backed="r").obs
        if spec not in obs:
            raise ValueError(f"{path} has no obs column {spec!r} (columns: {list(obs.columns)})")
        return obs[spec].astype(str).to_numpy()
    if not os.path.exists(spec):
        raise FileNotFoundError(f"no such labels file: {spec}")
    with open(spec) as fh:
        lines = [ln.rstrip("\n").split(",")[-1].split("\t")[-1] for ln in fh if ln.strip()]
    n = table.X.shape[0]
    if len(lines) == n + 1:
        lines = lines[1:]
    if len(lines) != n:
        raise ValueError(f"{spec} has {len(lines)} labels for {n} cells")
    return np.asarray(lines)


def _write_csv(path, header, rows):
    from ._atomic import atomic_path

    with atomic_path(path, ".csv") as tmp, open(tmp, "w") as fh:
        fh.write(",".join(header) + "\n")
        for r in rows:
            fh.write(",".join(map(str, r)) + "\n")


def _max_value(text: str):
    """``--max-value``: a positive number or 'none'."""
    from ._validate import check_number

    if text.strip().lower() == "none":
        return None
    try:  # the classifier's own check, here so that a bad value is a usage error (exit 2)
        return check_number(float(text), "--max-value", strict=True)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 or 'none', got {text!r}") from None


def _classify(args) -> int:
    from .cnn import GenoNetClassifier
    from .io import read_table

    t0 = time.perf_counter()
    train = read_table(args.input, layer=args.layer)
    labels = _labels_for(train, args.labels, args.input)
    test = read_table(args.test, layer=args.layer) if args.test else train
    clf = GenoNetClassifier(rows=args.rows, cols=args.cols, grid_metric=args.metric,
                            epochs=args.epochs, seed=args.seed, progress=not args.quiet,
                            num_threads=args.threads,
                            **({"max_value": args.max_value} if "max_value" in args else {}))
    clf.fit(train.X, labels)
    pred = clf.predict(test.X)
    _write_csv(args.output, ["cell", "predicted"], zip(test.obs_names, pred))
    print(f"classify: trained on {train.X.shape[0]} cells ({len(clf.classes_)} classes), "
          f"predicted {test.X.shape[0]} cells in {time.perf_counter() - t0:.1f} s; "
          f"wrote {args.output}")
    return 0


def _vis(args) -> int:
    from .cnn import genoVis
    from .io import read_table

    t0 = time.perf_counter()
    table = read_table(args.input, layer=args.layer)
    emb, clusters = genoVis(table.X, n_clusters=args.clusters, rowNum=args.rows,
                            colNum=args.cols, pretrain_epochs=args.pretrain_epochs,
                            maxiter=args.maxiter, seed=args.seed, verbose=int(not args.quiet),
                            grid_metric=args.metric, num_threads=args.threads)
    _write_csv(args.output, ["cell", "x", "y", "cluster"],
               ((c, f"{e[0]:.6g}", f"{e[1]:.6g}", k)
                for c, e, k in zip(table.obs_names, emb, clusters)))
    print(f"vis: {table.X.shape[0]} cells, {len(set(clusters.tolist()))} clusters in "
          f"{time.perf_counter() - t0:.1f} s; wrote {args.output}")
    return 0


def _traj(args) -> int:
    from .cnn import genoTraj
    from .io import read_table

    t0 = time.perf_counter()
    table = read_table(args.input, layer=args.layer)
    emb = genoTraj(table.X, n_clusters=args.clusters, rowNum=args.rows, colNum=args.cols,
                   pretrain_epochs=args.pretrain_epochs, maxiter=args.maxiter, seed=args.seed,
                   verbose=int(not args.quiet), grid_metric=args.metric,
                   num_threads=args.threads, phate_input=args.phate_input)
    _write_csv(args.output, ["cell", "x", "y"],
               ((c, f"{e[0]:.6g}", f"{e[1]:.6g}") for c, e in zip(table.obs_names, emb)))
    print(f"traj: {table.X.shape[0]} cells in {time.perf_counter() - t0:.1f} s; "
          f"wrote {args.output}")
    return 0


def _annotate(args) -> int:
    import csv

    import numpy as np

    from ._atomic import atomic_path
    from .tl import genoannotate

    t0 = time.perf_counter()
    if str(args.input).endswith(".h5ad"):
        import anndata

        try:
            adata = anndata.read_h5ad(args.input, backed="r")
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(f"{args.input} is not a readable .h5ad file: {err}") from err
    else:
        adata = _table_as_anndata(args.input, args.layer)
    genoannotate(adata, args.markers, tissue=args.tissue, layer=args.layer,
                 groupby=args.groupby, method=args.method, epochs=args.epochs, seed=args.seed)
    labels = adata.obs["genoannotate"].astype(str).to_numpy()
    calls = adata.obs["genoannotate_cluster"].astype(str).to_numpy()
    scores = np.asarray(adata.obsm["genoannotate_scores"])
    types = [str(t) for t in adata.uns["genoannotate"]["types"]]
    with atomic_path(args.output, ".csv") as tmp, open(tmp, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["cell", "type", "cluster_type"] + [f"score:{t}" for t in types])
        for cell, label, call, row in zip(adata.obs_names, labels, calls, scores):
            out.writerow([cell, label, call] + [f"{v:.6g}" for v in row])
    found = len(set(labels.tolist()) - {"Unknown"})
    print(f"annotate: {adata.n_obs} cells, {found} of {len(types)} types found "
          f"({args.method}) in {time.perf_counter() - t0:.1f} s; wrote {args.output}")
    return 0


def _table_as_anndata(path, layer):
    """Any other input format (with its cell and gene names) as an in-memory AnnData."""
    import anndata
    import pandas as pd

    from .io import read_table

    table = read_table(path, layer=layer)
    X = table.to_memory()
    names = [str(n) for n in table.var_names] if table.var_names is not None else None
    if names is None:
        raise ValueError(f"{path} has no gene names: marker genes cannot be matched")
    cells = ([str(c) for c in table.obs_names] if table.obs_names is not None
             else [str(i) for i in range(X.shape[0])])
    return anndata.AnnData(X=X, obs=pd.DataFrame(index=cells), var=pd.DataFrame(index=names))


def _clean(args) -> int:
    import os

    from ._atomic import remove_stale_partials

    removed = []
    for target in args.paths:
        if os.path.isdir(target) and not target.rstrip("/").endswith(".zarr"):
            removed += remove_stale_partials(directory=target)  # every target in the folder
        else:
            removed += remove_stale_partials(target)
    for p in removed:
        print(f"removed {p}")
    print(f"clean: {len(removed)} stale temporaries of interrupted writes removed")
    return 0


def _version() -> str:
    from . import __version__

    return __version__


def metric_option(parser) -> None:
    """``--metric``: one of the package's grid metrics."""
    from .placement import GRID_METRICS

    parser.add_argument("--metric", default="radial", choices=list(GRID_METRICS),
                        help="grid cost: radial (the reference's) or euclidean")


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that keeps what the messages need through argparse's public API:
    ``options`` ({flag: action}) and ``commands`` ({name: subcommand parser})."""

    def __init__(self, *args, **kwargs):
        self.options: dict = {}
        self.commands: dict = {}
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        for flag in action.option_strings:
            self.options[flag] = action
        return action

    def add_subparsers(self, **kwargs):
        sub = super().add_subparsers(**kwargs)
        self.commands = sub.choices
        return sub


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser; ``commands(parser)`` gives each command's own parser."""
    parser = CommandParser(
        prog="genomap-fast", description="Fast genomaps: gene-expression tables as images.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  genomap-fast demo --out genomap_demo.png\n"
               "  genomap-fast construct cells.h5ad -o genomaps.zarr --rows 33 --cols 33\n"
               "  genomap-fast classify ref.h5ad --labels cell_type --test query.h5ad -o pred.csv\n"
               "  genomap-fast bench --cells 5000 --rows 33 --cols 33\n"
               "each command has --help with its own examples",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="genomaps of the PBMC data that ships with scanpy, as a PNG figure",
        description="Example: genomap-fast demo --out genomap_demo.png",
    )
    demo.add_argument("--out", default="genomap_demo.png", help="PNG to write")
    demo.add_argument("--rows", type=int, default=28)
    demo.add_argument("--cols", type=int, default=28)
    metric_option(demo)
    demo.add_argument("--per-class", type=int, default=6, help="cells shown per class")
    demo.add_argument("--genes", choices=["variance"], default=None,
                      help="with more genes than pixels (a small grid), keep the most "
                           "variable ones")
    demo.add_argument("--threads", type=int, default=None)
    demo.set_defaults(func=_demo)
    con = sub.add_parser(
        "construct", help="genomaps of every cell of an expression table",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fits the gene placement on INPUT (cells x genes) and writes one genomap "
                    "per cell.\n\nExamples:\n"
                    "  genomap-fast construct pbmc.h5ad -o pbmc_genomaps.h5ad --rows 28 --cols 28\n"
                    "  genomap-fast construct counts.csv -o images.npy --rows 33 --cols 33 "
                    "--genes variance\n"
                    "  genomap-fast construct filtered_feature_bc_matrix/ -o out.npz --rows 64 "
                    "--cols 64 --genes variance",
    )
    con.add_argument("input", help=".h5ad, .csv/.tsv, 10x .mtx directory, .npy, .npz or .zarr")
    con.add_argument("-o", "--output", required=True,
                     help="output: .zarr (chunked, compressed, streamed), .npy (images), .npz "
                          "(images + names + placement) or .h5ad (images in obsm['X_genomap'], "
                          "placement in var/uns)")
    con.add_argument("--rows", type=int, required=True)
    con.add_argument("--cols", type=int, required=True)
    metric_option(con)
    con.add_argument("--epsilon", type=float, default=0.0, help="0: exact GW steps (default)")
    con.add_argument("--multilevel", action="store_true",
                     help="euclidean only: solve on 2x2-pixel tiles first (faster mid-size grids)")
    con.add_argument("--solver", default="exact", choices=["exact", "anneal"],
                     help="exact: the reference's fixed point (default); anneal: a placement "
                          "with a lower GW objective (slower)")
    con.add_argument("--seed", type=int, default=0, help="--solver anneal: annealing seed")
    con.add_argument("--restarts", type=int, default=1,
                     help="--solver anneal: independent runs, the best is kept")
    con.add_argument("--genes", choices=["variance"], default=None,
                     help="with more genes than pixels, keep the most variable ones")
    con.add_argument("--layer", default=None, help="h5ad layer to use instead of X")
    con.add_argument("--batch-size", type=int, default=None, help="cells per rasterised batch")
    con.add_argument("--threads", type=int, default=None)
    con.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                     help="cuda: the statistics and the GW iteration on the GPU (see "
                          "genomap_fast.backends()); auto: cuda when available")
    con.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run on this dask.distributed scheduler (default: "
                          "$GENOMAP_FAST_SCHEDULER): workers read their own row blocks of an "
                          ".h5ad/.zarr INPUT and write the .zarr store, which must be on storage "
                          "they all reach")
    con.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    con.set_defaults(func=_construct)
    bench = sub.add_parser(
        "bench", help="time construct_genomap against the reference on synthetic data",
        description="Example: genomap-fast bench --cells 5000 --rows 33 --cols 33",
    )
    bench.add_argument("--cells", type=int, default=700)
    bench.add_argument("--rows", type=int, default=28)
    bench.add_argument("--cols", type=int, default=28)
    bench.add_argument("--genes", type=int, default=None, help="default: rows * cols")
    bench.add_argument("--num-iter", type=int, default=200, help="GW iteration cap for both")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--no-reference", action="store_true", help="time genomap_fast only")
    bench.set_defaults(func=_bench)
    cls = sub.add_parser(
        "classify", help="train a genoNet cell classifier and predict cell labels",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Examples:\n"
                    "  genomap-fast classify ref.h5ad --labels cell_type --test query.h5ad "
                    "-o predicted.csv --rows 32 --cols 32\n"
                    "  genomap-fast classify train.csv --labels train_labels.txt --test test.csv "
                    "-o predicted.csv --rows 20 --cols 20 --epochs 50",
    )
    cls.add_argument("input", help="training cells (same formats as construct)")
    cls.add_argument("--labels", required=True,
                     help="obs column of an .h5ad input, or a file with one label per cell")
    cls.add_argument("--test", default=None, help="cells to label (default: the input)")
    cls.add_argument("-o", "--output", required=True, help="CSV: cell, predicted")
    cls.add_argument("--epochs", type=int, default=None,
                     help="training epochs (default: the classifier's, 50)")
    # absent unless given: the classifier's own default applies (written once, there)
    cls.add_argument("--max-value", type=_max_value, default=argparse.SUPPRESS,
                     help="clip the genomaps' z-scores to [-V, V] before the network; 'none' "
                          "keeps them as they are (default: the classifier's, 5)")
    vis = sub.add_parser(
        "vis", help="2-D embedding and clusters (genoVis) of every cell",
        description="Example: genomap-fast vis pbmc.h5ad -o embedding.csv --rows 28 --cols 28",
    )
    vis.add_argument("input", help="cells (same formats as construct)")
    vis.add_argument("-o", "--output", required=True, help="CSV: cell, x, y, cluster")
    vis.add_argument("--clusters", type=int, default=None, help="default: estimated (Louvain)")
    vis.add_argument("--pretrain-epochs", type=int, default=100)
    vis.add_argument("--maxiter", type=int, default=300)
    traj = sub.add_parser(
        "traj", help="2-D trajectory embedding (genoTraj) of every cell",
        description="Example: genomap-fast traj cells.h5ad -o trajectory.csv",
    )
    traj.add_argument("input", help="cells (same formats as construct)")
    traj.add_argument("-o", "--output", required=True, help="CSV: cell, x, y")
    traj.add_argument("--clusters", type=int, default=None,
                      help="cell states (default: estimated; the reference uses 33)")
    traj.add_argument("--phate-input", choices=["states+pcs", "states"], default="states+pcs",
                      help="what PHATE embeds: the projection of the distances to the states "
                           "beside the principal components (default) or the projection alone "
                           "(the reference's)")
    traj.add_argument("--pretrain-epochs", type=int, default=100)
    traj.add_argument("--maxiter", type=int, default=300)
    traj.set_defaults(func=_traj)
    ann = sub.add_parser(
        "annotate", help="cell types from marker genes (genoAnnotate, scType) of every cell",
        description="Scores every cell for every type of a marker table (scType's score), "
                    "then labels each cell with a genomap CNN trained on the confident cells "
                    "(--method cell) or each cluster with its best type (--method cluster, the "
                    "reference's genoAnnotate). Input: log-normalised expression with gene "
                    "symbols.\nExample: genomap-fast annotate pbmc.h5ad --markers markers.csv "
                    "--tissue 'Immune system' -o labels.csv",
    )
    ann.add_argument("input", help="cells (same formats as construct; gene names needed)")
    ann.add_argument("--markers", required=True,
                     help="marker table: .csv/.tsv/.xlsx with scType's columns (tissueType, "
                          "cellName, geneSymbolmore1 = positive, geneSymbolmore2 = negative)")
    ann.add_argument("--tissue", default=None, help="the table's tissueType to use")
    ann.add_argument("-o", "--output", required=True,
                     help="CSV: cell, type, cluster_type, one score column per type")
    ann.add_argument("--method", choices=["cell", "cluster"], default="cell",
                     help="per-cell labels from the genomap CNN (default) or the reference's "
                          "cluster labels")
    ann.add_argument("--groupby", default=None, help="h5ad obs column of clusters to use")
    ann.add_argument("--layer", default=None, help="h5ad layer to use instead of X")
    ann.add_argument("--epochs", type=int, default=30, help="CNN training epochs")
    ann.add_argument("--seed", type=int, default=0)
    ann.set_defaults(func=_annotate)
    clean = sub.add_parser(
        "clean", help="remove temporaries left by killed writes (.NAME.partial-*)",
        description="Removes the hidden .NAME.partial-PID-* siblings that a killed write of "
                    "NAME left behind (only those whose process is gone). A PATH that is a "
                    "folder (not a .zarr store) is cleaned of every target's temporaries.\n"
                    "Example: genomap-fast clean out/genomaps.zarr   or   genomap-fast clean out/",
    )
    clean.add_argument("paths", nargs="+", metavar="PATH", help="output path or folder")
    clean.set_defaults(func=_clean)
    for p in (cls, vis, traj):
        metric_option(p)
        p.add_argument("--rows", type=int, default=32)
        p.add_argument("--cols", type=int, default=32)
        p.add_argument("--layer", default=None, help="h5ad layer to use instead of X")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=None)
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    cls.set_defaults(func=_classify)
    vis.set_defaults(func=_vis)
    return parser


def commands(parser: argparse.ArgumentParser) -> dict:
    """{command name: its parser} of a parser made by :func:`build_parser`."""
    return parser.commands


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError, ImportError, MemoryError, RuntimeError) as err:
        if args.debug:
            raise
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        msg = cli_message(msg, commands(parser)[args.command])
        print(f"genomap-fast: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
