"""uvicorn's HTTP protocol with a bound on the request head: 431 past it, read no further.

uvicorn's httptools parser takes headers of any size: a 50 MB ``X-API-Key`` was read whole
and answered 401 after 5.8 s. Bodies are bounded by the app (``api.max_request_bytes``),
but the head is parsed before the app sees anything, so the bound lives here: once the
bytes of a request's head pass ``MAX_HEAD_BYTES`` without the head ending, the connection
answers 431 Request Header Fields Too Large and closes.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024  # request line and headers together; real clients send < 8 KiB


def too_large_response(limit: int = MAX_HEAD_BYTES) -> bytes:
    """The raw 431 answer, in the API's error shape, closing the connection."""
    body = json.dumps(
        {
            "error": "headers_too_large",
            "message": f"the request line and headers exceed {limit:,} bytes; send shorter "
            "headers (an API key is 64 characters at most)",
            "details": {"max_header_bytes": limit},
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class HeadLimitedProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that counts the bytes of each request's head before the
    parser sees them (the parser takes a whole head from one read, however long)."""

    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # uvicorn passes its own
        self._reset_head()

    def _reset_head(self) -> None:
        self._head_bytes = 0
        self._in_head = True
        self._tail = b""  # the last bytes read, for a blank line split across two reads

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            window = self._tail + data
            end = window.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            if self._head_bytes > self.max_head_bytes:
                self.transport.write(too_large_response(self.max_head_bytes))
                self.transport.close()
                return
            if end < 0:
                self._tail = window[-3:]
            else:
                self._in_head = False
        super().data_received(data)

    def on_message_complete(self) -> None:
        # The next request on this connection starts its head now (keep-alive).
        self._reset_head()
        super().on_message_complete()
