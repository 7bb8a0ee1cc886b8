"""Regenerates python/genomap_fast/_core.pyi from the built extension (``make stubs``).

pybind11-stubgen writes the stub; this script then gives bare generics type parameters (so the
stub passes ``mypy --strict``), drops the build's version string, and formats it with ruff.
tests/test_typing.py checks that the stub names everything ``_core`` exports and that it passes
mypy; rerun this after changing the bindings.
"""
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET = ROOT / "python" / "genomap_fast" / "_core.pyi"
FIXES = [
    (r"numpy\.ndarray(?!\[)", "numpy.typing.NDArray[typing.Any]"),
    (r"(?<=[:>] )tuple(?=[,)\]:]|$)", "tuple[typing.Any, ...]"),
    (r"(?<=, )dict(?=\])", "dict[str, typing.Any]"),
    (r"(?<=-> )dict(?=:)", "dict[str, typing.Any]"),
    (r"__version__: str = .*", "__version__: str"),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pybind11_stubgen", "genomap_fast._core", "-o", tmp],
                       check=True)
        text = (pathlib.Path(tmp) / "genomap_fast" / "_core.pyi").read_text()
    for pattern, repl in FIXES:
        text = re.sub(pattern, repl, text, flags=re.MULTILINE)
    TARGET.write_text(text)
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "I", str(TARGET)],
                   check=True)
    subprocess.run([sys.executable, "-m", "ruff", "format", str(TARGET)], check=True)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
