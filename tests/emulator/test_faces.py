"""Two faces: /v1 is api.openai.com on the emulator's date, /compat/v1 a compatible server that retires nothing."""
from __future__ import annotations

import warnings
from datetime import date

import openai
import pytest
import requests

from emulator import start_in_thread
from tests.emulator.conftest import KEY
from tests.emulator.helpers import png_bytes, photo


def _ids(client) -> set[str]:
    return {m.id for m in client.models.list()}


def test_a_retired_model_is_404_with_the_deprecation_message(client, spec, http):
    for model in ("dall-e-3", "dall-e-2", "gpt-image-1", "gpt-image-1.5", "chatgpt-image-latest"):
        r = http.post("/images/generations", json={"model": model, "prompt": "a fox"})
        assert r.status_code == 404, model
        spec.validate(r.json(), "ErrorResponse")
        err = r.json()["error"]
        assert err["code"] == "model_not_found" and err["type"] == "invalid_request_error"
        assert err["message"].startswith(f"The model `{model}` has been deprecated")
        assert r.headers["x-request-id"].startswith("req_")
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found" and "deprecated" in caught.value.message
    r = http.post("/images/generations", json={"model": "gpt-9-imaginary", "prompt": "a fox"})
    assert "does not exist" in r.json()["error"]["message"]  # never existed: not "deprecated"


def test_variations_endpoint_is_gone_from_v1_but_served_by_a_compatible_server(http, compat_http):
    image = {"image": ("in.png", png_bytes(photo(256, 256, 1)), "image/png")}
    r = http.post("/images/variations", data={"model": "dall-e-2"}, files=image)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Invalid URL (POST /v1/images/variations)"
    assert r.headers["x-request-id"].startswith("req_")
    ok = compat_http.post("/images/variations", data={"model": "dall-e-2", "size": "256x256"}, files=image)
    assert ok.status_code == 200 and ok.json()["data"][0]["url"].startswith("http://127.0.0.1")


def test_unknown_paths_get_the_apis_json_404(http):
    r = http.get("/no/such/thing")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Invalid URL (GET /v1/no/such/thing)"


def test_no_model_on_v1_asks_for_one_but_a_compatible_server_defaults_to_dall_e_2(http, compat_http):
    r = http.post("/images/generations", json={"prompt": "a fox"})
    assert r.status_code == 400
    assert (r.json()["error"]["param"], r.json()["error"]["code"]) == ("model", "missing_required_parameter")
    legacy = compat_http.post("/images/generations", json={"prompt": "a fox", "size": "256x256"})
    assert legacy.status_code == 200 and "url" in legacy.json()["data"][0] and "usage" not in legacy.json()


def test_compatible_server_lists_dall_e_next_to_todays_models(compat_client, client):
    compat = _ids(compat_client)
    assert {"dall-e-2", "dall-e-3", "gpt-image-2", "gpt-image-1.5"} <= compat
    assert not {"dall-e-2", "dall-e-3"} & _ids(client)
    r = compat_client.images.generate(model="dall-e-3", prompt="a fox", size="1024x1792")
    assert r.data[0].url and r.data[0].revised_prompt


def test_the_date_decides_per_request_and_a_model_goes_on_its_shutdown_day(monkeypatch):
    running = start_in_thread()
    try:
        client = openai.OpenAI(api_key=KEY, base_url=running.openai_base_url, max_retries=0, timeout=20)
        monkeypatch.setenv("STUDIO_TODAY", "2026-11-30")
        assert "gpt-image-1.5" in _ids(client) and "gpt-5" in _ids(client)
        client.images.generate(model="gpt-image-1.5", prompt="a fox", quality="low")  # its last day
        monkeypatch.setenv("STUDIO_TODAY", "2026-12-01")
        assert "gpt-image-1.5" not in _ids(client)
        with pytest.raises(openai.NotFoundError):
            client.images.generate(model="gpt-image-1.5", prompt="a fox", quality="low")
        running.state.today = date(2026, 12, 11)  # the option wins over the variable
        assert "gpt-5" not in _ids(client) and "gpt-5.1" in _ids(client)
        running.state.today = "2026-05-11"  # before DALL·E's shutdown, /v1 still served variations
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            r = client.images.create_variation(image=("in.png", png_bytes(photo(256, 256, 2)), "image/png"),
                                               model="dall-e-2", size="256x256")
        assert requests.get(r.data[0].url, timeout=10).status_code == 200
    finally:
        running.stop()
