"""Ledger page speed on 100,000 synthetic rows: load + filter + aggregate, and the page's AppTest run.

    python bench/bench_ledger.py [--rows 100000] [--n 7]

Targets (issue "Compare & ledger"): load + filter + aggregate < 300 ms median;
the ledger page's AppTest run < 1.5 s.  ``run()`` returns rows for bench/run_all.py.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib import clock  # noqa: E402
from lib.store.ledger import Ledger, LedgerRow, new_id  # noqa: E402

COMMAND = "python bench/bench_ledger.py"
_TARGETS = [
    ("generate", "generate", "openai", "gpt-image-2", "/v1/images/generations"),
    ("generate", "generate", "openai", "gpt-image-2.6-flare", "/v1/images/generations"),
    ("edit", "inpaint", "openai", "gpt-image-2", "/v1/images/edits"),
    ("karlo", "t2i", "karlo", "karlo-v2", "/v2/inference/karlo/t2i"),
    ("compare", "generate", "openai", "gpt-image-2.5-sunburst", "/v1/images/generations"),
    ("chat", "chat", "openai", "gpt-5.4-mini", "/v1/chat/completions"),
    ("pipeline", "pipeline-step", "openai", "gpt-6-luna", "/v1/chat/completions"),
]
_WORDS = "fox lighthouse city neon forest whale robot garden storm castle desert portrait watercolor".split()


def synthetic_rows(n: int, *, end: datetime | None = None, days: int = 120, seed: int = 0, output_refs: list[str] | None = None) -> list[LedgerRow]:
    """``n`` plausible ledger rows spread over ``days`` days before ``end`` (no image files)."""
    rng = random.Random(seed)
    end = end or clock.now()
    rows = []
    for i in range(n):
        page, action, provider, model, endpoint = rng.choice(_TARGETS)
        created = end - timedelta(seconds=rng.uniform(0, days * 86400))
        failed = rng.random() < 0.06
        is_chat = endpoint.endswith("completions")
        images = 0 if is_chat or failed else rng.choice([1, 1, 1, 2, 4])
        tokens_in = None if provider == "karlo" or failed else rng.randint(10, 2000)
        tokens_out = None if provider == "karlo" or failed else rng.randint(20, 6000)
        cost = None if failed else (0.0 if provider == "karlo" else round(rng.uniform(0.0005, 0.25), 6))
        rows.append(LedgerRow(
            id=new_id(created.timestamp()), created_at=created, page=page, action=action, provider=provider,
            backend="demo" if rng.random() < 0.3 else "live", model=model, endpoint=endpoint,
            status="error" if failed else "ok",
            cost_usd=cost, cost_source="unpriced" if cost is None else ("table" if provider == "karlo" else "computed"),
            group_id=f"g{i // 3}" if page in ("compare", "chat", "pipeline") else None,
            params={"size": "1024x1024", "quality": rng.choice(["low", "medium", "high"])} if not is_chat else {"temperature": 0.7},
            prompt=" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))),
            output_text="A short reply." if is_chat and not failed else None,
            output_refs=list(output_refs or []) if images else [],
            n_images=None if is_chat else images, width=1024 if images else None, height=1024 if images else None,
            input_tokens=tokens_in, output_tokens=tokens_out,
            latency_ms=round(rng.lognormvariate(7.0, 0.5), 1), ttft_ms=round(rng.uniform(100, 900), 1) if is_chat else None,
            http_status=rng.choice([429, 500, 503]) if failed else None, error_code="rate_limit_exceeded" if failed else None,
            error_message="Slow down and try again." if failed else None, app_version="bench",
        ))
    rows.sort(key=lambda r: r.created_at)  # a real ledger is written in time order
    return rows


def load_filter_aggregate(ledger: Ledger, days: int = 90, text: str | None = "fox") -> dict:
    """What the ledger page asks of the ledger on a run: totals for the days and search, filter choices,
    latencies, figures, chart data and the table's first page."""
    from lib.store import report

    since = clock.today() - timedelta(days=days)
    chosen = {"provider": ["openai", "karlo"], "status": ["ok", "error"]}
    selection = report.Selection(since, None, text, chosen)
    totals = report.totals(ledger, selection)
    choices = report.options(totals)
    totals = report.apply_filters(totals, chosen)
    latencies = report.latencies(ledger, selection, totals)
    return {
        "options": choices,
        "figures": report.figures(totals, latencies, live_only=True),
        "charts": report.chart_frames(totals, latencies),
        "table": report.table_page(ledger, selection, 1, 200),
    }


def _stats(name: str, seconds: list[float], target: str, **extra) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"name": name, "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms), "target": target, **extra}


def _cold_once(what: str, data: Path) -> None:
    """In a fresh process: time the first ledger open + page work, or the first AppTest run of the ledger
    page (after the home page); print ``wall cpu`` seconds."""
    if what == "load":
        t0, c0 = time.perf_counter(), time.process_time()
        from lib.store import open_store  # the ledger STUDIO_DATABASE_URL names, else data/ledger.sqlite3

        load_filter_aggregate(open_store(data)[1])
    else:
        os.environ["STUDIO_DATA_DIR"] = str(data)
        os.environ.setdefault("STUDIO_DEMO_LATENCY_MS", "0")
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        at.run()  # the home page first, as a visitor would arrive
        at.switch_page("pages/ledger.py")
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        if at.exception:
            raise RuntimeError(f"ledger page raised: {at.exception[0].value}")
    print(time.perf_counter() - t0, time.process_time() - c0)


def _cold(what: str, data: Path, n: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(n):
        done = subprocess.run([sys.executable, __file__, "--cold", what, str(data)], capture_output=True, text=True, check=True)
        wall, cpu = map(float, done.stdout.split()[-2:])
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


def run(rows: int = 100_000, n: int = 7) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        ledger = Ledger(data / "ledger.sqlite3")
        t0 = time.perf_counter()
        ledger.insert_many(synthetic_rows(rows))
        seed_s = time.perf_counter() - t0

        # wall time, and the measured process's CPU time: on a shared, busy machine the CPU time is closer
        # to what the wall time would be on an idle one
        cold, cold_cpu = _cold("load", data, n)  # a fresh process each: nothing cached but the OS's file cache
        warm, warm_cpu, whole, whole_cpu = [], [], [], []
        load_filter_aggregate(ledger)
        for i in range(n):
            ledger.insert_many(synthetic_rows(10, seed=1000 + i))  # someone made a few calls since
            t0, c0 = time.perf_counter(), time.process_time()
            load_filter_aggregate(ledger)
            warm.append(time.perf_counter() - t0)
            warm_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            load_filter_aggregate(ledger, days=3650, text=None)
            whole.append(time.perf_counter() - t0)
            whole_cpu.append(time.process_time() - c0)

        page_cold, page_cold_cpu = _cold("page", data, max(3, n // 2))

        os.environ["STUDIO_DATA_DIR"] = str(data)
        os.environ.setdefault("STUDIO_DEMO_LATENCY_MS", "0")
        from streamlit.testing.v1 import AppTest

        page_s, page_cpu = [], []
        for i in range(max(4, n // 2 + 1)):
            at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
            at.run()
            at.switch_page("pages/ledger.py")
            t0, c0 = time.perf_counter(), time.process_time()
            at.run()
            if i:  # the first ledger run in this process is a cold one, measured above in fresh processes
                page_s.append(time.perf_counter() - t0)
                page_cpu.append(time.process_time() - c0)
            if at.exception:
                raise RuntimeError(f"ledger page raised: {at.exception[0].value}")
        ledger.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # the numbers mean little on a busy machine
    cpu = lambda samples: statistics.median(samples) * 1000  # noqa: E731
    return [
        _stats(f"ledger: load + filter + aggregate, cold (fresh process), {rows:,} rows, 90 days + text", cold,
               "< 300 ms", seed_ms=seed_s * 1000, load_avg=load, cpu_median_ms=cpu(cold_cpu)),
        _stats(f"ledger: load + filter + aggregate, warm (10 new rows since), {rows:,} rows, 90 days + text", warm,
               "< 300 ms", load_avg=load, cpu_median_ms=cpu(warm_cpu)),
        _stats(f"ledger: load + filter + aggregate, warm, all {rows:,} rows", whole, "< 300 ms",
               load_avg=load, cpu_median_ms=cpu(whole_cpu)),
        _stats(f"ledger page AppTest run, cold (fresh process), {rows:,} rows, last 30 days", page_cold, "< 1500 ms",
               load_avg=load, cpu_median_ms=cpu(page_cold_cpu)),
        _stats(f"ledger page AppTest run, warm, {rows:,} rows, last 30 days", page_s, "< 1500 ms",
               load_avg=load, cpu_median_ms=cpu(page_cpu)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=7)
    parser.add_argument("--cold", nargs=2, metavar=("load|page", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        _cold_once(args.cold[0], Path(args.cold[1]))
        return
    print(f"$ {COMMAND}" + (f" --rows {args.rows}" if args.rows != 100_000 else "") + (f" --n {args.n}" if args.n != 7 else ""))
    for row in run(args.rows, args.n):
        print(f"{row['name']:<95} median {row['median_ms']:8.1f} ms  min {row['min_ms']:8.1f}  max {row['max_ms']:8.1f}"
              f"  n={row['n']}  target {row['target']}  | CPU median {row['cpu_median_ms']:.1f} ms, load avg {row['load_avg']:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
