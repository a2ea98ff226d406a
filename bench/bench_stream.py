"""What the streaming chat wrapper costs: per chunk, and in time to first token.

1. Per-chunk cost: one emulator reply is captured as raw SSE bytes, then replayed
   in-process (``httpx2.MockTransport``, no network, no pacing) through the bare
   SDK iterator and through ``ChatStream``.  (wrapper - raw) / chunks is what the
   wrapper adds to every chunk.
2. Time to first token: against a real emulator over loopback, the first content
   token as ``ChatStream`` reports it (what the Chat page records and shows),
   against the first byte of the same reply read with a plain HTTP client.  The
   wrapper reuses one SDK client per config; building a new client per call (as
   it did first) is measured too, because that cost is what the reuse removed.

    python -m bench.bench_stream
"""
from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = "gpt-5.4-mini"
MESSAGES = [{"role": "user", "content": "Imagine a whole village on Mars and describe every building in detail."}]
REPLAY_REPEATS = 200
TTFT_REPEATS = 25
TTFT_LATENCY_MS = 150  # the emulator waits this long before its first byte, like a real model thinking


def _row(name: str, times_ms: list[float], ratio: float | None = None, target: str = "") -> dict:
    return {"name": name, "median_ms": statistics.median(times_ms), "min_ms": min(times_ms),
            "max_ms": max(times_ms), "ratio": ratio, "n": len(times_ms), "target": target}


def _capture_sse(emulator) -> bytes:
    import requests

    response = requests.post(
        emulator.openai_base_url + "/chat/completions",
        json={"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}},
        headers={"Authorization": "Bearer sk-bench-0123456789"}, timeout=30,
    )
    response.raise_for_status()
    return response.content


def _replay_client(body: bytes):
    import httpx2
    import openai

    def handler(request):
        return httpx2.Response(200, headers={"content-type": "text/event-stream", "x-request-id": "req_replay"},
                               content=body)

    return openai.OpenAI(api_key="sk-bench-0123456789", base_url="http://replay.invalid/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def _per_chunk_rows(emulator) -> list[dict]:
    from lib.config import ProviderConfig
    from lib.providers import openai_chat

    body = _capture_sse(emulator)
    chunks = body.count(b"data: ") - 1  # without [DONE]
    client = _replay_client(body)
    cfg = ProviderConfig("openai", "live", "http://replay.invalid/v1", "sk-bench-0123456789", "environment")
    # Hand the wrapper the replaying client through its own client cache (same key it computes).
    cache_key = (cfg.base_url, hashlib.sha256(cfg.key.encode()).hexdigest(), ())
    openai_chat._clients[cache_key] = client

    def raw_ms() -> float:
        started = time.perf_counter()
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        text = []
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    text.append(choice.delta.content)
        return (time.perf_counter() - started) * 1000

    def wrapped_ms() -> float:
        started = time.perf_counter()
        stream = openai_chat.ChatStream(cfg, model=MODEL, messages=MESSAGES, max_retries=0)
        for _ in stream:
            pass
        assert stream.turn.usage is not None and stream.turn.complete
        return (time.perf_counter() - started) * 1000

    for _ in range(10):  # warm up both paths
        raw_ms(), wrapped_ms()
    raw, wrapped = [], []
    for _ in range(REPLAY_REPEATS):  # interleaved, so drift hits both alike
        raw.append(raw_ms())
        wrapped.append(wrapped_ms())
    raw_median, wrapped_median = statistics.median(raw), statistics.median(wrapped)
    per_chunk = [(w - r) / chunks for w, r in zip(wrapped, raw)]
    return [
        _row(f"raw SDK iteration, replayed reply ({chunks} chunks)", raw),
        _row("ChatStream iteration, same reply", wrapped, wrapped_median / raw_median),
        _row("added per chunk by ChatStream", per_chunk),
    ]


def _first_byte_ms(emulator, latency_ms: int) -> float:
    import requests

    started = time.perf_counter()
    with requests.post(
        emulator.openai_base_url + "/chat/completions",
        json={"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}},
        headers={"Authorization": "Bearer sk-bench-0123456789", "X-Emulator-Latency-Ms": str(latency_ms)},
        stream=True, timeout=30,
    ) as response:
        next(response.iter_content(chunk_size=1))
        elapsed = (time.perf_counter() - started) * 1000
        for _ in response.iter_content(chunk_size=65536):  # drain, so the server is idle for the next call
            pass
    return elapsed


def _ttft_rows(emulator) -> list[dict]:
    from lib.config import ProviderConfig
    from lib.providers import openai_chat
    from lib.providers.openai_common import make_client

    cfg = ProviderConfig("openai", "live", emulator.openai_base_url, "sk-bench-0123456789", "environment",
                         extra_headers={"X-Emulator-Latency-Ms": str(TTFT_LATENCY_MS)})

    def wrapper_ttft() -> float:
        stream = openai_chat.ChatStream(cfg, model=MODEL, messages=MESSAGES, max_retries=0)
        for _ in stream:
            pass
        return stream.turn.ttft_ms

    def fresh_client_ttft() -> float:
        started = time.perf_counter()
        client = make_client(cfg, timeout=60, max_retries=0)
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        ttft = None
        for chunk in stream:
            if ttft is None and chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                ttft = (time.perf_counter() - started) * 1000
        return ttft

    wrapper_ttft(), _first_byte_ms(emulator, TTFT_LATENCY_MS)  # warm up
    first_byte, ttft, fresh = [], [], []
    for _ in range(TTFT_REPEATS):
        first_byte.append(_first_byte_ms(emulator, TTFT_LATENCY_MS))
        ttft.append(wrapper_ttft())
        fresh.append(fresh_client_ttft())
    base = statistics.median(first_byte)
    return [
        _row(f"emulator first byte, plain HTTP ({TTFT_LATENCY_MS} ms server latency)", first_byte),
        _row("TTFT seen by the caller (ChatStream, reused client)", ttft, statistics.median(ttft) / base),
        _row("TTFT with a new SDK client per call (before reuse)", fresh, statistics.median(fresh) / base),
    ]


def run() -> list[dict]:
    from emulator import start_in_thread

    emulator = start_in_thread(default_latency_ms=0)
    try:
        return _per_chunk_rows(emulator) + _ttft_rows(emulator)
    finally:
        emulator.stop()


if __name__ == "__main__":
    print("python -m bench.bench_stream")
    for row in run():
        ratio = f"  ratio {row['ratio']:.3f}" if row["ratio"] is not None else ""
        print(f"{row['name']:<66} median {row['median_ms']:9.4f} ms  min {row['min_ms']:9.4f}  "
              f"max {row['max_ms']:9.4f}{ratio}  n={row['n']}")
