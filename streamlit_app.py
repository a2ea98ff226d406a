"""Imagine Studio: the entry point. Shared sidebar, then the page the person picked."""
from pathlib import Path

import streamlit as st

from lib import config
from lib.providers import registry
from lib.store import StoreUnavailable, open_store, sweeper
from lib.ui import budget, session
from lib.ui.people import current_person, require_person, show_person

ROOT = Path(__file__).parent

# (file, title, icon) per section; a page is listed only once its file exists.
PAGES = {
    "Studio": [("pages/home.py", "Home", ":material/home:")],
    "Create": [
        ("pages/chat.py", "Chat", ":material/chat:"),
        ("pages/pipeline.py", "Imagination pipeline", ":material/auto_awesome:"),
        ("pages/generate.py", "Generate", ":material/image:"),
        ("pages/edit.py", "Edit with a mask", ":material/brush:"),
        ("pages/variations.py", "Variations", ":material/content_copy:"),
        # what only one engine has (e.g. Karlo's upscale and NSFW check) gets that engine's own page
        *((path, engine.label, ":material/palette:") for engine in registry.engines() for path in engine.extra_pages),
    ],
    "Review": [
        ("pages/compare.py", "Compare", ":material/compare:"),
        ("pages/ledger.py", "Usage ledger", ":material/receipt_long:"),
    ],
}

st.set_page_config(page_title="Imagine Studio", page_icon=":material/palette:", layout="wide")
navigation = st.navigation(
    {
        section: [st.Page(path, title=title, icon=icon, default=(path == "pages/home.py")) for path, title, icon in pages if (ROOT / path).exists()]
        for section, pages in PAGES.items()
    },
    position="sidebar" if current_person() else "hidden",  # someone not yet signed in sees the sign-in prompt alone
)
settings_problems = config.settings_problems()  # every page depends on these: say so once, in words
for problem in settings_problems:
    st.error(problem, icon=":material/warning:")
if settings_problems:
    st.stop()
try:  # calls left pending by a replica that died get settled on a timer, not only when someone opens the ledger
    sweeper.keep_settling(open_store()[1])
except StoreUnavailable:
    pass  # every page that needs the store says so in words
show_person(require_person())  # with sign-in or a trusted proxy configured, nobody gets past here unidentified
session.keep_widget_values()  # what a person typed on a page is still there after a visit to another page
provider_configs = session.sidebar()
session.demo_banner(provider_configs)
budget.budget_warning()
navigation.run()
