"""Paint the area to edit over an image in the browser, and get back a mask PNG at the image's own size.

Built on streamlit-drawable-canvas 0.13 (a Components v2 canvas).  Whatever is
painted becomes transparent in the mask (the area the model may edit, see
``lib.imaging.MASK_CONVENTION``); the canvas toolbar undoes and redoes strokes,
"Clear" starts over, "Invert" swaps edit and keep.  Where the canvas cannot be
shown or driven (AppTest, a missing component) it returns ``None``, so a page
must always offer an uploaded mask as well.  The Karlo page reuses it.
"""
from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from lib.imaging import invert_mask, mask_coverage, mask_from_painting, mask_warning, overlay_mask_preview

CANVAS_MAX_WIDTH = 640
CANVAS_MAX_HEIGHT = 720
STROKE_COLOUR = "rgba(255, 0, 170, 0.55)"  # see-through, so the picture under the stroke stays visible


def _canvas_size(width: int, height: int) -> tuple[int, int]:
    scale = min(CANVAS_MAX_WIDTH / width, CANVAS_MAX_HEIGHT / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


@st.cache_data(max_entries=8, show_spinner=False)
def _background(image_png: bytes, size: tuple[int, int]) -> bytes:
    """The picture at canvas size as a JPEG: sent on every rerun, so tens of KB rather than the full upload."""
    img = Image.open(io.BytesIO(image_png)).convert("RGBA").resize(size, Image.Resampling.BILINEAR)
    backdrop = Image.new("RGBA", size, (235, 235, 235, 255))  # transparent parts show as light grey
    buf = io.BytesIO()
    Image.alpha_composite(backdrop, img).convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def mask_painter(image_png: bytes, key: str) -> bytes | None:
    """Draw the canvas and its controls; the mask PNG (alpha 0 where painted) at the image's size, or ``None``.

    ``None`` means nothing is painted yet, or the canvas is unavailable here.
    """
    with Image.open(io.BytesIO(image_png)) as img:
        image_size = img.size
    canvas_size = _canvas_size(*image_size)
    clears_key = f"{key}_clears"
    st.session_state.setdefault(clears_key, 0)

    brush, invert, clear = st.columns([3, 1, 1], vertical_alignment="bottom")
    brush_px = brush.slider("Brush size", 5, 120, 40, step=5, key=f"{key}_brush")
    inverted = invert.toggle("Invert", key=f"{key}_invert", help="Edit everything except what you painted.")
    if clear.button("Clear", key=f"{key}_clear", icon=":material/ink_eraser:"):
        st.session_state[clears_key] += 1  # a new canvas key is an empty canvas

    try:
        from streamlit_drawable_canvas import st_canvas

        result = st_canvas(
            stroke_width=brush_px,
            stroke_color=STROKE_COLOUR,
            background_image=_background(image_png, canvas_size),
            width=canvas_size[0],
            height=canvas_size[1],
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"{key}_canvas_{st.session_state[clears_key]}",
        )
        painting = result.image_data
    except Exception as exc:  # the component is missing or broken: the upload tab still works
        st.info(f"The painting canvas is not available here ({type(exc).__name__}). Upload a mask instead.")
        return None
    st.caption("Paint over what should change. Undo and redo are in the canvas toolbar; **Clear** starts over.")

    if painting is None or not np.any(np.asarray(painting)[..., 3] > 0):
        return None
    mask = mask_from_painting(painting, image_size)
    if inverted:
        mask = invert_mask(mask)
    coverage = mask_coverage(mask)
    st.image(overlay_mask_preview(image_png, mask), width=360,
             caption=f"The mask: pink = will be edited ({coverage:.0%} of the picture)")
    warning = mask_warning(coverage)
    if warning:
        st.warning(warning)
    return mask
