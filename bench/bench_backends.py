"""The ledger page and record_call on SQLite + folder next to PostgreSQL + S3, on the same synthetic rows.

    python bench/bench_backends.py [--rows 1000000] [--n 5]

PostgreSQL is a throwaway local cluster and S3 is moto's server on loopback (both as the tests start
them, ``tests/servers.py``), so the numbers compare the code paths on one machine, not a network.
Per backend: seeding (insert_many, chunks of 100,000; then VACUUM ANALYZE on PostgreSQL, as autovacuum
would have done in a running database); in a fresh process, opening the store (connect,
migrations checked, interrupted calls settled, bucket reached) and then the ledger page's work
(``load_filter_aggregate``: 90 days + a prompt search for "fox", which half the rows hold, then for a rare
phrase); the ledger page's first AppTest run in a fresh
process (after the home page, which opens the store); and ``record_call`` of a 1024x1024 PNG (stored, priced, committed).  Medians, and the ratio
PostgreSQL + S3 / SQLite + folder.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ledger import synthetic_rows  # noqa: E402
from bench.bench_store import _pngs  # noqa: E402

COMMAND = "python bench/bench_backends.py"
CHUNK = 100_000


_OPEN_AND_WORK = """
import sys, time
sys.path.insert(0, sys.argv[1])
from bench.bench_ledger import load_filter_aggregate
from lib.store import open_store
t0 = time.perf_counter()
store, ledger = open_store(sys.argv[2])
t1 = time.perf_counter()
load_filter_aggregate(ledger)
t2 = time.perf_counter()
load_filter_aggregate(ledger, text=sys.argv[3])
print(t1 - t0, t2 - t1, time.perf_counter() - t2)
"""
RARE_SEARCH = "neon whale robot"  # three words in this order: about 0.3 % of the synthetic prompts ("fox": half)


def _fresh_process(what: str, data: Path, env: dict) -> float:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_ledger.py"), "--cold", what, str(data)],
                          capture_output=True, text=True, check=True, env=env)
    return float(done.stdout.split()[-2])  # wall seconds


def _open_then_work(data: Path, env: dict) -> tuple[float, float, float]:
    """In a fresh process: seconds to open the store (connect, check migrations, settle interrupted calls,
    reach the bucket), then the ledger page's work (searching "fox"), then the same work searching a rare phrase."""
    done = subprocess.run([sys.executable, "-c", _OPEN_AND_WORK, str(ROOT), str(data), RARE_SEARCH],
                          capture_output=True, text=True, check=True, env=env)
    opened, work, rare = map(float, done.stdout.split()[-3:])
    return opened, work, rare


def _measure(label: str, data: Path, env: dict, rows: int, n: int) -> dict:
    os.environ.update(env)
    import lib.store
    from lib.config import ProviderConfig
    from lib.types import GeneratedImage, ImageResult, Usage

    lib.store._stores.clear()
    _, ledger = lib.store.open_store(data)
    started = time.perf_counter()
    for start in range(0, rows, CHUNK):
        ledger.insert_many(synthetic_rows(min(CHUNK, rows - start), seed=start))
    seeded = time.perf_counter() - started
    if not ledger.db.sqlite:  # what autovacuum does to a database that has been running: statistics, visibility map
        with ledger.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    cold = [_open_then_work(data, {**os.environ}) for _ in range(n)]
    page = [_fresh_process("page", data, {**os.environ}) for _ in range(max(3, n // 2))]
    cfg = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-bench-0123456789", "environment")
    records = []
    for picture in _pngs(n + 1):
        result = ImageResult("openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(picture)],
                             params={"size": "1024x1024", "quality": "low"}, usage=Usage(30, 272))
        t0 = time.perf_counter()
        lib.store.record_call("generate", "generate", cfg, result, prompt="a bench lighthouse", data_dir=data)
        records.append(time.perf_counter() - t0)
    ledger.close()
    ms = lambda samples: statistics.median(samples) * 1000  # noqa: E731
    return {"label": label, "seed_s": seeded, "open_ms": ms([c[0] for c in cold]), "cold_ms": ms([c[1] for c in cold]),
            "rare_ms": ms([c[2] for c in cold]),
            "page_ms": ms(page), "record_ms": ms(records[1:]), "n": n}


def run(rows: int = 1_000_000, n: int = 5) -> list[dict]:
    from tests.servers import start_postgres, start_s3

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = {"STUDIO_DATABASE_URL": "", "STUDIO_STORAGE_URL": ""}
        results.append(_measure("SQLite + folder", Path(tmp) / "sqlite", plain, rows, n))
        cluster, s3 = start_postgres(), start_s3()
        try:
            servers = {"STUDIO_DATABASE_URL": cluster.new_database(), "STUDIO_STORAGE_URL": f"s3://{s3.new_bucket()}/bench",
                       "AWS_ENDPOINT_URL": s3.endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"}
            results.append(_measure("PostgreSQL + S3", Path(tmp) / "pg", servers, rows, n))
        finally:
            cluster.stop()
            s3.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=5)
    args = parser.parse_args()
    print(f"$ {COMMAND}" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "") + (f" --n {args.n}" if args.n != 5 else ""))
    results = run(args.rows, args.n)
    base = results[0]
    for what, key in (("open the store, fresh process", "open_ms"),
                      ("ledger page work after it (90 days + search)", "cold_ms"),
                      (f"the same, searching {RARE_SEARCH!r}", "rare_ms"),
                      ("ledger page AppTest run, fresh process", "page_ms"),
                      ("record_call, 1024x1024 PNG", "record_ms")):
        for result in results:
            ratio = result[key] / base[key] if base[key] else float("nan")
            print(f"{what:<52} {result['label']:<16} {args.rows:>9,} rows  median {result[key]:8.1f} ms  "
                  f"x{ratio:.2f} of SQLite  (n={result['n']})")
    for result in results:
        print(f"seeding {args.rows:,} rows (insert_many)              {result['label']:<16} {result['seed_s']:.0f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (the machine is shared: read ratios, not absolutes)")


if __name__ == "__main__":
    main()
