"""The catalog walked through time: around every shutdown day in models.toml, the right models are offered,
warned about and hidden on api.openai.com (and still offered elsewhere), and every replacement named exists
and is not itself retired on that day.  Written against the catalog's own rows, so a new row is covered
without editing this file."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib import catalog, clock
from lib.config import ProviderConfig

OFFICIAL = ProviderConfig("openai", "live", "https://api.openai.com/v1", "sk-test")
COMPATIBLE = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-test")


@pytest.fixture(autouse=True)
def no_model_listing(monkeypatch):
    monkeypatch.setattr(catalog, "available_model_ids", lambda cfg: None)


def _rows():
    """OpenAI's rows: the ones whose shutdown days api.openai.com enforces."""
    return catalog.engine_models("openai") + list(catalog.load().chats)


def _days():
    shutdowns = sorted({m.retires for m in _rows() if m.retires})
    return sorted({d + timedelta(days=k) for d in shutdowns for k in (-1, 0, 1)})


def _offered(cfg, day):
    return {m.id for m in catalog.image_models(cfg, today=day)} | {m.id for m in catalog.chat_models(cfg, today=day)}


def test_there_are_shutdown_days_to_walk():
    assert len(_days()) >= 3


@pytest.mark.parametrize("day", _days(), ids=str)
def test_offer_warnings_and_replacements_on(day: date):
    official, elsewhere = _offered(OFFICIAL, day), _offered(COMPATIBLE, day)
    for m in _rows():
        warning = catalog.retirement_warning(m, day)
        if m.retires is None:
            assert m.id in official and warning is None
            continue
        days_left = (m.retires - day).days
        if days_left <= 0:  # the shutdown day itself counts as retired
            assert m.id not in official, f"{m.id} is offered on api.openai.com on {day}, retired {m.retires}"
            assert m.id in elsewhere, f"{m.id} should still be offered by a compatible server on {day}"
            assert warning and f"retired on {m.retires.isoformat()}" in warning
        else:
            assert m.id in official, f"{m.id} is hidden on {day} but retires only on {m.retires}"
            if days_left <= catalog.WARN_DAYS:
                assert warning and f"retires on {m.retires.isoformat()}" in warning
                assert ("tomorrow" if days_left == 1 else f"in {days_left} days") in warning
            else:
                assert warning is None
        if m.replacement:
            target = catalog.image_model(m.replacement) or catalog.chat_model(m.replacement)
            assert target is not None, f"{m.id} names unknown replacement {m.replacement}"
            assert not target.is_retired(day), f"{m.id} on {day} points at {m.replacement}, retired {target.retires}"
            if warning:
                assert m.replacement in warning


def test_the_default_offer_is_never_empty_or_retired():
    for day in _days():
        for cfg in (OFFICIAL, COMPATIBLE):
            first = catalog.image_models(cfg, today=day)[0]
            assert not first.is_retired(day), f"default image model {first.id} is retired on {day}"
            assert not catalog.chat_models(cfg, today=day)[0].is_retired(day)


def test_the_catalog_reads_the_app_clock(monkeypatch):
    """With no explicit day, the catalog uses lib.clock (STUDIO_TODAY), not the machine's date."""
    dated = sorted((m for m in catalog.engine_models("openai") if m.retires), key=lambda m: m.retires)[-1]
    monkeypatch.setenv("STUDIO_TODAY", (dated.retires - timedelta(days=1)).isoformat())
    assert clock.today() == dated.retires - timedelta(days=1)
    assert dated.id in {m.id for m in catalog.image_models(OFFICIAL)}
    monkeypatch.setenv("STUDIO_TODAY", dated.retires.isoformat())
    assert dated.id not in {m.id for m in catalog.image_models(OFFICIAL)}
