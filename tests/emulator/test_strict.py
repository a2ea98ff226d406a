"""Requests the real API rejects are rejected here too: the real 400 body, a request id, never a 500."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from tests.emulator.helpers import decode, photo, png_bytes

CHAT = "gpt-5.4-mini"
HELLO = [{"role": "user", "content": "hello"}]


def _error(r, status=400):
    assert r.status_code == status, r.text[:300]
    assert r.headers["x-request-id"].startswith("req_") and r.headers["content-type"].startswith("application/json")
    return r.json()["error"]


@pytest.mark.parametrize("extra,param,code,words", [
    ({"temperature": 3}, "temperature", "decimal_above_max_value", "Expected a value <= 2, but got 3"),
    ({"temperature": "hot"}, "temperature", "invalid_type", "expected a decimal, but got a string"),
    ({"n": "2"}, "n", "invalid_type", "expected an integer, but got a string"),
    ({"top_logprobs": 21, "logprobs": True}, "top_logprobs", "integer_above_max_value", "<= 20"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort", "invalid_value", "Invalid value: 'extreme'"),
    ({"temprature": 1}, None, "unknown_parameter", "Unrecognized request argument supplied: temprature"),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "missing_required_parameter", "tools[0].function"),
    ({"tools": [{"type": "function", "function": {"name": 7}}]}, "tools[0].function.name", "invalid_type", "string"),
    ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id", "missing_required_parameter",
     "Missing required parameter: 'messages[0].tool_call_id'."),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text",
     "invalid_type", "expected a string, but got an integer"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "invalid_value", "'wizard'"),
    ({"messages": []}, "messages", "empty_array", "empty array"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "invalid_value", "stream"),
    ({"top_logprobs": 2}, "top_logprobs", "invalid_value", "logprobs"),
])
def test_bad_chat_requests_get_the_real_400(http, spec, extra, param, code, words):
    r = http.post("/chat/completions", json={"model": CHAT, "messages": HELLO, **extra})
    err = _error(r)
    spec.validate(r.json(), "ErrorResponse")
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", param, code)
    assert words in err["message"]


@pytest.mark.parametrize("extra,param,code", [
    ({"output_fromat": "png"}, "output_fromat", "unknown_parameter"),
    ({"n": "2"}, "n", "invalid_type"),
    ({"model": ["gpt-image-2"]}, "model", "invalid_type"),
    ({"prompt": 12}, "prompt", "invalid_type"),
    ({"partial_images": 2}, "partial_images", "invalid_value"),  # previews exist only in a stream
    ({"moderation": "strict"}, "moderation", "invalid_value"),
    ({"quality": "ultra"}, "quality", "invalid_value"),
])
def test_bad_generation_requests_get_the_real_400(http, extra, param, code):
    err = _error(http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "a fox", **extra}))
    assert (err["param"], err["code"]) == (param, code), err


def _picture(w=256, h=256, seed=3) -> bytes:
    return png_bytes(photo(w, h, seed))


def test_multipart_edit_refuses_moderation_and_octet_stream_parts(http):
    form = {"model": "gpt-image-2", "prompt": "a red door"}
    err = _error(http.post("/images/edits", data={**form, "moderation": "low"},
                           files={"image": ("in.png", _picture(), "image/png")}))
    assert (err["param"], err["code"], err["message"]) == ("moderation", "unknown_parameter",
                                                           "Unknown parameter: 'moderation'.")
    err = _error(http.post("/images/edits", data=form, files={"image": ("upload", _picture(), "application/octet-stream")}))
    assert err["code"] == "unsupported_file_mimetype" and err["message"] == (
        "Invalid file 'image': unsupported mimetype ('application/octet-stream'). Supported file formats are "
        "'image/jpeg', 'image/png', and 'image/webp'.")
    err = _error(http.post("/images/edits", data=form, files=[("image[]", ("a.png", _picture(), "image/png")),
                                                              ("image[]", ("b", _picture(), "application/octet-stream"))]))
    assert err["param"] == "image[1]"
    err = _error(http.post("/images/edits", data={**form, "n": "two"}, files={"image": ("in.png", _picture(), "image/png")}))
    assert (err["param"], err["code"]) == ("n", "invalid_type")  # multipart numbers are text, but must read as one


def test_json_edit_body_as_the_spec_allows(http):
    src = photo(256, 256, 5)
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes(src)).decode()
    mask = np.dstack([np.zeros((256, 256, 3), np.uint8), np.full((256, 256), 255, np.uint8)])
    mask[:, :128, 3] = 0
    mask_url = "data:image/png;base64," + base64.b64encode(png_bytes(mask)).decode()
    r = http.post("/images/edits", json={"model": "gpt-image-2", "prompt": "a red door", "images": [{"image_url": data_url}],
                                         "mask": {"image_url": mask_url}, "moderation": "low", "size": "1024x1024"})
    assert r.status_code == 200, r.text[:300]
    out = np.asarray(decode(base64.b64decode(r.json()["data"][0]["b64_json"])).convert("RGB"))
    assert out.shape == (1024, 1024, 3)
    err = _error(http.post("/images/edits", json={"model": "gpt-image-2", "prompt": "x",
                                                  "images": [{"image_url": data_url, "file_id": "file-1"}]}))
    assert err["param"].startswith("images[0]")
    err = _error(http.post("/images/edits", json={"model": "gpt-image-2", "prompt": "x", "images": [{"file_id": "file-1"}]}))
    assert err["param"] == "images[0].file_id"
    err = _error(http.post("/images/edits", json={"model": "gpt-image-2", "prompt": "x", "images": []}))
    assert err["param"] == "images"


GARBAGE = [None, 0, -1, 1e308, "", "x" * 5000, [], [None], {}, {"a": {"b": []}}, True, "\u0000\ud7a3"]


@pytest.mark.parametrize("path", ["/chat/completions", "/images/generations", "/images/edits"])
def test_no_shape_of_bad_input_gives_a_500(http, path):
    fields = ["model", "prompt", "messages", "n", "size", "quality", "tools", "stream", "response_format", "images"]
    for i, value in enumerate(GARBAGE):
        body = {"model": "gpt-image-2" if "images" in path else CHAT, "prompt": "x", "messages": HELLO,
                fields[i % len(fields)]: value}
        r = http.post(path, data=json.dumps(body), headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text[:300])
        assert r.headers["x-request-id"].startswith("req_") and "error" in r.json()
    r = http.post(path, data=b"\xff\x00not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["x-request-id"]
