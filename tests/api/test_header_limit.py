"""Oversized request heads get 431 from the protocol `ordercast serve` runs, unread."""

from __future__ import annotations

import contextlib
import json
import socket
from urllib.parse import urlparse

import httpx

from api.http_protocol import MAX_HEAD_BYTES, HeadLimitedProtocol
from api.main import create_app
from tests.api.conftest import live_server, settings_with
from tests.api.fakes import FakeLoader


def raw_request(base: str, head: bytes) -> bytes:
    """Send ``head`` on a new connection; what the server answers before closing."""
    url = urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        # The server may close before taking it all: that is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_huge_header_is_431_and_normal_ones_are_served() -> None:
    app = create_app(settings_with(), loader=FakeLoader("1"), poll=False)
    with live_server(app, http=HeadLimitedProtocol) as base:
        key = b"k" * (4 * MAX_HEAD_BYTES)
        answer = raw_request(
            base, b"GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + b"\r\n\r\n"
        )
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        body = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert body["error"] == "headers_too_large"
        assert body["details"]["max_header_bytes"] == MAX_HEAD_BYTES

        # Headers of an ordinary size, and several requests on one connection, still work.
        with httpx.Client(base_url=base) as client:
            for _ in range(3):
                ok = client.get("/health", headers={"X-Trace": "t" * 4000})
                assert ok.status_code == 200
            # A body past the head's bound is the app's to judge, not the protocol's.
            big = client.post("/v1/forecasts/demand", json={"sku": "S" * 100_000, "horizon": 1})
            assert big.status_code == 422
