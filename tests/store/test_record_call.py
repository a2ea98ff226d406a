"""record_call: images before rows, errors recorded honestly, keys never written anywhere."""
from __future__ import annotations

import pytest

from lib.config import resolve
from lib.errors import ContentRejected, QuotaExceeded
from lib.store import open_store, record_call
from lib.store.ledger import Ledger
from lib.types import ChatTurn, GeneratedImage, ImageResult, Usage

from .helpers import cfg, jpeg, png


def image_result(*images: bytes, model="gpt-image-2", **kw) -> ImageResult:
    return ImageResult(
        "openai", model, "/v1/images/generations",
        [GeneratedImage(data, width=None, height=None) for data in images],
        params={"size": "1024x1024", "quality": "medium"},
        usage=Usage(50, 1056, {"input_tokens_details": {"text_tokens": 50, "image_tokens": 0}}),
        request_id="req_abc", latency_ms=812.0, **kw,
    )


def test_a_generation_is_recorded_with_its_images_and_cost(tmp_path):
    output = png(96, 64)
    row = record_call(
        "generate", "generate", cfg(), image_result(output),
        prompt="a red kite", params={"n": 1, "size": "1024x1024"}, group_id="run-1", data_dir=tmp_path,
    )
    images, ledger = open_store(tmp_path)
    stored = ledger.get(row.id)
    assert stored.status == "ok" and stored.backend == "live" and stored.provider == "openai"
    assert stored.model == "gpt-image-2" and stored.endpoint == "/v1/images/generations"
    assert (stored.n_images, stored.width, stored.height) == (1, 96, 64)
    assert images.read(stored.output_refs[0]) == output
    assert stored.params == {"n": 1, "size": "1024x1024", "quality": "medium"}
    assert stored.cost_source == "computed" and stored.cost_usd == pytest.approx(50 * 5e-6 + 1056 * 30e-6)
    assert (stored.input_tokens, stored.output_tokens, stored.request_id, stored.latency_ms) == (50, 1056, "req_abc", 812.0)
    assert stored.app_version


def test_inputs_and_mask_are_stored_and_named(tmp_path):
    source, mask = jpeg(), png(colour=(0, 0, 0, 0))
    row = record_call("edit", "inpaint", cfg(), image_result(png()), inputs=[source], mask=mask, data_dir=tmp_path)
    images, _ = open_store(tmp_path)
    assert images.read(row.input_refs[0]) == source and images.read(row.mask_ref) == mask


def test_every_image_is_on_disk_before_its_row_is_committed(tmp_path, monkeypatch):
    images, _ = open_store(tmp_path)
    seen = []
    real_insert = Ledger.insert

    def checking_insert(self, row, **kw):
        seen.append(all(images.exists(sha) for sha in [*row.input_refs, *row.output_refs]))
        return real_insert(self, row, **kw)

    monkeypatch.setattr(Ledger, "insert", checking_insert)
    record_call("edit", "edit", cfg(), image_result(png(), png(colour=(9, 9, 9, 255))), inputs=[jpeg()], data_dir=tmp_path)
    assert seen == [True]


def test_a_failed_call_records_status_and_error_and_no_silent_zero(tmp_path):
    err = QuotaExceeded("OpenAI says: slow down. Try again in 20 s.", provider="openai", http_status=429,
                        code="rate_limit_exceeded", request_id="req_429", retry_after=20)
    row = record_call("generate", "generate", cfg(), error=err, model="gpt-image-2", prompt="kept", data_dir=tmp_path)
    stored = open_store(tmp_path)[1].get(row.id)
    assert (stored.status, stored.http_status, stored.error_code, stored.request_id) == ("error", 429, "rate_limit_exceeded", "req_429")
    assert stored.error_message.startswith("OpenAI says: slow down")
    assert stored.cost_usd is None and stored.cost_source == "unpriced"
    assert stored.prompt == "kept" and stored.output_refs == [] and stored.n_images is None


def test_a_rejected_prompt_is_rejected_not_error(tmp_path):
    err = ContentRejected("The safety system refused this prompt.", http_status=400, code="moderation_blocked")
    row = record_call("generate", "generate", cfg(), error=err, model="gpt-image-2", data_dir=tmp_path)
    assert row.status == "rejected" and row.error_code == "moderation_blocked"


def test_chat_turn_and_a_stopped_stream(tmp_path):
    turn = ChatTurn("gpt-4o-mini", "Hello there", Usage(12, 3), request_id="req_c", latency_ms=300, ttft_ms=80, finish_reason="stop")
    row = record_call("chat", "chat", cfg(), turn, prompt="hi", group_id="conv-1", data_dir=tmp_path)
    assert (row.output_text, row.cost_source, row.ttft_ms, row.n_images) == ("Hello there", "computed", 80.0, None)
    stopped = ChatTurn("gpt-4o-mini", "Hel", None, complete=False)
    row = record_call("chat", "chat", cfg(), stopped, prompt="hi", group_id="conv-1", data_dir=tmp_path)
    assert (row.status, row.output_text, row.cost_usd, row.cost_source) == ("cancelled", "Hel", None, "unpriced")
    assert [r.id for r in open_store(tmp_path)[1].rows(group_id="conv-1")][-1] == row.id


def test_karlo_demo_row_is_free_and_keeps_seeds(tmp_path):
    result = ImageResult("karlo", "karlo-v2", "/v2/inference/karlo/t2i", [GeneratedImage(png(), seed=7), GeneratedImage(png(colour=(5, 5, 5, 255)), seed=8)])
    row = record_call("generate", "t2i", cfg("karlo", mode="demo", key="demo-key"), result, prompt="a fox", data_dir=tmp_path)
    assert (row.backend, row.cost_usd, row.cost_source, row.n_images) == ("demo", 0.0, "table", 2)
    assert row.usage_detail["seeds"] == [7, 8]
    assert open_store(tmp_path)[1].spend() == 0.0  # demo rows stay out of spending


def test_a_key_in_the_environment_never_reaches_disk_or_exports(live_env, tmp_path):
    openai_key = "sk-test-live-key-0123456789"
    karlo_key = "kakao-test-live-key-0123456789"
    configs = resolve()
    assert configs["openai"].mode == "live" and configs["openai"].key == openai_key

    careless = f"my key is {openai_key} and {karlo_key}"
    record_call("generate", "generate", configs["openai"], image_result(png()), prompt=careless,
                params={"size": "1024x1024", "note": careless})
    record_call("chat", "chat", configs["openai"], ChatTurn("gpt-4o-mini", careless, Usage(5, 5)), prompt=careless)
    record_call("generate", "t2i", configs["karlo"], error=QuotaExceeded(
        f"Karlo refused key KakaoAK {karlo_key}", http_status=400, code="-10", detail=f"Authorization: KakaoAK {karlo_key}"),
        prompt=careless)
    images, ledger = open_store()
    csv_path = tmp_path / "export.csv"
    ledger.frame().to_csv(csv_path, index=False)
    parquet_path = tmp_path / "export.parquet"
    ledger.frame().to_parquet(parquet_path, index=False)

    scanned = [p for p in live_env.rglob("*") if p.is_file()] + [csv_path, parquet_path]
    assert any(p.name.startswith("ledger.sqlite3") for p in scanned) and any(p.suffix == ".png" for p in scanned)
    for path in scanned:
        blob = path.read_bytes()
        for key in (openai_key, karlo_key):
            assert key.encode() not in blob, f"{key[:8]}… found in {path}"
    assert "[redacted]" in csv_path.read_text()
