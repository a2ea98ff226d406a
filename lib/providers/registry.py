"""The engines this studio knows, in the order pages list them.

Adding an engine is one module with an ``Engine`` subclass, its rows in
``lib/data/models.toml`` (and prices genai-prices lacks in ``prices.toml``),
and a call to ``register`` — from here for the built-in ones, or from a plug-in.
Nothing else (config, the sidebar, pages, pricing, Compare) names an engine.
"""
from __future__ import annotations

import threading

from lib.providers.base import Engine

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
_loaded = False

# The built-in engines, by module; each module defines exactly one Engine subclass named ENGINE.
BUILT_IN = ("lib.providers.openai_engine", "lib.providers.gemini", "lib.providers.flux", "lib.providers.karlo_engine",
            "lib.providers.openai_compat")


def _load_built_in() -> None:
    global _loaded
    if _loaded:
        return
    import importlib

    with _lock:
        if _loaded:
            return
        for name in BUILT_IN:
            engine = importlib.import_module(name).ENGINE
            _engines.setdefault(engine.id, engine)
        _loaded = True


def register(engine: Engine) -> Engine:
    """Add (or replace) an engine; returns it so a module can write ``ENGINE = register(MyEngine())``."""
    from lib import catalog, pricing

    _load_built_in()
    if engine.models_file:
        catalog.add_models_file(engine.models_file)
    if engine.prices_file:
        pricing.add_prices_file(engine.prices_file)
    with _lock:
        _engines[engine.id] = engine
    return engine


def unregister(engine_id: str) -> None:
    """Take an engine out again (tests of plug-ins)."""
    from lib import catalog, pricing

    with _lock:
        engine = _engines.pop(engine_id, None)
    if engine is not None and engine.models_file:
        catalog.remove_models_file(engine.models_file)
    if engine is not None and engine.prices_file:
        pricing.remove_prices_file(engine.prices_file)


def engines() -> list[Engine]:
    """Every engine, in registration order."""
    _load_built_in()
    return list(_engines.values())


def ids() -> list[str]:
    return [e.id for e in engines()]


def get(engine_id: str) -> Engine | None:
    _load_built_in()
    return _engines.get(engine_id)


def label(engine_id: str) -> str:
    engine = get(engine_id)
    return engine.label if engine else engine_id


def able(configs: dict, action: str) -> list[Engine]:
    """Engines that are set up in ``configs`` and have a model for ``action``."""
    found = []
    for engine in engines():
        cfg = configs.get(engine.id)
        if cfg is not None and cfg.usable and engine.models(cfg, action):
            found.append(engine)
    return found


def engine_of_model(model_id: str | None) -> Engine | None:
    """The engine that serves a model id (e.g. a ledger row's model), or ``None``."""
    for engine in engines():
        if model_id and engine.model(model_id) is not None:
            return engine
    return None
