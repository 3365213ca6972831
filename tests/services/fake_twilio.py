"""A local stand-in for Twilio's Messages API: a real HTTP server on 127.0.0.1 (an ephemeral
port) that keeps each request it gets and gives the answer a test sets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "test-auth-token"
SENDER = "+15005550006"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeTwilio:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    status: int = 201
    answer: Any = None  # a dict is sent as JSON, a str as it is
    delay: float = 0.0  # seconds before answering (to try timeouts)

    def settings(self) -> dict[str, Any]:
        """The app's configuration for sending through this server."""
        return {
            "CRM_SMS_BACKEND": "twilio",
            "CRM_TWILIO_API_URL": self.url,
            "CRM_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "CRM_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CRM_TWILIO_FROM": SENDER,
            "CRM_TWILIO_MESSAGING_SERVICE_SID": "",
            "CRM_SMS_TIMEOUT": 5.0,
        }

    def answer_with(self, status: int, answer: Any) -> None:
        self.status, self.answer = status, answer


def _accepted(form: dict[str, str]) -> dict[str, Any]:
    """What Twilio answers to a message it takes (the fields we read, and a few more)."""
    return {
        "sid": "SM" + "0" * 32,
        "status": "queued",
        "to": form.get("To"),
        "from": form.get("From"),
        "body": form.get("Body"),
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
    }


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = {name: values[0] for name, values in parse_qs(raw).items()}
            fake.received.append(Received("POST", self.path, dict(self.headers), form))
            if fake.delay:
                time.sleep(fake.delay)
            answer = fake.answer if fake.answer is not None else _accepted(form)
            data = (json.dumps(answer) if isinstance(answer, dict) else answer).encode()
            try:
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
