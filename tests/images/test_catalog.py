"""The model catalog: what is offered where, retirement warnings, and validation messages that say what to change."""
from __future__ import annotations

from datetime import date

import pytest

from lib import catalog
from lib.config import ProviderConfig

TODAY = date(2026, 11, 28)
OFFICIAL = ProviderConfig("openai", "live", "https://api.openai.com/v1", "sk-test")
COMPATIBLE = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-test")  # nothing listens: listing fails


@pytest.fixture(autouse=True)
def no_model_listing(monkeypatch):
    """Catalog-only answers unless a test says otherwise (no network)."""
    monkeypatch.setattr(catalog, "available_model_ids", lambda cfg: None)


def ids(models):
    return [m.id for m in models]


def test_every_model_named_in_the_brief_is_in_the_catalog():
    images = {"gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst",
              "gpt-image-2.6-flare", "gpt-image-1.5", "gpt-image-1-mini", "chatgpt-image-latest", "gpt-image-1",
              "dall-e-2", "dall-e-3"}
    chats = {"gpt-6-luna", "gpt-6-sol", "gpt-6.1-terra", "gpt-6.1-sol", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.4",
             "gpt-5.5", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini",
             "gpt-4.1-nano", "gpt-3.5-turbo"}
    assert images <= {m.id for m in catalog.load().images}
    assert chats <= {m.id for m in catalog.load().chats}


def test_every_replacement_is_a_model_that_is_not_itself_retired():
    for m in catalog.load().images + catalog.load().chats:
        if m.replacement:
            target = catalog.image_model(m.replacement) or catalog.chat_model(m.replacement)
            assert target is not None, f"{m.id} points at unknown {m.replacement}"
            assert not target.is_retired(TODAY), f"{m.id} points at retired {m.replacement}"


def test_retired_models_are_hidden_on_api_openai_com_but_offered_elsewhere():
    official = ids(catalog.image_models(OFFICIAL, today=TODAY))
    elsewhere = ids(catalog.image_models(COMPATIBLE, today=TODAY))
    for retired in ("dall-e-2", "dall-e-3", "gpt-image-1"):
        assert retired not in official
        assert retired in elsewhere
    assert "gpt-image-1.5" in official  # retiring Dec 1, still works on Nov 28
    assert "gpt-image-1.5" not in ids(catalog.image_models(OFFICIAL, today=date(2026, 12, 1)))
    assert official[0] == "gpt-image-2"  # the default is a current model

    official_chat = ids(catalog.chat_models(OFFICIAL, today=TODAY))
    assert "gpt-3.5-turbo" not in official_chat and "gpt-4.1-nano" not in official_chat
    assert "gpt-3.5-turbo" in ids(catalog.chat_models(COMPATIBLE, today=TODAY))
    assert "gpt-5-mini" in official_chat


def test_capability_filter():
    assert ids(catalog.image_models(COMPATIBLE, today=TODAY, capability="variation_endpoint")) == ["dall-e-2"]
    editors = ids(catalog.image_models(COMPATIBLE, today=TODAY, capability="edit"))
    assert "dall-e-3" not in editors and "gpt-image-2" in editors and "dall-e-2" in editors
    # "variation": either the legacy endpoint or an edit with a prompt
    assert set(ids(catalog.image_models(COMPATIBLE, today=TODAY, capability="variation"))) == set(editors)
    assert "dall-e-2" not in ids(catalog.image_models(OFFICIAL, today=TODAY, capability="variation"))


def test_model_listing_narrows_the_offer_and_an_unhelpful_listing_does_not(monkeypatch):
    monkeypatch.setattr(catalog, "available_model_ids", lambda cfg: frozenset({"gpt-image-2-2026-04-21", "gpt-image-1.5", "gpt-5.4"}))
    assert ids(catalog.image_models(COMPATIBLE, today=TODAY)) == ["gpt-image-2", "gpt-image-1.5"]
    assert ids(catalog.chat_models(COMPATIBLE, today=TODAY)) == ["gpt-5.4"]
    monkeypatch.setattr(catalog, "available_model_ids", lambda cfg: frozenset({"some-embedding-model"}))
    assert len(catalog.image_models(COMPATIBLE, today=TODAY)) == len(catalog.engine_models("openai"))


def test_available_model_ids_falls_back_to_none_offline_and_caches(monkeypatch):
    monkeypatch.undo()  # the real function this time
    catalog.forget_available_models()
    assert catalog.available_model_ids(COMPATIBLE) is None  # connection refused
    assert catalog.available_model_ids(ProviderConfig("openai", "misconfigured", "x", None, problem="no key")) is None
    key = next(iter(catalog._models_cache))
    assert "sk-test" not in repr(key)  # the cache is keyed by a hash, not the secret


def test_retirement_warning_within_30_days_or_retired():
    warning = catalog.retirement_warning("gpt-image-1.5", TODAY)
    assert warning and "2026-12-01" in warning and "in 3 days" in warning and "gpt-image-2.6-sunburst" in warning
    assert catalog.retirement_warning("gpt-image-1.5", date(2026, 10, 31)) is None  # 31 days away
    assert "in 30 days" in catalog.retirement_warning("gpt-image-1.5", date(2026, 11, 1))
    gone = catalog.retirement_warning("dall-e-3", TODAY)
    assert "retired on 2026-05-12" in gone and "gpt-image-2" in gone
    assert "2026-12-11" in catalog.retirement_warning("gpt-5-mini", TODAY)
    assert catalog.retirement_warning("gpt-4o", TODAY) is None  # 2027-01-14 is 47 days away
    assert catalog.retirement_warning("gpt-image-2", TODAY) is None
    assert catalog.replacement("gpt-image-1") == "gpt-image-2.5-sunburst"


def test_snapshot_aliases_resolve():
    assert catalog.image_model("gpt-image-2.5-flare-2026-09-08").id == "gpt-image-2.5-flare"
    assert catalog.chat_model("gpt-4o-mini-2024-07-18").id == "gpt-4o-mini"
    assert catalog.image_model("no-such-model") is None


GPT2 = catalog.image_model("gpt-image-2")


@pytest.mark.parametrize("size, expected", [
    ("1000x1024", "Width 1000 is not a multiple of 16: use 992 or 1008"),
    ("1024x1000", "Height 1000 is not a multiple of 16: use 992 or 1008"),
    ("1024x3088", "ratio must be between 1:3 and 3:1"),
    ("4096x2160", "larger than gpt-image-2 allows"),
    ("3840x2176", "larger than gpt-image-2 allows"),
    ("big", "WIDTHxHEIGHT"),
    ("8x1024", "Width 8 is too small"),
])
def test_arbitrary_size_rules_name_the_first_bad_value(size, expected):
    message = catalog.validate_size(GPT2, size)
    assert message is not None and expected in message


@pytest.mark.parametrize("size", ["auto", "1024x1024", "1536x864", "3840x2160", "2160x3840", "768x2304", "1536 × 1024"])
def test_arbitrary_sizes_within_the_rules_pass(size):
    assert catalog.validate_size(GPT2, size) is None


def test_size_suggestions_are_themselves_valid():
    for bad in ("1000x1024", "4096x2160", "3840x2176", "5000x5000"):
        message = catalog.validate_size(GPT2, bad)
        suggestion = message.rstrip(".").split()[-1]
        if "x" in suggestion:
            assert catalog.validate_size(GPT2, suggestion) is None, (bad, message)


def test_fixed_size_models_list_what_they_take():
    message = catalog.validate_size(catalog.image_model("gpt-image-1.5"), "1536x864")
    assert "1024x1024" in message and "1536x1024" in message and "gpt-image-2" in message
    assert catalog.validate_size(catalog.image_model("dall-e-3"), "1792x1024") is None
    assert "no automatic size" in catalog.validate_size(catalog.image_model("dall-e-3"), "auto")
    assert catalog.validate_size(catalog.image_model("dall-e-2"), "512x512") is None


def messages(*args):
    return [message for _param, message in catalog.check_request(*args)]


def test_check_request_prompt_and_n_limits():
    dalle3 = catalog.image_model("dall-e-3")
    problems = messages(dalle3, "x" * 4001, "1024x1024", 2, "standard", None, None)
    assert problems == [
        "The prompt is 4,001 characters; dall-e-3 takes at most 4,000. Shorten it by 1.",
        "dall-e-3 makes one image per call; set the number of images to 1.",
    ]
    assert messages(dalle3, "x" * 4000, "1024x1024", 1, "hd", None, None) == []
    assert "1–10 images per call; 11 is out of range" in messages(GPT2, "cat", "auto", 11)[0]
    assert messages(GPT2, "cat", "auto", 0)
    assert "32,000" in messages(GPT2, "y" * 32001, "auto", 1)[0]
    assert messages(GPT2, "   ", "auto", 1) == ["Write a prompt first: describe the picture you want."]


def test_check_request_format_quality_background():
    assert "xhigh" in messages(GPT2, "cat", "auto", 1, "xhigh")[0]
    assert messages(catalog.image_model("gpt-image-2.5-sunburst"), "cat", "auto", 1, "xhigh") == []
    transparent_jpeg = messages(GPT2, "cat", "auto", 1, "auto", "jpeg", "transparent")
    assert transparent_jpeg == ["A transparent background needs PNG or WebP output; switch the format from jpeg."]
    assert messages(GPT2, "cat", "auto", 1, "auto", "webp", "transparent") == []
    assert "cannot return gif" in messages(GPT2, "cat", "auto", 1, "auto", "gif")[0]
    params = [p for p, _m in catalog.check_request(GPT2, "cat", "auto", 1, output_format="png", output_compression=50)]
    assert params == ["output_compression"]
    legacy = catalog.check_request(catalog.image_model("dall-e-2"), "cat", "1024x1024", 1, partial_images=2)
    assert [p for p, _m in legacy] == ["partial_images"]
