"""The sidebar every page shares: keys for this browser session, demo-mode fault injection, and the provider configs."""
from __future__ import annotations

import streamlit as st

from lib import config
from lib.client_cache import KeyScope
from lib.ui.safe_text import md_literal
from lib.providers import registry

# The faults a person can ask the demo emulator for (emulator/faults.py knows them all).
DEMO_FAULTS = {
    "none": None,
    "429 rate limit": "429",
    "500 server error": "500",
    "503 unavailable": "503",
    "hang past the timeout": "hang",
    "malformed reply": "malformed",
    "moderation_blocked": "moderation_blocked",
    "model_not_found": "model_not_found",
    "chat stream breaks": "stream_break",
    "Karlo -9 API terminated": "-9",
    "Karlo -10 quota exceeded": "-10",
    "Karlo -401 invalid key": "-401",
    "HTML 502 from a proxy": "html502",
    "402 out of credits (Gemini, FLUX)": "402",
    "Gemini: prompt blocked": "prompt_blocked",
    "Gemini: picture withheld (IMAGE_SAFETY)": "image_safety",
    "FLUX: request moderated": "moderated",
    "FLUX: delivery link expired": "expired_url",
}


KEPT = "_kept_widget_keys"  # widget keys whose values outlive a visit to another page


def keep(*keys: str) -> None:
    """Keep these widgets' values when the person visits another page and comes back (never buttons or uploads:
    Streamlit refuses to set those)."""
    st.session_state.setdefault(KEPT, set()).update(keys)


def keep_widget_values() -> None:
    """For the entry point, on every run of every page: Streamlit forgets a widget's value at the end of a run
    that did not draw it, unless the run sets it; so every kept value is set again, whichever page runs."""
    for key in list(st.session_state.get(KEPT, ())):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _session_keys() -> dict[str, str]:
    return {p: st.session_state.get(f"session_key_{p}", "") for p in config.PROVIDERS}


def _fault_headers() -> dict[str, str]:
    fault = DEMO_FAULTS.get(st.session_state.get("demo_fault", "none"))
    return {"X-Emulator-Fault": fault} if fault else {}


def _leave_legacy_pages_mode() -> None:
    """Run a page through streamlit_app.py even on a fresh server's first visit straight to its URL.

    Streamlit treats a ``pages/`` folder as a legacy multipage app until some
    session has executed ``st.navigation``: until then a visit to /karlo runs
    pages/karlo.py alone, without the sidebar, the demo banner or our page list.
    Turning that mode off and rerunning sends the visit through the entry point.
    """
    from streamlit.runtime.pages_manager import PagesManager

    # Once per session: Streamlit's own AppTest sets the flag again before every run, and a rerun
    # there on every run would swallow the input of the run that triggered it.
    if PagesManager.uses_pages_directory and not st.session_state.get("_left_legacy_pages_mode"):
        PagesManager.uses_pages_directory = False
        st.session_state["_left_legacy_pages_mode"] = True
        st.rerun()


@st.cache_resource(scope="session", on_release=KeyScope.release, show_spinner=False)
def _key_scope() -> KeyScope:
    """This browser session's clients for its pasted keys: Streamlit clears session-scoped resources when the
    session disconnects (``AppSession.clear_session_caches``) and ``on_release`` lets every such client go."""
    return KeyScope()


def configs() -> dict[str, config.ProviderConfig]:
    """Every provider's config for this session (keys from the sidebar win over the environment)."""
    _leave_legacy_pages_mode()
    return config.resolve(_session_keys(), extra_headers=_fault_headers(), key_scope=_key_scope())


def sidebar() -> dict[str, config.ProviderConfig]:
    """Draw the shared sidebar and return the configs; streamlit_app.py calls it once per run."""
    with st.sidebar:
        with st.expander("API keys for this session", icon=":material/key:"):
            st.caption("Kept in this browser session's memory only: never written to disk, the ledger or logs.")
            for engine in registry.engines():
                if engine.key_vars:
                    st.text_input(engine.key_label, type="password", key=f"session_key_{engine.id}",
                                  help=f"Instead of {engine.key_vars[0]}." + (" Optional for this server." if engine.key_optional else ""))
        try:
            cfgs = configs()
        except Exception as exc:  # the emulator could not start: say so instead of a stack trace
            st.error(f"Demo mode could not start its emulator: {md_literal(exc)}")
            st.stop()
        for problem in config.proxy_problems():
            st.warning(md_literal(problem), icon=":material/lan:")
        if any(c.mode == "demo" for c in cfgs.values()):
            choices = list(DEMO_FAULTS)
            st.selectbox(
                "Demo: make the next calls fail with",
                choices,
                index=choices.index(st.session_state.get("demo_fault", "none")),
                key="demo_fault_select",
                # the choice lives under a plain key too, so it survives pages that do not draw this widget
                on_change=lambda: st.session_state.update(demo_fault=st.session_state["demo_fault_select"]),
                help="The emulator answers as the real service does when it misbehaves. "
                "You can also type [fault:429] or [latency:3000] into a prompt.",
            )
        for cfg in cfgs.values():
            badge = {"live": ":green-badge[live]", "demo": ":orange-badge[demo]", "misconfigured": ":red-badge[misconfigured]"}[cfg.mode]
            st.markdown(f"**{cfg.name}** {badge}")
    return cfgs


def open_store_or_stop():
    """The image store and ledger, or a plain message and the end of this page run (e.g. an unwritable data dir)."""
    from lib.errors import StudioError
    from lib.store import open_store
    from lib.ui.cards import error_box

    try:
        return open_store()
    except StudioError as exc:  # StoreUnavailable says which folder and what to do
        error_box(exc)
        st.stop()


def demo_banner(cfgs: dict[str, config.ProviderConfig]) -> None:
    """Say plainly, on every page, which providers are served by the emulator."""
    demo = [c.name for c in cfgs.values() if c.mode == "demo"]
    if demo:
        st.info(
            f"Demo mode for {', '.join(demo[:-1]) + ' and ' if len(demo) > 1 else ''}{demo[-1]}: calls go to the built-in emulator, images are synthetic "
            "and nothing is charged. Add a key in the sidebar to go live.",
            icon=":material/science:",
        )
