"""A model the compatible server lists but the catalog lacks: offered with its capabilities said to be assumed,
and a refusal of an assumed setting explained in words.  Against a small server of this file's own (LocalAI-like:
it lists `sdxl-turbo` and draws only 512x512)."""
from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lib import catalog, config, send
from lib.errors import InvalidInput
from lib.providers import registry
from lib.providers.base import EDIT, GENERATE

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "sdxl-turbo"


class _Server(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self._answer(200, {"object": "list", "data": [{"id": i, "object": "model"}
                                                          for i in (UNKNOWN, "dall-e-3", "text-embedding-3-small")]})
        else:
            self._answer(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if body.get("size") not in (None, "auto", "512x512"):
            self._answer(400, {"error": {"message": f"size {body['size']} is not supported, only 512x512",
                                         "type": "invalid_request_error", "param": "size", "code": "invalid_size"}})
            return
        out = io.BytesIO()
        Image.new("RGB", (512, 512), (30, 120, 60)).save(out, "PNG")
        self._answer(200, {"created": 1764583200, "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]})


@pytest.fixture
def server(studio_env, monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    catalog.forget_available_models()
    monkeypatch.setenv("STUDIO_DEMO", "0")
    monkeypatch.setenv("OPENAI_COMPAT_BASE_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    yield config.resolve()["openai_compat"]
    httpd.shutdown()
    catalog.forget_available_models()


def test_a_listed_model_the_catalog_lacks_says_its_capabilities_are_assumed_and_which(server):
    engine = registry.get("openai_compat")
    offered = {m.id: m for m in engine.models(server, GENERATE)}
    assert set(offered) == {"dall-e-3", UNKNOWN}  # the embedding model is not offered as a picture maker
    assert "assumed" not in (offered["dall-e-3"].warning or "")  # the catalog knows it
    warning = offered[UNKNOWN].warning
    assert "not in this studio's catalog" in warning and "assumed" in warning
    assert "any size you type" in warning and "1 to 10 pictures" in warning and "no edits or variations" in warning
    assert UNKNOWN not in {m.id for m in engine.models(server, EDIT)}


def test_a_refused_assumed_size_reads_in_words_and_the_size_it_takes_works_unpriced(server):
    refused = send.send(server, send.Request("openai_compat", GENERATE, UNKNOWN, "a fern", {"size": "1024x1024"}))
    assert isinstance(refused.error, InvalidInput) and refused.error.param == "size"
    assert refused.error.message.startswith(f"This server refused size 1024x1024 for model {UNKNOWN}")
    assert "only 512x512" in refused.error.message and "The catalog has no facts for this model" in refused.error.message
    assert refused.row.status == "rejected"
    made = send.send(server, send.Request("openai_compat", GENERATE, UNKNOWN, "a fern", {"size": "512x512"}))
    assert made.ok, made.error
    assert (made.row.width, made.row.cost_usd, made.row.cost_source) == (512, None, "unpriced")


def test_the_generate_page_shows_what_was_assumed_when_such_a_model_is_picked(server):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    assert at.session_state["gen_engine"] == "openai_compat"  # the one engine set up (STUDIO_DEMO=0)
    at.selectbox(key="gen_model").set_value(UNKNOWN).run()
    shown = " ".join(w.value for w in at.warning)
    assert f"{UNKNOWN} is offered by the server but not in this studio's catalog" in shown
    assert "capabilities are assumed" in shown
