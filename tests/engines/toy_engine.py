"""A plug-in engine in one file (plus its rows in toy_engine.toml): paints a flat picture in the prompt's colour.

It exists to prove the seam: registering it is all it takes for Generate and
Compare to offer it and for the ledger to price its rows.
"""
from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path
from typing import Any

from PIL import Image

from lib import catalog
from lib.errors import ContentRejected
from lib.providers.base import GENERATE, OnProgress, Progress, Setting
from lib.providers.openai_engine import CatalogEngine
from lib.types import GeneratedImage, ImageResult

ROWS = str(Path(__file__).with_suffix(".toml"))


class ToyPainter(CatalogEngine):
    id = "toy"
    label = "Toy painter"
    key_vars = ("TOY_PAINTER_KEY",)
    base_url_var = "TOY_PAINTER_BASE_URL"
    default_base_url = "http://127.0.0.1:9"
    key_label = "Toy painter key"
    models_file = ROWS
    prices_file = ROWS
    blurb = "Flat pictures in the prompt's colour (a plug-in written for the tests)."

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        spec = self.spec(model_id)
        return [Setting("size", "Size", "size", spec.sizes, spec.sizes[0]),
                Setting("n", "Pictures", "int", default=1, minimum=1, maximum=spec.n_max)]

    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        if "forbidden" in prompt:
            raise ContentRejected("The toy painter does not paint forbidden things.", provider=self.id)
        width, height = catalog.parse_size(settings.get("size") or "64x64")
        colour = hashlib.sha256(prompt.encode()).digest()[:3]
        images = []
        for i in range(int(settings.get("n") or 1)):
            if on_progress:
                on_progress(Progress(fraction=i / int(settings.get("n") or 1), text="Painting"))
            out = io.BytesIO()
            Image.new("RGB", (width, height), tuple(colour)).save(out, "PNG")
            images.append(GeneratedImage(out.getvalue(), width=width, height=height, seed=i))
        return ImageResult(self.id, model, "/toy/paint", images, params=dict(settings), latency_ms=1.0)


ENGINE = ToyPainter()
