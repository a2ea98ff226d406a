"""A delete racing a record: no row may ever name a picture that is not stored (threads, and two processes).

Each round stores a fresh picture in a row that is then deleted (so the picture becomes an orphan
and is removed) while another writer records a new row with the very same picture.  Whichever wins,
the new row's picture must be there afterwards.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from PIL import Image

from lib.config import ProviderConfig
from lib.store import open_store, record_call
from lib.types import GeneratedImage, ImageResult

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 60
CFG = ProviderConfig("openai", "demo", "http://127.0.0.1:9/v1", None, "demo")


def picture(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (i % 256, (i // 256) % 256, 77)).save(buf, "PNG")
    return buf.getvalue()


def result(data: bytes) -> ImageResult:
    return ImageResult("openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(data)])


def missing_pictures(data_dir: Path) -> list[str]:
    images, ledger = open_store(data_dir)
    return [sha for row in ledger.rows() for sha in row.output_refs if not images.exists(sha)]


def test_threads_deleting_and_recording_the_same_picture_never_leave_a_row_without_it(store_dir):
    for i in range(ROUNDS):
        data = picture(i)
        doomed = record_call("generate", "generate", CFG, result(data), prompt=f"doomed {i}", data_dir=store_dir)
        _, ledger = open_store(store_dir)
        start = threading.Barrier(2)
        errors = []

        def delete():
            start.wait()
            ledger.delete([doomed.id])

        def record():
            start.wait()
            try:
                record_call("generate", "generate", CFG, result(data), prompt=f"kept {i}", data_dir=store_dir)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=delete), threading.Thread(target=record)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    _, ledger = open_store(store_dir)
    assert ledger.count() == ROUNDS  # every kept row, no doomed one
    assert missing_pictures(store_dir) == []


RECORDER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from tests.durability.test_delete_race import CFG, picture, result
    from lib.store import open_store, record_call
    open_store(sys.argv[2])
    for line in sys.stdin:
        i = int(line)
        print("go", flush=True)  # the parent deletes the doomed row as this one is recorded
        record_call("generate", "generate", CFG, result(picture(i)), prompt=f"kept {i}", data_dir=sys.argv[2])
        print("done", flush=True)
    """
)


def test_another_process_recording_the_picture_a_delete_removes_never_leaves_a_row_without_it(store_dir):
    _, ledger = open_store(store_dir)
    child = subprocess.Popen([sys.executable, "-c", RECORDER, str(ROOT), str(store_dir)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        for i in range(ROUNDS):
            doomed = record_call("generate", "generate", CFG, result(picture(i)), prompt=f"doomed {i}", data_dir=store_dir)
            child.stdin.write(f"{i}\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "go"
            ledger.delete([doomed.id])
            assert child.stdout.readline().strip() == "done"
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    assert child.returncode == 0
    assert ledger.count() == ROUNDS
    assert missing_pictures(store_dir) == []
