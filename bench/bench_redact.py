"""What redacting a provider's error text costs: ``lib.errors.redact`` on a typical 2 KB error body (no key in it,
a URL with percent-escapes, a request id, a few long words), with 3 remembered keys and with 256, and on the same
body echoing a key percent-encoded and in base64 (the slow path that cuts).

    python -m bench.bench_redact
"""
from __future__ import annotations

import base64
import json
import statistics
import sys
import timeit
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEYS = ["sk-proj-Zq81vLr0Kc3mWt5YhN2pXb7GdE9sJf4uAa6", "3f9c2a71d0b84e6f95a1c7d3e8b2f406",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"]
SENTENCE = ("Invalid value for 'size': expected one of 1024x1024, 1536x1024, 1024x1536 or auto. See "
            "https://platform.openai.com/docs/api-reference/images/create?lang=en%20GB#images-create-size for details; "
            "request req_5f1c2a9b7d3e4f60 was rejected by the gateway at edge-fra-03.example.net after 123 ms. ")
BODY = json.dumps({"error": {"message": SENTENCE * 8, "type": "invalid_request_error", "param": "size",
                             "code": "invalid_value"}})[:2048]
ECHOED = (BODY[:900] + " url=https://x.test/?key=" + urllib.parse.quote(KEYS[0], safe="") + " auth=Basic "
          + base64.b64encode(f"user:{KEYS[1]}".encode()).decode() + " " + BODY[900:1900])
NUMBER, REPEAT = 300, 7


def _median_us(fn) -> float:
    return statistics.median(timeit.repeat(fn, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6


def run() -> list[dict]:
    import secrets

    from lib import errors

    rows = []
    for k in KEYS:
        errors.remember_secret(k)
    rows.append({"name": f"redact, {len(BODY)}-char error body, 3 keys known", "median_us": _median_us(lambda: errors.redact(BODY))})
    rows.append({"name": f"redact, {len(ECHOED)}-char body echoing keys percent-encoded and in base64, 3 keys",
                 "median_us": _median_us(lambda: errors.redact(ECHOED))})
    for _ in range(253):
        errors.remember_secret("sk-proj-" + secrets.token_urlsafe(30))
    rows.append({"name": f"redact, {len(BODY)}-char error body, 256 keys known", "median_us": _median_us(lambda: errors.redact(BODY))})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['median_us']:9.1f} us  {row['name']}")
