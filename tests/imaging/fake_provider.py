"""A small hostile OpenAI-compatible images server on loopback: it records what was uploaded and answers with
whatever picture bytes the test gives it (cut off, a bomb, a valid PNG...)."""
from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lib.config import ProviderConfig


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class FakeImages:
    """Answers every images call with ``picture``; ``uploads`` holds the multipart files of the last edit."""

    picture: bytes
    uploads: list[Upload] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def cfg(self) -> ProviderConfig:
        return ProviderConfig("openai", "live", self.base_url, "sk-fake-provider-0123456789", "environment")


def _parts(content_type: str, body: bytes) -> list[Upload]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    uploads = []
    for part in message.iter_parts():
        if part.get_filename():
            uploads.append(Upload(part.get_param("name", header="content-disposition"), part.get_filename(),
                                  part.get_content_type(), part.get_payload(decode=True)))
    return uploads


def start(picture: bytes) -> FakeImages:
    fake = FakeImages(picture)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.headers.get("content-type", "").startswith("multipart/"):
                fake.uploads = _parts(self.headers["content-type"], body)
            reply = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(fake.picture).decode()}],
                                "usage": {"input_tokens": 10, "output_tokens": 100}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()
    return fake


def start_karlo(picture: bytes) -> FakeImages:
    """A Karlo-shaped server: every inference call answers with one image, ``picture``, as base64."""
    fake = FakeImages(picture)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            reply = json.dumps({"id": "k-1", "model_version": "v2.1", "images": [
                {"id": "i-1", "seed": 7, "image": base64.b64encode(fake.picture).decode(),
                 "nsfw_content_detected": False, "nsfw_score": 0.01}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()
    return fake
