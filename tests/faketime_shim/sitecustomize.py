"""Loaded only by the moved-clock run in .ci/run (PYTHONPATH=tests/faketime_shim), which starts Python under
Debian's faketime with FAKETIME_DONT_FAKE_MONOTONIC=1.

Why the shim: libfaketime 0.9.10 either fakes the monotonic clock too, and then every lock or queue wait with a
time-out (sem_clockwait on CLOCK_MONOTONIC) waits 400 days; or, with the monotonic clock left alone, it still
rewrites absolute clock_nanosleep deadlines as if it were faked, so time.sleep() fails with EINVAL.  The run is
about the calendar (wall) clock, so monotonic stays real and sleeping goes through a timed wait, which works.
"""
import threading
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
