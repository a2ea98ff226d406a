"""Home: is each engine live, in demo or misconfigured, what it can do, and what has it all cost so far."""
from pathlib import Path

import streamlit as st

from lib import clock, config
from lib.providers import registry
from lib.ui import session

st.title("Imagine Studio")
st.caption(f"Chat, generate, edit, vary and compare images with {', '.join(e.label for e in registry.engines())} "
           "— every call priced and kept.")

cfgs = session.configs()
_, secrets_problem = config.read_secrets_file()
if secrets_problem:
    st.warning(secrets_problem, icon=":material/warning:")

st.subheader("Providers")
MODE_WORDS = {
    "live": ":green-badge[live] calls go to the real service with your key",
    "demo": ":orange-badge[demo] served by the built-in emulator, nothing is charged",
    "misconfigured": ":red-badge[misconfigured] cannot be used until this is fixed",
}
PER_ROW = 3
engines = registry.engines()
columns = [column for start in range(0, len(engines), PER_ROW) for column in st.columns(PER_ROW)]
for column, engine in zip(columns, engines):
    cfg = cfgs[engine.id]
    with column, st.container(border=True):
        st.markdown(f"#### {cfg.name}")
        if engine.blurb:
            st.caption(engine.blurb)
        st.markdown(MODE_WORDS[cfg.mode])
        st.caption(f"Base URL: `{cfg.base_url}`")
        if cfg.key_source and cfg.mode == "live":
            st.caption(f"Key from: {cfg.key_source}")
        if cfg.problem:
            st.error(cfg.problem, icon=":material/warning:")

st.subheader("Spend")
store, ledger = session.open_store_or_stop()

day_start = clock.day_start()
month_start = clock.month_start()
today, month, month_demo = st.columns(3)
today.metric("Live spend today", f"${ledger.spend(since=day_start, backend='live'):,.4f}")
month.metric("Live spend this month", f"${ledger.spend(since=month_start, backend='live'):,.4f}")
month_demo.metric("Demo calls would have cost (month)", f"${ledger.spend(since=month_start, backend='demo'):,.4f}")
st.caption("Demo calls are priced as if they were live, and kept out of the spending totals.")

st.subheader("Start")
links = [
    ("pages/chat.py", "Chat with a model", ":material/chat:"),
    ("pages/pipeline.py", "Imagine → detail → translate → condense → image", ":material/auto_awesome:"),
    ("pages/generate.py", "Generate images", ":material/image:"),
    ("pages/edit.py", "Edit with a mask", ":material/brush:"),
    *((path, f"{engine.label}: what only it does", ":material/palette:") for engine in engines for path in engine.extra_pages),
    ("pages/compare.py", "Compare engines side by side", ":material/compare:"),
    ("pages/ledger.py", "Usage ledger", ":material/receipt_long:"),
]
root = Path(__file__).resolve().parent.parent
for path, label, icon in links:
    if (root / path).exists():
        st.page_link(path, label=label, icon=icon)
