"""What the emulated OpenAI models produce: deterministic pictures (numpy + Pillow) and chat replies.

Everything here is a pure function of its inputs, so the same request gives the
same bytes.  The OpenAI look is soft: a two-colour gradient sky, blurred orbs,
a rolling horizon, a thin light frame and a few words of the prompt in the
corner.  (Karlo's renderer lives elsewhere and looks different on purpose.)
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# ---------------------------------------------------------------- pictures


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_seed(*parts))


def _clean(prompt: str) -> str:
    return " ".join((prompt or "").split()).lower()


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)), dtype=np.float32)


def _palette(prompt: str) -> dict[str, np.ndarray]:
    """Colours picked by the prompt alone, so the n images of one request look like siblings."""
    rng = _rng("palette", _clean(prompt))
    hue = rng.random()
    return {
        "sky_top": _hsv(hue, 0.45 + 0.3 * rng.random(), 0.35 + 0.35 * rng.random()),
        "sky_bottom": _hsv(hue + 0.08 + 0.15 * rng.random(), 0.25 + 0.3 * rng.random(), 0.85 + 0.15 * rng.random()),
        "orb": _hsv(hue + 0.45 + 0.1 * rng.random(), 0.35 + 0.4 * rng.random(), 0.95),
        "accent": _hsv(hue + 0.6 + 0.3 * rng.random(), 0.5 + 0.4 * rng.random(), 0.7 + 0.3 * rng.random()),
        "ground": _hsv(hue + 0.25 + 0.2 * rng.random(), 0.4 + 0.4 * rng.random(), 0.2 + 0.3 * rng.random()),
        "frame": _hsv(hue, 0.08, 0.97),
    }


def _blend_disc(img: np.ndarray, alpha: np.ndarray, cx: float, cy: float, r: float, soft: float,
                colour: np.ndarray, opacity: float) -> None:
    """Paint one soft-edged disc in place, touching only its bounding box (fast for big images)."""
    h, w = alpha.shape
    x0, x1 = max(int(cx - r - soft), 0), min(int(cx + r + soft) + 1, w)
    y0, y1 = max(int(cy - r - soft), 0), min(int(cy + r + soft) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy = np.arange(y0, y1, dtype=np.float32)[:, None] - cy
    xx = np.arange(x0, x1, dtype=np.float32)[None, :] - cx
    cover = np.clip((r - np.sqrt(yy * yy + xx * xx)) / soft, 0.0, 1.0) * opacity
    box = img[y0:y1, x0:x1]
    box += (colour - box) * cover[..., None]
    np.maximum(alpha[y0:y1, x0:x1], cover, out=alpha[y0:y1, x0:x1])


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # very old Pillow: a fixed bitmap font
        return ImageFont.load_default()


RENDER_SIDE = 640  # soft shapes are drawn at most this big, then scaled up: fast at any output size


def scene(prompt: str, width: int, height: int, index: int = 0, *, transparent: bool = False,
          caption: bool = True) -> np.ndarray:
    """The picture for a prompt: uint8 RGB (or RGBA with a see-through sky when ``transparent``)."""
    pal = _palette(prompt)
    rng = _rng("scene", _clean(prompt), index)
    scale = min(1.0, RENDER_SIDE / max(width, height))
    w, h = max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)
    unit = float(min(w, h))

    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = pal["sky_top"] * (1.0 - t) + pal["sky_bottom"] * t
    img = np.broadcast_to(img, (h, w, 3)).copy()
    alpha = np.zeros((h, w), dtype=np.float32)

    # the big orb (sun or moon), then smaller bokeh circles
    _blend_disc(img, alpha, w * (0.2 + 0.6 * rng.random()), h * (0.15 + 0.3 * rng.random()),
                unit * (0.1 + 0.1 * rng.random()), unit * 0.03, pal["orb"], 0.95)
    for _ in range(3 + int(rng.integers(0, 4))):
        colour = pal["accent"] if rng.random() < 0.5 else pal["orb"]
        _blend_disc(img, alpha, w * rng.random(), h * (0.1 + 0.6 * rng.random()),
                    unit * (0.03 + 0.08 * rng.random()), unit * 0.02, colour, 0.35 + 0.4 * rng.random())

    # a rolling horizon along the bottom third
    x = np.linspace(0.0, 2 * np.pi, w, dtype=np.float32)[None, :]
    ridge = h * (0.68 + 0.06 * np.sin(x * (1 + 2 * rng.random()) + 6.3 * rng.random())
                 + 0.03 * np.sin(x * (3 + 4 * rng.random()) + 6.3 * rng.random()))
    top = max(int(ridge.min()) - 1, 0)  # only the rows the hills reach
    y = np.arange(top, h, dtype=np.float32)[:, None]
    ground = np.clip((y - ridge) / max(unit * 0.004, 1.0), 0.0, 1.0)
    shade = pal["ground"] * (1.0 - 0.35 * (y / h))[..., None]
    img[top:] += (shade - img[top:]) * ground[..., None]
    np.maximum(alpha[top:], ground, out=alpha[top:])

    rgb = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    small = np.dstack([rgb, (alpha * 255.0 + 0.5).astype(np.uint8)]) if transparent else rgb
    pic = Image.fromarray(small)
    if (w, h) != (width, height):
        pic = pic.resize((width, height), Image.Resampling.BILINEAR)

    # the thin frame and the caption, drawn at full size so they stay crisp
    full = float(min(width, height))
    m, th = max(int(full * 0.025), 2), max(int(full / 512), 1)
    frame = tuple(int(c * 255) for c in pal["frame"]) + ((255,) if transparent else ())
    draw = ImageDraw.Draw(pic)
    draw.rectangle((m, m, width - m - 1, height - m - 1), outline=frame, width=th)
    words = _clean(prompt).split()[:4]
    if caption and words and full >= 64:
        size = max(int(full / 40), 9)
        draw.text((m + 3 * th + 4, height - m - size - 6), " ".join(words)[:48], fill=frame, font=_font(size))
    return np.asarray(pic)


def _to_rgb_float(arr: np.ndarray) -> np.ndarray:
    return arr[..., :3].astype(np.float32) / 255.0


def fit(image: Image.Image, width: int, height: int) -> np.ndarray:
    """An upload as uint8 RGBA at exactly width x height (resized first when the sizes differ)."""
    rgba = image.convert("RGBA")
    if rgba.size != (width, height):
        rgba = rgba.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(rgba)


def edit(images: list[np.ndarray], mask_alpha: np.ndarray | None, prompt: str, index: int = 0, *,
         transparent: bool = False) -> np.ndarray:
    """An edit of ``images[0]`` (RGBA arrays of one size) guided by the prompt and the other images.

    With a mask, only pixels whose mask alpha is 0 change; every other pixel is
    the input's RGB, exactly.  Without a mask the whole picture is restyled but
    stays recognisably the input.
    """
    base = images[0]
    h, w = base.shape[:2]
    fresh = _to_rgb_float(scene(prompt, w, h, index, caption=False))
    src = _to_rgb_float(base)
    if len(images) > 1:  # reference images lend their colours to the new content
        refs = np.mean([_to_rgb_float(im) for im in images[1:]], axis=0)
        fresh = 0.6 * fresh + 0.4 * refs
    if mask_alpha is None:
        styled = 0.62 * src + 0.38 * fresh
        rgb = (np.clip(styled, 0, 1) * 255 + 0.5).astype(np.uint8)
    else:
        painted = (np.clip(0.25 * src + 0.75 * fresh, 0, 1) * 255 + 0.5).astype(np.uint8)
        rgb = np.where((mask_alpha == 0)[..., None], painted, base[..., :3])
    if transparent:
        return np.dstack([rgb, base[..., 3]])
    return np.ascontiguousarray(rgb)


def variation(image: np.ndarray, index: int) -> np.ndarray:
    """A sibling of the input: a colour shift plus a gentle wave warp, different for every index."""
    h, w = image.shape[:2]
    rng = _rng("variation", hashlib.sha256(image.tobytes()).hexdigest(), index)
    src = image[..., :3]
    y = np.arange(h)[:, None]
    x = np.arange(w)[None, :]
    amp, period, phase = (0.01 + 0.02 * rng.random()) * w, (0.2 + 0.5 * rng.random()) * h, 6.3 * rng.random()
    sx = np.clip(x + (amp * np.sin(2 * np.pi * y / period + phase)).astype(np.int64), 0, w - 1)
    sy = np.clip(y + (amp * 0.5 * np.cos(2 * np.pi * x / period + phase)).astype(np.int64), 0, h - 1)
    warped = src[sy, sx].astype(np.float32) / 255.0
    mix = np.eye(3, dtype=np.float32) * (0.8 + 0.1 * rng.random()) + rng.random((3, 3)).astype(np.float32) * 0.12
    tint = rng.random(3).astype(np.float32) * 0.08 - 0.04
    out = np.clip(warped @ mix.T + tint, 0, 1)
    return (out * 255 + 0.5).astype(np.uint8)


def partial(arr: np.ndarray, step: int, steps: int) -> np.ndarray:
    """A blurrier preview of the final picture: coarse first, sharper with every step."""
    h, w = arr.shape[:2]
    factor = 2 ** (steps - step + 2)
    pic = Image.fromarray(arr)
    small = pic.resize((max(w // factor, 1), max(h // factor, 1)), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BILINEAR))


def encode(arr: np.ndarray, output_format: str = "png", compression: int | None = None) -> bytes:
    """Bytes of the picture really encoded as png, jpeg or webp (compression 0-100 for jpeg/webp)."""
    pic = Image.fromarray(arr)
    buf = io.BytesIO()
    if output_format == "jpeg":
        quality = 95 if compression is None else min(max(int(compression), 1), 95)
        pic.convert("RGB").save(buf, "JPEG", quality=quality)
    elif output_format == "webp":
        quality = 90 if compression is None else min(max(int(compression), 1), 100)
        pic.save(buf, "WEBP", quality=quality, method=0)
    else:
        pic.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


# ---------------------------------------------------------------- chat replies

_STOP = set("""a an the and or but of in on at to for with from by into onto over under about as is are was were be been
being it its this that these those i me my you your we our they their he she his her them please can could would should
will shall do does did make create write give show turn describe into than then so very some any all just also like
following text prompt sentence words word english translate translation condense comma separated descriptors list
keywords only image picture photo""".split())

_KO_EN = {
    "고양이": "cat", "강아지": "puppy", "개": "dog", "바다": "sea", "산": "mountain", "하늘": "sky", "꽃": "flower",
    "밤": "night", "낮": "day", "도시": "city", "숲": "forest", "달": "moon", "해": "sun", "태양": "sun", "별": "star",
    "비": "rain", "눈": "snow", "집": "house", "사람": "person", "소녀": "girl", "소년": "boy", "강": "river",
    "호수": "lake", "바람": "wind", "구름": "cloud", "나무": "tree", "빨간": "red", "파란": "blue", "노란": "yellow",
    "초록": "green", "하얀": "white", "검은": "black", "작은": "small", "큰": "large", "아름다운": "beautiful",
    "그림": "painting", "우주": "space", "로봇": "robot", "용": "dragon", "기차": "train", "자동차": "car",
    "배": "boat", "성": "castle", "여우": "fox", "토끼": "rabbit", "새": "bird", "물고기": "fish", "거리": "street",
    "카페": "cafe", "겨울": "winter", "봄": "spring", "여름": "summer", "가을": "autumn", "노을": "sunset",
    "아침": "morning", "저녁": "evening", "불빛": "lights", "해변": "beach", "정원": "garden", "마을": "village",
    "밤하늘": "night sky", "우산": "umbrella", "창문": "window", "책": "book", "커피": "coffee", "고래": "whale", "곰": "bear",
}
_KO_PARTICLES = ("에서", "으로", "이", "가", "을", "를", "은", "는", "의", "에", "로", "와", "과", "도", "한")

_LIGHT = ["soft morning light", "warm golden-hour light", "cool moonlight", "diffuse overcast light",
          "glowing lantern light", "crisp winter sunlight", "hazy afternoon light", "neon reflections"]
_MOOD = ["quiet and dreamlike", "gently nostalgic", "playful and bright", "calm and contemplative",
         "mysterious yet welcoming", "hopeful", "serene", "whimsical"]
_SETTING = ["on a hillside above a sleeping town", "beside a still lake", "in a narrow cobblestone street",
            "under a sky full of slow clouds", "at the edge of a pine forest", "on a windswept shore",
            "in a sunlit greenhouse", "among rooftops at dusk"]
_TEXTURE = ["fine watercolor grain", "soft pastel gradients", "delicate ink outlines", "rich oil-paint texture",
            "smooth cinematic depth of field", "subtle film grain", "layered paper-cut shapes", "gentle bokeh"]
_STYLE = ["highly detailed", "cinematic composition", "soft focus", "vibrant colors", "wide angle",
          "storybook illustration", "muted palette", "natural lighting", "4k", "atmospheric perspective"]


def text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def message_text(messages: list) -> tuple[str, str]:
    """(all system/developer instructions, the last user message) of a chat request."""
    system = " ".join(text_of(m.get("content")) for m in messages
                      if isinstance(m, dict) and m.get("role") in ("system", "developer"))
    users = [text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return system, (users[-1] if users else "")


def _subject_of(text: str) -> str:
    """The part after an instruction like 'Translate this into English:' or its own first line (else all of it)."""
    cut = re.search(r"[:\n]", text)
    if cut and cut.start() < 160 and text[cut.end():].strip():
        return text[cut.end():].strip()
    return text.strip()


def _english_words(text: str) -> list[str]:
    words: list[str] = []
    for token in re.findall(r"[A-Za-z][A-Za-z'\-]*|[\uac00-\ud7a3]+", text):
        if token.isascii():
            words.append(token.lower())
            continue
        hit = _KO_EN.get(token)
        for particle in _KO_PARTICLES:
            if hit is None and token.endswith(particle) and len(token) > len(particle):
                hit = _KO_EN.get(token[: -len(particle)])
        if hit:
            words.append(hit)
    return words


def _content_words(text: str) -> list[str]:
    seen: list[str] = []
    for w in _english_words(text):
        if w not in _STOP and len(w) > 2 and w not in seen:
            seen.append(w)
    return seen


def chat_reply(messages: list) -> str:
    """A deterministic, plausible reply: translate, condense into descriptors, or imagine a scene."""
    system, user = message_text(messages)
    instruction = f"{system} {user}".lower()
    rng = _rng("chat", system, user, len(messages))
    pick = lambda options: options[int(rng.integers(0, len(options)))]  # noqa: E731

    if "translat" in instruction and "english" in instruction:
        source = _subject_of(user) if "translat" in user.lower() else user
        words = [w for w in _english_words(source) if w not in ("translate", "english")]
        if not words:
            words = ["a", "quiet", "scene", "in", pick(_LIGHT)]
        sentence = " ".join(words)
        return sentence[0].upper() + sentence[1:] + ("" if sentence.endswith(".") else ".")

    if "comma" in instruction or "descriptor" in instruction or "condense" in instruction or "keyword" in instruction:
        source = _subject_of(user) if any(k in user.lower() for k in ("condense", "comma", "descriptor")) else user
        items = _content_words(source)[:10]
        for extra in rng.permutation(len(_STYLE))[:3]:
            if _STYLE[extra] not in items:
                items.append(_STYLE[extra])
        return ", ".join(items)

    subject_words = _content_words(_subject_of(user))[:6] or ["a quiet place"]
    subject = " ".join(subject_words)
    return (f"Picture {subject} {pick(_SETTING)}, bathed in {pick(_LIGHT)}. "
            f"The mood is {pick(_MOOD)}, with {pick(_TEXTURE)} and a hint of {pick(_LIGHT).split()[-2]} color "
            f"at the edges. In the foreground, small details invite a closer look: {pick(_TEXTURE)}, "
            f"a few drifting shapes, and a sense that the scene continues beyond the frame. "
            f"Overall it feels {pick(_MOOD)}, like a memory of {subject_words[0]} you almost recognise.")


def count_tokens(text: str) -> int:
    """A rough token count, about four characters per token, never below one."""
    return max(1, len(text) // 4)
