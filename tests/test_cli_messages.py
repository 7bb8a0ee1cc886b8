"""Every error the command line prints is in the command line's own words: the options it
advises exist in that command's parser and no Python argument (``select_genes='variance'``,
``num_threads``) is named."""
import contextlib
import io
import re

import numpy as np
import pytest

from genomap_fast import cli

# Python-style advice: name=value (but not a pip requirement such as genomap==1.3.6)
PYTHON_ASSIGNMENT = re.compile(r"(?<![\w.=-])[A-Za-z_]\w*=(?!=)")
PYTHON_NAMES = re.compile(
    r"(?<![\w.-])(" + "|".join(n for n in cli.PYTHON_TO_OPTION if "_" in n or not n.islower())
    + r")\b")
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")

# (command line, text the message must contain, needs torch). The documented error cases of
# `genomap-fast --help` and the README: bad values of each option, the combinations the
# library refuses, bad inputs and outputs.
CASES = [
    (["construct", "x.npy", "-o", "o.npy", "--rows", "5", "--cols", "5"],
     "pass --genes variance", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "0", "--cols", "7"], "--rows must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "-1"], "--cols must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--threads", "0"],
     "--threads must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--epsilon", "-1"],
     "--epsilon must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--solver", "anneal",
      "--restarts", "0"], "--restarts must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--solver", "anneal",
      "--seed", "-1"], "--seed must", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--solver", "anneal",
      "--epsilon", "0.1"], "--solver anneal places one gene per pixel; --epsilon must be 0",
     False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--solver", "anneal",
      "--metric", "euclidean", "--multilevel"],
     "--multilevel is a variant of --solver exact", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--multilevel"],
     "multilevel placement needs --metric euclidean", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--layer", "counts"],
     "--layer only applies to .h5ad input", False),
    (["construct", "huge.npy", "-o", "o.npy", "--rows", "7", "--cols", "7"],
     "overflow the float32 images", False),
    (["construct", "x.npy", "-o", "o.txt", "--rows", "7", "--cols", "7"],
     "unknown output format", False),
    (["construct", "missing.npy", "-o", "o.npy", "--rows", "7", "--cols", "7"],
     "no such file", False),
    (["construct", "x.npy", "-o", "o.npy", "--rows", "7", "--cols", "7", "--scheduler",
      "tcp://127.0.0.1:1"], "--scheduler writes a .zarr store: pass -o OUT.zarr", False),
    (["demo", "--rows", "5", "--cols", "5", "--out", "d.png"], "pass --genes variance", False),
    (["demo", "--threads", "0", "--out", "d.png"], "--threads must", False),
    (["bench", "--cells", "0", "--no-reference"], "--cells must be >= 1", False),
    (["bench", "--rows", "0", "--no-reference"], "--rows must be >= 1", False),
    (["bench", "--num-iter", "0", "--cells", "50", "--rows", "5", "--cols", "5",
      "--no-reference"], "--num-iter must be >= 1", False),
    (["bench", "--genes", "30", "--cells", "50", "--rows", "5", "--cols", "5",
      "--no-reference"], "--genes 30 is more than the 25 pixels", False),
    (["classify", "x.npy", "--labels", "labels.txt", "-o", "p.csv", "--rows", "7", "--cols",
      "7"], "has 10 labels for 60 cells", True),
    (["classify", "x.npy", "--labels", "all.txt", "-o", "p.csv", "--rows", "7", "--cols", "7",
      "--epochs", "0"], "--epochs must be >= 1", True),
    (["vis", "x.npy", "-o", "e.csv", "--rows", "7", "--cols", "7", "--clusters", "0"],
     "--clusters must be >= 1, got 0", True),
    (["vis", "x.npy", "-o", "e.csv", "--rows", "7", "--cols", "7", "--clusters", "100",
      "--pretrain-epochs", "1", "--maxiter", "1"], "--clusters 100 is more than the 60 cells",
     True),
    (["traj", "x.npy", "-o", "t.csv", "--rows", "7", "--cols", "7", "--clusters", "0"],
     "--clusters must be >= 1, got 0", True),
    (["traj", "x.npy", "-o", "t.csv", "--rows", "7", "--cols", "7", "--threads", "0"],
     "--threads must", True),
]


def _parsers():
    """The top-level parser and each command's."""
    top = cli.build_parser()
    return top, cli.commands(top)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_messages")
    X = np.random.default_rng(0).poisson(1.0, (60, 40)).astype(np.float32)
    np.save(d / "x.npy", X)
    huge = X[:, :20].astype(np.float64)
    huge[5, 3] = 1e39
    np.save(d / "huge.npy", huge)
    (d / "labels.txt").write_text("\n".join(["a"] * 10) + "\n")
    (d / "all.txt").write_text("\n".join(["a", "b"] * 30) + "\n")
    return d


def _run(argv, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv + ["-q"] if argv[0] in ("construct", "classify", "vis", "traj")
                        else argv)
    return code, err.getvalue()


@pytest.mark.parametrize("argv, expected, needs_torch", CASES,
                         ids=[" ".join(c[0][:1] + c[0][3:]) for c in CASES])
def test_error_names_existing_options(workdir, monkeypatch, argv, expected, needs_torch):
    if needs_torch:
        pytest.importorskip("torch")
    top, commands = _parsers()
    code, err = _run(argv, workdir, monkeypatch)
    lines = [ln for ln in err.splitlines() if ln.startswith("genomap-fast: error:")]
    assert code == 1 and len(lines) == 1, err
    message = lines[0][len("genomap-fast: error:"):]
    assert expected in message, message
    options = set(commands[argv[0]]._option_string_actions) | set(top._option_string_actions)
    named = FLAG.findall(message)
    assert all(flag in options for flag in named), (named, message)
    assert not PYTHON_ASSIGNMENT.search(message), message
    assert not PYTHON_NAMES.search(message), message


def test_translation_rules():
    _, commands = _parsers()
    con, bench = commands["construct"], commands["bench"]
    msg = cli.cli_message
    assert msg("pass select_genes='variance' to keep", con) == "pass --genes variance to keep"
    assert msg('use grid_metric="euclidean"', con) == "use --metric euclidean"
    assert msg("multilevel=True needs it", con) == "--multilevel needs it"
    assert msg("AnnData has no X; pass layer=", con) == "AnnData has no X; pass --layer LAYER"
    assert msg("num_threads must be >= 1 or None, got 0", con) == "--threads must be >= 1, got 0"
    assert msg("rescale the data (e.g. log1p) or use dtype=np.float64", con) == \
        "rescale the data (e.g. log1p)"
    # only where the command has the option, and the value fits it
    assert msg("pass select_genes='variance'", bench) == "pass select_genes='variance'"
    assert msg("has no layer 'counts'", con) == "has no layer 'counts'"
    assert msg("--layer only applies to .h5ad input", con) == \
        "--layer only applies to .h5ad input"
    assert msg("pip install --no-deps genomap==1.3.6", bench) == \
        "pip install --no-deps genomap==1.3.6"


def test_version(capsys):
    from importlib.metadata import version

    import genomap_fast

    assert genomap_fast.__version__ == version("genomap_fast") == genomap_fast._core.__version__
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"genomap-fast {genomap_fast.__version__}\n"
