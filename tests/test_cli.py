"""The command line, end to end through a subprocess."""
import os
import subprocess
import sys

EXE = [sys.executable, "-m", "genomap_fast.cli"]


def test_demo_writes_figure(tmp_path):
    out = tmp_path / "demo.png"
    res = subprocess.run(EXE + ["demo", "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert out.exists() and out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "700 cells x 765 genes -> 28x28 genomaps in" in res.stdout
    assert [p for p in os.listdir(tmp_path) if p != "demo.png"] == []


def test_demo_error_is_one_line(tmp_path):
    res = subprocess.run(EXE + ["demo", "--rows", "5", "--cols", "5", "--out",
                                str(tmp_path / "x.png")], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("genomap-fast: error: X has 765 genes")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_version_flag():
    from importlib.metadata import version

    res = subprocess.run(EXE + ["--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"genomap-fast {version('genomap_fast')}\n"
