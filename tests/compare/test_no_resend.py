"""A target Compare gave up on is not sent again behind its back (a second try would be billed, and never shown)."""
from __future__ import annotations

import time

from lib import compare
from lib.compare import Target, run_compare
from lib.config import resolve


def test_a_timed_out_openai_target_is_sent_once(env):
    emulator_calls = env
    hung = Target("gpt-image-2 hung", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "low"},
                  extra_headers={compare.FAULT_HEADER: "hang"})
    run = run_compare(resolve(), ["a kite over the dunes"], [hung], timeout_s=1.0)
    assert run.cells[0].status == "error" and "timed out" in run.cells[0].error.message
    # With the SDK's default budget a retry would go out ~0.5-1 s after the 1 s read timeout; wait past that.
    time.sleep(2.5)
    sent = [c for c in list(emulator_calls) if c["path"] == "/v1/images/generations"]
    assert len(sent) == 1 and sent[0]["headers"].get("x-stainless-retry-count") == "0"
