"""Usage ledger: every call this studio made, what it cost, and the way back to any of them."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import streamlit as st

from lib import clock
from lib.providers import registry
from lib.store import StoreUnavailable, open_store, report
from lib.people import NotAllowed
from lib.ui import budget, cards
from lib.ui.people import require_person
from lib.ui.safe_text import chat_markdown, md_literal

PAGE_SIZE = 200  # table rows per page: keeps a 100,000-row ledger quick to draw
ROOT = Path(__file__).resolve().parent.parent


def dollars(amount: float) -> str:
    """Cents hide single image prices, so small totals get four decimals."""
    return f"${amount:,.4f}" if amount < 10 else f"${amount:,.2f}"


FILTER_LABELS = {"page": "Page", "action": "Action", "provider": "Provider", "model": "Model", "backend": "Backend", "status": "Status"}

st.title("Usage ledger")
st.caption("One row per API call: what was asked, what came back, how long it took and what it cost.")

try:
    store, ledger = open_store()
except StoreUnavailable as exc:
    st.error(exc.message, icon=":material/warning:")
    st.stop()

person = require_person()
ledger.settle_interrupted()  # a replica that died mid-call left pending rows: settle those whose process is gone
if person.is_admin:  # the team budget is an admin setting
    with st.sidebar:
        budget.budget_input(ledger)

# --- Which rows: dates and prompt search first; the value filters offer what those rows contain -------------
today = clock.today()
top = st.columns([2, 3, 1.5], vertical_alignment="bottom")
dates = top[0].date_input("Dates (UTC)", value=(today - timedelta(days=30), today), max_value=today, key="ledger_dates")
text, search_note = report.search_text(top[1].text_input(
    "Search prompts", key="ledger_text", max_chars=report.SEARCH_MAX_CHARS,
    placeholder="words in the prompt, revised or negative prompt"))
include_demo = top[2].toggle("Count demo", key="ledger_include_demo", help="Demo calls cost nothing; they are left out of spend unless you switch this on.")
if search_note:
    st.caption(search_note)
since = dates[0] if len(dates) > 0 else None
until = dates[1] if len(dates) > 1 else since  # while a range is half picked, show that one day


# SQLite answers for just what this run shows: per-day totals for the days and search (they also say which
# values the filters can offer), the chosen calls' latencies, and one page of the table.
totals = report.totals(ledger, report.Selection(since, until, text))
available = report.options(totals)
filter_cols = st.columns(len(FILTER_LABELS))
# Every registered engine can be picked (by its name), whether or not it has rows in these dates.
ENGINE_FILTER = {"provider": (registry.ids(), registry.label)}
chosen = {
    col: filter_cols[i].multiselect(
        label, sorted(set(available[col]) | set(st.session_state.get(f"ledger_filter_{col}", []))  # keep a choice the dates hide
                      | set(ENGINE_FILTER.get(col, ((), None))[0])),
        key=f"ledger_filter_{col}", placeholder="All", format_func=ENGINE_FILTER.get(col, ((), str))[1] or str,
    )
    for i, (col, label) in enumerate(FILTER_LABELS.items())
}
# Members see their own calls in the table and exports, and the team's figures and charts; admins everyone's.
selection = report.Selection(since, until, text, chosen, person=None if person.is_admin else person.key)
totals = report.apply_filters(totals, chosen)
latencies = report.latencies(ledger, selection, totals)

# --- Figures -----------------------------------------------------------------------------------------
figures = report.figures(totals, latencies, live_only=not include_demo)
seconds = lambda ms: "–" if ms is None else f"{ms / 1000:,.1f} s"  # noqa: E731
money, volume = st.columns(4), st.columns(4)
money[0].metric("Spend" + ("" if include_demo else " (live)"), dollars(figures.spend_usd),
                help=f"{figures.unpriced_calls:,} of these calls have no known price and add nothing here.")
money[1].metric("Calls", f"{figures.calls:,}")
money[2].metric("Images", f"{figures.images:,}")
money[3].metric("Tokens", f"{figures.input_tokens + figures.output_tokens:,}",
                help=f"{figures.input_tokens:,} in · {figures.output_tokens:,} out")
volume[0].metric("Error rate", "–" if figures.error_rate is None else f"{figures.error_rate:.1%}")
volume[1].metric("Latency p50", seconds(figures.p50_latency_ms))
volume[2].metric("Latency p95", seconds(figures.p95_latency_ms))
if figures.unpriced_calls:
    st.caption(f"{figures.unpriced_calls:,} call(s) unpriced (failed, no usage reported, or a model without a known price).")

# --- Charts --------------------------------------------------------------------------------------------
charts = report.chart_frames(totals, latencies, live_only=not include_demo)
spend_tab, model_tab, latency_tab = st.tabs(["Spend per day", "Calls by model", "Latency"])
with spend_tab:
    if charts["spend_per_day"].empty:
        st.caption("No priced calls in this selection.")
    else:
        st.bar_chart(charts["spend_per_day"], x_label="day (UTC)", y_label="USD", height=260)
with model_tab:
    if charts["calls_by_model"].empty:
        st.caption("No calls in this selection.")
    else:
        st.bar_chart(charts["calls_by_model"], horizontal=True, x_label="calls", height=260, color=["#4c9a2a", "#d1495b"][: charts["calls_by_model"].shape[1]])
with latency_tab:
    if charts["latency"].empty:
        st.caption("No timed calls in this selection.")
    else:
        st.bar_chart(charts["latency"], x="seconds", y="calls", x_label="latency, seconds (bin start)", height=260)

# --- Table, one page at a time --------------------------------------------------------------------------
own = report.own_count(ledger, selection)
shown = figures.calls if own is None else own
pages_total = max(1, -(-shown // PAGE_SIZE))
head = st.columns([3, 1])
page_no = head[1].number_input(f"Page (of {pages_total})", min_value=1, max_value=pages_total, value=1, key="ledger_page_no") \
    if pages_total > 1 else 1
head[0].subheader(f"{shown:,} call(s)" + ("" if own is None else " of yours"))
view = report.table_page(ledger, selection, page_no, PAGE_SIZE)
view["image"] = [store.thumbnail_data_url(sha) if sha else None for sha in view["image"]]

# A new table key whenever the rows shown change, so a stale selection can never point at other rows.
signature = json.dumps([ledger.version(), str(since), str(until), text, {k: sorted(v) for k, v in chosen.items()}, page_no,
                        person.key], default=str)
table_key = "ledger_table_" + hashlib.sha1(signature.encode()).hexdigest()[:12]
event = st.dataframe(
    view,
    key=table_key,
    on_select="rerun",
    selection_mode="multi-row",
    hide_index=True,
    column_order=["image", "created_at", *(["person"] if person.is_admin else []), "page", "action", "provider",
                  "backend", "model", "status", "prompt", "n_images", "input_tokens", "output_tokens", "cost_usd",
                  "cost_source", "paid_by", "latency_ms"],
    column_config={
        "image": st.column_config.ImageColumn("Image", width="small"),
        "created_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "prompt": st.column_config.TextColumn("Prompt", width="large"),
        "n_images": st.column_config.NumberColumn("Images"),
        "input_tokens": st.column_config.NumberColumn("Tokens in", format="%d"),
        "output_tokens": st.column_config.NumberColumn("Tokens out", format="%d"),
        "cost_usd": st.column_config.NumberColumn("Cost", format="$%.4f"),
        "cost_source": st.column_config.TextColumn("Priced by"),
        "latency_ms": st.column_config.NumberColumn("Latency", format="%.0f ms"),
        "person": st.column_config.TextColumn("Who"),
        "paid_by": st.column_config.TextColumn("Paid by", help="own key: pasted for that session; team key: the server's"),
    },
    row_height=48,
    placeholder="",  # rows without a picture show an empty cell, not "None"
)
selected_ids = view["id"].iloc[list(event.selection.rows)].tolist() if event and event.selection.rows else []
if not selected_ids:
    st.caption("Select a row to open its full record; select several to delete them.")

# --- Export and delete ------------------------------------------------------------------------------------
def as_csv() -> bytes:  # called only when the button is clicked
    return report.to_csv(report.export_frame(ledger, selection))


def as_parquet() -> bytes:
    return report.to_parquet(report.export_frame(ledger, selection))


def forget_pending_delete() -> None:
    st.session_state.pop("ledger_confirm_ids", None)


@st.dialog("Delete these calls?", on_dismiss=forget_pending_delete)
def confirm_delete(ids: list[str]) -> None:
    doomed = [ledger.get(i) for i in ids]
    images = sorted({sha for row in doomed if row for sha in ledger.refs(row)})
    st.write(f"{len(ids)} ledger row(s) will be removed for good, with those of their {len(images)} image(s) "
             "that no other row uses. Exports you made keep their copies.")
    left, right = st.columns(2)
    if left.button("Delete", type="primary", icon=":material/delete:", key="ledger_delete_confirm"):
        try:
            removed = ledger.delete(ids, by=person)
        except NotAllowed as exc:
            st.error(exc.message, icon=":material/block:")
            return
        forget_pending_delete()
        st.session_state["ledger_flash"] = f"Deleted {len(ids)} row(s) and {len(removed)} image file(s)."
        st.rerun()
    if right.button("Keep them", key="ledger_delete_cancel"):
        forget_pending_delete()
        st.rerun()


actions = st.container(horizontal=True)
stamp = clock.now().strftime("%Y%m%d-%H%M")
actions.download_button("CSV", as_csv, file_name=f"ledger-{stamp}.csv", mime="text/csv", on_click="ignore",
                        icon=":material/download:", disabled=not figures.calls, key="ledger_csv")
actions.download_button("Parquet", as_parquet, file_name=f"ledger-{stamp}.parquet", mime="application/vnd.apache.parquet",
                        on_click="ignore", icon=":material/download:", disabled=not figures.calls, key="ledger_parquet")
if actions.button(f"Delete {len(selected_ids)} selected", icon=":material/delete:", disabled=not selected_ids, key="ledger_delete"):
    st.session_state["ledger_confirm_ids"] = selected_ids  # the question stays open until answered or dismissed
if st.session_state.get("ledger_confirm_ids"):
    confirm_delete(st.session_state["ledger_confirm_ids"])
if "ledger_flash" in st.session_state:
    st.success(st.session_state.pop("ledger_flash"), icon=":material/check:")

# --- The selected call, in full --------------------------------------------------------------------------------
def show_images(label: str, shas: list[str]) -> None:
    present = [(sha, source) for sha in shas if (source := store.image_source(sha))]  # a path, or a signed S3 URL
    if not shas:
        return
    st.markdown(f"**{label}**")
    if present:
        cols = st.columns(4)  # a quarter of the width each: enough to judge, small enough to see the rest
        for i, (sha, source) in enumerate(present):
            cols[i % len(cols)].image(source, width="stretch", caption=sha[:12])
    if len(present) < len(shas):
        st.caption(f"{len(shas) - len(present)} of these pictures are no longer available (deleted from the store).")


for row_id in selected_ids[:1]:
    row = ledger.get(row_id)
    if row is None:
        continue
    with st.container(border=True):
        badge = " :orange-badge[demo]" if row.backend == "demo" else ""
        st.markdown(f"#### {md_literal(row.model or row.provider)} · {md_literal(row.action)}{badge}")
        st.caption(f"{row.created_at:%Y-%m-%d %H:%M:%S} UTC · {md_literal(row.page)} page · {md_literal(row.provider)} · "
                   f"status **{md_literal(row.status)}** · id {md_literal(row.id)}"
                   + (f" · group {md_literal(row.group_id)}" if row.group_id else ""))
        if row.status != "ok":
            facts = [f"HTTP {row.http_status}" if row.http_status else None,
                     f"code {md_literal(row.error_code)}" if row.error_code else None]
            st.error(md_literal(row.error_message or f"The call ended with status {row.status}."), icon=":material/error:")
            if any(facts) or row.error_detail:
                st.caption(" · ".join(f for f in facts if f)
                           + (f" — provider said: {md_literal(row.error_detail)}" if row.error_detail else ""))
        show_images("Result", row.output_refs)
        show_images("Inputs", row.input_refs)
        show_images("Mask", [row.mask_ref] if row.mask_ref else [])
        if row.prompt:
            st.markdown("**Prompt**")
            st.text(row.prompt)
        if row.negative_prompt:
            st.caption(f"Negative prompt: {md_literal(row.negative_prompt)}")
        if row.revised_prompt and row.revised_prompt != row.prompt:
            st.caption(f"Revised prompt: {md_literal(row.revised_prompt)}")
        if row.output_text:
            st.markdown("**Reply**")
            st.markdown(chat_markdown(row.output_text))
        size = f"{row.width}×{row.height}" if row.width and row.height else None
        timing = [f"{row.latency_ms:,.0f} ms" if row.latency_ms is not None else None,
                  f"first token/partial {row.ttft_ms:,.0f} ms" if row.ttft_ms is not None else None]
        st.caption(" · ".join(f for f in [size, cards.format_tokens(row.input_tokens, row.output_tokens),
                                          cards.format_cost(row.cost_usd, row.cost_source), *timing] if f))
        settings, usage = st.columns(2)
        settings.markdown("**Settings**")
        settings.json(row.params or {}, expanded=True)
        usage.markdown("**Usage detail**")
        usage.json(row.usage_detail or {}, expanded=False)
        target = cards.PAGE_FILES.get(row.page)
        if target and (ROOT / target).exists():
            if st.button("Reuse these settings", icon=":material/replay:", key=f"ledger_reuse_{row.id}"):
                cards.reuse_settings(row)
        else:
            st.caption("The page that made this call is not in this version of the app, so its settings cannot be reopened.")
