"""What showing a streamed chat reply safely costs per chunk: ``chat_markdown`` (images made inert) and the key
redaction the Chat page runs on the text so far, for every 40-character chunk of a 2.4 KB reply, against the
bare concatenation the page would do anyway.

    python -m bench.bench_safe_text
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPEATS = 15
KEY = "sk-proj-Zq81vLr0Kc3mWt5YhN2pXb7GdE9sJf4uAa6"
PLAIN = ("Here is a **village on Mars**: domes of red glass, `pressure locks`, and terraces.\n- one\n- two\n\n"
         "```html\n<div class='dome'>x</div>\n```\n") * 18
WITH_IMAGE = PLAIN + "\n![a dome](https://example.invalid/dome.png)\n"
CHUNK = 40


def _row(name: str, times_ms: list[float], ratio: float | None = None, target: str = "") -> dict:
    return {"name": name, "median_ms": statistics.median(times_ms), "min_ms": min(times_ms),
            "max_ms": max(times_ms), "ratio": ratio, "n": len(times_ms), "target": target}


def _per_reply(reply: str, show) -> list[float]:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        text = ""
        for i in range(0, len(reply), CHUNK):
            text += reply[i:i + CHUNK]
            show(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def run() -> list[dict]:
    from lib.errors import redact_known
    from lib.ui.safe_text import chat_markdown

    chunks = -(-len(PLAIN) // CHUNK)
    bare = _per_reply(PLAIN, lambda text: text)
    rows = [_row(f"bare concatenation, {len(PLAIN)} chars in {chunks} chunks", bare)]
    for label, reply in (("reply without images", PLAIN), ("reply with one image", WITH_IMAGE)):
        safe = _per_reply(reply, lambda text: chat_markdown(redact_known(text, [KEY])))
        per_chunk = (statistics.median(safe) - statistics.median(bare)) / chunks
        rows.append(_row(f"chat_markdown + redact per reply, {label}", safe,
                         target=f"{per_chunk:.2f} ms added per chunk"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
