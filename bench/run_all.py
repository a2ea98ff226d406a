"""Run every benchmark in bench/ and write the table to docs/benchmarks.md.

    python -m bench.run_all            # all of them
    python -m bench.run_all store      # only bench_store.py (the table keeps the other benches' rows)

Each bench module has ``run() -> list[dict]`` with rows {name, median_ms, min_ms, max_ms, n}
and optionally ``ratio`` and ``target``; this script only collects and prints them.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _fmt(value, digits=1):
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def main(selected: list[str]) -> None:
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if selected:
        modules = [m for m in modules if any(m == f"bench_{s}" or m == s for s in selected)]
    rows = []
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} ...", flush=True)
        for row in module.run():
            rows.append({"bench": name, **row})
            print("  ", row, flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = ROOT / "docs" / "benchmarks.md"
    ran = sorted({r["bench"] for r in rows})
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m bench.run_all{' ' + ' '.join(selected) if selected else ''}` on {stamp}; machine: "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end: other jobs share them), "
        f"{platform.machine()}, Python {platform.python_version()}. Times in milliseconds."
        + (f" Rows of {', '.join(ran)} from this run; the others kept from the last full run." if selected else ""),
        "",
        "| bench | measurement | median | min | max | ratio | target | n |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    new_rows = {name: [] for name in ran}
    for r in rows:
        new_rows[r["bench"]].append(
            f"| {r['bench']} | {r['name']} | {_fmt(r.get('median_ms'), 2)} | {_fmt(r.get('min_ms'), 2)} | "
            f"{_fmt(r.get('max_ms'), 2)} | {_fmt(r.get('ratio'), 3)} | {r.get('target', '')} | {r.get('n', '')} |"
        )
    kept: dict[str, list[str]] = {}
    if selected and table.exists():  # a partial run replaces only its own benches' rows
        for line in table.read_text().splitlines():
            bench = line.split("|")[1].strip() if line.startswith("| bench_") else None
            if bench and bench not in new_rows:
                kept.setdefault(bench, []).append(line)
    for bench in sorted({**kept, **new_rows}):
        lines.extend(new_rows.get(bench) or kept[bench])
    (ROOT / "docs").mkdir(exist_ok=True)
    table.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
