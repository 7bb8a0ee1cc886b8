"""Benchmark harness: reference (genomap 1.3.6) and genomap_fast in the same run.

Each case records both implementations' times and GW objectives; at the end of the session a
table with the speed-up ratio is printed and written to benchmarks/results/<suite>.md. A run
that selects tests (``-k``, a test id) rewrites the rows it measured and keeps the file's other
rows, listed under the table with the date each was measured.
"""
import datetime
import os
import platform
import re

import pytest

from genomap_fast._atomic import atomic_path

RESULTS: dict = {}


def pytest_collect_file(file_path, parent):
    """bench_*.py files are benchmarks too: named apart from the tests/ file of the same unit
    (benchmarks/bench_anneal.py beside tests/test_anneal.py)."""
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") \
            and not parent.session.isinitpath(file_path):  # a file named on the command
        return pytest.Module.from_parent(parent, path=file_path)  # line is collected anyway
    return None


def benchmark_file(suite: str) -> str:
    """The file that writes results/<suite>.md (results keep their names: test_<x>.md is
    written by bench_<x>.py where a tests/ file has the name test_<x>.py)."""
    here = os.path.dirname(__file__)
    for name in (f"{suite}.py", "bench_" + suite.removeprefix("test_") + ".py"):
        if os.path.exists(os.path.join(here, name)):
            return name
    return f"{suite}.py"


def pytest_addoption(parser):
    parser.addoption("--bench-quick", action="store_true",
                     help="tiny sizes: check the benchmark code paths in seconds")


@pytest.fixture(scope="session")
def quick(request):
    return request.config.getoption("--bench-quick")


@pytest.fixture(scope="session")
def record():
    """record(suite, case, impl, seconds, **metrics)"""

    def _record(suite, case, impl, seconds, **metrics):
        RESULTS.setdefault(suite, {}).setdefault(case, {})[impl] = {"seconds": seconds, **metrics}

    return _record


def _table(suite, cases):
    def present(metric, impl):
        return any(metric in c.get(impl, {}) for c in cases.values())

    metrics = sorted({k for c in cases.values() for v in c.values() for k in v if k != "seconds"})
    columns = [(m, impl) for m in metrics for impl in ("reference", "genomap_fast")
               if present(m, impl)]
    head = ["case", "reference (s)", "genomap_fast (s)", "speed-up"]
    both = {m for m in metrics if present(m, "reference") and present(m, "genomap_fast")}
    head += [f"{m} ({'ours' if impl == 'genomap_fast' else impl})" if m in both else m
             for m, impl in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, impls in cases.items():
        ref, ours = impls.get("reference"), impls.get("genomap_fast")
        # seconds None: the implementation did not finish (a metric says why)
        t_ref = ref["seconds"] if ref else None
        t_ours = ours["seconds"] if ours else None
        ratio = t_ref / t_ours if t_ref and t_ours else None
        row = [case, f"{t_ref:.3f}" if t_ref is not None else "-",
               f"{t_ours:.3f}" if t_ours is not None else "-",
               "-" if ratio is None else f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"]
        for m, name in columns:
            impl = impls.get(name)
            v = impl.get(m) if impl else None
            row.append(f"{v:.9g}" if isinstance(v, float) else str(v) if v is not None else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _carried_over(path, table, rerun):
    """``table`` (this run's rows) widened by the columns of the results file at ``path`` that
    this run did not fill, with that file's rows whose case this run did not rerun ("-" in a
    column either side lacks), and a note giving each carried row's measurement date."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return table, ""
    measured = re.search(r"^Measured (\d{4}-\d{2}-\d{2})", text, re.M)
    dates = dict(re.findall(r"^- (.+): measured (\d{4}-\d{2}-\d{2})$", text, re.M))
    old_table = [line for line in text.splitlines() if line.startswith("| ")]
    if not measured or not old_table:
        return table, ""
    lines = table.splitlines()
    new_head, old_head = _cells(lines[0]), _cells(old_table[0])
    columns = new_head + [c for c in old_head if c not in new_head]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cells(line) + ["-"] * (len(columns) - len(new_head))) + " |"
            for line in lines[2:]]
    notes = []
    for line in old_table[1:]:
        cells = _cells(line)
        if len(cells) != len(old_head) or cells[0] in rerun:
            continue
        old = dict(zip(old_head, cells))
        out.append("| " + " | ".join(old.get(c, "-") for c in columns) + " |")
        notes.append(f"- {cells[0]}: measured {dates.get(cells[0], measured.group(1))}")
    if not notes:
        return table, ""
    return "\n".join(out), ("\nRows carried over from earlier runs (a run that selected "
                            "tests with -k or a test id left them alone):\n\n"
                            + "\n".join(notes) + "\n")


def _selected(config) -> bool:
    """Whether this run selected some tests (-k, or a test id on the command line)."""
    return bool(config.getoption("keyword")) or any("::" in a for a in config.args)


def pytest_sessionfinish(session, exitstatus):
    if not RESULTS:
        return
    quick = session.config.getoption("--bench-quick")
    here = os.path.dirname(__file__)
    for suite, cases in RESULTS.items():
        table = _table(suite, cases)
        print(f"\n\n{suite}\n{table}\n")
        if quick:
            continue
        header = (
            f"# {suite}\n\nMeasured {datetime.date.today()} on {platform.machine()} "
            f"({os.cpu_count()} cores), Python {platform.python_version()}.\n"
            f"Reproduce: `make bench` (or `.venv/bin/python -m pytest "
            f"benchmarks/{benchmark_file(suite)}`).\n\n"
        )
        os.makedirs(os.path.join(here, "results"), exist_ok=True)
        path = os.path.join(here, "results", f"{suite}.md")
        note = ""
        if _selected(session.config):  # keep what this run did not measure again
            table, note = _carried_over(path, table, set(cases))
        with atomic_path(path) as tmp:
            with open(tmp, "w") as fh:
                fh.write(header + table + "\n" + note)
