"""FLUX as an engine against the emulator's BFL face, and against a hostile fake: polling, delivery, seeds, prices."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lib import config, send
from lib.errors import ContentRejected, ProviderDown, QuotaExceeded
from lib.providers import registry
from lib.providers.base import EDIT, GENERATE


@pytest.fixture
def live(studio_env, emulator, monkeypatch):
    monkeypatch.setenv("BFL_API_KEY", "bfl-live-test-key-0123456789")
    monkeypatch.setenv("BFL_BASE_URL", emulator.flux_base_url)
    cfg = config.resolve()["flux"]
    assert cfg.mode == "live"
    return cfg


def test_a_picture_follows_the_polling_url_reports_progress_and_is_priced_per_megapixel(live, emulator_calls):
    progress = []
    outcome = send.send(live, send.Request("flux", GENERATE, "flux-2-pro", "a heron at dawn [latency:300]",
                                           {"size": "1440x1024", "seed": "77"}), on_progress=progress.append)
    assert outcome.ok, outcome.error
    row = outcome.row
    assert (row.width, row.height, row.params["seed"], row.usage_detail["seeds"]) == (1440, 1024, 77, [77])
    assert row.cost_source == "table" and row.cost_usd == pytest.approx(0.03 + (1440 * 1024 / 2**20 - 1) * 0.015, abs=1e-4)
    assert row.usage_detail["bfl_credits"] == pytest.approx(row.cost_usd * 100, abs=0.02)  # BFL's own figure agrees
    assert progress and all(p.text == "FLUX: pending" for p in progress)
    fractions = [p.fraction for p in progress if p.fraction is not None]
    assert fractions == sorted(fractions)
    paths = [c["path"] for c in emulator_calls]
    assert paths[0] == "/bfl/v1/flux-2-pro" and "/bfl/eu2/v1/get_result" in paths  # the URL it was given, not a guess
    assert any(p.startswith("/bfl/delivery/") for p in paths)


def test_the_same_seed_redraws_the_same_picture(live):
    first = send.send(live, send.Request("flux", GENERATE, "flux-2-pro", "a heron", {"size": "512x512", "seed": "5"}))
    again = send.send(live, send.Request("flux", GENERATE, "flux-2-pro", "a heron", {"size": "512x512", "seed": "5"}))
    assert first.row.output_refs == again.row.output_refs  # content-addressed: the same bytes


@pytest.mark.parametrize("fault, error, words", [
    ("402", QuotaExceeded, "out of credits"), ("429", QuotaExceeded, "24 at once"),
    ("moderated", ContentRejected, "refused the prompt"), ("moderation_blocked", ContentRejected, "withheld it"),
    ("expired_url", ProviderDown, "expired"),
])
def test_credits_limits_moderation_and_expired_links_are_said_in_words(live, fault, error, words):
    outcome = send.send(live, send.Request("flux", GENERATE, "flux-2-pro", f"a heron [fault:{fault}]", {}))
    assert isinstance(outcome.error, error) and words in outcome.error.message
    assert outcome.row.status in ("error", "rejected")


def test_bad_settings_are_refused_before_sending(live, emulator_calls):
    outcome = send.send(live, send.Request("flux", GENERATE, "flux-2-pro", "a heron", {"size": "4096x2048",
                                                                                       "seed": "x1"}))
    assert "more than 4 megapixels" in outcome.error.message and "whole number" in outcome.error.message
    assert not [c for c in emulator_calls if c["path"].startswith("/bfl")]


class Hostile(BaseHTTPRequestHandler):
    """Answers a submit with a polling URL somewhere else, and remembers whether any key left."""

    polled = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"id": "t1", "polling_url": "http://169.254.169.254/latest/meta-data?id=t1"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        Hostile.polled.append(self.headers.get("x-key"))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_polling_url_off_the_api_is_not_followed_and_gets_no_key(studio_env):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = config.ProviderConfig("flux", "live", f"http://127.0.0.1:{server.server_port}", "bfl-secret-0123456789",
                                    "environment")
        with pytest.raises(ProviderDown) as caught:
            registry.get("flux").generate(cfg, model="flux-2-pro", prompt="a heron", settings={})
        assert "no usable polling_url" in caught.value.message and Hostile.polled == []
    finally:
        server.shutdown()


def test_kontext_edits_from_references_without_a_mask(live):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 120, 60)).save(buffer, "PNG")
    outcome = send.send(live, send.Request("flux", EDIT, "flux-kontext-pro", "make it autumn", {}, images=[buffer.getvalue()],
                                           page="edit"))
    assert outcome.ok, outcome.error
    assert outcome.row.cost_usd == 0.04 and outcome.row.params["reference_images"] == 1
    assert registry.get("flux").capabilities("flux-kontext-pro").edit_kind().startswith("edits by instruction")
