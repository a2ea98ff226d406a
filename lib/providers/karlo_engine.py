"""Kakao's Karlo as an engine: text to image, variations and inpainting through ``KarloClient``.

Model facts (versions, size ranges, presets, sample counts) are the Karlo rows of
``lib/data/models.toml``.  What only Karlo has (upscale, the NSFW checker) stays
on the Karlo page, which calls ``KarloClient`` for those two.
"""
from __future__ import annotations

from typing import Any

from lib import catalog
from lib.errors import InvalidInput
from lib.providers import karlo
from lib.providers.base import EDIT, GENERATE, INPAINT, VARIATION, OnProgress, Setting
from lib.providers.openai_engine import CatalogEngine
from lib.types import ImageResult

_ENDPOINTS = {GENERATE: "t2i", VARIATION: "variations", INPAINT: "inpainting", EDIT: "inpainting"}
_ACTIONS = {GENERATE: "t2i"}  # the ledger's long-standing word for Karlo's text to image


class Karlo(CatalogEngine):
    id = "karlo"
    label = "Karlo"
    key_vars = ("KAKAO_REST_API_KEY",)
    base_url_var = "KARLO_BASE_URL"
    default_base_url = "https://api.kakaobrain.com"
    key_label = "Kakao REST API key (Karlo)"
    demo_face = "karlo_base_url"
    blurb = "Kakao's Karlo: English prompts, seeds, negative prompts, inpainting; 500 free images a month."
    extra_pages = ("pages/karlo.py",)

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        spec = self.spec(model_id) or self.spec("karlo-" + karlo.DEFAULT_VERSION)
        lo, hi = spec.size_range or (512, 512)
        found = []
        if action in (GENERATE, VARIATION):
            found.append(Setting("size", "Size", "size", spec.sizes, "512x512", custom=True,
                                 help=f"Any WIDTHxHEIGHT from {lo} to {hi} px, multiples of {spec.size_multiple}."))
        found.append(Setting("n", "Images per call", "int", default=1, minimum=spec.n_min, maximum=spec.n_max,
                             help="Each image counts against the monthly quota."))
        # PNG where a picture is repainted, so what lies outside the mask comes back pixel for pixel.
        found.append(Setting("image_format", "Format", "choice", spec.output_formats,
                             "png" if action in (INPAINT, EDIT) else "webp", widget="format"))
        if action != VARIATION:
            found.append(Setting("negative_prompt", "Negative prompt", "text", default="", widget="negative",
                                 help="What to keep out of the picture (English)."))
        found.append(Setting("seed", "Seeds", "text", default="", widget="seed",
                             help="One whole number per image, separated by commas; empty for random (reported)."))
        return found

    def check(self, model_id: str, action: str, prompt: str | None, settings: dict[str, Any]) -> list[tuple[str, str]]:
        spec = self.spec(model_id)
        problems = super().check(model_id, action, prompt, settings)
        if spec is None:
            return problems
        text = prompt or ""
        if action in (GENERATE, INPAINT, EDIT) and not text.strip():
            problems.insert(0, ("prompt", "Write a prompt first: describe the picture you want (in English)."))
        elif len(text) > spec.prompt_max:
            problems.insert(0, ("prompt", f"The prompt is {len(text)} characters; {spec.label} takes at most "
                                          f"{spec.prompt_max}. Shorten it by {len(text) - spec.prompt_max}."))
        elif not karlo.is_english(text):
            hint = " It looks like Korean: translate it first." if karlo.looks_korean(text) else ""
            problems.insert(0, ("prompt", f"{spec.label} reads English only.{hint}"))
        if settings.get("size") and action in (GENERATE, VARIATION):
            message = catalog.validate_size(spec, settings["size"])
            if message:
                problems.append(("size", message))
        return problems

    def endpoint(self, model_id: str, action: str) -> str:
        return karlo.API_PATH + _ENDPOINTS.get(action, "t2i")

    def ledger_action(self, action: str) -> str:
        return _ACTIONS.get(action, action)

    def target_label(self, model_id: str, settings: dict[str, Any]) -> str:
        found = self.spec(model_id)
        size = settings.get("size") or (f"{settings['width']}x{settings['height']}" if settings.get("width") else None)
        label = " · ".join(p for p in (found.label if found else model_id, size) if p)
        n = settings.get("n") or settings.get("samples") or 1
        return label + (f" · ×{n}" if n > 1 else "")

    def default_compare_settings(self, model_id: str) -> dict[str, Any]:
        return {"size": "512x512"}

    def prepare_prompt(self, model_id: str, prompt: str) -> tuple[str, list[str]]:
        from lib.pipeline import karlo_prompt

        spec = self.spec(model_id) or self.spec("karlo-" + karlo.DEFAULT_VERSION)
        fitted = karlo_prompt(prompt, spec.prompt_max)
        if fitted == prompt:
            return prompt, []
        return fitted, [f"Karlo was sent the English, {spec.prompt_max}-character form: {fitted}"]

    def mask_as_sent(self, mask: bytes) -> bytes:
        return karlo.karlo_mask(mask)

    def variation_prompt(self, model_id: str) -> str | None:
        return ""  # optional: a few English words steer the variation

    # ---------------------------------------------------------------- calls
    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        return self._client(cfg, timeout, retries).text_to_image(prompt, **self._kwargs(model, settings))

    def vary(self, cfg, *, model: str, image: bytes, prompt: str | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        kwargs = self._kwargs(model, settings)
        for name in ("prior_num_inference_steps", "prior_guidance_scale"):  # variations have no prior
            kwargs.pop(name, None)
        return self._client(cfg, timeout).transform_image(image, prompt=prompt or None, **kwargs)

    def edit(self, cfg, *, model: str, prompt: str, images: list[bytes], mask: bytes | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        """The Edit page's call: Karlo's inpainting of ``images[0]`` (it takes no reference pictures)."""
        if mask is None:
            raise InvalidInput("Karlo repaints only inside a mask: upload or paint one.", provider=self.id, param="mask")
        if len(images) > 1:
            raise InvalidInput("Karlo edits one picture: remove the others.", provider=self.id, param="image")
        return self.inpaint(cfg, model=model, prompt=prompt, image=images[0], mask=mask, settings=settings,
                            timeout=timeout, on_progress=on_progress)

    def inpaint(self, cfg, *, model: str, prompt: str, image: bytes, mask: bytes, settings: dict[str, Any],
                timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        """``mask`` in the studio convention (transparent = repaint); converted to Karlo's (black = repaint) here."""
        kwargs = self._kwargs(model, settings)
        for name in ("width", "height"):  # inpainting keeps the image's size
            kwargs.pop(name, None)
        return self._client(cfg, timeout).inpaint_image(image, karlo.karlo_mask(mask), prompt, **kwargs)

    @staticmethod
    def _client(cfg, timeout: float | None, retries: bool = True) -> karlo.KarloClient:
        options: dict[str, Any] = {} if retries else {"max_retries": 0}
        if timeout is not None:
            options["read_timeout"] = timeout
        return karlo.KarloClient(cfg, **options)

    def _kwargs(self, model: str, settings: dict[str, Any]) -> dict[str, Any]:
        """The interface's settings (size, n, seed as text) as KarloClient keywords; Karlo's own names pass through."""
        kwargs = {k: v for k, v in settings.items() if v is not None and v != ""}
        kwargs.setdefault("version", (model or "").removeprefix("karlo-") or karlo.DEFAULT_VERSION)
        size = kwargs.pop("size", None)
        if size:
            parsed = catalog.parse_size(size)
            if parsed is None:
                raise InvalidInput(f"Write the size as WIDTHxHEIGHT, for example 512x512 (got {size!r}).",
                                   provider=self.id, param="size")
            kwargs["width"], kwargs["height"] = parsed
        if "n" in kwargs:
            kwargs["samples"] = int(kwargs.pop("n"))
        if isinstance(kwargs.get("seed"), str):
            kwargs["seed"] = parse_seeds(kwargs["seed"])
        return kwargs


def parse_seeds(text: str) -> list[int] | None:
    """Seeds typed as ``12, 345``; empty means random.  Not numbers: a message saying so."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        return None
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"seed must be whole numbers separated by commas (got {text!r}).", provider="karlo",
                           param="seed") from None


ENGINE = Karlo()
