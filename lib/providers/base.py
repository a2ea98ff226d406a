"""What every image engine is: who it is, how it is reached, what it can do, which settings it takes, and its calls.

In the spirit of simonw/llm's ``Model`` and pydantic-ai's per-provider models:
one ``Engine`` subclass per service (OpenAI, Karlo, ...), listed in
``lib.providers.registry``.  Pages and Compare ask an engine what it can do and
which settings to draw; they never name a provider.  Model facts (sizes,
counts, limits, dates) come from ``lib/data/models.toml`` through
``lib.catalog``; prices from genai-prices or ``lib/data/prices.toml``.

Every call returns ``lib.types.ImageResult`` or raises a ``lib.errors.StudioError``;
``lib.send`` wraps them so each one leaves a ledger row.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lib.errors import InvalidInput, NotAvailable, StudioError
from lib.types import ImageResult

# What a call does; the ledger's ``action`` column is the engine's word for it (``Engine.ledger_action``).
GENERATE, EDIT, VARIATION, INPAINT = "generate", "edit", "variation", "inpaint"
ACTIONS = (GENERATE, EDIT, VARIATION, INPAINT)



@dataclass
class Progress:
    """News from a call in flight: how far along (0..1, when known), a preview picture, a sentence."""

    fraction: float | None = None
    preview: bytes | None = None
    preview_index: int | None = None  # OpenAI numbers its partial images per picture
    text: str | None = None


OnProgress = Callable[[Progress], None]


@dataclass(frozen=True)
class Capabilities:
    """What an engine's model can do; pages offer only what is true here."""

    generate: bool = False
    edit_mask: bool = False  # repaint where a mask says (OpenAI: transparent = edit)
    reference_images: int = 0  # edit by instruction with up to this many input pictures (0: cannot)
    variation: bool = False
    inpaint: bool = False  # a mask is required, not a hint (Karlo)
    upscale: bool = False
    negative_prompt: bool = False
    seed: bool = False
    streaming_previews: bool = False
    english_only: bool = False

    @property
    def edit(self) -> bool:
        return self.edit_mask or self.reference_images > 0

    def can(self, action: str) -> bool:
        return {GENERATE: self.generate, EDIT: self.edit, VARIATION: self.variation, INPAINT: self.inpaint}.get(action, False)

    def edit_kind(self) -> str:
        """How this model edits, in words for the Edit page."""
        if self.edit_mask and self.reference_images > 1:
            return f"edits inside a mask, or by instruction with up to {self.reference_images} reference images"
        if self.edit_mask:
            return "edits inside a mask"
        if self.reference_images:
            many = f"up to {self.reference_images} reference images" if self.reference_images > 1 else "one image"
            return f"edits by instruction (no mask) from {many}"
        return "cannot edit"


@dataclass(frozen=True)
class Setting:
    """One setting a page draws for a model.  ``name`` is the keyword the engine call takes.

    ``kind``: ``choice`` (one of ``choices``), ``size`` (a choice of ``choices``,
    plus any WIDTHxHEIGHT when ``custom`` is set), ``int`` (``minimum``..``maximum``),
    ``text``, ``bool``.  ``shown_when`` = (other setting's name, values): drawn
    and sent only while that setting has one of those values.  ``widget`` is the
    short name pages put in their widget keys (defaults to ``name``).
    """

    name: str
    label: str
    kind: str = "choice"
    choices: tuple = ()
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    custom: bool = False
    help: str | None = None
    shown_when: tuple[str, tuple] | None = None
    widget: str | None = None
    optional: bool = False  # "default" is offered and means "not sent"
    slider: bool = False  # drawn as a slider rather than a number box

    @property
    def key(self) -> str:
        return self.widget or self.name

    def applies(self, values: dict[str, Any]) -> bool:
        return self.shown_when is None or values.get(self.shown_when[0]) in self.shown_when[1]

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` for this setting, in words that say what to change; ``None`` if fine."""
        if value is None:
            return None
        if self.kind == "choice" and self.choices and value not in self.choices:
            return f"{self.label} {value!r} is not offered; choose {', '.join(map(str, self.choices))}."
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{self.label} must be a whole number (got {value!r})."
            if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
                return f"{self.label} must be from {self.minimum} to {self.maximum} (got {value})."
        return None


@dataclass(frozen=True)
class EngineModel:
    """One model an engine offers, as pages need it."""

    id: str
    label: str
    capabilities: Capabilities
    warning: str | None = None  # e.g. retires soon
    notes: tuple[str, ...] = field(default_factory=tuple)


class Engine:
    """One image service.  Subclasses set the identity and override the calls they support.

    Identity (class attributes): ``id`` (the ledger's provider and the config key),
    ``label``, ``key_vars`` (environment variables that may hold the key; first wins),
    ``base_url_var`` and ``default_base_url``, ``key_label`` (sidebar), ``key_optional``
    (a server that needs no key, e.g. a local OpenAI-compatible one), ``needs_base_url``
    (no default service: live only once the base URL is set), ``demo_face``
    (the RunningEmulator attribute with its demo base URL, or ``None``),
    ``genai_prices_provider`` (genai-prices' provider id for token pricing).
    """

    id: ClassVar[str]
    label: ClassVar[str]
    key_vars: ClassVar[tuple[str, ...]] = ()
    base_url_var: ClassVar[str | None] = None
    default_base_url: ClassVar[str | None] = None
    key_label: ClassVar[str] = "API key"
    key_optional: ClassVar[bool] = False
    needs_base_url: ClassVar[bool] = False
    demo_face: ClassVar[str | None] = None
    genai_prices_provider: ClassVar[str | None] = None
    prices_as: ClassVar[str | None] = None  # whose rows of prices.toml price it (default: its own id)
    blurb: ClassVar[str] = ""
    extra_pages: ClassVar[tuple[str, ...]] = ()  # pages only this engine has (e.g. Karlo's upscale and NSFW check)
    models_file: ClassVar[str | None] = None  # a plug-in's own [[image]] rows (built-in engines use lib/data/models.toml)
    prices_file: ClassVar[str | None] = None  # a plug-in's own price rows (built-in: lib/data/prices.toml)

    def base_url_problem(self, base_url: str) -> str | None:
        """What is wrong with a base URL for this engine, in words (config shows it); ``None`` when it looks right."""
        return None

    # ---------------------------------------------------------------- models and settings
    def models(self, cfg, action: str | None = None) -> list[EngineModel]:
        """Models to offer for this config today, default first; ``action`` narrows to what can do it."""
        raise NotImplementedError

    def model(self, model_id: str) -> EngineModel | None:
        """The model with this id (also when not offered today), or ``None``."""
        raise NotImplementedError

    def capabilities(self, model_id: str | None = None) -> Capabilities:
        found = self.model(model_id) if model_id else None
        if found is not None:
            return found.capabilities
        models = self.models(None)  # a model the catalog does not know: the engine's default model's
        return models[0].capabilities if models else Capabilities()

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        """The settings a page draws for ``model_id`` and ``action``, in form order."""
        return []

    def check(self, model_id: str, action: str, prompt: str | None, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """Every problem with a request as ``(parameter, sentence saying what to change)``; empty when it fits."""
        problems = []
        for setting in self.settings(model_id, action):
            if setting.applies(settings):
                message = setting.problem(settings.get(setting.name))
                if message:
                    problems.append((setting.name, message))
        return problems

    def endpoint(self, model_id: str, action: str) -> str | None:
        """The path a call goes to, for a ledger row written without a result (an error)."""
        return None

    def ledger_action(self, action: str) -> str:
        return action

    def target_label(self, model_id: str, settings: dict[str, Any]) -> str:
        """A short name for a Compare column: the model and what sets these settings apart."""
        found = self.model(model_id)
        parts = [found.label if found else model_id]
        for name in ("size", "quality"):
            if settings.get(name):
                parts.append(str(settings[name]))
        if (settings.get("n") or 1) > 1:
            parts.append(f"×{settings['n']}")
        return " · ".join(parts)

    def default_compare_settings(self, model_id: str) -> dict[str, Any]:
        """Settings for a Compare target when a person adds this model without changing any."""
        values: dict[str, Any] = {}
        for setting in self.settings(model_id, GENERATE):
            if setting.default is not None and setting.applies(values) and setting.name not in ("n", "partial_images"):
                values[setting.name] = setting.default
        return values

    def settings_from_params(self, model_id: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A ledger row's params (what was sent) as this engine's settings, for "reuse these settings"."""
        found: dict[str, Any] = {}
        for setting in self.settings(model_id, action):
            value = params.get(setting.name)
            if setting.name == "n" and value is None:
                value = params.get("samples")
            if setting.name == "size" and value is None and params.get("width") and params.get("height"):
                value = f"{params['width']}x{params['height']}"
            if setting.name == "seed" and value is None and params.get("seeds"):
                value = ", ".join(map(str, params["seeds"]))
            if value is not None:
                found[setting.name] = value
        return found

    def estimate_usd(self, model_id: str, settings: dict[str, Any]) -> float | None:
        """What one generate call with these settings should cost, before sending; ``None`` when unknown."""
        return None

    # ---------------------------------------------------------------- calls
    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        """Pictures from a prompt.  ``retries=False``: the caller keeps its own clock (Compare), so nothing is re-sent."""
        raise self._cannot(GENERATE, model)

    def edit(self, cfg, *, model: str, prompt: str, images: list[bytes], mask: bytes | None,
             settings: dict[str, Any], timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        """``images[0]`` changed by ``prompt`` (inside ``mask``, studio convention: transparent = edit); the rest are references."""
        raise self._cannot(EDIT, model)

    def vary(self, cfg, *, model: str, image: bytes, prompt: str | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        raise self._cannot(VARIATION, model)

    def inpaint(self, cfg, *, model: str, prompt: str, image: bytes, mask: bytes, settings: dict[str, Any],
                timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        raise self._cannot(INPAINT, model)

    def mask_as_sent(self, mask: bytes) -> bytes:
        """The mask as this engine's wire takes it (what the ledger keeps); studio convention by default."""
        return mask

    def variation_prompt(self, model_id: str) -> str | None:
        """The starting text of a variation's prompt field ("" = optional); ``None`` when the call takes no prompt."""
        return None

    def prepare_prompt(self, model_id: str, prompt: str) -> tuple[str, list[str]]:
        """The prompt as this model should get it, and a sentence per change (e.g. shortened to its limit)."""
        return prompt, []

    def _cannot(self, action: str, model: str) -> StudioError:
        words = {GENERATE: "make pictures from a prompt", EDIT: "edit pictures", VARIATION: "make variations",
                 INPAINT: "inpaint"}[action]
        return NotAvailable(f"{self.label} ({model}) cannot {words}; pick another engine.", provider=self.id,
                            param="model", code="unsupported_action")

    def refuse(self, problems: list[tuple[str, str]]) -> None:
        """Raise the problems (if any) as one InvalidInput before anything is sent."""
        if problems:
            raise InvalidInput(" ".join(message for _p, message in problems), provider=self.id, param=problems[0][0],
                               code="invalid_request")

