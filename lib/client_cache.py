"""SDK clients and HTTP sessions kept between calls, and whose they are.

Building a client is slow (the OpenAI SDK loads its CA bundle, ~150-200 ms), so clients are reused. A client
built for a key pasted in the sidebar holds that key (``openai.OpenAI.api_key``, ``genai.Client``), so it belongs
to that browser session: it is kept in the session's ``KeyScope`` (``ProviderConfig.key_scope``), which
``lib.ui.session`` releases when Streamlit ends the session, and then nothing of this module holds it any more.
Clients for the server's own keys (environment, secrets.toml) are shared by the whole process. Both are bounded
(the oldest is let go) and keyed by the key's SHA-256 (``ProviderConfig.key_id``), never the key.

The list of remembered secrets in ``lib.errors`` keeps a released key: a row or a late reply may still echo it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class KeyScope:
    """The clients one browser session built for the keys pasted in its sidebar."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._caches: dict[str, dict[Hashable, Any]] = {}
        self.released = False

    def entries(self, cache_name: str) -> dict[Hashable, Any]:
        return self._caches.setdefault(cache_name, {})

    def release(self) -> None:
        """Let go of every client (the session ended); one built afterwards for a late call is not kept."""
        with self._lock:
            self.released = True
            caches, self._caches = self._caches, {}
        for cache in caches.values():
            cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._caches.values())


class ClientCache:
    """One module's clients: ``get(cfg, cache_key, build)`` returns the client for ``cache_key`` (which must
    hold ``cfg.key_id``, not the key), from the config's session scope when its key came from the sidebar, else
    from the process. ``on_evict`` is called with a client the bound lets go (e.g. ``requests.Session.close``)."""

    def __init__(self, name: str, max_entries: int, on_evict: Callable[[Any], None] | None = None) -> None:
        self.name, self.max_entries, self.on_evict = name, max_entries, on_evict
        self._lock = threading.Lock()
        self._items: dict[Hashable, Any] = {}

    def get(self, cfg, cache_key: Hashable, build: Callable[[], Any]) -> Any:
        scope: KeyScope | None = getattr(cfg, "key_scope", None) if cfg.key_source == "sidebar" else None
        items, lock = (scope.entries(self.name), scope._lock) if scope is not None else (self._items, self._lock)
        with lock:
            if scope is not None and scope.released:
                return build()  # a call that outlived its session: served, not kept
            found = items.get(cache_key)
            if found is None:
                while len(items) >= self.max_entries:
                    evicted = items.pop(next(iter(items)))
                    if self.on_evict is not None:
                        self.on_evict(evicted)
                found = items[cache_key] = build()
        return found

    # The process-wide entries, for tests and benchmarks.
    def __iter__(self):
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __setitem__(self, cache_key: Hashable, client: Any) -> None:
        with self._lock:
            self._items[cache_key] = client

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
