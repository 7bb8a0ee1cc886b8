"""The benchmark harness (benchmarks/conftest.py): a run that selects tests rewrites the rows it
measured and keeps the results file's other rows with every column they had."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def harness():
    path = os.path.join(HERE, "..", "benchmarks", "conftest.py")
    spec = importlib.util.spec_from_file_location("benchmarks_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OLD = """# suite

Measured 2026-12-01 on x86_64 (2 cores), Python 3.11.7.

| case | reference (s) | genomap_fast (s) | speed-up | accuracy | ari |
|---|---|---|---|---|---|
| recognition | - | 18.4 | - | 0.83 | - |
| clustering | - | 43.5 | - | - | 0.5651 |
"""


@pytest.fixture
def results_file(tmp_path):
    """A results file as an earlier full run wrote it."""
    path = tmp_path / "suite.md"
    path.write_text(OLD)
    return str(path)


def test_selective_run_keeps_the_columns_of_the_rows_it_carries(harness, results_file):
    new = ("| case | reference (s) | genomap_fast (s) | speed-up | accuracy | objective |\n"
           "|---|---|---|---|---|---|\n"
           "| recognition | - | 29.6 | - | 0.84 | 2.70 |")
    table, note = harness._carried_over(results_file, new, {"recognition"})
    rows = [harness._cells(line) for line in table.splitlines()]
    assert rows[0] == ["case", "reference (s)", "genomap_fast (s)", "speed-up", "accuracy",
                       "objective", "ari"]
    assert rows[2] == ["recognition", "-", "29.6", "-", "0.84", "2.70", "-"]
    assert rows[3] == ["clustering", "-", "43.5", "-", "-", "-", "0.5651"]  # ari kept
    assert len(rows) == 4 and "- clustering: measured 2026-12-01" in note


def test_run_that_reruns_every_row_leaves_the_old_columns_out(harness, results_file,
                                                              tmp_path):
    new = ("| case | reference (s) | genomap_fast (s) | speed-up | accuracy |\n"
           "|---|---|---|---|---|\n"
           "| recognition | - | 1.0 | - | 0.9 |\n| clustering | - | 2.0 | - | - |")
    assert harness._carried_over(results_file, new, {"recognition", "clustering"}) == (new, "")
    assert harness._carried_over(str(tmp_path / "missing.md"), new, set()) == (new, "")
