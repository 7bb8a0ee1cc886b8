"""Typed API: the checked-in _core stub names everything the extension exports, it and the
public placement module pass ``mypy --strict``, results are typed (not Any), and the wheel
ships the stub and py.typed."""
import ast
import importlib.resources
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from genomap_fast import _core

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "python" / "genomap_fast"
STUB = PACKAGE / "_core.pyi"
TYPED_MODULES = [STUB, PACKAGE / "placement.py"]
needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install '.[test]')")


def _public(names):
    return {n for n in names if not n.startswith("_")}


def _stub_tree():
    return ast.parse(STUB.read_text())


def test_stub_names_every_public_name_of_core():
    tree = _stub_tree()
    top = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    top |= {t.id for node in tree.body if isinstance(node, ast.AnnAssign)
            for t in [node.target] if isinstance(t, ast.Name)}
    assert _public(top) == _public(dir(_core)), "stale stub: run `make stubs`"


def test_stub_classes_name_every_public_member():
    classes = {node.name: node for node in _stub_tree().body if isinstance(node, ast.ClassDef)}
    for name, node in classes.items():
        members = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
        runtime = _public(dir(getattr(_core, name))) - _public(dir(object))
        assert _public(members) == runtime, f"stale stub for {name}: run `make stubs`"


def _mypy(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(cwd / ".mypy_cache"), *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=600,
        env={**os.environ, "MYPYPATH": str(PACKAGE.parent)})  # this source tree's package


@needs_mypy
def test_stub_and_placement_pass_mypy_strict(tmp_path):
    done = _mypy(*TYPED_MODULES, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_mypy
def test_results_are_typed_not_any(tmp_path):
    """A wrong use of each result's fields is an error for mypy: the stub types them."""
    use = tmp_path / "use_results.py"
    use.write_text(
        "from genomap_fast import _core\n"
        "from genomap_fast.placement import PlacementResult\n"
        "def f(r: _core.ExactResult, m: _core.MultilevelResult, e: _core.EntropicResult,\n"
        "      w: _core.WithinClassResult, t: _core.TransportResult,\n"
        "      p: PlacementResult) -> None:\n"
        "    a: str = r.objective\n"
        "    b: str = m.n_iter\n"
        "    c: str = e.coupling\n"
        "    d: str = w.pixel\n"
        "    g: str = p.objective\n"
        "    h: str = t.potentials\n"
    )
    done = _mypy(use, cwd=tmp_path)
    errors = [line for line in done.stdout.splitlines() if "Incompatible types" in line]
    assert done.returncode == 1 and len(errors) == 6, done.stdout + done.stderr


def test_the_installed_package_ships_the_stub_and_py_typed():
    files = importlib.resources.files("genomap_fast")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_core.pyi").read_text() == STUB.read_text()
