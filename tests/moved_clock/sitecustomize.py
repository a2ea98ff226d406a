"""Loaded only by the moved-clock run in .ci/run (PYTHONPATH=tests/moved_clock): every Python process of that
run (pytest, and the apps, emulators and servers it starts, which inherit PYTHONPATH) sees the calendar clock
STUDIO_MOVED_CLOCK_DAYS (400) days on, ticking.  The monotonic clock and sleeping are left alone.

Why time-machine and not Debian's libfaketime: libfaketime (an LD_PRELOAD) crashed or hung this multi-threaded
suite in server threads (a segfault in `selectors.register` in 1 of 3 whole runs and 1 of 5 runs of one file; with
its thread-safe variant, a run that spun at 100 % CPU forever), and its wrapper turns the crash into exit code 1.
time-machine moves Python's own clock functions (`time.time`, `datetime.now`, `date.today`, …) inside the process
instead.  What it cannot move are clocks read in C by other programs (PostgreSQL's `now()`, SQLite's
`CURRENT_TIMESTAMP`): the app reads neither (`tests/test_one_clock.py`).
"""
import datetime
import os

import time_machine

time_machine.travel(datetime.timedelta(days=int(os.environ.get("STUDIO_MOVED_CLOCK_DAYS", "400"))), tick=True).start()
