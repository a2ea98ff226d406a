"""Which image and chat models exist (every engine's, see ``ImageModel.engine``), what each can do, and whether a request fits it.

The facts live in ``lib/data/models.toml``; this module reads them once and
answers questions: which models to offer for this config today, how soon one
retires and what replaces it, and what exactly is wrong with a size or request
(in words that say what to change).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import threading
import time
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from lib import clock, limits
from lib.config import ProviderConfig

MODELS_FILE = Path(__file__).resolve().parent / "data" / "models.toml"
WARN_DAYS = 30  # a model retiring this soon carries a warning

CAPABILITIES = (
    "generate", "edit", "mask", "multi_image_edit", "variation_endpoint", "streaming_partials", "transparent_background",
    # engines beyond OpenAI's: a required-mask repaint, resampling, and prompt facts
    "variation", "inpaint", "upscale", "negative_prompt", "seed", "english_only", "nsfw_check",
)
# Derived: a model can make variations either through the legacy endpoint or by editing with a prompt.
VARIATION = "variation"
# Derived: a model edits (the Edit page's engines) through OpenAI-style edits or by inpainting (Karlo: mask required).
ANY_EDIT = "any_edit"


@dataclass(frozen=True)
class SizeRules:
    """Limits on a custom WIDTHxHEIGHT for models that take arbitrary sizes."""

    multiple_of: int = 16
    max_aspect: float = 3.0
    max_long_side: int = 3840
    max_pixels: int = 3840 * 2160
    experimental_above_pixels: int = 2560 * 1440


@dataclass(frozen=True)
class ImageModel:
    id: str
    family: str
    label: str
    capabilities: frozenset[str]
    sizes: tuple[str, ...]  # the fixed list, or () when any size within the rules is allowed
    size_presets: tuple[str, ...]  # what the UI offers first
    qualities: tuple[str, ...]
    output_formats: tuple[str, ...]
    backgrounds: tuple[str, ...]
    moderation: tuple[str, ...]
    input_fidelity: tuple[str, ...]
    n_max: int
    prompt_max: int
    n_min: int = 1
    max_input_images: int = 16
    max_input_bytes: int = 50 * 1024 * 1024
    square_input: bool = False
    max_input_side: int = 2048  # the longest input side the model uses; bigger only slows the upload
    input_formats: tuple[str, ...] = ("png",)  # what the endpoint takes, preferred first (see models.toml)
    aliases: tuple[str, ...] = ()
    released: date | None = None
    retires: date | None = None
    replacement: str | None = None
    engine: str = "openai"  # which lib.providers engine serves it
    size_range: tuple[int, int] | None = None  # any WxH with both sides in this range, multiples of size_multiple
    size_multiple: int = 16
    delivery_hosts: tuple[str, ...] = ()  # hosts its result URLs may come from besides the base URL's own
    options: dict = field(default_factory=dict, hash=False, compare=False)  # engine-specific lists, e.g. aspect ratios

    @property
    def arbitrary_sizes(self) -> bool:
        return not self.sizes

    @property
    def legacy(self) -> bool:
        """The DALL-E contract: URL responses, PNG only, no GPT image parameters."""
        return self.family == "dall-e"

    @property
    def input_rules(self):
        """What ``lib.imaging.normalise_for_edit`` makes of an upload for this model."""
        from lib.imaging import InputRules  # imaging pulls in numpy and Pillow; the catalog stays light

        # "Under 4 MB" / "under 50 MB": decimal megabytes keep an upload under either reading.
        return InputRules(max_side=self.max_input_side, formats=self.input_formats, square=self.square_input,
                          max_bytes=self.max_input_bytes * 1_000_000 // 2**20)

    def can(self, capability: str) -> bool:
        if capability == VARIATION:
            return bool({"variation", "variation_endpoint", "edit"} & self.capabilities)
        if capability == ANY_EDIT:
            return bool({"edit", "inpaint"} & self.capabilities)
        return capability in self.capabilities

    def is_retired(self, today: date | None = None) -> bool:
        return self.retires is not None and (today or _today()) >= self.retires


@dataclass(frozen=True)
class ChatModel:
    id: str
    family: str
    label: str
    aliases: tuple[str, ...] = ()
    released: date | None = None
    retires: date | None = None
    replacement: str | None = None

    def is_retired(self, today: date | None = None) -> bool:
        return self.retires is not None and (today or _today()) >= self.retires


@dataclass(frozen=True)
class Catalog:
    images: tuple[ImageModel, ...]
    chats: tuple[ChatModel, ...]
    size_rules: SizeRules = field(default_factory=SizeRules)


def _today() -> date:
    return clock.today()


_extra_files: list[Path] = []  # plug-in engines' own rows (Engine.models_file), read after models.toml


def add_models_file(path: Path) -> None:
    """Read a plug-in engine's ``[[image]]`` rows too (``lib.providers.registry.register`` calls this)."""
    path = Path(path)
    if path not in _extra_files:
        _extra_files.append(path)
        load.cache_clear()


def remove_models_file(path: Path) -> None:
    if Path(path) in _extra_files:
        _extra_files.remove(Path(path))
        load.cache_clear()


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The catalog from ``models.toml`` and any plug-in files (read once per process)."""
    raw = tomllib.loads(MODELS_FILE.read_text(encoding="utf-8"))
    rows = list(raw.get("image", []))
    for extra in _extra_files:
        rows += tomllib.loads(extra.read_text(encoding="utf-8")).get("image", [])
    images = []
    for row in rows:
        unknown = set(row["capabilities"]) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"{MODELS_FILE}: {row['id']} has unknown capabilities {sorted(unknown)}")
        arbitrary = row["sizes"] == "arbitrary"
        sizes = () if arbitrary else tuple(row["sizes"])
        images.append(ImageModel(
            id=row["id"], family=row["family"], label=row["label"],
            capabilities=frozenset(row["capabilities"]),
            sizes=sizes,
            size_presets=tuple(row.get("size_presets", sizes)),
            qualities=tuple(row["qualities"]),
            output_formats=tuple(row["output_formats"]),
            backgrounds=tuple(row.get("backgrounds", ())),
            moderation=tuple(row.get("moderation", ())),
            input_fidelity=tuple(row.get("input_fidelity", ())),
            n_min=int(row.get("n_min", 1)), n_max=int(row["n_max"]),
            prompt_max=int(row["prompt_max"]),
            max_input_images=int(row.get("max_input_images", 16)),
            max_input_bytes=int(row.get("max_input_bytes", 50 * 1024 * 1024)),
            square_input=bool(row.get("square_input", False)),
            max_input_side=int(row.get("max_input_side", 2048)),
            input_formats=tuple(row.get("input_formats", ("png",))),
            aliases=tuple(row.get("aliases", ())),
            released=row.get("released"), retires=row.get("retires"), replacement=row.get("replacement"),
            engine=row.get("engine", "openai"),
            size_range=tuple(row["size_range"]) if "size_range" in row else None,
            size_multiple=int(row.get("size_multiple", 16)),
            delivery_hosts=tuple(row.get("delivery_hosts", ())),
            options=dict(row.get("options", {})),
        ))
    chats = [
        ChatModel(
            id=row["id"], family=row["family"], label=row["label"], aliases=tuple(row.get("aliases", ())),
            released=row.get("released"), retires=row.get("retires"), replacement=row.get("replacement"),
        )
        for row in raw.get("chat", [])
    ]
    return Catalog(tuple(images), tuple(chats), SizeRules(**raw.get("arbitrary_sizes", {})))


def image_model(model_id: str) -> ImageModel | None:
    """The catalog row for an image model id or one of its dated snapshots; ``None`` if unknown."""
    for m in load().images:
        if model_id == m.id or model_id in m.aliases:
            return m
    return None


def chat_model(model_id: str) -> ChatModel | None:
    for m in load().chats:
        if model_id == m.id or model_id in m.aliases:
            return m
    return None


def _lookup(model: ImageModel | ChatModel | str) -> ImageModel | ChatModel | None:
    if isinstance(model, str):
        return image_model(model) or chat_model(model)
    return model


def replacement(model: ImageModel | ChatModel | str) -> str | None:
    """The id to suggest instead of a retired or retiring model."""
    found = _lookup(model)
    return found.replacement if found else None


def retirement_warning(model: ImageModel | ChatModel | str, today: date | None = None) -> str | None:
    """A sentence for a model that is retired or retires within ``WARN_DAYS``; ``None`` otherwise."""
    found = _lookup(model)
    if found is None or found.retires is None:
        return None
    today = today or _today()
    instead = f" Use {found.replacement} instead." if found.replacement else ""
    days = (found.retires - today).days
    if days <= 0:
        return (f"{found.id} was retired on {found.retires.isoformat()} and no longer works on api.openai.com "
                f"(an OpenAI-compatible server may still serve it).{instead}")
    if days <= WARN_DAYS:
        when = "tomorrow" if days == 1 else f"in {days} days"
        return f"{found.id} retires on {found.retires.isoformat()} ({when}).{instead}"
    return None


# ------------------------------------------------------------------ what to offer

_models_cache: dict[tuple[str, str], tuple[float, frozenset[str] | None]] = {}
_models_lock = threading.Lock()


OPENAI_WIRE_ENGINES = ("openai", "openai_compat")  # engines whose GET /v1/models (OpenAI's wire) narrows the offer


def available_model_ids(cfg: ProviderConfig) -> frozenset[str] | None:
    """The model ids this key may use, from ``GET /v1/models``; ``None`` when that cannot be asked.

    Cached per (base URL, key, day) for ``limits.MODELS_TTL_S``: models shut down on a
    given day, so a listing is not reused across days.  A failure is
    remembered briefly so an offline app does not wait on every rerun.
    """
    if not cfg.usable or cfg.provider not in OPENAI_WIRE_ENGINES:
        return None
    # The key is hashed only so the cache key is not the secret itself.
    cache_key = (cfg.base_url, hashlib.sha256((cfg.key or "").encode()).hexdigest(), clock.today())
    now = time.monotonic()
    with _models_lock:
        hit = _models_cache.get(cache_key)
        if hit and hit[0] > now:
            return hit[1]
    ids: frozenset[str] | None
    try:
        from lib.providers.openai_common import make_client

        # Without the demo fault headers: an injected fault is meant for the image or chat call, not this listing.
        client = make_client(dataclasses.replace(cfg, extra_headers={}), timeout=limits.MODELS_TIMEOUT_S, max_retries=0)
        ids = frozenset(m.id for m in client.models.list())
        expires = now + limits.MODELS_TTL_S
    except Exception:  # offline, no permission to list, not an OpenAI server: fall back to the catalog
        ids = None
        expires = now + limits.MODELS_FAILURE_TTL_S
    with _models_lock:
        _models_cache[cache_key] = (expires, ids)
    return ids


def forget_available_models() -> None:
    """Drop cached listings (tests, or after the key changes)."""
    with _models_lock:
        _models_cache.clear()


def _offer(models, cfg: ProviderConfig, today: date | None):
    today = today or _today()
    if cfg.is_official_openai:  # a retired model only fails there; elsewhere a compatible server may still serve it
        models = [m for m in models if not m.is_retired(today)]
    ids = available_model_ids(cfg)
    if ids:
        narrowed = [m for m in models if m.id in ids or ids.intersection(m.aliases)]
        models = narrowed or models  # a listing without any of ours says nothing about images
    return list(models)


def image_models(cfg: ProviderConfig, today: date | None = None, capability: str | None = None) -> list[ImageModel]:
    """Image models of ``cfg``'s engine to offer today, default first; ``capability`` narrows (see ``ImageModel.can``)."""
    models = [m for m in engine_models(cfg.provider) if capability is None or m.can(capability)]
    return _offer(models, cfg, today)


def engine_models(engine: str) -> list[ImageModel]:
    """Every catalog row an engine serves, retired ones too, in the file's order."""
    return [m for m in load().images if m.engine == engine]


def chat_models(cfg: ProviderConfig, today: date | None = None) -> list[ChatModel]:
    """Chat models to offer for this config today, default first."""
    return _offer(load().chats, cfg, today)


# ------------------------------------------------------------------ validation

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×*]\s*(\d+)\s*$")


def parse_size(size: str) -> tuple[int, int] | None:
    """``(width, height)`` for ``"1536x1024"`` (also ``×`` or spaces); ``None`` for ``auto`` or nonsense."""
    match = _SIZE_RE.match(size or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _or_list(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _fit_inside(w: int, h: int, rules: SizeRules) -> tuple[int, int]:
    """The largest size with the same aspect ratio, multiples of 16, within the limits."""
    scale = min(1.0, rules.max_long_side / max(w, h), math.sqrt(rules.max_pixels / (w * h)))
    step = rules.multiple_of
    return max(step, int(w * scale) // step * step), max(step, int(h * scale) // step * step)


def validate_size(model: ImageModel, size: str) -> str | None:
    """What is wrong with ``size`` for ``model`` (naming the first bad value and the fix), or ``None``."""
    if size is None or size.strip() == "":
        return None  # not sent: the model's default applies
    size = size.strip().lower()
    if size == "auto":
        if model.arbitrary_sizes or "auto" in model.sizes:
            return None
        return f"{model.id} has no automatic size; pick {_or_list(model.sizes)}."
    parsed = parse_size(size)
    if parsed is None:
        return f"Write the size as WIDTHxHEIGHT, for example 1536x1024 (got {size!r})."
    w, h = parsed
    if model.size_range is not None:
        lo, hi = model.size_range
        step = model.size_multiple
        for side, value in (("Width", w), ("Height", h)):
            if not lo <= value <= hi:
                return f"{side} {value} is outside {model.label}'s {lo}–{hi} px; pick a size within it."
            if value % step:
                return f"{side} {value} is not a multiple of {step}: use {value // step * step} or {(value // step + 1) * step}."
        return None
    if not model.arbitrary_sizes:
        if f"{w}x{h}" in model.sizes:
            return None
        others = "" if model.legacy else " For a custom size pick a model that takes any size, such as gpt-image-2."
        return f"{model.id} makes only {_or_list(model.sizes)}; {w}x{h} is not one of them.{others}"
    rules = load().size_rules
    step = rules.multiple_of
    for side, value in (("Width", w), ("Height", h)):
        if value < step:
            return f"{side} {value} is too small: use at least {step}."
        if value % step:
            lower, upper = value // step * step, (value // step + 1) * step
            return f"{side} {value} is not a multiple of {step}: use {lower} or {upper}."
    if max(w, h) / min(w, h) > rules.max_aspect + 1e-9:
        long_name, short_name = ("width", "height") if w > h else ("height", "width")
        short = min(w, h)
        need = math.ceil(max(w, h) / rules.max_aspect / step) * step
        return (f"{w}x{h} is more than {rules.max_aspect:g}:1; the ratio must be between 1:{rules.max_aspect:g} and "
                f"{rules.max_aspect:g}:1. Make the {short_name} at least {need} (now {short}) or shorten the {long_name} "
                f"to {short * int(rules.max_aspect)}.")
    if max(w, h) > rules.max_long_side or w * h > rules.max_pixels:
        fw, fh = _fit_inside(w, h, rules)
        return (f"{w}x{h} is larger than {model.id} allows (at most 3840x2160 or 2160x3840, "
                f"{rules.max_pixels:,} pixels); try {fw}x{fh}.")
    return None


def size_is_experimental(model: ImageModel, size: str) -> bool:
    """OpenAI calls sizes above 2560x1440 experimental: they work but may look worse."""
    parsed = parse_size(size or "")
    return bool(model.arbitrary_sizes and parsed and parsed[0] * parsed[1] > load().size_rules.experimental_above_pixels)


def check_request(
    model: ImageModel,
    prompt: str | None,
    size: str | None = None,
    n: int = 1,
    quality: str | None = None,
    output_format: str | None = None,
    background: str | None = None,
    *,
    output_compression: int | None = None,
    moderation: str | None = None,
    partial_images: int = 0,
    needs_prompt: bool = True,
) -> list[tuple[str, str]]:
    """Every problem as ``(parameter, message)``, in form order; empty when the request fits the model."""
    problems: list[tuple[str, str]] = []
    text = prompt or ""
    if needs_prompt and not text.strip():
        problems.append(("prompt", "Write a prompt first: describe the picture you want."))
    elif len(text) > model.prompt_max:
        over = len(text) - model.prompt_max
        problems.append(("prompt", f"The prompt is {len(text):,} characters; {model.id} takes at most "
                                   f"{model.prompt_max:,}. Shorten it by {over:,}."))
    size_problem = validate_size(model, size) if size else None
    if size_problem:
        problems.append(("size", size_problem))
    if not isinstance(n, int) or not model.n_min <= n <= model.n_max:
        if model.n_max == 1:
            problems.append(("n", f"{model.id} makes one image per call; set the number of images to 1."))
        else:
            problems.append(("n", f"{model.id} makes {model.n_min}–{model.n_max} images per call; {n} is out of range."))
    if quality and quality not in model.qualities:
        problems.append(("quality", f"{model.id} does not offer quality {quality!r}; choose {_or_list(model.qualities)}."))
    if output_format and output_format not in model.output_formats:
        problems.append(("output_format", f"{model.id} cannot return {output_format}; choose {_or_list(model.output_formats)}."))
    if background and background != "auto":
        if background not in model.backgrounds:
            offered = f"; choose {_or_list(model.backgrounds)}" if model.backgrounds else ""
            problems.append(("background", f"{model.id} does not take a {background} background{offered}."))
        elif background == "transparent" and (output_format or "png") not in ("png", "webp"):
            problems.append(("background", f"A transparent background needs PNG or WebP output; switch the format from {output_format}."))
    if output_compression is not None:
        if (output_format or "png") not in ("jpeg", "webp"):
            problems.append(("output_compression", "Compression applies only to JPEG or WebP output; pick one of those or leave compression off."))
        elif not 0 <= output_compression <= 100:
            problems.append(("output_compression", f"Compression must be 0–100 (got {output_compression})."))
    if moderation and moderation not in model.moderation:
        offered = f"; choose {_or_list(model.moderation)}" if model.moderation else ""
        problems.append(("moderation", f"{model.id} does not take moderation {moderation!r}{offered}."))
    if partial_images:
        if not model.can("streaming_partials"):
            problems.append(("partial_images", f"{model.id} cannot stream previews; set partial images to 0."))
        elif not 0 <= partial_images <= 3:
            problems.append(("partial_images", f"Partial images must be 0–3 (got {partial_images})."))
    return problems

