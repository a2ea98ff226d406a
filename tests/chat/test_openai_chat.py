"""The streaming chat wrapper against the real emulator over loopback HTTP (and one canned server for a missing usage chunk)."""
from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lib import config
from lib.errors import AuthError, Cancelled, NotAvailable, ProviderDown
from lib.providers.openai_chat import ChatStream, complete

MODEL = "gpt-5.4-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant who is good at detailing."},
    {"role": "user", "content": "Imagine a house on Mars and describe how it looks."},
]


@pytest.fixture
def openai_cfg(live_env):
    return config.resolve()["openai"]


def with_headers(cfg, **headers):
    return dataclasses.replace(cfg, extra_headers={**cfg.extra_headers, **headers})


def test_stream_captures_usage_ttft_and_request_id(openai_cfg, emulator_calls):
    stream = ChatStream(with_headers(openai_cfg, **{"X-Emulator-Latency-Ms": "40"}), model=MODEL, messages=MESSAGES)
    pieces = list(stream)
    turn = stream.turn

    assert len(pieces) > 3, "the reply should arrive in several pieces"
    assert turn.text == "".join(pieces) and turn.text.strip()
    assert turn.complete and stream.error is None
    assert turn.finish_reason == "stop"
    assert turn.usage is not None and turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    assert turn.usage.details["total_tokens"] == turn.usage.input_tokens + turn.usage.output_tokens
    assert turn.request_id and turn.request_id.startswith("req_")
    assert turn.ttft_ms is not None and turn.latency_ms is not None and 0 < turn.ttft_ms < turn.latency_ms
    sent = emulator_calls[-1]["body"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}

    # The same conversation without streaming gives the same words and the same token counts.
    plain = complete(openai_cfg, model=MODEL, messages=MESSAGES)
    assert plain.text == turn.text
    assert (plain.usage.input_tokens, plain.usage.output_tokens) == (turn.usage.input_tokens, turn.usage.output_tokens)


def test_broken_stream_keeps_partial_text_and_has_no_usage(openai_cfg):
    full = complete(openai_cfg, model=MODEL, messages=MESSAGES).text
    stream = ChatStream(with_headers(openai_cfg, **{"X-Emulator-Fault": "stream_break"}), model=MODEL, messages=MESSAGES)
    partial = "".join(stream)  # reading never raises: the error is kept on the stream

    turn = stream.turn
    assert partial and full.startswith(partial) and len(partial) < len(full)
    assert turn.text == partial and turn.complete is False
    assert isinstance(stream.error, ProviderDown)
    assert "text received so far is kept" in stream.error.message
    assert turn.usage is None  # unknown, not zero


def test_fault_directive_in_the_message_breaks_the_stream_too(openai_cfg):
    messages = [{"role": "user", "content": "Describe a red fox [fault:stream_break]"}]
    stream = ChatStream(openai_cfg, model=MODEL, messages=messages)
    text = "".join(stream)
    assert text and not stream.turn.complete and stream.turn.usage is None
    assert "[fault" not in text


def test_stop_mid_stream_keeps_what_arrived_and_closes(openai_cfg):
    stream = ChatStream(with_headers(openai_cfg, **{"X-Emulator-Latency-Ms": "200"}), model=MODEL, messages=MESSAGES)
    reader = iter(stream)
    got = [next(reader), next(reader), next(reader)]
    stream.stop()

    assert list(reader) == []  # nothing more is read after stop()
    assert stream.done and stream.turn.complete is False
    assert isinstance(stream.error, Cancelled) and stream.error.status_label == "cancelled"
    assert stream.turn.text == "".join(got)


def test_abandoned_reader_counts_as_stopped(openai_cfg):
    # Streamlit abandons st.write_stream's generator when a rerun interrupts the script.
    stream = ChatStream(openai_cfg, model=MODEL, messages=MESSAGES)
    reader = iter(stream)
    first = next(reader)
    reader.close()
    assert stream.done and stream.turn.text == first
    assert isinstance(stream.error, Cancelled)


def test_iter_twice_is_the_same_reply(openai_cfg):
    # st.write_stream calls iter() once to check, then again to read.
    stream = ChatStream(openai_cfg, model=MODEL, messages=MESSAGES)
    iter(stream)
    assert "".join(stream) == stream.turn.text != ""


def test_call_that_fails_before_any_text_sets_error_without_raising(openai_cfg):
    stream = ChatStream(openai_cfg, model="gpt-unknown-9", messages=MESSAGES, max_retries=0)
    assert list(stream) == []
    assert isinstance(stream.error, NotAvailable) and "gpt-unknown-9" in stream.error.message
    assert stream.turn.text == "" and not stream.turn.complete

    bad_key = dataclasses.replace(openai_cfg, key="sk-invalid-key-000000000000")
    stream = ChatStream(bad_key, model=MODEL, messages=MESSAGES, max_retries=0)
    list(stream)
    assert isinstance(stream.error, AuthError)
    assert "sk-invalid" not in stream.error.message and "sk-invalid" not in (stream.error.detail or "")


def test_complete_raises_a_studio_error(openai_cfg):
    with pytest.raises(NotAvailable):
        complete(openai_cfg, model="gpt-unknown-9", messages=MESSAGES, max_retries=0)


def test_max_tokens_cuts_the_reply_with_finish_reason_length(openai_cfg, emulator_calls):
    stream = ChatStream(openai_cfg, model=MODEL, messages=MESSAGES, max_tokens=5)
    "".join(stream)
    assert stream.turn.finish_reason == "length" and stream.turn.complete
    assert emulator_calls[-1]["body"]["max_completion_tokens"] == 5


# -- a complete stream whose usage chunk never comes (e.g. a proxy that drops it) -------------------

def _sse(obj) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class _NoUsageHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "usage": None}
        frames = [
            _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}),
            _sse({**base, "choices": [{"index": 0, "delta": {"content": "Red dunes, "}, "finish_reason": None}]}),
            _sse({**base, "choices": [{"index": 0, "delta": {"content": "glass domes"}, "finish_reason": None}]}),
            _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            b"data: [DONE]\n\n",
        ]
        body = b"".join(frames)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("x-request-id", "req_nousage")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_missing_usage_chunk_means_unknown_tokens(openai_cfg):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoUsageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = dataclasses.replace(openai_cfg, base_url=f"http://127.0.0.1:{server.server_port}/v1")
        stream = ChatStream(cfg, model=MODEL, messages=MESSAGES)
        assert "".join(stream) == "Red dunes, glass domes"
        assert stream.turn.complete and stream.error is None
        assert stream.turn.usage is None
        assert stream.turn.request_id == "req_nousage"
    finally:
        server.shutdown()
