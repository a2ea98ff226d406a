"""SIGKILL a process in the middle of generating and recording images; the data dir must stay consistent.

The child runs the real path a page runs (the OpenAI provider against an
emulator, then ``record_call``) in a loop with unique prompts; the parent kills
it at varied moments, then reopens the ledger as a restarted app would.
"""
from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys, itertools
    sys.path.insert(0, sys.argv[1])
    from emulator import start_in_thread
    from lib.config import ProviderConfig
    from lib.providers import openai_images
    from lib.store import open_store, record_call
    open_store()  # as the app does on its first page
    emu = start_in_thread()
    cfg = ProviderConfig("openai", "live", emu.openai_base_url, "sk-durability-0123456789")
    print("ready", flush=True)
    for i in itertools.count():
        prompt = f"a lighthouse number {i} in process {os.getpid()}"
        result = openai_images.generate(cfg, model="gpt-image-2", prompt=prompt, size="1024x1024", quality="low", n=2)
        record_call("generate", "generate", cfg, result, prompt=prompt)
        print("row", flush=True)
    """
)


def _run_and_kill(data_dir: Path, phase: float) -> None:
    """Let the child record two rows (to learn how long one call takes), then kill it ``phase`` of the way into the next."""
    env = {**os.environ, "STUDIO_DATA_DIR": str(data_dir)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "ready"
    assert child.stdout.readline().strip() == "row"
    started = time.monotonic()
    assert child.stdout.readline().strip() == "row"
    period = time.monotonic() - started
    time.sleep(phase * period)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)


def _check_consistent(data_dir: Path) -> int:
    """Reopen like a restarted app; return the number of rows."""
    import sqlite3

    db = data_dir / "ledger.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # a fresh process opens it (no cached handles from the parent)
    code = textwrap.dedent(
        """
        import json, sys; sys.path.insert(0, sys.argv[1])
        from lib.store import open_store
        store, ledger = open_store(sys.argv[2])
        frame = ledger.frame()
        missing = [sha for refs in frame["output_refs"] for sha in json.loads(refs) if not store.exists(sha)]
        print(len(frame), len(missing))
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(data_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows, missing = map(int, out.stdout.split())
    assert missing == 0, f"{missing} ledger rows name images that are not on disk"
    # every visible image file is whole: its bytes hash to its name and decode
    for path in (data_dir / "images").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == path.stem, f"half-written image visible: {path}"
            Image.open(io.BytesIO(data)).load()
    return rows


def test_sigkill_mid_generation_leaves_a_consistent_ledger_and_store(tmp_path):
    data_dir = tmp_path / "data"
    rows_seen = []
    for phase in (0.15, 0.35, 0.55, 0.75, 0.95):  # varied moments: mid-request, mid-write, mid-commit
        _run_and_kill(data_dir, phase)
        rows_seen.append(_check_consistent(data_dir))
    assert rows_seen[-1] > 0, "the child never got to record a row: the test proved nothing"
    assert rows_seen == sorted(rows_seen), "rows committed before a kill must survive it"


IN_FLIGHT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from emulator import start_in_thread
    from lib.config import ProviderConfig
    from lib.providers import openai_images
    from lib.store import begin_call, record_call
    emu = start_in_thread()
    cfg = ProviderConfig("openai", "live", emu.openai_base_url, "sk-durability-0123456789")
    prompt = "a lighthouse that takes its time [latency:20000]"
    call_id = begin_call("generate", "generate", cfg, prompt=prompt, model="gpt-image-2", estimate_usd=0.04)
    print(call_id, flush=True)
    result = openai_images.generate(cfg, model="gpt-image-2", prompt=prompt, size="1024x1024", quality="low")
    record_call("generate", "generate", cfg, result, prompt=prompt, call_id=call_id)
    """
)


def test_a_call_in_flight_when_the_process_is_killed_is_on_the_ledger_as_interrupted(store_dir):
    env = {**os.environ, "STUDIO_DATA_DIR": str(store_dir)}
    child = subprocess.Popen([sys.executable, "-c", IN_FLIGHT, str(ROOT)], env=env, stdout=subprocess.PIPE, text=True)
    call_id = child.stdout.readline().strip()
    assert call_id, "the child never began its call"
    time.sleep(0.5)  # the request is out, the emulator is holding it
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    code = textwrap.dedent(
        """
        import sys; sys.path.insert(0, sys.argv[1])
        from lib.store import open_store
        _, ledger = open_store(sys.argv[2])
        row = ledger.get(sys.argv[3])
        print(row.status, round(ledger.committed_spend(), 2), row.prompt)
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(store_dir), call_id], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(" ", 2) == ["interrupted", "0.04", "a lighthouse that takes its time [latency:20000]\n"]
