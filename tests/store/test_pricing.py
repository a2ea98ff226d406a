"""Cost of a call, and which source priced it; unknown means None, never 0."""
from __future__ import annotations

import pytest

from lib.pricing import price, price_table
from lib.types import Usage


def test_chat_usage_is_computed_by_genai_prices():
    usage = Usage(input_tokens=1000, output_tokens=500, details={"cached_tokens": 400})
    cost, source = price("openai", "gpt-4o-mini", usage)
    # 600 fresh input at $0.15/M + 400 cached at $0.075/M + 500 output at $0.60/M
    assert source == "computed"
    assert cost == pytest.approx(600 * 0.15e-6 + 400 * 0.075e-6 + 500 * 0.60e-6)


def test_gpt_image_usage_prices_text_and_image_tokens_apart():
    usage = Usage(input_tokens=50, output_tokens=1056, details={"input_tokens_details": {"text_tokens": 10, "image_tokens": 40}})
    cost, source = price("openai", "gpt-image-1", usage, n_images=1, size="1024x1024", quality="medium")
    assert source == "computed"
    assert cost == pytest.approx(10 * 5e-6 + 40 * 10e-6 + 1056 * 40e-6)


def test_a_model_genai_prices_lacks_falls_back_to_its_family_in_the_table():
    usage = Usage(input_tokens=50, output_tokens=1056, details={"input_tokens_details": {"text_tokens": 10, "image_tokens": 40}})
    family_cost, family_source = price("openai", "gpt-image-2", usage)
    cost, source = price("openai", "gpt-image-2.6-flare", usage)
    assert (family_source, source) == ("computed", "table")
    assert cost == pytest.approx(family_cost)
    assert cost == pytest.approx(10 * 5e-6 + 40 * 8e-6 + 1056 * 30e-6)


def test_dalle3_is_priced_per_image_from_the_dated_table():
    assert price("openai", "dall-e-3", None, n_images=2, size="1024x1024", quality="standard") == (pytest.approx(0.08), "table")
    assert price("openai", "dall-e-3", None, n_images=1, size="1792x1024", quality="hd") == (pytest.approx(0.12), "table")
    assert price("openai", "dall-e-2", None, n_images=3, size="256x256") == (pytest.approx(0.048), "table")
    assert price_table()["as_of"] and price_table()["source"]


def test_karlo_is_free_within_quota_and_says_so():
    assert price("karlo", "karlo-v2", None, n_images=4) == (0.0, "table")


def test_unknown_model_or_missing_usage_is_unpriced_not_zero():
    assert price("openai", "some-future-model", Usage(100, 100)) == (None, "unpriced")
    assert price("openai", "gpt-image-2", None, n_images=1, size="1024x1024") == (None, "unpriced")
    assert price("openai", "gpt-image-2", Usage(None, None)) == (None, "unpriced")
    assert price("openai", "dall-e-3", None, n_images=1, size="999x999") == (None, "unpriced")


def test_a_reported_cost_wins():
    assert price("openai", "gpt-4o", Usage(10, 10, {"cost_usd": 0.5})) == (0.5, "reported")
