"""OpenAI chat completions: a streamed reply that keeps its usage, timing and partial text, and a plain one-shot call.

``ChatStream`` is an iterable of text pieces meant for ``st.write_stream``.  The
SDK's own stream (and Streamlit's parser of it) drops the final usage chunk that
``stream_options={"include_usage": True}`` adds, so the wrapper reads it itself.
Reading the stream never raises a ``StudioError``: a failed or broken call ends
the iteration early and leaves ``.error`` set, so a page renders whatever text
arrived and then decides what to say.  ``.turn`` is the finished ``ChatTurn``.
"""
from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from typing import Any

from lib import limits
from lib.client_cache import ClientCache
from lib.config import ProviderConfig
from lib.errors import Cancelled, InvalidInput, ProviderDown, StudioError
from lib.providers.openai_common import make_client, translate_error
from lib.retrying import call_with_deadline
from lib.types import ChatTurn, Usage

ENDPOINT = "/v1/chat/completions"
# Building an SDK client loads the CA bundle (~150-200 ms here): every chat turn paid it before its first token.
# One client per (base URL, key, headers) is reused; with_options() shares its connection pool. A sidebar key's
# client goes with its browser session (lib.client_cache).
_clients = ClientCache("openai_chat", 16)


def _client(cfg: ProviderConfig, *, timeout: float):
    # The key is hashed so the cache key is not the secret itself.
    cache_key = (cfg.base_url, cfg.key_id, tuple(sorted(cfg.extra_headers.items())))
    client = _clients.get(cfg, cache_key, lambda: make_client(cfg))
    return client.with_options(timeout=timeout, max_retries=0)  # lib.retrying decides


def usage_from_sdk(usage: Any) -> Usage | None:
    """Our ``Usage`` from the SDK's ``CompletionUsage``; ``None`` when the provider sent none."""
    if usage is None:
        return None
    details: dict[str, Any] = {}
    if getattr(usage, "total_tokens", None) is not None:
        details["total_tokens"] = usage.total_tokens
    for group in ("prompt_tokens_details", "completion_tokens_details"):
        part = getattr(usage, group, None)
        if part is None:
            continue
        for name, value in part.model_dump(exclude_none=True).items():
            if value is not None:
                details[name] = value
    return Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, details=details)


def _check_messages(messages: list[dict]) -> None:
    if not messages:
        raise InvalidInput("There is nothing to send: write a message first.", provider="openai")
    for message in messages:
        if message.get("role") not in ("system", "developer", "user", "assistant"):
            raise InvalidInput(f"A chat message has the unknown role {message.get('role')!r}.", provider="openai")


def _request_args(model: str, messages: list[dict], temperature: float | None, max_tokens: int | None) -> dict:
    args: dict[str, Any] = {"model": model, "messages": messages}
    if temperature is not None:
        args["temperature"] = temperature
    if max_tokens is not None:
        # max_tokens is refused by reasoning models; max_completion_tokens works for every current model.
        args["max_completion_tokens"] = max_tokens
    return args


class ChatStream:
    """One streamed assistant reply: iterate it for text, then read ``.turn`` and ``.error``.

    The request is sent when iteration starts, so time to first token is measured
    from the moment the caller starts reading.  ``stop()`` may be called from the
    reading thread or another one; the text so far is kept and the turn is marked
    incomplete with a ``Cancelled`` error.
    """

    def __init__(
        self,
        cfg: ProviderConfig,
        *,
        model: str,
        messages: list[dict],
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
        max_retries: int = limits.MAX_RETRIES,
    ) -> None:
        _check_messages(messages)
        self.cfg = cfg
        self.model = model
        self.messages = [dict(m) for m in messages]
        self.temperature = temperature
        self.max_tokens = max_tokens
        # The time limit for the call to start answering, and for each silence within the stream.
        self.timeout = limits.provider_timeout_s() if timeout is None else timeout
        self.reply_limit_s = limits.CHAT_REPLY_MAX_S  # the whole reply: a stream that never ends is cut here
        self.max_retries = max_retries
        self.params: dict[str, Any] = {
            k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None
        }
        self.usage: Usage | None = None
        self.request_id: str | None = None
        self.finish_reason: str | None = None
        self.ttft_ms: float | None = None
        self.latency_ms: float | None = None
        self.error: StudioError | None = None
        self.done = False
        self._parts: list[str] = []
        self._gen: Iterator[str] | None = None
        self._stop_requested = threading.Event()
        self._sdk_stream = None

    @property
    def text(self) -> str:
        """The reply so far (the whole reply once ``done``)."""
        return "".join(self._parts)

    @property
    def complete(self) -> bool:
        return self.done and self.error is None

    @property
    def turn(self) -> ChatTurn:
        """The reply as a ``ChatTurn``; usage is ``None`` (unknown, not zero) when no usage chunk arrived."""
        return ChatTurn(
            model=self.model,
            text=self.text,
            usage=self.usage,
            request_id=self.request_id,
            latency_ms=self.latency_ms,
            ttft_ms=self.ttft_ms,
            finish_reason=self.finish_reason,
            complete=self.complete,
        )

    def stop(self) -> None:
        """Stop receiving: close the connection, keep the text so far, mark the turn cancelled."""
        self._stop_requested.set()
        sdk_stream = self._sdk_stream
        if sdk_stream is not None:
            try:
                sdk_stream.close()
            except Exception:  # closing a half-read response can complain; the stop still stands
                pass
        if self._gen is not None and inspect.getgeneratorstate(self._gen) != inspect.GEN_RUNNING:
            try:
                self._gen.close()  # a suspended reader: run its cleanup now
            except ValueError:  # started running in another thread meanwhile; it sees the stop flag
                return
        if self._gen is None or inspect.getgeneratorstate(self._gen) == inspect.GEN_CLOSED:
            self._finish_cancelled()

    def _broken(self, cause: StudioError | None) -> ProviderDown:
        silent = " (no data for {:g} s)".format(self.timeout) if cause is not None and cause.code == "timeout" else ""
        return ProviderDown(
            f"The reply stopped before it was finished: the connection dropped{silent}. The text received so far is "
            "kept; regenerate to try again.",
            provider="openai", code="stream_incomplete", request_id=self.request_id,
            detail=cause.detail if cause is not None else None,
        )

    def _too_long(self) -> ProviderDown:
        minutes = self.reply_limit_s / 60
        span = f"{minutes:g} minutes" if minutes >= 1 else f"{self.reply_limit_s:g} s"
        return ProviderDown(
            f"The reply was still coming after {span}, so the studio stopped reading it. The text received so far "
            "is kept; ask for a shorter answer (or set a lower maximum length) and regenerate.",
            provider="openai", code="reply_too_long", request_id=self.request_id,
        )

    def _finish_cancelled(self) -> None:
        if not self.done:
            self.error = Cancelled(
                "You stopped the reply. The text received so far is kept.", provider="openai", request_id=self.request_id
            )
            self.done = True

    def __iter__(self) -> Iterator[str]:
        # One reply, one reader: every iter() gets the same generator (st.write_stream calls iter() twice).
        if self._gen is None:
            self._gen = self._generate()
        return self._gen

    def _generate(self) -> Iterator[str]:
        if self._stop_requested.is_set():  # stopped before anything was sent
            self._finish_cancelled()
            return
        started = time.perf_counter()
        try:
            client = _client(self.cfg, timeout=self.timeout)
            self._sdk_stream = call_with_deadline(
                lambda seconds_left: client.chat.completions.create(
                    **_request_args(self.model, self.messages, self.temperature, self.max_tokens),
                    stream=True,
                    stream_options={"include_usage": True},
                    timeout=seconds_left,
                ),
                lambda exc, limit: translate_error(exc, self.cfg, model=self.model, timeout=limit),
                timeout_s=self.timeout, max_retries=self.max_retries,
            )
            self.request_id = self._sdk_stream.response.headers.get("x-request-id")
            if self._stop_requested.is_set():
                self._sdk_stream.close()
                return
            for chunk in self._sdk_stream:
                if chunk.usage is not None:
                    self.usage = usage_from_sdk(chunk.usage)
                for choice in chunk.choices:  # the final usage chunk has none
                    if choice.finish_reason:
                        self.finish_reason = choice.finish_reason
                    delta = choice.delta
                    piece = (delta.content or delta.refusal or "") if delta is not None else ""
                    if piece:
                        if self.ttft_ms is None:
                            self.ttft_ms = (time.perf_counter() - started) * 1000
                        self._parts.append(piece)
                        yield piece
                if self._stop_requested.is_set():
                    return
                if self.finish_reason is None and time.perf_counter() - started > self.reply_limit_s:
                    self.error = self._too_long()
                    return
            if self.finish_reason is None and not self._stop_requested.is_set():
                # The SDK ends quietly when the server closes the connection early: no finish_reason means cut short.
                self.error = self._broken(None)
        except Exception as exc:  # any failure of the call or the stream ends the reply with an error, never a trace
            if not self._stop_requested.is_set():
                err = exc if isinstance(exc, StudioError) else translate_error(exc, self.cfg, model=self.model, timeout=self.timeout)
                if self._sdk_stream is not None and isinstance(err, ProviderDown) and err.code in ("connection_error", "timeout"):
                    err = self._broken(err)  # the server did answer: the reply was cut, the address is fine
                if err.request_id is None:
                    err.request_id = self.request_id
                self.error = err
        finally:
            # Reached on normal end, on error, on stop(), and when the reader abandons the generator
            # (Streamlit interrupts a script run to rerun it): in the last case the turn counts as stopped.
            self.latency_ms = (time.perf_counter() - started) * 1000
            if self._sdk_stream is not None:
                try:
                    self._sdk_stream.close()
                except Exception:
                    pass
            if self.error is None and (self._stop_requested.is_set() or self.finish_reason is None):
                self._finish_cancelled()
            self.done = True


def stream_chat(
    cfg: ProviderConfig,
    *,
    model: str,
    messages: list[dict],
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
) -> ChatStream:
    """A ``ChatStream`` for this conversation (nothing is sent until it is read)."""
    return ChatStream(cfg, model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, timeout=timeout)


def complete(
    cfg: ProviderConfig,
    *,
    model: str,
    messages: list[dict],
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
    max_retries: int = limits.MAX_RETRIES,
) -> ChatTurn:
    """One non-streamed reply (pipeline steps, translation).  Raises ``StudioError`` on failure."""
    _check_messages(messages)
    timeout = limits.provider_timeout_s() if timeout is None else timeout
    started = time.perf_counter()
    client = _client(cfg, timeout=timeout)
    raw = call_with_deadline(
        lambda seconds_left: client.chat.completions.with_raw_response.create(
            **_request_args(model, messages, temperature, max_tokens), timeout=seconds_left),
        lambda exc, limit: translate_error(exc, cfg, model=model, timeout=limit),
        timeout_s=timeout, max_retries=max_retries,
    )
    try:
        response = raw.parse()
    except Exception as exc:
        raise translate_error(exc, cfg, model=model, timeout=timeout) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    if not getattr(response, "choices", None):
        raise ProviderDown("OpenAI answered without a reply. Try again.", provider="openai",
                           code="empty_reply", request_id=raw.headers.get("x-request-id"))
    choice = response.choices[0]
    message = choice.message
    text = (message.content or message.refusal or "") if message is not None else ""
    return ChatTurn(
        model=model,
        text=text,
        usage=usage_from_sdk(response.usage),
        request_id=raw.headers.get("x-request-id") or getattr(response, "_request_id", None),
        latency_ms=latency_ms,
        ttft_ms=None,
        finish_reason=choice.finish_reason,
        complete=True,
    )
