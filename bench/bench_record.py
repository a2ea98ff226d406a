"""Recording results that land at once: what Compare does after its answers arrive, without the network.

k cells' results (real ones, taken from the emulator once: GPT Image 2, Karlo, Nano Banana 2 at 512 px, a
compatible server's dall-e-2) are recorded by k threads released together, each picture new to the store (a few
pixels changed per round), every pending row written before, thumbnails held as Compare holds them: the wall time
until every row is settled.  That is the tail of a Compare run that ``bench_compare`` shows the ledger and the store
adding to (its layer "engines without ledger or store").  Two picture checks, interleaved in each round: the full
decode the store did before (libspng, holding the interpreter lock) and ``lib.imaging.verify_picture`` (an 8-bit
RGB(A) PNG inflated without the lock, its pixels decoded later for the thumbnail).

    python -m bench.bench_record          # k = 1, 4, 6; 15 rounds
"""
from __future__ import annotations

import dataclasses
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

K_VALUES = (1, 4, 6)
ROUNDS = 15


def _captured() -> list[tuple]:
    """(config, outcome, record) of one Compare run's six cells, as ``send.record_outcome`` received them."""
    from bench import bench_compare
    from lib import send

    captured, real = [], send.record_outcome

    def keep(cfg, outcome, record=None):
        captured.append((cfg, outcome, record))
        return real(cfg, outcome, record=record)

    send.record_outcome = keep
    try:
        with bench_compare._own_process_emulator(0) as base_url:
            bench_compare._compare_timer(base_url)("a lighthouse at dusk", bench_compare._targets(6))
    finally:
        send.record_outcome = real
    return captured


def _changed(data: bytes, rng) -> bytes:
    """The same picture with eight pixels changed, so the store has not seen it (lossless, same format)."""
    import numpy as np
    from PIL import Image

    picture = Image.open(io.BytesIO(data))
    pixels = np.array(picture)
    pixels.flat[rng.integers(0, pixels.size, 8)] = rng.integers(0, 255, 8)
    out = io.BytesIO()
    Image.fromarray(pixels, picture.mode).save(out, picture.format, **({"lossless": True} if picture.format == "WEBP" else {}))
    return out.getvalue()


def _prepared(captured: list[tuple], k: int, rng) -> list[tuple]:
    """k cells with new pictures and their pending rows written, ready to be recorded."""
    from lib import send

    cells = []
    for cfg, outcome, record in captured[:k]:
        images = [dataclasses.replace(image, data=_changed(image.data, rng)) for image in outcome.result.images]
        pending = send.Outcome(outcome.request)
        send.begin_outcomes([(cfg, pending)], timeout=60)
        cells.append((cfg, dataclasses.replace(outcome, result=dataclasses.replace(outcome.result, images=images),
                                               call_id=pending.call_id), record))
    return cells


def _record_together(cells: list[tuple]) -> float:
    """Wall ms from releasing the k threads until the last row is settled."""
    from lib import send
    from lib.store.images import thumbnails_drawn, thumbnails_held

    gate, finished = threading.Barrier(len(cells) + 1), []

    def record(cell) -> None:
        gate.wait()
        outcome = send.record_outcome(cell[0], cell[1], record=cell[2])
        if outcome.ledger_problem or outcome.row.status != "ok":
            raise RuntimeError(outcome.ledger_problem or outcome.row.error_message)
        finished.append(time.perf_counter())

    threads = [threading.Thread(target=record, args=(cell,)) for cell in cells]
    with thumbnails_held():
        for thread in threads:
            thread.start()
        time.sleep(0.01)  # every thread waiting at the gate
        started = time.perf_counter()
        gate.wait()
        for thread in threads:
            thread.join()
    thumbnails_drawn()  # outside the timing, as between two Compare runs
    if len(finished) != len(cells):
        raise RuntimeError("a cell was not recorded")
    return (max(finished) - started) * 1000


def run(rounds: int = ROUNDS) -> list[dict]:
    """Rows {name, median_ms, min_ms, max_ms, ratio, n, target}: per k, the full decode, then verify_picture with its
    ratio to the full decode."""
    import numpy as np

    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-record-")
    from lib import imaging
    from lib.store import images as image_store

    captured = _captured()
    checks = {
        "full decode (libspng, before)": lambda data, label="The picture": imaging.decode_picture(
            data, label=label, fit_within=image_store.THUMB_MAX_PX),
        "verify_picture (now)": imaging.verify_picture,
    }
    rng = np.random.default_rng(0)
    times: dict[tuple[str, int], list[float]] = {(name, k): [] for name in checks for k in K_VALUES}
    try:
        for _ in range(rounds):
            for name, check in checks.items():
                image_store.imaging.verify_picture = check  # lib.store.images calls it through the module
                for k in K_VALUES:
                    times[(name, k)].append(_record_together(_prepared(captured, k, rng)))
    finally:
        image_store.imaging.verify_picture = checks["verify_picture (now)"]
    rows = []
    for k in K_VALUES:
        before = statistics.median(times[(next(iter(checks)), k)])
        for name in checks:
            measured = times[(name, k)]
            rows.append({"name": f"record {k} result{'s' if k > 1 else ''} landing at once, check: {name}",
                         "median_ms": statistics.median(measured), "min_ms": min(measured), "max_ms": max(measured),
                         "ratio": statistics.median(measured) / before, "n": len(measured),
                         "target": "ratio: to the full decode" if "now" in name else ""})
    return rows


if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for row in run():
        print(f"{row['name']:<78} median {row['median_ms']:7.2f} ms  min {row['min_ms']:7.2f}  max {row['max_ms']:7.2f}"
              f"  ratio {row['ratio']:.3f}  n={row['n']}", flush=True)
