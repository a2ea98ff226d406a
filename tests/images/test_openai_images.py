"""The OpenAI images provider against the real emulator over loopback, through the real SDK."""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from lib import catalog, config
from lib.errors import AuthError, ContentRejected, InvalidInput, NotAvailable, ProviderDown, QuotaExceeded
from lib.providers import openai_images as oi


@pytest.fixture
def cfg(live_env):
    catalog.forget_available_models()
    resolved = config.resolve()["openai"]
    assert resolved.mode == "live"
    return resolved


@pytest.fixture
def compat_cfg(cfg, emulator):
    """The same key against an OpenAI-compatible server that still speaks DALL·E."""
    return dataclasses.replace(cfg, base_url=emulator.compat_base_url)


def with_fault(cfg, fault):
    return dataclasses.replace(cfg, extra_headers={"X-Emulator-Fault": fault})


def png(width, height, color=(40, 120, 200, 255)):
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_generate_returns_decoded_images_usage_and_request_id(cfg, emulator_calls):
    result = oi.generate(cfg, model="gpt-image-2", prompt="a lighthouse at dusk", size="1536x864", quality="low", n=2)
    assert result.endpoint == "/v1/images/generations" and result.model == "gpt-image-2"
    assert [(i.width, i.height, i.mime) for i in result.images] == [(1536, 864, "image/png")] * 2
    assert result.images[0].data != result.images[1].data
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.details["output_tokens_details"]["image_tokens"] == result.usage.output_tokens
    assert result.request_id.startswith("req_")
    assert result.latency_ms > 0 and result.ttft_ms is None
    assert result.params == {"model": "gpt-image-2", "n": 2, "size": "1536x864", "quality": "low"}
    sent = emulator_calls[-1]["body"]
    assert sent["prompt"] == "a lighthouse at dusk" and sent["size"] == "1536x864"
    assert "response_format" not in sent  # GPT image models refuse it


def test_output_format_sets_the_mime_and_the_bytes(cfg):
    result = oi.generate(cfg, model="gpt-image-2", prompt="a pear", size="1024x1024", output_format="jpeg",
                         output_compression=60)
    assert result.images[0].mime == "image/jpeg" and result.images[0].data[:3] == b"\xff\xd8\xff"
    assert result.params["output_compression"] == 60


def test_streaming_hands_over_partials_then_returns_the_final_image(cfg, emulator_calls):
    partials = []
    result = oi.generate(cfg, model="gpt-image-2", prompt="a kite over hills", size="1024x1024", partial_images=2,
                         on_partial=lambda index, data: partials.append((index, data)))
    assert [index for index, _ in partials] == [0, 1]
    assert all(Image.open(io.BytesIO(data)).size == (1024, 1024) for _, data in partials)
    assert len(result.images) == 1 and result.images[0].data not in [d for _, d in partials]
    assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    assert result.usage and result.usage.output_tokens > 0
    assert result.request_id.startswith("req_")
    assert emulator_calls[-1]["body"]["stream"] is True


def test_streaming_usage_is_not_counted_twice_for_two_images(cfg):
    plain = oi.generate(cfg, model="gpt-image-2", prompt="two boats", size="1024x1024", quality="low", n=2)
    streamed = oi.generate(cfg, model="gpt-image-2", prompt="two boats", size="1024x1024", quality="low", n=2,
                           partial_images=1)
    assert len(streamed.images) == 2
    assert streamed.usage.output_tokens == plain.usage.output_tokens


def test_legacy_dalle3_asks_for_its_picture_inline_and_keeps_the_revised_prompt(compat_cfg, emulator, emulator_calls):
    result = oi.generate(compat_cfg, model="dall-e-3", prompt="a lighthouse", size="1792x1024", quality="hd")
    image = result.images[0]
    assert (image.width, image.height, image.mime) == (1792, 1024, "image/png")
    assert image.revised_prompt and image.revised_prompt.startswith("a lighthouse")
    assert result.usage is None  # DALL-E reports no tokens: unknown, not zero
    sent = emulator_calls[0]["body"]
    assert sent["response_format"] == "b64_json"  # no second request for a link that expires
    assert not {"output_format", "moderation", "background"} & set(sent)
    assert len(emulator_calls) == 1 and "response_format" not in result.params  # not a setting to reuse


def test_a_dalle_server_that_answers_with_a_link_anyway_is_downloaded_at_once(compat_cfg):
    """Some compatible servers ignore response_format: the link in the answer is followed, from the server's origin."""
    import http.server
    import json
    import threading

    picture = png(256, 256)

    class LinkOnly(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            link = f"http://127.0.0.1:{self.server.server_port}/files/result.png"
            self._send(json.dumps({"created": 1760000000, "data": [{"url": link, "revised_prompt": "a kite"}]}).encode(),
                       "application/json")

        def do_GET(self):  # noqa: N802
            self._send(picture, "image/png")

        def _send(self, body, kind):
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LinkOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = dataclasses.replace(compat_cfg, base_url=f"http://127.0.0.1:{server.server_port}/v1")
        result = oi.generate(cfg, model="dall-e-2", prompt="a kite", size="256x256")
    finally:
        server.shutdown()
        server.server_close()
    assert result.images[0].data == picture and result.images[0].revised_prompt == "a kite"


def test_edit_with_mask_repaints_the_area_and_paste_back_restores_the_rest(cfg, emulator_calls):
    """GPT Image models treat the mask as guidance (they re-draw everything); keep_outside_mask makes the rest exact."""
    from lib.imaging import keep_outside_mask

    base = png(256, 256)
    mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 128, 256))  # left half editable
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    result = oi.edit(cfg, model="gpt-image-2", prompt="a red door", images=[("base.png", base)],
                     mask=buffer.getvalue(), size="256x256")
    assert result.endpoint == "/v1/images/edits"
    before, after = pixels(base), pixels(result.images[0].data)
    assert not (after[:, 160:] == before[:, 160:]).all()  # the model's own answer: nothing is byte-exact
    assert np.abs(after[:, 160:].astype(int) - before[:, 160:].astype(int)).mean() < 6  # but it is the same picture
    pasted = pixels(keep_outside_mask(base, result.images[0].data, buffer.getvalue()))
    assert (pasted[:, 128:] == before[:, 128:]).all()
    assert (pasted[:, :128] != before[:, :128]).any()
    logged = emulator_calls[-1]["body"]
    assert logged["image"][0]["content_type"] == "image/png" and logged["mask"][0]["filename"] == "mask.png"


def test_edit_sends_several_images_as_image_array(cfg, emulator_calls):
    result = oi.edit(cfg, model="gpt-image-2", prompt="combine them", size="256x256",
                     images=[("a.png", png(256, 256)), ("b.png", png(256, 256, (200, 10, 10, 255)))])
    assert len(result.images) == 1
    assert len(emulator_calls[-1]["body"]["image[]"]) == 2


def test_edit_refuses_what_the_model_cannot_take_before_sending(cfg, emulator_calls):
    with pytest.raises(InvalidInput) as caught:
        oi.edit(cfg, model="gpt-image-2", prompt="x", images=[("a.png", png(16, 16))] * 17)
    assert caught.value.param == "image" and "at most 16 images; remove 1" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        oi.edit(cfg, model="gpt-image-2", prompt="x", images=[("a.png", png(16, 16))], input_fidelity="high")
    assert caught.value.param == "input_fidelity"
    with pytest.raises(InvalidInput) as caught:
        oi.edit(cfg, model="dall-e-2", prompt="x", images=[("a.png", png(300, 200))])
    assert "square" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        oi.edit(cfg, model="dall-e-2", prompt="x", images=[("notes.png", b"plain text, not a picture")])
    assert "not an image" in caught.value.message
    assert emulator_calls == []


def test_variation_through_edits_for_gpt_image_models(cfg, emulator_calls):
    result = oi.variation(cfg, model="gpt-image-2", image=("photo.png", png(256, 256)), n=2)
    assert result.endpoint == "/v1/images/edits" and len(result.images) == 2
    assert emulator_calls[-1]["body"]["prompt"] == oi.DEFAULT_VARIATION_PROMPT


def test_variation_through_the_legacy_endpoint_on_a_compatible_server(compat_cfg, emulator_calls):
    result = oi.variation(compat_cfg, model="dall-e-2", image=("photo.png", png(256, 256)), n=2, size="256x256")
    assert result.endpoint == "/v1/images/variations"
    assert [(i.width, i.height) for i in result.images] == [(256, 256)] * 2
    assert emulator_calls[0]["path"] == "/compat/v1/images/variations"


def test_legacy_variation_is_refused_against_api_openai_com(cfg):
    official = dataclasses.replace(cfg, base_url="https://api.openai.com/v1")
    with pytest.raises(InvalidInput) as caught:
        oi.variation(official, model="dall-e-2", image=("photo.png", png(256, 256)))
    assert "/v1/images/variations" in caught.value.message and "GPT image model" in caught.value.message


def test_retired_model_refused_on_api_openai_com_with_its_replacement(cfg):
    official = dataclasses.replace(cfg, base_url="https://api.openai.com/v1")
    with pytest.raises(NotAvailable) as caught:
        oi.generate(official, model="dall-e-3", prompt="a cat", size="1024x1024")
    assert "retired on 2026-05-12" in caught.value.message and "gpt-image-2" in caught.value.message


def test_validation_refuses_before_sending_and_names_the_parameter(cfg, emulator_calls):
    with pytest.raises(InvalidInput) as caught:
        oi.generate(cfg, model="gpt-image-2", prompt="a cat", size="1000x1000")
    assert caught.value.param == "size" and "use 992 or 1008" in caught.value.message
    assert caught.value.status_label == "rejected"
    with pytest.raises(InvalidInput) as caught:
        oi.generate(cfg, model="dall-e-3", prompt="a cat", size="1024x1024", n=3)
    assert caught.value.param == "n"
    assert emulator_calls == []


def test_server_model_not_found_names_the_replacement(cfg):
    with pytest.raises(NotAvailable) as caught:
        oi.generate(cfg, model="gpt-image-1", prompt="a cat", size="1024x1024")
    assert caught.value.code == "model_not_found" and "gpt-image-2.5-sunburst" in caught.value.message


@pytest.mark.parametrize("fault, error_class, words, code", [
    ("401", AuthError, "Check OPENAI_API_KEY", "invalid_api_key"),
    ("moderation_blocked", ContentRejected, "safety system", "moderation_blocked"),
    ("model_not_found", NotAvailable, "not available", "model_not_found"),
    ("malformed", ProviderDown, "could not read", "malformed_response"),
])
def test_faults_map_to_error_classes(cfg, fault, error_class, words, code):
    with pytest.raises(error_class) as caught:
        oi.generate(with_fault(cfg, fault), model="gpt-image-2", prompt="a cat")
    assert words in caught.value.message and caught.value.code == code
    if fault == "moderation_blocked":
        assert "while checking your prompt" in caught.value.message  # the stage the emulator reports: input
    assert "sk-test-live-key" not in str(caught.value) and "sk-test-live-key" not in (caught.value.detail or "")


def test_rate_limit_is_retried_then_says_when_to_retry(cfg, emulator_calls):
    with pytest.raises(QuotaExceeded) as caught:
        oi.generate(cfg, model="gpt-image-2", prompt="a cat [fault:429]")
    assert "Try again in 1 s" in caught.value.message and caught.value.http_status == 429
    assert len([c for c in emulator_calls if c["path"] == "/v1/images/generations"]) == 3


def test_server_error_maps_to_provider_down(cfg, monkeypatch):
    with pytest.raises(ProviderDown) as caught:
        oi.generate(with_fault(cfg, "503"), model="gpt-image-2", prompt="a cat", max_retries=0)
    assert caught.value.http_status == 503


def test_hang_becomes_a_timeout_message(cfg, monkeypatch):
    with pytest.raises(ProviderDown) as caught:
        oi.generate(with_fault(cfg, "hang"), model="gpt-image-2", prompt="a cat", timeout=0.5)
    assert caught.value.code == "timeout" and "did not answer within 0.5 s" in caught.value.message


def test_a_broken_image_stream_is_a_clear_error(cfg):
    seen = []
    with pytest.raises(ProviderDown) as caught:
        oi.generate(with_fault(cfg, "stream_break"), model="gpt-image-2", prompt="a cat", partial_images=2,
                    on_partial=lambda i, d: seen.append(i))
    assert caught.value.code == "stream_broken" and "partial images to 0" in caught.value.message
    assert seen == [0]


def test_the_sdk_client_is_reused_per_key_and_base_url(cfg):
    assert oi._client(cfg) is oi._client(dataclasses.replace(cfg))
    assert oi._client(cfg) is not oi._client(with_fault(cfg, "500"))


def test_models_listing_from_the_server_narrows_the_offer_and_is_cached(cfg, compat_cfg, emulator_calls):
    offered = [m.id for m in catalog.image_models(cfg)]
    assert "gpt-image-2" in offered and "dall-e-2" not in offered  # api.openai.com's face no longer lists DALL·E
    assert "dall-e-2" in [m.id for m in catalog.image_models(compat_cfg)]  # a compatible server still does
    catalog.image_models(cfg)
    catalog.chat_models(cfg)
    assert [c["path"] for c in emulator_calls].count("/v1/models") == 1
