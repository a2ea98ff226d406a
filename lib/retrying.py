"""One retry policy for every provider call: retry only what is safe, never past the call's deadline.

Safe means nothing can have been billed yet: the connection was refused, the server said 429 and when to
come back, or it failed with a 5xx.  A time-out is never retried (the provider may still be drawing and a
second call would be billed twice).  Each attempt gets what is left of the deadline as its own time limit,
so a hung provider ends within ``timeout_s`` however many attempts were made.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from lib import limits
from lib.errors import StudioError

T = TypeVar("T")


def is_safe_to_retry(err: StudioError) -> bool:
    if err.code in ("timeout", "insufficient_quota"):
        return False
    if err.code == "connection_refused":
        return True
    if err.http_status == 429:
        return err.retry_after is not None
    return (err.http_status or 0) >= 500


def call_with_deadline(
    attempt: Callable[[float], T],
    explain: Callable[[Exception, float], StudioError],
    *,
    timeout_s: float,
    max_retries: int = limits.MAX_RETRIES,
    retryable: Callable[[StudioError], bool] = is_safe_to_retry,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt(seconds_left)`` until it returns, or raise the ``StudioError`` that ``explain(exc, timeout_s)`` makes.

    ``explain`` turns whatever ``attempt`` raised into our error (a ``StudioError`` passes through unchanged).
    """
    deadline = time.monotonic() + timeout_s
    tries = 0
    while True:
        left = max(deadline - time.monotonic(), limits.MIN_PROVIDER_TIMEOUT_S)
        try:
            return attempt(left)
        except Exception as exc:  # noqa: BLE001 - every failure is classified below, none escapes unexplained
            err = exc if isinstance(exc, StudioError) else explain(exc, timeout_s)
            if err is not exc:
                err.__cause__ = exc
        tries += 1
        wait = err.retry_after if err.retry_after is not None else limits.RETRY_BACKOFF_S * 2 ** (tries - 1)
        if (
            tries > max_retries
            or not retryable(err)
            or wait > limits.MAX_RETRY_WAIT_S
            or time.monotonic() + wait >= deadline
        ):
            if tries > 1:
                err.message = f"{err.message} (Gave up after {tries} attempts in {timeout_s - max(deadline - time.monotonic(), 0):.0f} s.)"
            raise err
        sleep(wait)
