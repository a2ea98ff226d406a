"""OpenAI's image models as an engine: settings and capabilities from the catalog, calls through ``openai_images``."""
from __future__ import annotations

from typing import Any

from lib import catalog
from lib.providers import openai_images
from lib.providers.base import EDIT, GENERATE, VARIATION, Capabilities, Engine, EngineModel, OnProgress, Progress, Setting
from lib.types import ImageResult

_ACTION_CAPABILITY = {GENERATE: "generate", EDIT: catalog.ANY_EDIT, VARIATION: catalog.VARIATION}


def capabilities_of(spec: catalog.ImageModel) -> Capabilities:
    """A catalog row's capabilities in the engine interface's terms."""
    refs = spec.max_input_images if spec.can("multi_image_edit") else (1 if spec.can("edit") else 0)
    return Capabilities(
        generate=spec.can("generate"),
        edit_mask=(spec.can("mask") and spec.can("edit")) or spec.can("inpaint"),  # inpaint: a mask edit, mask required
        reference_images=refs if spec.can("edit") else 0,
        variation=spec.can(catalog.VARIATION),
        inpaint=spec.can("inpaint"),
        upscale=spec.can("upscale"),
        negative_prompt=spec.can("negative_prompt"),
        seed=spec.can("seed"),
        streaming_previews=spec.can("streaming_partials"),
        english_only=spec.can("english_only"),
    )


def engine_model(spec: catalog.ImageModel) -> EngineModel:
    return EngineModel(spec.id, spec.label, capabilities_of(spec), warning=catalog.retirement_warning(spec))


class CatalogEngine(Engine):
    """An engine whose models are rows of lib/data/models.toml with ``engine = <its id>``."""

    def models(self, cfg, action: str | None = None) -> list[EngineModel]:
        capability = _ACTION_CAPABILITY.get(action, action)
        if cfg is None:
            rows = [m for m in catalog.engine_models(self.id) if capability is None or m.can(capability)]
        else:
            rows = catalog.image_models(cfg, capability=capability)
        return [engine_model(m) for m in rows]

    def model(self, model_id: str) -> EngineModel | None:
        spec = self.spec(model_id)
        return engine_model(spec) if spec is not None else None

    def spec(self, model_id: str | None) -> catalog.ImageModel | None:
        spec = catalog.image_model(model_id) if model_id else None
        return spec if spec is not None and spec.engine == self.id else None

    def estimate_usd(self, model_id: str, settings: dict[str, Any]) -> float | None:
        from lib import pricing

        return pricing.estimate(self.id, model_id, settings)

    def prompt_problems(self, model_id: str, action: str, prompt: str | None) -> list[tuple[str, str]]:
        """The prompt's problem, if any: missing where the action needs one, or past the model's limit."""
        spec = self.spec(model_id)
        if action in (GENERATE, EDIT) and not (prompt or "").strip():
            return [("prompt", "Write a prompt first: describe the picture you want.")]
        if spec is not None and len(prompt or "") > spec.prompt_max:
            return [("prompt", f"The prompt is {len(prompt):,} characters; {spec.label} takes at most "
                               f"{spec.prompt_max:,}. Shorten it.")]
        return []


class OpenAIImages(CatalogEngine):
    id = "openai"
    label = "OpenAI"
    key_vars = ("OPENAI_API_KEY",)
    base_url_var = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    key_label = "OpenAI API key"
    demo_face = "openai_base_url"
    genai_prices_provider = "openai"
    blurb = "GPT Image models: generate, edit with a mask or up to 16 references, stream previews."

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        spec = self.spec(model_id)
        if spec is None:
            return [Setting("size", "Size", "size", ("auto", "1024x1024"), "auto", custom=True),
                    Setting("n", "Number of images", "int", default=1, minimum=1, maximum=10)]
        sizes = tuple(spec.size_presets or spec.sizes)
        default_size = "auto" if "auto" in sizes else ("1024x1024" if "1024x1024" in sizes else sizes[0])
        size = Setting("size", "Size", "size", sizes, default_size, custom=spec.arbitrary_sizes,
                       help="Both sides multiples of 16, aspect between 1:3 and 3:1, at most 3840x2160."
                       if spec.arbitrary_sizes else None)
        n = Setting("n", "Number of images", "int", default=1, minimum=spec.n_min, maximum=spec.n_max)
        quality = Setting("quality", "Quality", "choice", spec.qualities,
                          "auto" if "auto" in spec.qualities else spec.qualities[0])
        formats = Setting("output_format", "Output format", "choice", spec.output_formats, spec.output_formats[0],
                          widget="format")
        if action == VARIATION:
            return [n, size]
        if action == EDIT:
            found = [size, quality, n]
            if len(spec.output_formats) > 1:
                found.append(formats)
            if spec.input_fidelity:
                found.append(Setting("input_fidelity", "Input fidelity", "choice", spec.input_fidelity, None,
                                     optional=True, widget="fidelity",
                                     help="high keeps faces and details of the input closer, at a higher input cost."))
            return found
        found = [size, quality, formats]
        if any(f in spec.output_formats for f in ("jpeg", "webp")):
            found.append(Setting("output_compression", "Compression (%)", "int", default=100, minimum=0, maximum=100,
                                 shown_when=("output_format", ("jpeg", "webp")), widget="compression", slider=True,
                                 help="100 keeps the most detail."))
        if spec.backgrounds:
            found.append(Setting("background", "Background", "choice", spec.backgrounds, spec.backgrounds[0]))
        found.append(n)
        if spec.moderation:
            found.append(Setting("moderation", "Moderation", "choice", spec.moderation, spec.moderation[0],
                                 help="'low' filters less strictly."))
        if spec.can("streaming_partials"):
            found.append(Setting("partial_images", "Previews while generating", "int", default=0, minimum=0, maximum=3,
                                 widget="partials", slider=True,
                                 help="Partial images streamed before the final one (each costs extra output tokens)."))
        return found

    def default_compare_settings(self, model_id: str) -> dict[str, Any]:
        """A square picture at medium quality: comparable across models, and not the priciest."""
        spec = self.spec(model_id)
        if spec is None:
            return {}
        sizes = spec.size_presets or spec.sizes
        found = {"size": "1024x1024" if "1024x1024" in sizes or spec.arbitrary_sizes else sizes[0]}
        quality = next((q for q in ("medium", "standard") if q in spec.qualities), None)
        if quality:
            found["quality"] = quality
        return found

    def estimate_usd(self, model_id: str, settings: dict[str, Any]) -> float | None:
        from lib import pricing

        per_image = super().estimate_usd(model_id, settings)  # the DALL-E contract is priced per picture
        if per_image is not None:
            return per_image
        tokens = pricing.image_output_tokens(self.id, model_id, settings.get("quality"), settings.get("size"))
        extra = 100 * int(settings.get("partial_images") or 0)  # each preview costs about 100 output tokens
        return None if tokens is None else pricing.estimate_tokens(self.id, model_id, tokens + extra,
                                                                   int(settings.get("n") or 1))

    def check(self, model_id: str, action: str, prompt: str | None, settings: dict[str, Any]) -> list[tuple[str, str]]:
        spec = self.spec(model_id)
        if spec is None:
            return [] if (prompt or "").strip() or action == VARIATION else [
                ("prompt", "Write a prompt first: describe the picture you want.")]
        wanted = {k: settings.get(k) for k in ("size", "quality", "output_format", "background")}
        more = {k: settings[k] for k in ("output_compression", "moderation", "partial_images") if settings.get(k) is not None}
        if action == VARIATION:
            return catalog.check_request(spec, None, settings.get("size"), int(settings.get("n") or 1),
                                         needs_prompt=False) if spec.can("variation_endpoint") else []
        return catalog.check_request(spec, prompt, n=int(settings.get("n") or 1), **wanted, **more)

    def endpoint(self, model_id: str, action: str) -> str:
        if action == VARIATION:
            spec = self.spec(model_id)
            return openai_images.VARIATIONS if spec is not None and spec.can("variation_endpoint") else openai_images.EDITS
        return {EDIT: openai_images.EDITS}.get(action, openai_images.GENERATIONS)

    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        on_partial = (lambda index, data: on_progress(Progress(preview=data, preview_index=index))) if on_progress else None
        return openai_images.generate(cfg, model=model, prompt=prompt, on_partial=on_partial,
                                      **_given(settings, timeout), **({} if retries else {"max_retries": 0}))

    def edit(self, cfg, *, model: str, prompt: str, images: list[bytes], mask: bytes | None,
             settings: dict[str, Any], timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        named = [(f"image-{i + 1}.png", data) for i, data in enumerate(images)]
        return openai_images.edit(cfg, model=model, prompt=prompt, images=named, mask=mask, **_given(settings, timeout))

    def vary(self, cfg, *, model: str, image: bytes, prompt: str | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        extra = {"prompt": prompt} if prompt else {}
        return openai_images.variation(cfg, model=model, image=("original.png", image), **extra,
                                       **_given(settings, timeout))

    def variation_prompt(self, model_id: str) -> str | None:
        """The prompt a variation by editing sends (editable); ``None`` when the model's endpoint takes none."""
        spec = self.spec(model_id)
        return None if spec is not None and spec.can("variation_endpoint") else openai_images.DEFAULT_VARIATION_PROMPT


def _given(settings: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    given = {k: v for k, v in settings.items() if v is not None}
    if timeout is not None:
        given["timeout"] = timeout
    return given


ENGINE = OpenAIImages()
