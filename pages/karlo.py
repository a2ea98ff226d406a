"""Karlo: Kakao's image model — text to image, variations, inpainting, upscale and an NSFW check, with the month's quota."""
from __future__ import annotations

import hashlib
import io

import streamlit as st
from PIL import Image

from lib import clock, send
from lib.errors import InvalidInput, StudioError
from lib.imaging import InputRules, normalise_for_edit, normalise_mask, overlay_mask_preview
from lib.providers import karlo
from lib.providers.base import GENERATE, INPAINT, VARIATION
from lib.providers.karlo_engine import ENGINE, parse_seeds
from lib.store import recent_outputs, record_call
from lib.ui import jobs, session
from lib.ui.cards import error_box, result_card
from lib.ui.people import person_key
from lib.ui.mask_painter import mask_painter
from lib.ui.safe_text import md_literal

PAGE = "karlo"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif"]
FROM_UPLOAD, FROM_STORE = "Upload a picture", "Pick a stored result"
MASK_UPLOAD, MASK_PAINT = "Upload a mask", "Paint the mask"
RECENT_LIMIT = 40
# Session keys: the rows this session made and the last error live outside widgets so they survive reruns.
ROWS, LAST_ERROR, TRANSLATE_ERROR = "karlo_row_ids", "karlo_last_error", "karlo_translate_error"
JOB, UNRECORDED = "karlo_call", "karlo_unrecorded"  # the call in flight (lib.ui.jobs); a result the ledger could not take
# Every setting's starting value (Karlo's own defaults, except png so inpainting keeps pixels exactly).
DEFAULTS = {
    "karlo_prompt": "", "karlo_negative": "", "karlo_version": karlo.DEFAULT_VERSION, "karlo_width": 512,
    "karlo_height": 512, "karlo_samples": 1, "karlo_seeds": "", "karlo_prior_steps": 25, "karlo_prior_guidance": 5.0,
    "karlo_steps": 50, "karlo_guidance": 5.0, "karlo_scheduler": karlo.SCHEDULERS[0], "karlo_format": "png",
    "karlo_quality": 70, "karlo_nsfw": False, "karlo_upscale": False, "karlo_scale": 2, "karlo_var_prompt": "",
    "karlo_inpaint_prompt": "", "karlo_up_scale": 2,
}
for _key, _default in DEFAULTS.items():
    # keep values when the person visits another page and comes back
    st.session_state[_key] = st.session_state.get(_key, _default)
st.session_state.setdefault(ROWS, [])


@st.cache_data(max_entries=32, show_spinner="Preparing the image…")
def prepared_image(data: bytes, name: str, max_side: int) -> tuple[bytes, int, int, list[str]]:
    """Any upload as an image Karlo takes, with what was changed."""
    normalised = normalise_for_edit(data, InputRules(max_side=max_side), filename=name)
    fitted, fixes = karlo.fit_image(normalised.data, max_side=max_side)
    with Image.open(io.BytesIO(fitted)) as img:
        width, height = img.size
    return fitted, width, height, [*normalised.fixes, *fixes]


@st.cache_data(max_entries=32, show_spinner=False)
def prepared_mask(data: bytes, size: tuple[int, int], name: str) -> tuple[bytes, float, list[str]]:
    """A mask in the studio convention (transparent or black = repaint) at the image's size, and its coverage."""
    normalised = normalise_mask(data, size, legacy=False, filename=name)
    return normalised.data, normalised.coverage or 0.0, normalised.fixes


def pick_image(prefix: str, ledger, store, *, max_side: int, label: str = "Picture"):
    """An uploaded or stored picture, prepared for Karlo: ``(bytes, width, height, fixes)`` or ``None``."""
    st.session_state.setdefault(f"{prefix}_source", FROM_UPLOAD)
    source = st.segmented_control("Start from", [FROM_UPLOAD, FROM_STORE], key=f"{prefix}_source", required=True)
    try:
        if source == FROM_UPLOAD:
            upload = st.file_uploader(label, type=UPLOAD_TYPES, key=f"{prefix}_upload")
            return prepared_image(upload.getvalue(), upload.name, max_side) if upload is not None else None
        recent = recent_outputs(ledger, RECENT_LIMIT)
        if not recent:
            st.info("No stored results yet: make something first, or upload a picture.")
            return None
        labels = {item["sha"]: item["label"] for item in recent}
        if st.session_state.get(f"{prefix}_stored") not in labels:
            st.session_state[f"{prefix}_stored"] = recent[0]["sha"]
        sha = st.selectbox("Stored result", list(labels), key=f"{prefix}_stored", format_func=labels.get)
        return prepared_image(store.read(sha), f"stored image {sha[:10]}", max_side)
    except InvalidInput as err:
        st.error(md_literal(err.message), icon=":material/broken_image:")
    except OSError as err:
        st.error(f"That picture cannot be read ({type(err).__name__}). Pick another one.", icon=":material/broken_image:")
    return None


def show_picture(picture, caption: str) -> None:
    data, width, height, fixes = picture
    st.image(data, caption=f"{caption} · {width}×{height}", width=320)
    for fix in fixes:
        st.caption(f":material/build: {md_literal(fix)}")


def english_check(text: str, what: str) -> bool:
    """Warn about a prompt Karlo cannot read; True when it is fine to send."""
    if karlo.is_english(text):
        return True
    if karlo.looks_korean(text):
        st.warning(f"The {what} is in Korean; Karlo reads English only. Translate it below, or write it in English.",
                   icon=":material/translate:")
    else:
        st.warning(f"The {what} has letters Karlo cannot read: Karlo reads English only.", icon=":material/translate:")
    return False


def translate(field: str) -> None:
    """Button callback: replace a Korean prompt with its English translation from the chat model."""
    from lib import pipeline  # here, not at the top: the OpenAI SDK takes seconds to import

    openai_cfg = pipeline.chat_config(session.configs())
    text = st.session_state.get(field, "")
    person = person_key()  # the translation is this person's call too
    st.session_state[TRANSLATE_ERROR] = None
    try:
        # One ledger row, pending and checked against the hard budget before the call (the prompt stays if refused).
        st.session_state[field] = pipeline.translate_on_ledger(openai_cfg, text, page=PAGE, person=person)
    except StudioError as err:
        st.session_state[TRANSLATE_ERROR] = err


def translate_button(field: str) -> None:
    if karlo.looks_korean(st.session_state.get(field, "")):
        st.button("Translate to English", key=f"{field}_translate", on_click=translate, args=(field,),
                  icon=":material/translate:", help="Uses the OpenAI chat model; the translation call is in the ledger.")


def draw(action: str, *, prompt=None, params=None, images=None, mask=None):
    """Text to image, a variation or inpainting through the engine interface; the row is written whatever happens.

    One call at a time (lib.ui.jobs): the "what happened" section below waits for it and shows it."""
    if in_flight:
        return
    st.session_state[LAST_ERROR] = None
    st.session_state.pop(UNRECORDED, None)
    request = send.Request(ENGINE.id, action, f"karlo-{version}", prompt, dict(params or {}),
                           images=list(images or []), mask=mask, page=PAGE, person=person_key())
    jobs.start(JOB, lambda job: send.send(cfg, request), label="Karlo is drawing…")


def send_upscale(params: dict, picture: bytes) -> None:
    """Karlo's own upscale (no other engine has it): its row is written whatever happens; one call at a time."""
    if in_flight:
        return
    request = send.Request(ENGINE.id, "upscale", "karlo-upscale", None, dict(params), images=[picture], page=PAGE,
                           person=person_key())
    st.session_state[LAST_ERROR] = None
    st.session_state.pop(UNRECORDED, None)

    def upscale(job) -> send.Outcome:
        outcome = send.Outcome(request)
        try:
            outcome.result = client.upscale_image([picture], **params)
        except StudioError as err:
            outcome.error = err
        return send.record_outcome(cfg, outcome)

    jobs.start(JOB, upscale, label="Karlo is upscaling…")


def apply_reuse() -> None:
    """Fill the form from a result card's "reuse these settings"."""
    reuse = st.session_state.get("reuse")
    if not reuse or reuse.get("page") != PAGE:
        return
    st.session_state.pop("reuse")
    params = reuse.get("params") or {}
    st.session_state["karlo_prompt"] = reuse.get("prompt") or ""
    st.session_state["karlo_negative"] = reuse.get("negative_prompt") or ""
    for key, name in (("karlo_version", "version"), ("karlo_width", "width"), ("karlo_height", "height"),
                      ("karlo_samples", "samples"), ("karlo_prior_steps", "prior_num_inference_steps"),
                      ("karlo_prior_guidance", "prior_guidance_scale"), ("karlo_steps", "num_inference_steps"),
                      ("karlo_guidance", "guidance_scale"), ("karlo_scheduler", "scheduler"),
                      ("karlo_format", "image_format"), ("karlo_quality", "image_quality"),
                      ("karlo_nsfw", "nsfw_checker"), ("karlo_upscale", "upscale"), ("karlo_scale", "scale")):
        if params.get(name) is not None:
            st.session_state[key] = params[name]
    if params.get("seeds"):
        st.session_state["karlo_seeds"] = ", ".join(map(str, params["seeds"]))


# ================================================================ the page
st.title("Karlo")
cfg = session.configs()[ENGINE.id]
if not cfg.usable:
    st.error(cfg.problem or "Karlo is not configured.", icon=":material/key_off:")
    st.stop()
store, ledger = session.open_store_or_stop()
apply_reuse()
client = karlo.KarloClient(cfg)

in_flight = jobs.busy(JOB)  # while a call runs, every send button is greyed out and a stray click sends nothing

# ---------------------------------------------------------------- quota
month_start = clock.month_start()
used = ledger.count_images(provider="karlo", since=month_start, backend=cfg.backend)
quota = karlo.FREE_IMAGES_PER_MONTH
st.progress(min(used / quota, 1.0), text=f"{used} of {quota} free Karlo images used this month"
            + (" (demo calls; the real quota counts live calls only)" if cfg.backend == "demo" else ""))
if used >= quota and cfg.backend == "live":
    st.warning("This month's free quota looks used up: Karlo will answer -10 until next month.", icon=":material/hourglass:")

# ---------------------------------------------------------------- settings every drawing tab shares
with st.expander("Model and output settings (text to image, variations, inpainting)", icon=":material/tune:"):
    left, middle, right = st.columns(3)
    version = left.selectbox("Model version", list(karlo.SIZE_RANGES), key="karlo_version",
                             help="; ".join(f"{v} draws {lo}–{hi} px" for v, (lo, hi) in karlo.SIZE_RANGES.items()) + ".")
    samples = middle.number_input("Images per call", 1, karlo.MAX_SAMPLES, key="karlo_samples",
                                  help="Each image counts against the monthly quota.")
    seeds_text = right.text_input("Seeds", key="karlo_seeds", placeholder="random",
                                  help="One whole number per image, separated by commas. The same seeds and settings "
                                       "redraw the same pictures; leave empty for random seeds (they are reported).")
    left, middle, right = st.columns(3)
    image_format = left.selectbox("Format", karlo.IMAGE_FORMATS, key="karlo_format")
    image_quality = middle.slider("Quality", 1, 100, key="karlo_quality", disabled=image_format == "png",
                                  help="For webp and jpeg; png is lossless.")
    nsfw_checker = right.toggle("NSFW checker", key="karlo_nsfw", help="Karlo scores each result for unsafe content.")
    upscale = left.toggle("Upscale results", key="karlo_upscale")
    scale = middle.radio("Scale", [2, 4], key="karlo_scale", horizontal=True, format_func=lambda s: f"×{s}",
                         disabled=not upscale)
    st.markdown("**Steps and guidance**")
    left, middle, right = st.columns(3)
    prior_steps = left.slider("Prior steps", 10, 100, key="karlo_prior_steps", help="Text to image and inpainting.")
    prior_guidance = left.slider("Prior guidance", 1.0, 20.0, step=0.5, key="karlo_prior_guidance")
    steps = middle.slider("Decoder steps", 10, 100, key="karlo_steps")
    guidance = middle.slider("Decoder guidance", 1.0, 20.0, step=0.5, key="karlo_guidance")
    scheduler = right.selectbox("Scheduler", karlo.SCHEDULERS, key="karlo_scheduler")

try:
    seeds = parse_seeds(seeds_text)
    seed_problem = None
except InvalidInput as err:
    seeds, seed_problem = None, err
    st.error(md_literal(err.message), icon=":material/pin:")
output = {"image_format": image_format, "image_quality": int(image_quality), "nsfw_checker": nsfw_checker,
          "upscale": upscale or None, "scale": int(scale), "samples": int(samples), "seed": seeds,
          "num_inference_steps": int(steps), "guidance_scale": float(guidance), "scheduler": scheduler, "version": version}
prior = {"prior_num_inference_steps": int(prior_steps), "prior_guidance_scale": float(prior_guidance)}

t2i_tab, variation_tab, inpaint_tab, upscale_tab, nsfw_tab = st.tabs(
    ["Text to image", "Variations", "Inpainting", "Upscale", "NSFW check"])

# ---------------------------------------------------------------- text to image
with t2i_tab:
    prompt = st.text_area("Prompt (English, up to 256 characters)", key="karlo_prompt", height=90, max_chars=None,
                          placeholder="e.g. a lighthouse on a cliff at dusk, oil painting")
    prompt_ok = english_check(prompt, "prompt")
    translate_button("karlo_prompt")
    negative = st.text_input("Negative prompt (optional)", key="karlo_negative", placeholder="e.g. blurry, text")
    negative_ok = english_check(negative, "negative prompt")
    translate_button("karlo_negative")
    lo, hi = karlo.SIZE_RANGES[version]
    for key in ("karlo_width", "karlo_height"):  # a size the chosen version cannot draw falls back into its range
        st.session_state[key] = min(max(int(st.session_state.get(key, 512)) // 8 * 8, lo), hi)
    left, right = st.columns(2)
    width = left.number_input("Width", lo, hi, step=8, key="karlo_width")
    height = right.number_input("Height", lo, hi, step=8, key="karlo_height")
    if st.button("Generate", type="primary", icon=":material/palette:", key="karlo_t2i_send",
                 disabled=not (prompt.strip() and prompt_ok and negative_ok) or seed_problem is not None or in_flight):
        params = {**output, **prior, "width": int(width), "height": int(height)}
        draw(GENERATE, prompt=prompt, params={**params, "negative_prompt": negative or None})

# ---------------------------------------------------------------- variations
with variation_tab:
    picture = pick_image("karlo_var", ledger, store, max_side=2048)
    if picture is not None:
        show_picture(picture, "Original")
    var_prompt = st.text_input("Steer the variation (optional, English)", key="karlo_var_prompt")
    var_ok = english_check(var_prompt, "prompt")
    translate_button("karlo_var_prompt")
    st.caption(f"Variations come out at the size set on the text-to-image tab ({st.session_state['karlo_width']}×"
               f"{st.session_state['karlo_height']}).")
    if st.button("Make variations", type="primary", icon=":material/content_copy:", key="karlo_var_send",
                 disabled=picture is None or not var_ok or seed_problem is not None or in_flight):
        params = {**output, "width": st.session_state["karlo_width"], "height": st.session_state["karlo_height"]}
        draw(VARIATION, prompt=var_prompt or None, params=params, images=[picture[0]])

# ---------------------------------------------------------------- inpainting
with inpaint_tab:
    st.caption(f"Mask convention: {karlo.MASK_CONVENTION}")
    base = pick_image("karlo_inpaint", ledger, store, max_side=2048)
    studio_mask = None
    if base is not None:
        st.session_state.setdefault("karlo_mask_source", MASK_UPLOAD)
        mask_source = st.segmented_control("Mask", [MASK_UPLOAD, MASK_PAINT], key="karlo_mask_source", required=True)
        if mask_source == MASK_UPLOAD:
            mask_file = st.file_uploader("Mask image", type=UPLOAD_TYPES, key="karlo_mask_upload",
                                         help="Black (or transparent) = repaint, white = keep.")
            if mask_file is not None:
                try:
                    studio_mask, coverage, fixes = prepared_mask(mask_file.getvalue(), (base[1], base[2]), mask_file.name)
                    st.image(overlay_mask_preview(base[0], studio_mask), width=320,
                             caption=f"Pink = will be repainted ({coverage:.0%})")
                    for fix in fixes:
                        st.caption(f":material/build: mask: {md_literal(fix)}")
                    if coverage == 0.0:
                        st.warning("The mask marks nothing to repaint.", icon=":material/warning:")
                        studio_mask = None
                except InvalidInput as err:
                    st.error(md_literal(err.message), icon=":material/broken_image:")
        else:
            studio_mask = mask_painter(base[0], key="karlo_paint_" + hashlib.sha1(base[0]).hexdigest()[:10])
        if studio_mask is None:
            show_picture(base, "Image")
    inpaint_prompt = st.text_area("What to paint in the masked area (English)", key="karlo_inpaint_prompt", height=70)
    inpaint_ok = english_check(inpaint_prompt, "prompt")
    translate_button("karlo_inpaint_prompt")
    if st.button("Inpaint", type="primary", icon=":material/brush:", key="karlo_inpaint_send",
                 disabled=base is None or studio_mask is None or not (inpaint_prompt.strip() and inpaint_ok)
                 or seed_problem is not None or in_flight):
        draw(INPAINT, prompt=inpaint_prompt, params={**output, **prior}, images=[base[0]], mask=studio_mask)

# ---------------------------------------------------------------- upscale
with upscale_tab:
    small = pick_image("karlo_up", ledger, store, max_side=karlo.MAX_UPSCALE_INPUT_SIDE)
    if small is not None:
        show_picture(small, "To upscale")
    up_scale = st.radio("Scale", [2, 4], key="karlo_up_scale", horizontal=True, format_func=lambda s: f"×{s}")
    too_big = small is not None and max(small[1], small[2]) * up_scale > karlo.MAX_UPSCALED_SIDE
    if too_big:
        st.warning(f"×{up_scale} would pass Karlo's {karlo.MAX_UPSCALED_SIDE} px limit for this picture: use ×2.")
    if st.button("Upscale", type="primary", icon=":material/zoom_out_map:", key="karlo_up_send",
                 disabled=small is None or too_big or in_flight):
        params = {"scale": int(up_scale), "image_format": image_format, "image_quality": int(image_quality)}
        send_upscale(params, small[0])

# ---------------------------------------------------------------- NSFW check
with nsfw_tab:
    checks = st.file_uploader("Pictures to check (up to 8)", type=UPLOAD_TYPES, accept_multiple_files=True,
                              key="karlo_nsfw_uploads")
    prepared = []
    for upload in (checks or [])[: karlo.MAX_SAMPLES]:
        try:
            prepared.append((upload.name, prepared_image(upload.getvalue(), upload.name, 2048)[0]))
        except InvalidInput as err:
            st.error(md_literal(err.message), icon=":material/broken_image:")
    if checks and len(checks) > karlo.MAX_SAMPLES:
        st.warning(f"Only the first {karlo.MAX_SAMPLES} pictures are checked.")
    if st.button("Check", type="primary", icon=":material/shield:", key="karlo_nsfw_send", disabled=not prepared):
        st.session_state[LAST_ERROR] = None
        try:
            verdicts = client.check_nsfw([data for _, data in prepared])
            summary = "\n".join(f"- **{md_literal(name)}**: {'NSFW' if v.nsfw_content_detected else 'safe'} "
                                f"(score {v.nsfw_score:.2f})" for (name, _), v in zip(prepared, verdicts))
            row = record_call(page=PAGE, action="nsfw_check", cfg=cfg, model="karlo-nsfw-checker",
                              endpoint=karlo.API_PATH + "nsfw_checker", output_text=summary,
                              inputs=[data for _, data in prepared])
        except StudioError as err:
            st.session_state[LAST_ERROR] = err
            row = record_call(page=PAGE, action="nsfw_check", cfg=cfg, error=err, model="karlo-nsfw-checker",
                              endpoint=karlo.API_PATH + "nsfw_checker", inputs=[data for _, data in prepared])
        st.session_state[ROWS].insert(0, row.id)

# ---------------------------------------------------------------- what happened
jobs.settle(JOB, drawn_disabled=in_flight, last_error=LAST_ERROR, unrecorded=UNRECORDED,
            on_row=lambda row_id: st.session_state[ROWS].insert(0, row_id))
jobs.show_unrecorded(UNRECORDED)
if st.session_state.get(TRANSLATE_ERROR) is not None:
    error_box(st.session_state[TRANSLATE_ERROR])
if st.session_state.get(LAST_ERROR) is not None:
    error_box(st.session_state[LAST_ERROR])
    st.caption("Your prompts, pictures and settings are still here: change what the message says and try again.")

for row_id in st.session_state[ROWS][:6]:
    row = ledger.get(row_id)
    if row is not None and row.status == "ok":
        result_card(row, store)
        if row.usage_detail.get("seeds"):
            st.caption(f"Seeds: {md_literal(', '.join(map(str, row.usage_detail['seeds'])))}")
