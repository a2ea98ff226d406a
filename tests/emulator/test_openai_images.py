"""Image generations through the emulator: validation like the real API, honest pictures, usage, streaming."""
from __future__ import annotations

import base64
import json

import numpy as np
import openai
import pytest
import requests

from tests.emulator.helpers import decode

GPT = "gpt-image-2"


def _pixels(item_b64: str) -> np.ndarray:
    return np.asarray(decode(base64.b64decode(item_b64)))


def _gen(http, **body):
    return http.post("/images/generations", json={"model": GPT, "quality": "low", **body})


# ------------------------------------------------------------------ generations


def test_generation_matches_spec_with_echo_fields_and_table_usage(compat_http, spec):
    r = _gen(compat_http, prompt="a lighthouse at dusk", n=2, size="1024x1536", model="gpt-image-1.5")
    assert r.status_code == 200, r.text
    body = r.json()
    spec.validate(body, "ImagesResponse")
    assert (body["size"], body["quality"], body["output_format"], body["background"]) == \
        ("1024x1536", "low", "png", "opaque")
    assert len(body["data"]) == 2 and all("url" not in d for d in body["data"])
    usage = body["usage"]
    assert usage["output_tokens"] == 2 * 408  # gpt-image-1 counts: low quality, 1024x1536, per image x n
    assert usage["input_tokens_details"]["text_tokens"] == -(-len("a lighthouse at dusk") // 4)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    for item in body["data"]:
        assert decode(base64.b64decode(item["b64_json"])).size == (1024, 1536)


@pytest.mark.parametrize("model,quality,expected", [
    ("gpt-image-1.5", "medium", 1568), ("gpt-image-1.5", "high", 6208),  # gpt-image-1's measured counts
    ("gpt-image-1-mini", "low", 750), ("gpt-image-1-mini", "high", 6500),  # its per-image prices at $8/M
    ("gpt-image-2", "medium", 3500), ("gpt-image-2.6-flare", "low", 1000),  # ~$0.07 / $0.02 at 1024² at $30/M
])
def test_usage_follows_each_model_familys_table(compat_http, model, quality, expected):
    r = _gen(compat_http, prompt="a fox", size="1536x1024", quality=quality, model=model)
    assert r.json()["usage"]["output_tokens"] == expected


def test_same_request_gives_same_bytes_and_different_prompts_differ(client):
    a1 = client.images.generate(model=GPT, prompt="a red fox in snow", size="512x512", quality="low")
    a2 = client.images.generate(model=GPT, prompt="a red fox in snow", size="512x512", quality="low")
    b = client.images.generate(model=GPT, prompt="a neon city at night", size="512x512", quality="low")
    assert a1.data[0].b64_json == a2.data[0].b64_json
    pa, pb = _pixels(a1.data[0].b64_json), _pixels(b.data[0].b64_json)
    assert np.abs(pa.astype(int) - pb.astype(int)).mean() > 20  # visibly another picture, not noise


def test_each_of_n_images_is_different(client):
    r = client.images.generate(model=GPT, prompt="three hot air balloons", n=3, size="512x512", quality="low")
    pics = [_pixels(d.b64_json) for d in r.data]
    assert len({p.tobytes() for p in pics}) == 3


@pytest.mark.parametrize("fmt,pil_format", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_really_that_format(client, fmt, pil_format):
    r = client.images.generate(model=GPT, prompt="a teapot", output_format=fmt, size="512x512", quality="low")
    assert r.output_format == fmt
    assert decode(base64.b64decode(r.data[0].b64_json)).format == pil_format


def test_output_compression_shrinks_jpeg(client):
    sizes = [len(base64.b64decode(client.images.generate(
        model=GPT, prompt="a teapot", output_format="jpeg", output_compression=c, size="512x512",
        quality="low").data[0].b64_json))
        for c in (90, 20)]
    assert sizes[1] < sizes[0] * 0.7


def test_transparent_background_has_see_through_pixels(client):
    r = client.images.generate(model=GPT, prompt="a single balloon", background="transparent", output_format="png",
                               size="512x512", quality="low")
    assert r.background == "transparent"
    pic = decode(base64.b64decode(r.data[0].b64_json))
    assert pic.mode == "RGBA"
    alpha = np.asarray(pic)[..., 3]
    assert (alpha == 0).mean() > 0.1 and (alpha == 255).mean() > 0.1


def test_arbitrary_sizes_for_gpt_image_2_and_later(client):
    for model, size in (("gpt-image-2", "1280x720"), ("gpt-image-2.6-flare", "640x1920"),
                        ("gpt-image-2.5-sunburst", "3840x2160")):
        r = client.images.generate(model=model, prompt="a wide valley", size=size, quality="low",
                                   output_format="jpeg", output_compression=50)  # jpeg: quick to encode at 4K
        w, h = map(int, size.split("x"))
        assert decode(base64.b64decode(r.data[0].b64_json)).size == (w, h)
        assert r.usage.output_tokens == round(667 * w * h / 1024 ** 2)


@pytest.mark.parametrize("body,param", [
    ({"size": "1000x1000"}, "size"),  # not multiples of 16
    ({"size": "4096x1024"}, "size"),  # longer than 3840
    ({"size": "3200x640"}, "size"),  # 5:1
    ({"model": "gpt-image-2.6-flare", "size": "1280x721"}, "size"),
    ({"n": 11}, "n"),
    ({"n": 0}, "n"),
    ({"quality": "hd"}, "quality"),
    ({"quality": "xhigh"}, "quality"),  # only the 2.5 models have xhigh
    ({"output_format": "gif"}, "output_format"),
    ({"background": "transparent", "output_format": "jpeg"}, "background"),
    ({"background": "sideways"}, "background"),
    ({"output_compression": 50}, "output_compression"),  # png cannot be compressed lossy
    ({"output_compression": 101, "output_format": "jpeg"}, "output_compression"),
    ({"response_format": "url"}, "response_format"),  # GPT image models always return base64
    ({"partial_images": 4, "stream": True}, "partial_images"),
])
def test_invalid_parameters_are_400_naming_the_param(http, spec, body, param):
    r = _gen(http, prompt="a fox", **{"quality": None, **body})
    assert r.status_code == 400, r.text
    spec.validate(r.json(), "ErrorResponse")
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and err["message"]


@pytest.mark.parametrize("body,param", [
    ({"model": "gpt-image-1.5", "size": "1280x720"}, "size"),  # fixed-size model
    ({"model": "dall-e-2", "size": "1024x1536"}, "size"),
    ({"model": "dall-e-3", "size": "512x512"}, "size"),
    ({"model": "dall-e-3", "n": 2}, "n"),
    ({"model": "dall-e-3", "quality": "low"}, "quality"),
    ({"model": "dall-e-2", "background": "transparent"}, "background"),
])
def test_legacy_models_on_a_compatible_server_keep_their_limits(compat_http, spec, body, param):
    r = _gen(compat_http, prompt="a fox", **{"quality": None, **body})
    assert r.status_code == 400, r.text
    spec.validate(r.json(), "ErrorResponse")
    assert r.json()["error"]["param"] == param


def test_xhigh_quality_is_accepted_by_the_2_5_models(client):
    r = client.images.generate(model="gpt-image-2.5-flare", prompt="a fox", quality="xhigh")
    assert r.quality == "xhigh" and r.usage.output_tokens > 4160


@pytest.mark.parametrize("model,limit", [(GPT, 32000), ("dall-e-3", 4000), ("dall-e-2", 1000)])
def test_prompt_length_limits_per_model(compat_http, model, limit):
    http = compat_http
    ok = http.post("/images/generations", json={"model": model, "prompt": "x" * limit, "response_format": None,
                                                "size": {"dall-e-2": "256x256", "dall-e-3": "1024x1024"}.get(
                                                    model, "512x512")})
    assert ok.status_code == 200, ok.text
    r = http.post("/images/generations", json={"model": model, "prompt": "x" * (limit + 1)})
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
    assert str(limit) in r.json()["error"]["message"]


def test_missing_prompt_is_400(http):
    r = _gen(http)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "prompt" and r.json()["error"]["code"] == "missing_required_parameter"


@pytest.mark.parametrize("model", ["dall-e-4", "gpt-image-1"])
def test_unknown_or_retired_model_is_404_model_not_found(client, model):
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(model=model, prompt="a fox")
    assert err.value.code == "model_not_found" and model in err.value.message


def test_dalle_urls_are_served_by_the_emulator_and_expire(compat_client, emulator, spec):
    client = compat_client
    r = client.images.generate(model="dall-e-2", prompt="a fox", size="512x512", n=2)
    spec.validate(r.model_dump(mode="json", exclude_none=True), "ImagesResponse")
    assert r.usage is None and all(d.b64_json is None for d in r.data)
    got = requests.get(r.data[0].url, timeout=10)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert decode(got.content).size == (512, 512)
    token = r.data[0].url.split("/files/")[1].split(".")[0]
    with emulator.state.lock:
        data, mime, _ = emulator.state.served_files[token]
        emulator.state.served_files[token] = (data, mime, 0.0)  # an hour later
    assert requests.get(r.data[0].url, timeout=10).status_code == 403


def test_dalle_b64_and_dalle3_revised_prompt(compat_client):
    client = compat_client
    r = client.images.generate(model="dall-e-3", prompt="a fox in a field", response_format="b64_json",
                               size="1792x1024", quality="hd", style="natural")
    assert decode(base64.b64decode(r.data[0].b64_json)).size == (1792, 1024)
    assert r.data[0].revised_prompt.startswith("a fox in a field") and len(r.data[0].revised_prompt) > 40


def test_streamed_generation_yields_partials_then_the_same_final_image(client, spec):
    events = list(client.images.generate(model=GPT, prompt="a harbour at dawn", quality="low", stream=True,
                                         partial_images=2))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    spec.validate(events[0].model_dump(mode="json"), "ImageGenPartialImageEvent")
    spec.validate(events[-1].model_dump(mode="json", exclude_none=True), "ImageGenCompletedEvent")
    plain = client.images.generate(model=GPT, prompt="a harbour at dawn", quality="low")
    assert events[-1].b64_json == plain.data[0].b64_json
    assert events[-1].usage.output_tokens == 667
    assert events[0].b64_json != events[-1].b64_json  # a preview, not the final picture


def test_stream_with_zero_partials_sends_only_completed(http, spec):
    r = _gen(http, prompt="a fox", size="1024x1024", stream=True, partial_images=0)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text.count("event: image_generation.completed") == 1 and "partial_image" not in r.text
    (data,) = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    spec.validate(json.loads(data), "ImageGenCompletedEvent")


def _detail(pixels: np.ndarray) -> float:
    """How much fine structure a picture has: mean absolute difference between neighbouring pixels."""
    p = pixels[..., :3].astype(float)
    return float(np.abs(np.diff(p, axis=0)).mean() + np.abs(np.diff(p, axis=1)).mean())


def test_quality_and_model_change_the_picture(client):
    def pic(model, quality):
        r = client.images.generate(model=model, prompt="a lantern festival by the river", size="1024x1024",
                                   quality=quality)
        return _pixels(r.data[0].b64_json)

    low, high = pic(GPT, "low"), pic(GPT, "high")
    assert _detail(high) > _detail(low) * 1.15  # low comes back softer
    assert np.abs(high.astype(int) - low.astype(int)).mean() > 3
    other = pic("gpt-image-2.6-flare", "high")
    assert np.abs(other.astype(int) - high.astype(int)).mean() > 8  # another model: same colours, another layout


def test_korean_prompts_count_like_the_real_tokenizer(http):
    korean = "밤하늘을 여행하는 고래가 어떤 모습일지 자유롭게 상상해서 묘사해 주세요."
    english = "Describe freely what a whale travelling across the night sky would look like."
    counts = {}
    for text in (korean, english):
        r = _gen(http, prompt=text)
        counts[text] = r.json()["usage"]["input_tokens_details"]["text_tokens"]
    # o200k spends most of a token on each Hangul syllable: ~2.5x what four-characters-a-token says.
    assert 2.2 < counts[korean] / (len(korean) / 4) < 3.0
    assert abs(counts[english] - len(english) / 4) <= 1
