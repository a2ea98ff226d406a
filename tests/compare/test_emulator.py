"""A real comparison against the emulator: real providers over loopback HTTP, the real store and ledger.

They use this folder's own emulator (conftest.py), so the SDK's background
retries of a timed-out request never reach another test's call log.
"""
from __future__ import annotations

import csv
import io
import zipfile

from PIL import Image

from lib import compare
from lib.compare import Target, leaderboard, run_compare
from lib.config import resolve
from lib.errors import ProviderDown
from lib.store import open_store

TIMEOUT_S = 8.0  # generous for a busy shared machine; conftest.py's emulator hangs for 60 s


def three_targets():
    return [
        Target("gpt-image-2 low", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "low"}),
        Target("Karlo 640x512", "karlo", "karlo-v2.1", {"width": 640, "height": 512}),
        Target("gpt-image-2 hung", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "low"},
               extra_headers={compare.FAULT_HEADER: "hang"}),
    ]


def test_three_targets_one_hung_gives_two_results_one_timeout_and_three_rows(env):
    emulator_calls = env
    configs = resolve()
    arrived = []
    run = run_compare(configs, ["a lighthouse at dusk"], three_targets(), timeout_s=TIMEOUT_S,
                      on_result=lambda cell: arrived.append(cell.target.label))

    low, karlo, hung = run.cells
    assert low.status == "ok" and Image.open(io.BytesIO(low.result.images[0].data)).size == (1024, 1024)
    assert karlo.status == "ok" and Image.open(io.BytesIO(karlo.result.images[0].data)).size == (640, 512)
    assert isinstance(hung.error, ProviderDown) and "timed out" in hung.error.message
    assert arrived[-1] == "gpt-image-2 hung"  # the two answers were shown before the hung one gave up

    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert len(rows) == 3
    by_status = sorted((r.status, r.provider, r.action, r.page, r.backend) for r in rows)
    assert by_status == [("error", "openai", "generate", "compare", "live"), ("ok", "karlo", "t2i", "compare", "live"),
                         ("ok", "openai", "generate", "compare", "live")]
    ok_rows = {r.provider: r for r in rows if r.status == "ok"}
    assert ok_rows["openai"].output_tokens and ok_rows["openai"].cost_usd is not None
    assert ok_rows["openai"].params["quality"] == "low" and ok_rows["karlo"].params["width"] == 640
    assert all(r.output_refs and r.latency_ms for r in ok_rows.values())
    error_row = next(r for r in rows if r.status == "error")
    assert "timed out" in error_row.error_message
    # Only the hung target's request carried the fault.
    faulted = [c for c in emulator_calls if c["path"] == "/v1/images/generations"
               and c["headers"].get("x-emulator-fault") == "hang"]
    clean = [c for c in emulator_calls if "x-emulator-fault" not in c["headers"]]
    assert faulted and sorted(c["path"] for c in clean) == ["/v1/images/generations", "/v2/inference/karlo/t2i"]


def test_an_exported_comparison_reads_pictures_from_the_store_once_memory_let_go(env):
    run = run_compare(resolve(), ["a fox"], three_targets()[:2], timeout_s=TIMEOUT_S)
    store, _ = open_store()
    sizes = [Image.open(io.BytesIO(c.result.images[0].data)).size for c in run.cells]
    run.forget_stored_images()
    assert all(c.result.images == [] for c in run.cells)
    zf = zipfile.ZipFile(io.BytesIO(compare.export_zip(run, store)))
    pictures = sorted(n for n in zf.namelist() if n.startswith("images/"))
    assert len(pictures) == 2 and pictures[1].endswith(".webp")  # Karlo answers in WebP by default
    assert sorted(Image.open(io.BytesIO(zf.read(n))).size for n in pictures) == sorted(sizes)
    rows = list(csv.DictReader(io.StringIO(zf.read("comparison.csv").decode())))
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(r["ledger_id"] and r["images"] for r in rows)


def test_votes_move_the_leaderboard(env):
    configs = resolve()
    targets = three_targets()[:2]
    run = run_compare(configs, ["a fox", "an owl"], targets, timeout_s=10)
    assert [c.status for c in run.cells] == ["ok"] * 4
    _, ledger = open_store()
    labels = [t.label for t in targets]

    ledger.add_vote(run.group_id, "a fox", labels[0], labels)
    board = leaderboard(ledger.votes_frame()).set_index("target")
    assert board.loc[labels[0], "win_rate"] == 1.0 and board.loc[labels[1], "win_rate"] == 0.0

    ledger.add_vote(run.group_id, "an owl", labels[1], labels)
    ledger.add_vote(run.group_id, "a fox", compare.TIE, labels)  # changes the earlier fox vote
    board = leaderboard(ledger.votes_frame()).set_index("target")
    assert board.loc[labels[0], "votes"] == 2 and board.loc[labels[0], "win_rate"] == 0.25
    assert board.loc[labels[1], "win_rate"] == 0.75
