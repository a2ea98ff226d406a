"""What redacting a provider's error text costs: ``lib.errors.redact`` on a typical 2 KB error body (no key in it,
a URL with percent-escapes, a request id, a few long words), with 3 remembered keys and with 256, and on the same
body echoing a key percent-encoded and in base64 (the slow path that cuts).

    python -m bench.bench_redact                 # this tree's lib/errors.py
    python -m bench.bench_redact --against REV   # and REV's (git show REV:lib/errors.py), interleaved, side by side
"""
from __future__ import annotations

import base64
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
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
NUMBER, REPEAT = 200, 15


def _medians_us(fns: dict, number: int) -> dict[str, float]:
    """Median µs per call of each function, their repeats interleaved so a busy machine slows them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(REPEAT):
        for name, fn in fns.items():
            times[name].append(timeit.timeit(fn, number=number) / number * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def _errors_at(rev: str):
    """``lib/errors.py`` as it was at ``rev``, loaded as its own module (its own remembered keys)."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{rev}:lib/errors.py"], cwd=root, check=True, capture_output=True).stdout
    path = Path(tempfile.mkdtemp()) / "errors_then.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("errors_then", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(against: str | None = None) -> list[dict]:
    import secrets

    from lib import errors

    versions = {"now": errors, **({against: _errors_at(against)} if against else {})}
    for module in versions.values():
        for k in KEYS:
            module.remember_secret(k)
    rows = []
    cases = [(f"redact, {len(BODY)}-char error body, 3 keys known", BODY, NUMBER),
             (f"redact, {len(ECHOED)}-char body echoing keys percent-encoded and in base64, 3 keys", ECHOED, NUMBER)]
    for label, text, number in cases:
        medians = _medians_us({name: (lambda m=m, t=text: m.redact(t)) for name, m in versions.items()}, number)
        rows += [{"name": f"{label} [{name}]", "median_us": us} for name, us in medians.items()]
    extra = ["sk-proj-" + secrets.token_urlsafe(30) for _ in range(253)]
    for module in versions.values():
        for k in extra:
            module.remember_secret(k)
        module.redact("warm the cache")
    medians = _medians_us({name: (lambda m=m: m.redact(BODY)) for name, m in versions.items()}, 10)
    rows += [{"name": f"redact, {len(BODY)}-char error body, 256 keys known [{name}]", "median_us": us}
             for name, us in medians.items()]
    return rows


if __name__ == "__main__":
    against = sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else None
    for row in run(against):
        print(f"{row['median_us']:10.1f} us  {row['name']}")
