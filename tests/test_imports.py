"""The package's module structure: its import graph has no cycle, and what modules share has
a public name in the module that owns it.

Import graph: every ``import`` of a package module counts, at the top of a module or inside a
function (a lazy import hides a cycle until the day the import is hoisted), except those under
``if TYPE_CHECKING:``. A package's implicit import of its parent ``__init__`` does not count;
an explicit ``from .. import name`` of an ``__init__`` does."""
import ast
import pathlib

import genomap_fast

PACKAGE = pathlib.Path(genomap_fast.__file__).resolve().parent
ROOT = PACKAGE.name


def _modules() -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py file of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_package(name: str, modules: dict) -> bool:
    return modules[name].name == "__init__.py"


def _bound_names(path: pathlib.Path) -> set[str]:
    """The names a module binds at its top level (what ``from module import name`` reads)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Try):  # ``try: import ... except ImportError:``
            names.update(_bound_names_of(node))
    return names


def _bound_names_of(node) -> set[str]:
    return {(a.asname or a.name).split(".")[0] for n in ast.walk(node)
            if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}


def _from_target(module: str, name: str, modules: dict) -> str:
    """What ``from module import name`` imports: the submodule ``module.name`` when it is one
    (a .py file, or an extension module such as ``_core`` that the package's ``__init__``
    does not bind), else ``module`` itself (a name it defines)."""
    sub = f"{module}.{name}"
    if sub in modules or module not in modules or not _is_package(module, modules):
        return sub if sub in modules else module
    return module if name in _bound_names(modules[module]) else sub


def _type_checking_nodes(tree) -> set:
    """The import nodes under ``if TYPE_CHECKING:`` (never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(n for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imports(name: str, modules: dict) -> set[str]:
    """The package modules that module ``name`` imports (anywhere in its body)."""
    tree = ast.parse(modules[name].read_text())
    skipped = _type_checking_nodes(tree)
    base = name if _is_package(name, modules) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the submodule sub; ``from mod import f`` imports mod
            targets = [_from_target(module, a.name, modules) for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != ROOT:
                continue
            # ``import genomap_fast.a.b`` runs genomap_fast.a.b: the longest known prefix; an
            # extension module (``_core``) is a leaf of its own
            known = target
            while known and known not in modules:
                known = known.rpartition(".")[0]
            target = target if known == target.rpartition(".")[0] and known else known
            if target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, modules) for name in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_lazy_imports():
    graph = import_graph()
    assert len(graph) >= 30  # every module of the package
    # lazy ones, inside functions
    assert "genomap_fast.distributed" in graph["genomap_fast.store"]
    assert "genomap_fast.h5ad" in graph["genomap_fast._source"]
    assert "genomap_fast._gpu" in graph["genomap_fast._execution"]
    # relative imports from a subpackage, and ``from . import module``
    assert "genomap_fast._source" in graph["genomap_fast.cnn.base"]
    assert {"genomap_fast.pl", "genomap_fast.tl"} <= graph["genomap_fast"]


def test_the_cycle_finder_finds_a_lazy_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_private_names_cross_modules():
    """What modules share has a public name in the module that owns it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
                # names from other modules (``from . import _module`` imports a module)
                offenders += [f"{path.name}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) \
                    and node.value.id not in ("self", "cls", "obj", "_core", "torch"):
                offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert offenders == []
