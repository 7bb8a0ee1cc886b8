"""Sphinx configuration of the genomap_fast documentation (built offline: `make docs`).

Pages are MyST Markdown. The API reference is generated from the code (autodoc + autosummary,
numpy-style docstrings through napoleon); the command-line reference is generated here from the
argument parser of ``genomap_fast.cli``; the benchmark pages include ``benchmarks/results/*.md``;
the gallery is ``examples/plot_*.py``, executed by sphinx-gallery at every build. The build is
nitpicky (``-n``): a reference to one of our own names that does not resolve is an error.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys

import genomap_fast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

project = "genomap_fast"
author = "genomap_fast developers"
copyright = "2026, genomap_fast developers"
release = genomap_fast.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
# classes: their documented members, inherited ones too (the CNN estimators share a base), but
# not those of torch's Dataset/Sampler or of Python's exceptions (templates/autosummary/class.rst)
templates_path = ["_templates"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
# Attributes sections as fields: no second description of properties that autodoc documents
napoleon_use_ivar = True

# ---------------------------------------------------------------------------------------------
# The gallery: examples/plot_*.py run at every build (a failing example fails the build); their
# figures and printed output go into docs/auto_examples (generated, not committed). Ordered by
# file name (plot_01_..., plot_02_...).
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "show_signature": False,
    "image_scrapers": ("matplotlib",),
}

# ---------------------------------------------------------------------------------------------
# Nitpicky references (`make docs` runs sphinx-build -n). The build is offline (no intersphinx), so types of other packages
# cannot resolve: they are listed here. Everything of genomap_fast must resolve. Built-in
# types (int, str, ...) never warn. Docstring types also name shapes and literal values.
_EXTERNAL = ("numpy", "np", "scipy", "pandas", "pd", "anndata", "torch", "dask", "zarr",
             "h5py", "matplotlib", "sklearn", "cupy", "numcodecs", "os", "pathlib", "typing",
             "collections", "argparse", "concurrent", "tqdm", "numba", "phate", "umap")
nitpick_ignore_regex = [
    # other packages' classes and functions
    (r"py:.*", r"(%s)\..*" % "|".join(_EXTERNAL)),
    (r"py:class", r"AnnData|DataFrame|ndarray|Figure|Tensor|Module|Dataset|Sampler|"
                  r"array-like|array_like|path-like|PathLike|ArrayLike|NDArray|Generator|"
                  r"Iterator|Iterable|Sequence|Mapping|Callable|callable|sequence|mapping|"
                  r"iterable|optional|default|scalar|dtype|path|file|sparse matrix|"
                  r"tqdm|dask array|zarr array|context manager|array"),
    # shapes and sizes in docstring types: "ndarray of shape (n_cells, n_genes)"
    (r"py:class", r"shape|n_[a-z_]+|[0-9]+|rows|cols|n|k|d|m|cells|genes|batch|"
                  r"used pixels|[a-z_]+ \* [a-z_]+"),
    # literal values ("radial", 'nchw', {"compact", "reference"}) and defaults ("int, default 32")
    (r"py:class", r"\{?[\"'].*[\"']\}?|default .*"),
]
# the C++ core's classes appear in signatures; they are documented with the functions that
# return them, not as pages of their own
nitpick_ignore_regex.append((r"py:class", r"genomap_fast\._core\..*"))

html_theme = "furo"
html_title = f"genomap_fast {release}"
html_static_path: list[str] = []


# ---------------------------------------------------------------------------------------------
# The public API: every name a module exports must be on its API page (a missing one is a
# warning, so an error in `make docs`). A module's public names are its __all__, or, without
# one, the functions and classes it defines whose names do not start with an underscore.
API_PAGES = {
    "genomap_fast": "api/genomap_fast.md",
    "genomap_fast.tl": "api/tl.md",
    "genomap_fast.pl": "api/pl.md",
    "genomap_fast.cnn": "api/cnn.md",
    "genomap_fast.store": "api/store.md",
    "genomap_fast.io": "api/io.md",
    "genomap_fast.distributed": "api/distributed.md",
    "genomap_fast.compat": "api/compat.md",
    "genomap_fast.datasets": "api/datasets.md",
    "genomap_fast.h5ad": "api/h5ad.md",
}


def public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module_name]


def check_api_coverage(app) -> None:
    from sphinx.util import logging

    log = logging.getLogger(__name__)
    for module_name, page in API_PAGES.items():
        with open(os.path.join(HERE, page), encoding="utf-8") as f:
            text = f.read()
        listed = {line.strip() for line in text.splitlines()}  # autosummary entries
        for name in public_names(module_name):
            if name not in listed and f"`{module_name}.{name}`" not in text:
                log.warning(f"{module_name}.{name} is public but not on {page}")


# ---------------------------------------------------------------------------------------------
# The command-line reference, generated from genomap_fast.cli's argument parser. cli.main()
# builds the parser and parses in one function, so the parser is taken at its parse_args call.
class _Parser(Exception):
    pass


def cli_parser() -> argparse.ArgumentParser:
    from genomap_fast import cli

    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        raise _Parser(self)

    argparse.ArgumentParser.parse_args = capture
    try:
        cli.main([])
    except _Parser as found:
        return found.args[0]
    finally:
        argparse.ArgumentParser.parse_args = original
    raise RuntimeError("genomap_fast.cli.main() did not parse arguments")


def write_cli_reference(app) -> None:
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width
    try:
        parser = cli_parser()
        parts = ["## genomap-fast\n", "```text", parser.format_help().rstrip(), "```\n"]
        subcommands = next(a for a in parser._actions
                           if isinstance(a, argparse._SubParsersAction))
        for name, sub in subcommands.choices.items():
            parts += [f"## genomap-fast {name}\n", "```text", sub.format_help().rstrip(), "```\n"]
    finally:
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    out = os.path.join(HERE, "_generated", "cli_reference.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = "\n".join(parts)
    if not os.path.exists(out) or open(out, encoding="utf-8").read() != text:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)


def setup(app):
    app.connect("builder-inited", write_cli_reference)
    app.connect("builder-inited", check_api_coverage)
