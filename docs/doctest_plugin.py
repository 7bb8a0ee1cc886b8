"""pytest plugin for the docstring examples, which `make docs` runs as doctests::

    python -m pytest --doctest-modules -p docs.doctest_plugin --pyargs genomap_fast.<module> ...

Figures are drawn without a display (matplotlib's Agg backend), and PHATE's progress messages
(printed on stdout, which a doctest compares with the expected output) are switched off.
"""
from __future__ import annotations


def pytest_configure(config):
    import matplotlib

    matplotlib.use("Agg")
    try:
        import tasklogger  # PHATE's and graphtools' loggers
    except ImportError:  # pragma: no cover - without the cnn extra
        return
    for name in ("graphtools", "PHATE"):
        tasklogger.set_level(0, logger=name)
