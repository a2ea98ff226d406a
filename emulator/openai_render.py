"""What the emulated OpenAI models produce: deterministic pictures (numpy + Pillow) and chat replies.

Pictures are pure functions of the request, so the same request gives the same
bytes; replies are the same for the same conversation.  The OpenAI look is soft: a two-colour gradient sky, blurred orbs,
a rolling horizon, a thin light frame and a few words of the prompt in the
corner.  (Karlo's renderer lives elsewhere and looks different on purpose.)
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import math
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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


# How finely each quality draws (the longest side the soft shapes are drawn at) and how many bokeh circles
# it adds: low comes back visibly softer and plainer than high, as with the real models.
# ... and how strong the fine texture laid over the whole picture is (0..1 of full scale).
DETAIL = {"low": (160, 0, 0.0), "medium": (320, 2, 0.012), "standard": (320, 2, 0.012), "high": (RENDER_SIDE, 5, 0.03),
          "hd": (RENDER_SIDE, 5, 0.03), "xhigh": (RENDER_SIDE, 7, 0.04), "max": (RENDER_SIDE, 9, 0.05)}


def scene(prompt: str, width: int, height: int, index: int = 0, *, transparent: bool = False,
          caption: bool = True, quality: str = "high", model: str = "") -> np.ndarray:
    """The picture for a prompt: uint8 RGB (or RGBA with a see-through sky when ``transparent``).

    The prompt picks the colours; the model picks the composition (two models given one prompt draw
    different pictures); the quality picks how finely it is drawn.
    """
    pal = _palette(prompt)
    rng = _rng("scene", _clean(prompt), index, *((model,) if model else ()))
    side, extra_circles, texture = DETAIL.get(quality, DETAIL["high"])
    scale = min(1.0, side / max(width, height))
    w, h = max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)
    unit = float(min(w, h))

    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = pal["sky_top"] * (1.0 - t) + pal["sky_bottom"] * t
    img = np.broadcast_to(img, (h, w, 3)).copy()
    alpha = np.zeros((h, w), dtype=np.float32)

    # the big orb (sun or moon), then smaller bokeh circles
    _blend_disc(img, alpha, w * (0.2 + 0.6 * rng.random()), h * (0.15 + 0.3 * rng.random()),
                unit * (0.1 + 0.1 * rng.random()), unit * 0.03, pal["orb"], 0.95)
    for _ in range(3 + int(rng.integers(0, 4)) + extra_circles):
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

    if texture:  # fine texture at full size: what higher qualities spend their extra tokens on
        arr = np.asarray(pic).copy()
        grain = _rng("texture", _clean(prompt), index).standard_normal((height, width, 1), dtype=np.float32)
        arr[..., :3] = np.clip(arr[..., :3] + grain * np.float32(texture * 255), 0, 255).astype(np.uint8)
        pic = Image.fromarray(arr)

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
         transparent: bool = False, guidance: bool = False, quality: str = "high", model: str = "") -> np.ndarray:
    """An edit of ``images[0]`` (RGBA arrays of one size) guided by the prompt and the other images.

    ``guidance=False`` (dall-e-2, Karlo-style inpainting): only pixels whose mask
    alpha is 0 change; every other pixel is the input's RGB, exactly.
    ``guidance=True`` (GPT Image models): the mask is a hint, as OpenAI documents
    for them: the new content bleeds softly a few percent past the mask's edge,
    and the rest of the picture comes back re-drawn, a little shifted in tone and
    texture, never byte-identical.  Without a mask the whole picture is restyled
    but stays recognisably the input.
    """
    base = images[0]
    h, w = base.shape[:2]
    fresh = _to_rgb_float(scene(prompt, w, h, index, caption=False, quality=quality, model=model))
    src = _to_rgb_float(base)
    if len(images) > 1:  # reference images lend their colours to the new content
        refs = np.mean([_to_rgb_float(im) for im in images[1:]], axis=0)
        fresh = 0.6 * fresh + 0.4 * refs
    if mask_alpha is None:
        styled = 0.62 * src + 0.38 * fresh
        rgb = (np.clip(styled, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif not guidance:
        painted = (np.clip(0.25 * src + 0.75 * fresh, 0, 1) * 255 + 0.5).astype(np.uint8)
        rgb = np.where((mask_alpha == 0)[..., None], painted, base[..., :3])
    else:
        painted = 0.25 * src + 0.75 * fresh
        weight = _soft_region(mask_alpha == 0)[..., None]
        rgb = (np.clip(weight * painted + (1 - weight) * _redrawn(src, prompt, index), 0, 1) * 255 + 0.5
               ).astype(np.uint8)
    if transparent:
        return np.dstack([rgb, base[..., 3]])
    return np.ascontiguousarray(rgb)


def _soft_region(edit: np.ndarray) -> np.ndarray:
    """1 inside the edit area, fading to ~0 over about 3 % of the short side outside it.

    A blur of the area doubled (so its edge stays at full strength), worked out on a copy of at most 512 px:
    a blur is fast at any size that way.
    """
    if not edit.any():
        return np.zeros(edit.shape, np.float32)
    h, w = edit.shape
    reach = max(2.0, 0.03 * min(h, w))
    scale = min(1.0, 512 / max(h, w))
    small = Image.fromarray(edit.astype(np.uint8) * 255).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    blurred = small.filter(ImageFilter.GaussianBlur(max(reach * scale / 2, 0.5))).resize(
        (w, h), Image.Resampling.BILINEAR)
    soft = np.clip(np.asarray(blurred, np.float32) * (2.0 / 255.0), 0.0, 1.0)
    return np.maximum(soft, edit.astype(np.float32))


def _redrawn(src: np.ndarray, prompt: str, index: int) -> np.ndarray:
    """The untouched part as a model re-draws it: a slight tone drift and a fine grain (mean change ~1-3 levels)."""
    rng = _rng("redraw", _clean(prompt), index)
    gain = (1.0 + rng.uniform(-0.015, 0.015, 3)).astype(np.float32)
    offset = rng.uniform(-0.008, 0.008, 3).astype(np.float32)
    grain = rng.normal(0.0, 0.006, src.shape[:2])[..., None].astype(np.float32)
    return src * gain + offset + grain


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
#
# Replies follow the imagination chain the app runs (imagine -> more detail -> English -> descriptors):
# a Korean request gets a Korean paragraph, and the emulator remembers the English twin of every
# paragraph it wrote, so "translate that" and "condense that" answer fluently about the same scene.

_STOP = set("""a an the and or but of in on at to for with from by into onto over under about as is are was were be been
being it its this that these those i me my you your we our they their he she his her them please can could would should
will shall do does did make create write give show turn describe into than then so very some any all just also like
following text prompt sentence words word english translate translation condense comma separated descriptors list
keywords only image picture photo imagine freely look looks appearance outward based above more detail details its
what how""".split())

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
    "밤하늘": "night sky", "우산": "umbrella", "창문": "window", "책": "book", "커피": "coffee", "고래": "whale",
    "곰": "bear", "여행하는": "traveling", "날으는": "flying", "나는": "flying", "잠자는": "sleeping", "춤추는": "dancing",
    "등대": "lighthouse", "섬": "island", "사막": "desert", "폭포": "waterfall", "기사": "knight", "마법사": "wizard",
}
_KO_PARTICLES = ("에서", "으로", "이", "가", "을", "를", "은", "는", "의", "에", "로", "와", "과", "도", "한")
_KO_INSTRUCTIONS = ("어떤 모습", "자유롭게", "상상해", "묘사해", "그려줘", "그려 줘")

# (English, Korean) pairs; settings also carry the short descriptor a condense step would keep.
_LIGHT = [("soft morning light", "부드러운 아침 햇살"), ("warm golden-hour light", "따뜻한 황금빛 노을"),
          ("cool moonlight", "서늘한 달빛"), ("diffuse overcast light", "흐린 날의 은은한 빛"),
          ("glowing lantern light", "은은한 등불 빛"), ("crisp winter sunlight", "맑은 겨울 햇빛"),
          ("hazy afternoon light", "나른한 오후의 빛"), ("neon reflections", "네온 불빛의 반사")]
_MOOD = [("quiet and dreamlike", "고요하고 몽환적인"), ("gently nostalgic", "은은하게 그리운"),
         ("playful and bright", "경쾌하고 밝은"), ("calm and contemplative", "차분하고 사색적인"),
         ("mysterious yet welcoming", "신비롭지만 포근한"), ("hopeful", "희망찬"), ("serene", "평온한"),
         ("whimsical", "기발하고 엉뚱한")]
_SETTING = [("on a hillside above a sleeping town", "잠든 마을이 내려다보이는 언덕 위에서", "hillside town"),
            ("beside a still lake", "잔잔한 호숫가에서", "still lake"),
            ("in a narrow cobblestone street", "좁은 돌길 골목에서", "cobblestone street"),
            ("under a sky full of slow clouds", "느리게 흘러가는 구름 아래에서", "slow clouds"),
            ("at the edge of a pine forest", "소나무 숲 가장자리에서", "pine forest"),
            ("on a windswept shore", "바람 부는 해변에서", "windswept shore"),
            ("in a sunlit greenhouse", "햇살 가득한 온실 안에서", "sunlit greenhouse"),
            ("among rooftops at dusk", "해질녘 지붕들 사이에서", "rooftops at dusk")]
_TEXTURE = [("fine watercolor grain", "섬세한 수채화 질감"), ("soft pastel gradients", "부드러운 파스텔 그라데이션"),
            ("delicate ink outlines", "섬세한 잉크 윤곽선"), ("rich oil-paint texture", "풍부한 유화 질감"),
            ("smooth cinematic depth of field", "영화 같은 얕은 심도"), ("subtle film grain", "은은한 필름 그레인"),
            ("layered paper-cut shapes", "겹겹이 쌓인 종이 공예 모양"), ("gentle bokeh", "부드러운 보케")]

_TWINS: dict[str, str] = {}  # Korean paragraph -> its English twin
_DESCRIPTORS: dict[str, list[str]] = {}  # English paragraph -> the descriptors it was built from
_MEMORY = 2000


def _remember(table: dict, key: str, value) -> None:
    if len(table) >= _MEMORY:
        table.pop(next(iter(table)))
    table[key] = value


def text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        return " ".join(p["text"] for p in content
                        if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def message_text(messages: list) -> tuple[str, str]:
    """(all system/developer instructions, the last user message) of a chat request."""
    system = " ".join(text_of(m.get("content")) for m in messages
                      if isinstance(m, dict) and m.get("role") in ("system", "developer"))
    users = [text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return system, (users[-1] if users else "")


def _previous_reply(messages: list) -> str:
    replies = [text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    return replies[-1] if replies else ""


def _has_hangul(text: str) -> bool:
    return re.search(r"[\uac00-\ud7a3]", text) is not None


def _after_instruction(text: str) -> str:
    """The material after an instruction like 'Translate into English:' or its own first line ('' if none)."""
    cut = re.search(r"[:\n]", text)
    if cut and cut.start() < 160 and text[cut.end():].strip():
        return text[cut.end():].strip()
    return ""


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


def _to_english(text: str) -> str:
    if text in _TWINS:
        return _TWINS[text]
    if not _has_hangul(text):
        return text.strip()
    words = _english_words(text) or ["a", "quiet", "scene"]
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def _descriptors(text: str) -> list[str]:
    if text in _DESCRIPTORS:
        return list(_DESCRIPTORS[text])
    return _content_words(text)


def _imagine(user: str, rng: np.random.Generator) -> str:
    """A short scene about the user's idea, in the user's language (Korean gets a remembered English twin)."""
    pick = lambda options: options[int(rng.integers(0, len(options)))]  # noqa: E731
    light, mood, setting, texture = pick(_LIGHT), pick(_MOOD), pick(_SETTING), pick(_TEXTURE)
    korean = _has_hangul(user)
    idea = user
    if korean:
        cuts = [i for i in (user.find(k) for k in _KO_INSTRUCTIONS) if i > 0]
        idea = user[: min(cuts)].strip() if cuts else user.strip()
    asked = re.search(r"\bwhat (.+?) (?:would|might|could) look like", idea, re.IGNORECASE)
    subject = asked.group(1).strip() if asked else (" ".join(_content_words(idea)[:6]) or "a quiet place")
    english = (f"Picture {subject} {setting[0]}, bathed in {light[0]}. The mood is {mood[0]}, with {texture[0]} "
               "throughout. Up close, small details catch the eye, and the scene seems to continue beyond the frame.")
    _remember(_DESCRIPTORS, english, [subject, setting[2], light[0], mood[0], texture[0]])
    if not korean:
        return english
    reply = (f"{idea}의 모습을 상상해 보세요. {setting[1]}, {light[1]} 아래에 서 있습니다. 분위기는 {mood[1]} "
             f"느낌이고, 전체적으로 {texture[1]} 느낌이 살아 있습니다. 가까이 다가가면 작은 디테일들이 눈에 들어오고, "
             "장면이 프레임 너머로 이어지는 듯합니다.")
    _remember(_TWINS, reply, english)
    return reply


def _more_detail(previous: str, rng: np.random.Generator) -> str:
    """The previous scene plus one richer sentence, in the same language."""
    pick = lambda options: options[int(rng.integers(0, len(options)))]  # noqa: E731
    light, mood, texture = pick(_LIGHT), pick(_MOOD), pick(_TEXTURE)
    english_before = _to_english(previous)
    english = (f"{english_before} In more detail: {texture[0]} covers every surface, {light[0]} lingers in the "
               f"corners, and the whole scene feels {mood[0]}.")
    _remember(_DESCRIPTORS, english, _descriptors(english_before) + [texture[0], light[0]])
    if not _has_hangul(previous):
        return english
    reply = (f"{previous} 더 자세히 보면, 모든 표면에 {texture[1]} 느낌이 배어 있고, 구석구석 {light[1]}의 기운이 "
             f"머물며, 장면 전체가 {mood[1]} 분위기를 풍깁니다.")
    _remember(_TWINS, reply, english)
    return reply


def chat_reply(messages: list, variant: int = 0) -> str:
    """A plausible reply, the same for the same conversation: translate, condense, add detail, or imagine.

    ``variant`` > 0 gives the other choices of an ``n > 1`` request: another take on the same answer.
    """
    system, user = message_text(messages)
    previous = _previous_reply(messages)
    instruction = f"{system} {user}".lower()
    rng = _rng("chat", system, user, previous, len(messages), *((variant,) if variant else ()))

    if ("translat" in instruction and "english" in instruction) or ("번역" in instruction and "영어" in instruction):
        return _to_english(_after_instruction(user) or previous or user)

    if any(k in instruction for k in ("condense", "comma", "descriptor", "keyword")):
        limit = re.search(r"up to (\d+)", instruction)
        items = _descriptors(_after_instruction(user) or previous or user)
        return ", ".join(items[: int(limit.group(1)) if limit else 8])

    if previous and any(k in user.lower() for k in ("more detail", "자세히", "elaborate")):
        return _more_detail(previous, rng)
    return _imagine(user, rng)


def count_tokens(text: str) -> int:
    """A token count close to OpenAI's o200k tokenizer, never below one.

    English runs about four characters a token.  Hangul does not: each syllable
    block is most of a token (about 0.75), so Korean text counts some 2.5 times
    what four-characters-a-token would say, as the real tokenizer does.
    """
    hangul = len(_HANGUL.findall(text))
    return max(1, math.ceil(hangul * 0.75 + (len(text) - hangul) / 4))


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


# ---------------------------------------------------------------- chat features: tools, structured output, logprobs


def tokens_of(text: str) -> list[str]:
    """The reply cut into the pieces the emulator streams and scores (words with their trailing space)."""
    return re.findall(r"\S+\s*", text) or [text]


def logprobs(text: str, top: int, seed: str) -> list[dict]:
    """Per-token log probabilities: the chosen token is always the likeliest; ``top`` alternatives follow."""
    rng = _rng("logprobs", seed)
    out = []
    for token in tokens_of(text):
        chosen = -float(rng.exponential(0.35))
        alternatives = []
        for k in range(top):
            alt = token if k == 0 else _alternative(token, k)
            lp = chosen if k == 0 else chosen - float(rng.uniform(0.5, 3.0)) * k
            alternatives.append({"token": alt, "logprob": round(lp, 6), "bytes": list(alt.encode("utf-8"))})
        out.append({"token": token, "logprob": round(chosen, 6), "bytes": list(token.encode("utf-8")),
                    "top_logprobs": alternatives})
    return out


def _alternative(token: str, k: int) -> str:
    word = token.strip()
    tail = token[len(token.rstrip()):]
    options = [word.lower(), word.capitalize(), word.rstrip(".,;:!?"), word + ",", "the", "a", "and", "of"]
    return options[k % len(options)] + tail


def instance_of(schema: dict, text: str, defs: dict | None = None, depth: int = 0) -> object:
    """A JSON value valid against a (structured-outputs) JSON Schema, its strings taken from the reply."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "$ref" in schema:
        return instance_of(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), text, defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return instance_of(schema[key][0], text, defs, depth + 1)
    if schema.get("allOf"):
        merged: dict = {}
        for part in schema["allOf"]:
            merged.update(part)
        return instance_of(merged, text, defs, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    words = [w.strip(".,;:!?") for w in text.split()] or ["scene"]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance_of(sub, " ".join(words[i:] + words[:i]), defs, depth + 1)
                for i, (name, sub) in enumerate(props.items())}
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), min(int(schema.get("maxItems", 3)), 3))
        return [instance_of(schema.get("items", {}), " ".join(words[i:]), defs, depth + 1) for i in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", len(words)))
    if kind == "number":
        return float(schema.get("minimum", len(words) / 2))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    value = " ".join(words[:12])
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(value) < low:
        value = value.ljust(low, "x")
    return value[:high] if high is not None else value
