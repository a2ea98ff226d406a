"""`python -m bench.run_all` calls every bench module's ``run()`` with no arguments and prints its rows' names and
medians: a bench that needs arguments, or names its rows differently, breaks the whole table (bench_budget did)."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

BENCHES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHES)
def test_run_takes_no_required_arguments(name):
    run = importlib.import_module(f"bench.{name}").run
    required = [p.name for p in inspect.signature(run).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert required == [], f"bench/{name}.py run() needs {required}: give them defaults for run_all"


def test_bench_budget_rows_have_run_alls_shape():
    from bench import bench_budget

    rows = bench_budget.run(rows=300, n=2)
    assert len(rows) == 3 and all({"name", "median_ms", "ratio", "n"} <= row.keys() for row in rows)
    assert rows[0]["ratio"] == 1.0  # "no budget" is the yardstick
