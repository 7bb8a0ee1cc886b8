"""Smoke test of an installed genomap_fast wheel: run in an environment that has the wheel and its
dependencies (numpy, scipy, threadpoolctl, tqdm) and nothing else, from outside the checkout.

    python tools/wheel_smoke.py          # import, version, a drop-in call, the command line
    python tools/wheel_smoke.py --demo   # and `genomap-fast demo` (needs the demo extra)

Used by tools/wheel_smoke.sh (CI) and by cibuildwheel's test-command (pyproject.toml).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.metadata import version


def _cli() -> list:
    """The installed `genomap-fast` script of this environment."""
    script = os.path.join(sysconfig.get_path("scripts"), "genomap-fast")
    assert os.path.exists(script), f"{script} was not installed"
    return [script]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="also run `genomap-fast demo`")
    args = parser.parse_args()
    t0 = time.perf_counter()

    import numpy as np

    import genomap_fast as gf

    where = os.path.dirname(gf.__file__)
    assert where.startswith(sys.prefix), f"genomap_fast imported from {where}, not {sys.prefix}"
    meta = version("genomap_fast")
    assert gf.__version__ == meta == gf._core.__version__, (gf.__version__, meta,
                                                             gf._core.__version__)
    print(f"genomap_fast {gf.__version__} from {where} (Python {sys.version.split()[0]})")

    # the drop-in call of the reference, on a small random matrix
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(120, 49)).astype(np.float64)
    images = gf.construct_genomap(X, rowNum=7, colNum=7)
    assert images.shape == (120, 7, 7, 1) and images.dtype == np.float64, images.shape
    assert np.isfinite(images).all() and images.any()
    images, T = gf.construct_genomap_returnT(X, 7, 7)
    assert T.shape == (49, 49)
    cuda = gf.backends()["cuda"]
    print(f"construct_genomap: {images.shape} {images.dtype}; cuda backend available: "
          f"{cuda['available']} ({cuda.get('reason', 'ok')})")

    cli = _cli()
    out = subprocess.run(cli + ["--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"genomap-fast {meta}", out.stdout
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "cells.npy"), X)
        res = subprocess.run(cli + ["construct", os.path.join(tmp, "cells.npy"), "-o",
                                    os.path.join(tmp, "images.npy"), "--rows", "7", "--cols",
                                    "7"], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert np.load(os.path.join(tmp, "images.npy")).shape == (120, 1, 7, 7)
        assert "\r" not in res.stderr  # progress to a pipe: whole lines
        print(f"genomap-fast construct: ok ({len(res.stderr.splitlines())} progress lines)")
        res = subprocess.run(cli + ["construct", os.path.join(tmp, "cells.npy"), "-o",
                                    os.path.join(tmp, "x.npy"), "--rows", "5", "--cols", "5",
                                    "-q"], capture_output=True, text=True)
        assert res.returncode == 1 and "pass --genes variance" in res.stderr, res.stderr
        if args.demo:
            png = os.path.join(tmp, "demo.png")
            res = subprocess.run(cli + ["demo", "--out", png], capture_output=True, text=True)
            assert res.returncode == 0, res.stderr
            with open(png, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
            print(f"genomap-fast demo: {res.stdout.strip()}")
    print(f"wheel smoke test passed in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
