"""Result cards and error boxes: how every page shows one ledger row."""
from __future__ import annotations

import io
import json
import zipfile

import streamlit as st

from lib.errors import StudioError
from lib.store.images import MISSING_MESSAGE
from lib.ui.safe_text import chat_markdown, md_literal

# Which page reopens a row's settings ("reuse these settings").
PAGE_FILES = {
    "generate": "pages/generate.py",
    "edit": "pages/edit.py",
    "variations": "pages/variations.py",
    "karlo": "pages/karlo.py",
    "compare": "pages/compare.py",
    "chat": "pages/chat.py",
    "pipeline": "pages/pipeline.py",
}
_EXT = {"png": "png", "jpeg": "jpg", "jpg": "jpg", "webp": "webp", "gif": "gif"}


def format_cost(cost_usd: float | None, cost_source: str | None) -> str:
    if cost_usd is None:
        return "unpriced"
    if cost_usd == 0:
        return "no charge"  # Karlo's free quota: "$0.0000 (table)" read like a missing price
    return f"${cost_usd:,.4f} ({cost_source})"


def format_tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    if input_tokens is None and output_tokens is None:
        return "tokens unknown"
    fmt = lambda v: "?" if v is None else f"{v:,}"  # noqa: E731
    return f"{fmt(input_tokens)} in · {fmt(output_tokens)} out"


def zip_images(named_images: list[tuple[str, bytes]], extra_files: dict[str, bytes] | None = None) -> bytes:
    """One in-memory zip of images (and e.g. a CSV), for "download all"."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # images are compressed already
        for name, data in named_images:
            zf.writestr(name, data)
        for name, data in (extra_files or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def error_box(err: StudioError | Exception, *, key_hint: str | None = None) -> None:
    """Show what went wrong and what to do, never a stack trace."""
    if not isinstance(err, StudioError):
        st.error(f"Something went wrong: {md_literal(type(err).__name__)}. Your inputs are kept; try again.",
                 icon=":material/error:")
        return
    icon = ":material/block:" if err.status_label == "rejected" else ":material/error:"
    st.error(md_literal(err.message), icon=icon)  # provider text may be quoted in it
    facts = [f"HTTP {err.http_status}" if err.http_status else None, f"code {md_literal(err.code)}" if err.code else None,
             # the parameter a provider's answer named (the app's own checks name its variables: not for a person)
             f"parameter {md_literal(err.param)}" if err.param and err.http_status else None,
             f"request id {md_literal(err.request_id)}" if err.request_id else None]
    facts = [f for f in facts if f]
    if facts or err.detail:
        said = f" — provider said: {md_literal(err.detail)}" if err.detail and err.detail not in err.message else ""
        st.caption(" · ".join(facts) + said)


def result_card(row, store, *, key: str | None = None, show_prompt: bool = True) -> None:
    """One ledger row as a person wants to see it: pictures first, then what it cost and how it was made."""
    key = key or f"card_{row.id}"
    with st.container(border=True):
        if row.status != "ok":
            st.error(md_literal(row.error_message or f"The call ended with status {row.status}."), icon=":material/error:")
        badge = " :orange-badge[demo]" if row.backend == "demo" else ""
        st.markdown(f"**{md_literal(row.model or row.provider)}**{badge} · {md_literal(row.action)}")
        refs = list(row.output_refs or [])
        if refs:
            cols = st.columns(min(len(refs), 4))
            for i, sha in enumerate(refs):
                with cols[i % len(cols)]:
                    try:  # a picture deleted with another row (or by hand) says so; the row's facts still show
                        source, data, ref_ext = store.image_source(sha), store.read(sha), store.extension(sha) or "png"
                    except FileNotFoundError:
                        source = None
                    if source is None:
                        st.caption(f":material/hide_image: {MISSING_MESSAGE}")
                        continue
                    # one picture alone would fill the page: show it at a size that leaves the facts in view
                    st.image(source, width="stretch" if len(refs) > 1 else 512)
                    st.download_button(
                        "Download", data, file_name=f"{row.action}-{sha[:10]}.{_EXT.get(ref_ext, ref_ext)}",
                        key=f"{key}_dl_{i}", on_click="ignore", icon=":material/download:",
                    )
        if row.output_text and not refs:
            st.markdown(chat_markdown(row.output_text))
        if show_prompt and row.prompt:
            st.caption(f"Prompt: {md_literal(row.prompt)}")
        if row.revised_prompt and row.revised_prompt != row.prompt:
            st.caption(f"Revised prompt: {md_literal(row.revised_prompt)}")
        size = f"{row.width}×{row.height}" if row.width and row.height else None
        facts = [size, format_tokens(row.input_tokens, row.output_tokens), format_cost(row.cost_usd, row.cost_source),
                 f"{row.latency_ms:,.0f} ms" if row.latency_ms is not None else None]
        st.caption(" · ".join(f for f in facts if f))
        for note in (row.usage_detail or {}).get("notes") or []:  # record_call keeps ImageResult.notes here
            st.caption(f":material/check: {md_literal(note)}")
        left, right = st.columns(2)
        with left:
            with st.popover("Settings", icon=":material/tune:"):
                st.code(json.dumps(row.params or {}, indent=2, ensure_ascii=False, default=str), language="json")
        with right:
            present = [(i, sha) for i, sha in enumerate(refs) if store.exists(sha)]
            if len(present) > 1:
                named = [(f"{row.action}-{i + 1}-{sha[:10]}.{store.extension(sha)}", store.read(sha)) for i, sha in present]
                st.download_button("Download all (.zip)", zip_images(named), file_name=f"{row.action}-{row.id}.zip",
                                   mime="application/zip", key=f"{key}_zip", on_click="ignore", icon=":material/folder_zip:")
        if row.page in PAGE_FILES and st.button("Reuse these settings", key=f"{key}_reuse", icon=":material/replay:"):
            reuse_settings(row)


def reuse_settings(row) -> None:
    """Open the page that made this row, filled in with its prompt and settings."""
    st.session_state["reuse"] = {"page": row.page, "prompt": row.prompt, "negative_prompt": row.negative_prompt,
                                 "model": row.model, "provider": row.provider, "params": dict(row.params or {})}
    st.switch_page(PAGE_FILES[row.page])
