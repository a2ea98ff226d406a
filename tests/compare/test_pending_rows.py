"""A comparison's pending rows: written before any call goes out, in one go, and a hard budget honoured per cell."""
from __future__ import annotations

import io
import threading

from PIL import Image

from lib.compare import Target, run_compare
from lib.config import ProviderConfig
from lib.store import open_store
from lib.types import GeneratedImage, ImageResult, Usage

OPENAI = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-stub-secret-key-123456", "environment")


def png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (shade, 40, 40)).save(out, "PNG")
    return out.getvalue()


def targets(k: int) -> list[Target]:
    return [Target(f"gpt-image-2 high #{i}", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "high"})
            for i in range(k)]


def test_every_cell_is_pending_on_the_ledger_before_any_call_goes_out_and_settles_into_its_row(studio_env):
    _, ledger = open_store()
    seen_pending: list[list[str]] = []
    lock = threading.Lock()

    def call(cfg, prompt, settings):
        with lock:  # what the ledger holds at the moment this call goes out
            seen_pending.append(ledger.frame(statuses="pending")["id"].tolist())
        return ImageResult(provider="openai", model="gpt-image-2", endpoint="/stub", params={"size": "16x16"},
                           images=[GeneratedImage(png(len(seen_pending) * 30), width=16, height=16)],
                           usage=Usage(10, 20))

    run = run_compare({"openai": OPENAI}, ["a lighthouse at dusk"], targets(4), timeout_s=10, calls={"openai": call})

    ids = {cell.call_id for cell in run.cells}
    assert len(ids) == 4 and None not in ids
    assert set(seen_pending[0]) == ids  # all four rows were on the ledger before the first call went out
    rows = ledger.frame()
    assert sorted(rows["id"]) == sorted(ids) and set(rows["status"]) == {"ok"}  # one row per cell, none left pending
    assert set(rows["group_id"]) == {run.group_id}


def test_a_hard_budget_lets_the_first_targets_through_and_refuses_the_rest_in_words(studio_env):
    from lib.providers import registry

    _, ledger = open_store()
    estimate = registry.get("openai").estimate_usd("gpt-image-2", {"size": "1024x1024", "quality": "high"})
    assert estimate and estimate > 0
    ledger.set_setting("monthly_budget_usd", round(estimate * 2.5, 6))  # room for two of the four
    ledger.set_setting("monthly_budget_hard", True)
    sent = []

    def call(cfg, prompt, settings):
        sent.append(prompt)
        return ImageResult(provider="openai", model="gpt-image-2", endpoint="/stub", params={"size": "16x16"},
                           images=[GeneratedImage(png(len(sent) * 50), width=16, height=16)], usage=Usage(10, 20))

    run = run_compare({"openai": OPENAI}, ["a heron at dawn"], targets(4), timeout_s=10, calls={"openai": call})

    assert [cell.status for cell in run.cells] == ["ok", "ok", "rejected", "rejected"]
    assert len(sent) == 2  # nothing went out for the refused two
    assert all("budget" in cell.error.message for cell in run.cells[2:])
    rows = ledger.frame()
    assert len(rows) == 4 and sorted(rows["status"]) == ["ok", "ok", "rejected", "rejected"]


def test_the_cells_thumbnails_are_drawn_after_the_last_cell_is_delivered(studio_env):
    from tests.store.helpers import thumbnails_drawn

    images, _ = open_store()

    def call(cfg, prompt, settings):
        return ImageResult(provider="openai", model="gpt-image-2", endpoint="/stub", params={"size": "16x16"},
                           images=[GeneratedImage(png(60 + len(prompt)), width=16, height=16)], usage=Usage(10, 20))

    def thumb(sha: str):
        return images.thumbs_dir / sha[:2] / f"{sha}.webp"

    delivered_without_thumbnails = []
    run = run_compare({"openai": OPENAI}, ["a lighthouse", "a lighthouse at dusk"], targets(2), timeout_s=10,
                      calls={"openai": call},
                      on_result=lambda cell: delivered_without_thumbnails.append(
                          not thumb(cell.row.output_refs[0]).exists()))
    assert delivered_without_thumbnails == [True] * 4  # none drawn while the cells were still arriving
    thumbnails_drawn()
    shas = {cell.row.output_refs[0] for cell in run.cells}
    assert len(shas) == 2 and all(thumb(sha).exists() for sha in shas)  # one picture per prompt, each with its own
