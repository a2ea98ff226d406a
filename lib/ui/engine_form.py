"""Pick an engine and a model, then draw that model's settings: every image page does it the same way.

Pages never name a provider: they ask the registry which engines can do their
action, and each engine describes its settings (``lib.providers.base.Setting``).
Widget keys are ``<prefix>_engine``, ``<prefix>_model`` and ``<prefix>_<setting.key>``
(plus ``<prefix>_custom_size``), so values survive visits to other pages.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from lib.providers import registry
from lib.providers.base import Engine, EngineModel, Setting
from lib.ui import session
from lib.ui.widgets import keep_valid

CUSTOM = "Custom…"
DEFAULT = "default"


def _drawn(key: str) -> str:
    """Every engine, model and setting widget this module draws keeps its value across page visits."""
    session.keep(key)
    return key


def pick_engine(prefix: str, cfgs: dict, action: str, *, label: str = "Engine") -> Engine | None:
    """The engine to use, among those set up that can do ``action`` (a radio when few, in registry order)."""
    able = registry.able(cfgs, action)
    if not able:
        return None
    ids = [e.id for e in able]
    keep_valid(f"{prefix}_engine", ids, ids[0])
    if len(ids) == 1:
        st.session_state[f"{prefix}_engine"] = ids[0]
        return able[0]
    chosen = st.radio(label, ids, key=_drawn(f"{prefix}_engine"), horizontal=True, format_func=registry.label)
    return registry.get(chosen)


def pick_model(prefix: str, engine: Engine, cfg, action: str, container=st) -> EngineModel | None:
    models = engine.models(cfg, action)
    if not models:
        return None
    by_id = {m.id: m for m in models}
    keep_valid(f"{prefix}_model", list(by_id), models[0].id)
    chosen = container.selectbox("Model", list(by_id), key=_drawn(f"{prefix}_model"),
                                 format_func=lambda mid: f"{by_id[mid].label} ({mid})" if by_id[mid].label != mid else mid)
    return by_id[chosen]


def engine_and_model_or_stop(prefix: str, cfgs: dict, action: str, doing: str) -> tuple[Engine, Any, EngineModel]:
    """The engine, its config and the model for a page that needs all three, or a message in words and a stop.

    ``doing`` finishes "No engine that ... is set up", e.g. "edits pictures"."""
    engine = pick_engine(prefix, cfgs, action)
    if engine is None:
        st.error(" ".join(c.problem for c in cfgs.values() if c.problem) or
                 f"No engine that {doing} is set up: add a key in the sidebar.", icon=":material/key_off:")
        st.stop()
    cfg = cfgs[engine.id]
    chosen = pick_model(prefix, engine, cfg, action)
    if chosen is None:
        st.error(f"No {engine.label} model that {doing} is available for this key.", icon=":material/block:")
        st.stop()
    return engine, cfg, chosen


def settings_form(prefix: str, engine: Engine, model_id: str, action: str, *, columns: int = 3,
                  skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Draw the model's settings in rows of ``columns``; the values by setting name (unset optional ones left out)."""
    values: dict[str, Any] = {}
    settings = [s for s in engine.settings(model_id, action) if s.name not in skip]
    cells = []
    for setting in settings:
        if not setting.applies(values):
            continue
        if not cells:
            cells = list(st.columns(columns))
        with cells.pop(0):
            value = draw_setting(prefix, setting)
        if value is not None:
            values[setting.name] = value
    return values


def draw_setting(prefix: str, setting: Setting) -> Any:
    key = _drawn(f"{prefix}_{setting.key}")
    if setting.kind in ("choice", "size"):
        options = list(setting.choices)
        if setting.optional:
            options = [DEFAULT, *options]
        if setting.kind == "size" and setting.custom:
            options.append(CUSTOM)
            remembered = st.session_state.get(key)
            if remembered and remembered not in options and isinstance(remembered, str) and "x" in remembered:
                st.session_state[f"{prefix}_custom_size"] = remembered  # a reused size that is not a preset
                st.session_state[key] = CUSTOM
        if not options:
            return None
        default = setting.default if setting.default in options else (DEFAULT if setting.optional else options[0])
        keep_valid(key, options, default)
        chosen = st.selectbox(setting.label, options, key=key, help=setting.help)
        if chosen == CUSTOM:
            st.session_state.setdefault(f"{prefix}_custom_size", "1536x864")
            return st.text_input("Custom size (WIDTHxHEIGHT)", key=_drawn(f"{prefix}_custom_size"),
                                 help=setting.help).strip()
        return None if chosen == DEFAULT else chosen
    if setting.kind == "int":
        lo = setting.minimum if setting.minimum is not None else 0
        hi = setting.maximum if setting.maximum is not None else 1_000_000
        current = st.session_state.get(key, setting.default if setting.default is not None else lo)
        if not isinstance(current, int) or not lo <= current <= hi:
            st.session_state[key] = min(max(int(current) if isinstance(current, (int, float)) else lo, lo), hi)
        else:
            st.session_state.setdefault(key, current)
        if lo == hi:
            st.caption(f"{setting.label}: {lo}")
            return lo
        if setting.slider:
            return int(st.slider(setting.label, lo, hi, key=key, help=setting.help))
        return int(st.number_input(setting.label, lo, hi, key=key, step=1, help=setting.help))
    if setting.kind == "bool":
        st.session_state.setdefault(key, bool(setting.default))
        return st.toggle(setting.label, key=key, help=setting.help)
    st.session_state.setdefault(key, setting.default or "")
    return st.text_input(setting.label, key=key, help=setting.help) or None


def reuse_into(prefix: str, engine: Engine, model_id: str, action: str, params: dict[str, Any]) -> None:
    """Fill the widgets from a ledger row's params ("reuse these settings")."""
    values = engine.settings_from_params(model_id, action, params)
    for setting in engine.settings(model_id, action):
        if setting.name in values:
            st.session_state[f"{prefix}_{setting.key}"] = values[setting.name]
