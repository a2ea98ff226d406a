"""Hard budgets: what checking them costs a call before it goes out, on a ledger where one person made every call
this month.  ``Ledger.begin`` with no budget, the team's, and the team's plus the person's own (read from
``calls_person_daily``, migration 011), each then settled so the ledger stays the same size.  SQLite.

    python -m bench.bench_budget --rows 200000 --n 50
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bench.bench_ledger import synthetic_rows
from lib import clock
from lib.store.ledger import Ledger, LedgerRow, new_id, utc_now


def run(rows: int = 200_000, n: int = 50) -> list[dict]:
    month = clock.month_start()
    end = max(utc_now(), month + timedelta(days=28))  # every row in this month, the worst case for one person
    ledger = Ledger(Path(tempfile.mkdtemp(prefix="bench-budget-")) / "ledger.sqlite3")
    every = [replace(r, person="header:heavy") for r in synthetic_rows(rows, end=end, days=27)]
    for start in range(0, len(every), 50_000):
        ledger.insert_many(every[start:start + 50_000])
    cases = {"no budget": {}, "team budget": {"limit_usd": 1e9},
             "team + person budget": {"limit_usd": 1e9, "person_limit_usd": 1e9}}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(n):
        for name, limits in cases.items():  # interleaved, so a noisy moment hits every case alike
            row = LedgerRow(id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai",
                            backend="live", person="header:heavy")
            started = time.perf_counter()
            ledger.begin(row, reserve_usd=0.04, since=month, **limits)
            timings[name].append(time.perf_counter() - started)
            ledger.settle(replace(row, status="ok", cost_usd=0.04, cost_source="computed"))
    base = statistics.median(timings["no budget"])
    # run_all's row shape: the ratio is to the same call with no budget to check
    return [{"name": f"Ledger.begin, {name}, {rows:,} rows", "median_ms": round(statistics.median(seconds) * 1000, 3),
             "min_ms": round(min(seconds) * 1000, 3), "max_ms": round(max(seconds) * 1000, 3),
             "ratio": round(statistics.median(seconds) / base, 2), "n": n} for name, seconds in timings.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    print(f"Ledger.begin on {args.rows:,} calls of one person this month, {args.n} calls each:")
    for result in run(args.rows, args.n):
        print(f"  {result['name']:<48} median {result['median_ms']:8.3f} ms  ({result['ratio']}x no budget)")


if __name__ == "__main__":
    main()
