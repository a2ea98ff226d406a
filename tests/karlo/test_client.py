"""lib.providers.karlo against the real emulator: results, downloads, retries and errors a person can act on."""
from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image

from lib import limits
from lib.config import ProviderConfig
from lib.errors import AuthError, InvalidInput, NotAvailable, ProviderDown, QuotaExceeded
from lib.providers import karlo
from lib.providers.karlo import KarloClient

KEY = "kakao-test-secret-0123456789"


def client(emulator, fault=None, base_url=None, **kwargs):
    headers = {"X-Emulator-Fault": fault} if fault else {}
    cfg = ProviderConfig("karlo", "live", base_url or emulator.karlo_base_url, KEY, "environment", extra_headers=headers)
    return KarloClient(cfg, **kwargs)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(limits, "RETRY_BACKOFF_S", 0.01)


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_t2i_three_samples_come_back_with_their_seeds(emulator, emulator_calls):
    result = client(emulator).text_to_image("a paper boat on a pond", samples=3)
    assert (result.provider, result.model, result.endpoint) == ("karlo", "karlo-v2.1", "/v2/inference/karlo/t2i")
    assert len(result.images) == 3 and len({im.seed for im in result.images}) == 3
    assert all(im.mime == "image/webp" and (im.width, im.height) == (512, 512) for im in result.images)
    assert result.request_id and result.latency_ms > 0
    assert result.params["samples"] == 3 and "prompt" in result.params
    sent = emulator_calls[-1]["body"]
    assert sent["version"] == "v2.1" and sent["return_type"] == "base64_string"


def test_same_seeds_reproduce_the_same_images(emulator):
    c = client(emulator)
    first = c.text_to_image("a paper boat", samples=2, seed=[11, 12], image_format="png")
    again = c.text_to_image("a paper boat", samples=2, seed=(11, 12), image_format="png")
    assert [im.data for im in first.images] == [im.data for im in again.images]
    assert [im.seed for im in again.images] == [11, 12]


def test_url_results_are_downloaded_at_once(emulator):
    result = client(emulator).text_to_image("a kite", return_type="url", image_format="jpeg")
    image = result.images[0]
    assert image.mime == "image/jpeg" and Image.open(io.BytesIO(image.data)).size == (512, 512)


def test_an_expired_url_is_a_clear_error(emulator):
    emulator.state.karlo_url_ttl_s = -1  # every link is already stale when it arrives
    try:
        with pytest.raises(ProviderDown, match="expired"):
            client(emulator).text_to_image("a kite", return_type="url")
    finally:
        emulator.state.karlo_url_ttl_s = 600.0


def test_variation_sends_bytes_as_base64_and_keeps_the_input_colours(emulator):
    src = Image.new("RGB", (400, 400), (240, 200, 20))
    result = client(emulator).transform_image(png(src), width=384, height=384, image_format="png")
    out = pixels(result.images[0].data).astype(float)
    assert out.shape == (384, 384, 3)
    assert out[..., 0].mean() > 180 and out[..., 2].mean() < 80  # still yellow
    assert result.endpoint == "/v2/inference/karlo/variations" and "image" not in result.params


def test_inpainting_keeps_every_pixel_outside_the_black_area(emulator):
    rng = np.random.default_rng(3)
    src = Image.fromarray(rng.integers(0, 256, (320, 480, 3), dtype=np.uint8))
    mask = Image.new("L", (480, 320), 255)
    mask.paste(0, (40, 60, 200, 260))
    result = client(emulator).inpaint_image(png(src), png(mask), "a red door", image_format="png", seed=[5])
    out, before = pixels(result.images[0].data), np.asarray(src)
    keep = np.asarray(mask) != 0
    assert out.shape == before.shape
    assert np.array_equal(out[keep], before[keep])
    assert not np.array_equal(out[~keep], before[~keep])


def test_studio_masks_convert_to_karlo_masks():
    rgba = np.full((10, 20, 4), 255, dtype=np.uint8)
    rgba[2:5, 3:9, 3] = 0  # transparent = edit in lib.imaging's convention
    out = np.asarray(Image.open(io.BytesIO(karlo.karlo_mask(png(Image.fromarray(rgba, "RGBA"))))))
    assert out.shape == (10, 20)
    assert (out[2:5, 3:9] == 0).all() and (out.sum() == 255 * (200 - 18))


def test_upscale_doubles_and_quadruples(emulator):
    small = png(Image.new("RGB", (256, 192), (30, 60, 90)))
    c = client(emulator)
    assert [(im.width, im.height) for im in c.upscale_image([small], scale=2, image_format="png").images] == [(512, 384)]
    assert [(im.width, im.height) for im in c.upscale_image([small, small], scale=4).images] == [(1024, 768)] * 2


def test_check_nsfw_returns_one_verdict_per_image(emulator):
    skin = png(Image.new("RGB", (64, 64), (224, 172, 140)))
    sky = png(Image.new("RGB", (64, 64), (40, 90, 200)))
    verdicts = client(emulator).check_nsfw([skin, sky])
    assert [v.nsfw_content_detected for v in verdicts] == [True, False]
    assert verdicts[0].nsfw_score > verdicts[1].nsfw_score


def test_nsfw_checker_flag_fills_the_image_fields(emulator):
    image = client(emulator).text_to_image("a meadow", nsfw_checker=True).images[0]
    assert isinstance(image.nsfw, bool) and 0 <= image.nsfw_score <= 1


@pytest.mark.parametrize("fault, error_type, words", [
    ("-9", NotAvailable, ["ended the Karlo API", "demo mode", "KARLO_BASE_URL"]),
    ("-10", QuotaExceeded, ["quota is used up", "500"]),
    ("-401", AuthError, ["REST API key", "KAKAO_REST_API_KEY"]),
    ("-2", InvalidInput, ["`prompt`"]),
    ("html502", ProviderDown, ["HTML page", "502"]),
    ("malformed", ProviderDown, ["not valid JSON"]),
    ("503", ProviderDown, ["maintenance"]),
    ("429", QuotaExceeded, ["rate-limiting"]),
])
def test_each_failure_becomes_a_message_a_person_can_act_on(emulator, fault, error_type, words):
    with pytest.raises(error_type) as info:
        client(emulator, fault, max_retries=0).text_to_image("a harbour")
    err = info.value
    for word in words:
        assert word in err.message
    assert err.provider == "karlo" and KEY not in err.message and KEY not in (err.detail or "")


def test_minus_2_from_the_server_names_the_parameter(emulator):
    with pytest.raises(InvalidInput) as info:
        client(emulator, "-2").text_to_image("a harbour")
    assert info.value.param == "prompt" and info.value.http_status == 400


@pytest.mark.parametrize("fault, retried", [("500", True), ("503", True), ("html502", True), ("429", True),
                                            ("-1", True), ("-603", True), ("-9", False), ("-10", False), ("-401", False), ("malformed", False)])
def test_retries_only_what_can_get_better(emulator, emulator_calls, fault, retried):
    with pytest.raises(Exception):
        client(emulator, fault, max_retries=2).text_to_image("a harbour")
    assert len(emulator_calls) == (3 if retried else 1)


def flaky_session(failures):
    """A real session whose first posts get canned failure replies; later ones reach the emulator."""
    pending = iter(failures)

    class FlakySession(requests.Session):
        sent = 0

        def post(self, url, **kwargs):
            FlakySession.sent += 1
            failure = next(pending, None)
            if failure is None:
                return super().post(url, **kwargs)
            status, content_type, body = failure
            resp = requests.Response()
            resp.status_code, resp._content = status, body.encode()
            resp.headers["content-type"] = content_type
            return resp

    return FlakySession()


@pytest.mark.parametrize("failure", [
    (502, "text/html", "<html><body>502 Bad Gateway</body></html>"),
    (400, "application/json", '{"code": -1, "msg": "internal error"}'),
    (400, "application/json", '{"code": -603, "msg": "timeout"}'),
], ids=["html502", "minus1", "minus603"])
def test_retry_recovers_after_a_passing_failure(emulator, failure):
    """A proxy 502 or Kakao's -1 / -603 followed by success: the caller sees only the result."""
    session = flaky_session([failure])
    result = client(emulator, session=session, max_retries=1).text_to_image("a harbour")
    assert len(result.images) == 1 and session.sent == 2


def test_minus_603_after_every_retry_says_try_again(emulator):
    failure = (400, "application/json", '{"code": -603, "msg": "timeout"}')
    session = flaky_session([failure] * 3)
    with pytest.raises(ProviderDown, match="timed out on its side") as info:
        client(emulator, session=session, max_retries=2).text_to_image("a harbour")
    assert session.sent == 3 and info.value.code == "-603"


def test_a_hang_is_a_timeout_message_not_a_freeze(emulator, emulator_calls):
    with pytest.raises(ProviderDown, match="did not answer within 0.5 s"):
        client(emulator, "hang", read_timeout=0.5).text_to_image("a harbour")
    assert len(emulator_calls) == 1  # a read timeout is not retried: the picture may still be drawn and counted


def test_an_unreachable_server_says_where_it_looked(emulator):
    with pytest.raises(ProviderDown, match="Could not reach Karlo at http://127.0.0.1:9"):
        client(emulator, base_url="http://127.0.0.1:9", max_retries=1).text_to_image("a harbour")


def test_pykakao_helpers_round_trip():
    img = Image.new("RGB", (8, 8), (1, 2, 3))
    text = KarloClient.image_to_string(img)
    assert "\n" not in text
    back = KarloClient.string_to_image(text)
    assert back.mode == "RGBA" and back.getpixel((0, 0)) == (1, 2, 3, 255)


@pytest.mark.parametrize("text, korean, english", [
    ("a cat on a roof", False, True), ("고양이", True, False), ("a 고양이", True, False),
    ("café crème, 4K!", False, True), ("кошка", False, False), ("", False, True),
])
def test_language_helpers(text, korean, english):
    assert karlo.looks_korean(text) is korean and karlo.is_english(text) is english


def test_fit_image_brings_any_upload_within_karlo_limits():
    import os

    noise = Image.frombytes("RGB", (2600, 1300), os.urandom(2600 * 1300 * 3))
    fitted, fixes = karlo.fit_image(png(noise))
    img = Image.open(io.BytesIO(fitted))
    assert len(fitted) <= karlo.MAX_INPUT_BYTES and max(img.size) <= 2048
    assert any("Downscaled from 2600×1300" in f for f in fixes) and any("2 MB" in f for f in fixes)

    clear = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    fitted, fixes = karlo.fit_image(png(clear), max_side=karlo.MAX_UPSCALE_INPUT_SIDE)
    assert Image.open(io.BytesIO(fitted)).convert("RGB").getpixel((0, 0)) == (255, 255, 255)
    assert fixes == ["Flattened transparent areas onto white: Karlo reads no transparency."]

    small = png(Image.new("RGB", (64, 48), (1, 2, 3)))
    fitted, fixes = karlo.fit_image(small)
    assert fixes == [] and Image.open(io.BytesIO(fitted)).size == (64, 48)  # nothing to fix, nothing said
