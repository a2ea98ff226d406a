"""What a call cost in USD, and where that figure came from (``cost_source``).

- ``reported``: the provider put a cost in the usage (``usage.details["cost_usd"]``).
- ``computed``: genai-prices priced the reported token usage.
- ``table``: ``lib/data/prices.toml`` priced it (a model genai-prices does not know
  yet, legacy DALL·E per-image prices, Karlo's free quota).
- ``unpriced``: no usage or no known price.  The cost is then ``None``, never a silent 0.
"""
from __future__ import annotations

import fnmatch
import tomllib
import warnings
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lib import clock
from lib.types import Usage

PRICES_FILE = Path(__file__).with_name("data") / "prices.toml"
KARLO_FREE_QUOTA_PER_MONTH = 500
MEGAPIXEL = 1024 * 1024  # per-megapixel prices: a 1024x1024 picture is one (BFL's "1 MP" price; unverified)

# Our usage detail keys (OpenAI's own names, nested or flattened) -> genai-prices usage keys.
_NESTED = {
    "input_tokens_details": {"text_tokens": "input_text_tokens", "image_tokens": "input_image_tokens", "cached_tokens": "cache_read_tokens", "audio_tokens": "input_audio_tokens"},
    "prompt_tokens_details": {"cached_tokens": "cache_read_tokens", "audio_tokens": "input_audio_tokens", "image_tokens": "input_image_tokens", "text_tokens": "input_text_tokens"},
    "output_tokens_details": {"image_tokens": "output_image_tokens", "text_tokens": "output_text_tokens", "reasoning_tokens": "output_reasoning_tokens"},
    "completion_tokens_details": {"reasoning_tokens": "output_reasoning_tokens", "audio_tokens": "output_audio_tokens"},
}
_FLAT = {
    "cached_tokens": "cache_read_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "input_text_tokens": "input_text_tokens",
    "input_image_tokens": "input_image_tokens",
    "output_image_tokens": "output_image_tokens",
    "output_text_tokens": "output_text_tokens",
    "reasoning_tokens": "output_reasoning_tokens",
    "audio_tokens": "input_audio_tokens",
    # OpenAI's images usage only breaks down the input, so bare text/image counts are input counts
    "text_tokens": "input_text_tokens",
    "image_tokens": "input_image_tokens",
}


_extra_files: list[Path] = []  # plug-in engines' own price rows (Engine.prices_file)


def add_prices_file(path: Path) -> None:
    """Price a plug-in engine's models from its own file too (``lib.providers.registry.register`` calls this)."""
    path = Path(path)
    if path not in _extra_files:
        _extra_files.append(path)
        price_table.cache_clear()


def remove_prices_file(path: Path) -> None:
    if Path(path) in _extra_files:
        _extra_files.remove(Path(path))
        price_table.cache_clear()


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    """The dated table in ``lib/data/prices.toml``, with any plug-in's rows after it."""
    table = tomllib.loads(PRICES_FILE.read_text(encoding="utf-8"))
    for extra in _extra_files:
        for kind, rows in tomllib.loads(extra.read_text(encoding="utf-8")).items():
            if isinstance(rows, list):
                table.setdefault(kind, []).extend(rows)
    return table


def token_counts(usage: Usage) -> dict[str, int]:
    """Usage as genai-prices keys (``input_tokens``, ``input_image_tokens``, ``cache_read_tokens``, ...)."""
    counts: dict[str, int] = {}
    if usage.input_tokens is not None:
        counts["input_tokens"] = int(usage.input_tokens)
    if usage.output_tokens is not None:
        counts["output_tokens"] = int(usage.output_tokens)
    details = usage.details or {}
    for group, names in _NESTED.items():
        part = details.get(group)
        if isinstance(part, dict):
            for name, key in names.items():
                if isinstance(part.get(name), int) and part[name] > 0:
                    counts.setdefault(key, part[name])
    for name, key in _FLAT.items():
        value = details.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            counts.setdefault(key, value)
    # genai-prices counts reasoning within output_tokens; dropping an unknown audio split keeps it valid
    return counts


def _table_provider(provider: str) -> str:
    """Whose rows of the price table apply to an engine (``Engine.prices_as``, else its own id)."""
    try:
        from lib.providers import registry
    except ImportError:  # pragma: no cover
        return provider
    engine = registry.get(provider)
    return (engine.prices_as if engine is not None else None) or provider


def _genai_provider(provider: str) -> str | None:
    """genai-prices' id for an engine (``Engine.genai_prices_provider``), or ``None`` when it has none."""
    try:
        from lib.providers import registry
    except ImportError:  # pragma: no cover
        return None
    engine = registry.get(provider)
    return engine.genai_prices_provider if engine is not None else None


def _genai_price(model: str, counts: dict[str, int], when: datetime | None, provider_id: str = "openai") -> float | None:
    # Remembered: a Compare run prices every target twice (its estimate, then its usage) and the next run asks the
    # same again; each answer took genai-prices ~0.3 ms of the interpreter, on the path of every cell.  Undated
    # calls are priced as of now by genai-prices, so they are remembered for the day only.
    return _genai_price_remembered(model, tuple(sorted(counts.items())), when, provider_id,
                                   clock.today() if when is None else None)


@lru_cache(maxsize=512)
def _genai_price_remembered(model: str, counts: tuple[tuple[str, int], ...], when: datetime | None, provider_id: str,
                            _day) -> float | None:
    counts = dict(counts)
    try:
        from genai_prices import Usage as GenaiUsage, calc_price
    except ImportError:  # pragma: no cover - genai-prices is a declared dependency
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(GenaiUsage(**counts), model, provider_id=provider_id, genai_request_timestamp=when)
    except Exception:  # an unknown model or usage it cannot split: fall back to the table, never crash a record
        return None
    return float(result.total_price)


def _table_token_price(provider: str, model: str, counts: dict[str, int]) -> float | None:
    for row in price_table().get("tokens", []):
        if row["provider"] != provider or not any(fnmatch.fnmatchcase(model, p) for p in row["models"]):
            continue
        per = {k: Decimal(str(v)) / Decimal(1_000_000) for k, v in row.items() if isinstance(v, (int, float))}
        total_in = counts.get("input_tokens", 0)
        image_in = counts.get("input_image_tokens", 0)
        cached = counts.get("cache_read_tokens", 0)
        text_in = counts.get("input_text_tokens", max(total_in - image_in, 0))
        cached_text = min(cached, text_in)
        total_out = counts.get("output_tokens", 0)
        text_out = counts.get("output_text_tokens", 0)
        image_out = counts.get("output_image_tokens", max(total_out - text_out, 0))
        cost = (
            (text_in - cached_text) * per["text_in"]
            + cached_text * per.get("cached_text_in", per["text_in"])
            + image_in * per["image_in"]
            + image_out * per["image_out"]
            + text_out * per.get("text_out", per["image_out"])
        )
        return float(cost)
    return None


def _table_image_price(provider: str, model: str, n_images: int, size: str | None, quality: str | None) -> float | None:
    for row in price_table().get("per_image", []):
        if row["provider"] != provider or not fnmatch.fnmatchcase(model, row["model"]):
            continue
        if "quality" in row and row["quality"] != (quality or "standard"):
            continue
        if "usd" in row:
            return float(Decimal(str(row["usd"])) * n_images)
        each = row.get("sizes", {}).get(size or "")
        if each is not None:
            return float(Decimal(str(each)) * n_images)
    return None


def _table_megapixel_price(provider: str, model: str, n_images: int, size: str | None,
                           details: dict[str, Any]) -> float | None:
    """Per-megapixel engines (FLUX): the first megapixel, each further output one, and every input one."""
    for row in price_table().get("per_megapixel", []):
        if row["provider"] != provider or not fnmatch.fnmatchcase(model, row["model"]):
            continue
        out_mp = details.get("output_mp")
        if not isinstance(out_mp, (int, float)):
            try:
                w, h = (int(v) for v in str(size).lower().split("x"))
            except ValueError:
                return None
            out_mp = w * h / MEGAPIXEL
        in_mp = details.get("input_mp") if isinstance(details.get("input_mp"), (int, float)) else 0.0
        first, extra = Decimal(str(row["first_mp"])), Decimal(str(row["extra_mp"]))
        each = first + Decimal(str(max(out_mp - 1.0, 0.0))) * extra + Decimal(str(in_mp)) * extra
        return float(each * n_images)
    return None


def price(
    provider: str,
    model: str | None,
    usage: Usage | None,
    *,
    n_images: int = 0,
    size: str | None = None,
    quality: str | None = None,
    when: datetime | None = None,
) -> tuple[float | None, str]:
    """``(cost_usd, cost_source)`` for one call; ``(None, "unpriced")`` when we cannot know."""
    if usage is not None and isinstance((usage.details or {}).get("cost_usd"), (int, float)):
        return float(usage.details["cost_usd"]), "reported"
    model = model or ""
    genai_provider = _genai_provider(provider)
    provider = _table_provider(provider)
    counts = token_counts(usage) if usage is not None else {}
    if counts.get("input_tokens") is not None or counts.get("output_tokens") is not None:
        if genai_provider:
            cost = _genai_price(model, counts, when, genai_provider)
            if cost is not None:
                return cost, "computed"
        cost = _table_token_price(provider, model, counts)
        if cost is not None:
            return cost, "table"
        return None, "unpriced"
    if n_images > 0:
        cost = _table_megapixel_price(provider, model, n_images, size, (usage.details or {}) if usage else {})
        if cost is not None:
            return cost, "table"
        quality = {"auto": None}.get(quality or "", quality)
        cost = _table_image_price(provider, model, n_images, size, quality)
        if cost is not None:
            return cost, "table"
    return None, "unpriced"


def estimate(provider: str, model: str, settings: dict[str, Any]) -> float | None:
    """What one call should cost before it is sent, from the per-image table; ``None`` when only usage can tell."""
    n = settings.get("n") or settings.get("samples") or 1
    size = settings.get("size") or (f"{settings['width']}x{settings['height']}" if settings.get("width") else None)
    quality = {"auto": None}.get(settings.get("quality") or "", settings.get("quality"))
    provider = _table_provider(provider)
    return (_table_megapixel_price(provider, model or "", int(n), size, {})
            if size else None) or _table_image_price(provider, model or "", int(n), size, quality)


ESTIMATE_PROMPT_TOKENS = 60  # a typical prompt's text tokens, for an estimate made before sending
ESTIMATE_REPLY_TOKENS = 1_000  # a chat reply's output tokens when no max_tokens caps it, for the same estimate
ESTIMATE_CHARS_PER_TOKEN = 3  # fewer than English's ~4, so Korean and other scripts are not under-estimated


def estimate_chat(provider: str, model: str, messages: list[dict], max_tokens: int | None = None) -> float | None:
    """What a chat call should cost before it is sent: its text's tokens in, ``max_tokens`` (or a typical reply) out."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    usage = Usage(input_tokens=-(-chars // ESTIMATE_CHARS_PER_TOKEN), output_tokens=max_tokens or ESTIMATE_REPLY_TOKENS)
    cost, source = price(provider, model, usage)
    return cost if source != "unpriced" else None


def image_output_tokens(provider: str, model: str, quality: str | None, size: str | None) -> int | None:
    """Output image tokens one GPT image picture should take (``[[image_output_tokens]]``), scaled by its area."""
    provider = _table_provider(provider)
    for row in price_table().get("image_output_tokens", []):
        if row["provider"] != provider or not any(fnmatch.fnmatchcase(model or "", p) for p in row["models"]):
            continue
        level = quality if quality in ("low", "medium", "high") else ("high" if quality in ("xhigh", "max") else "medium")
        try:
            w, h = (int(v) for v in str(size).lower().split("x"))
        except ValueError:
            w, h = 1024, 1024
        return int(round(row[level] * (w * h) / (1024 * 1024)))
    return None


def estimate_tokens(provider: str, model: str, output_image_tokens: int, n: int = 1) -> float | None:
    """What a call making ``n`` pictures of ``output_image_tokens`` each should cost, priced as its usage would be."""
    out = output_image_tokens * n
    usage = Usage(input_tokens=ESTIMATE_PROMPT_TOKENS, output_tokens=out,
                  details={"input_text_tokens": ESTIMATE_PROMPT_TOKENS, "output_image_tokens": out})
    cost, source = price(provider, model, usage)
    return cost if source != "unpriced" else None
