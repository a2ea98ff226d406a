"""``redact`` cuts a known key however a provider echoes it: every encoding of ``hostile.echo_encodings`` for an
OpenAI-shaped key, a prefix-less Kakao key and a proxy password with spaces and URL-special characters, inside a
typical error body; and it leaves text without a key exactly as it was."""
from __future__ import annotations

import base64
import json

import pytest

from lib.errors import REDACTED, plain_request_id, redact, redact_known, remember_secret
from tests.security.hostile import decoded_views, echo_encodings

KEYS = {"openai": "sk-proj-Zq81vLr0Kc3mWt5YhN2pXb7GdE9sJf4uAa6", "kakao": "3f9c2a71d0b84e6f95a1c7d3e8b2f406",
        "proxy password": "s3cret pass/w:rd+1"}
BODY = ("Invalid value for 'size': expected one of 1024x1024 or auto. See https://platform.example.test/docs?"
        "lang=en%20GB#size; request req_5f1c2a9b7d3e4f60 was refused at edge-fra-03 after 12 ms. ")


def leaks(text: str, key: str) -> list[str]:
    low = "\0".join(decoded_views(text)).lower()
    return sorted({key[i:i + 8] for i in range(len(key) - 7) if key[i:i + 8].lower() in low})


@pytest.fixture(autouse=True)
def known_keys():
    for key in KEYS.values():
        remember_secret(key)


def test_every_encoded_echo_is_cut(tally):
    tried = held = 0
    problems = []
    for who, key in KEYS.items():
        for how, echoed in echo_encodings(key).items():
            for text in (echoed, f"{BODY}{echoed} {BODY}", json.dumps({"error": {"message": BODY + echoed}})):
                tried += 1
                out = redact(text)
                if leaks(out, key) or REDACTED not in out:
                    problems.append(f"{who}, {how}: {out[:160]!r}")
                else:
                    held += 1
    tally(tried, held)
    assert not problems, problems


def test_text_without_a_key_is_left_as_it_was():
    plain = [BODY, "Basic plan, dXNlcm5hbWU6cGFzc3dvcmQ= and 100% of %E2%9C%93 \\u00e9 &#233; a+b+c",
             "İİİİ Straße — ünïcode prompt with a long wordwithoutanykeyinside"]
    for text in plain:
        assert redact(text) == text


def test_a_cut_lands_on_the_key_even_after_characters_whose_lower_case_is_longer():
    key = KEYS["openai"]
    out = redact("İ" * 20 + " key=" + key + " end")
    assert out == "İ" * 20 + " key=" + REDACTED + " end"


def test_an_encoded_key_as_request_id_is_not_kept():
    for key in KEYS.values():
        for shaped in (base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
                       base64.b64encode(("id:" + key).encode()).decode().rstrip("=").replace("+", "-").replace("/", "_")):
            assert plain_request_id(shaped) is None, shaped
    assert plain_request_id("req_5f1c2a9b7d3e4f60") == "req_5f1c2a9b7d3e4f60"


def test_prompts_lose_encoded_keys_too():
    key = KEYS["kakao"]
    out = redact_known("a fox, " + echo_encodings(key)["basic user:key"] + ", at dusk")
    assert out.startswith("a fox, Authorization: Basic " + REDACTED) and out.endswith(", at dusk") and not leaks(out, key)
