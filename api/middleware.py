"""Request ids, the request-size limit, and an access log that never shows keys.

A plain ASGI middleware (no ``BaseHTTPMiddleware``): it adds almost nothing to a
request's latency and it sees chunked bodies too, so a body without
``Content-Length`` cannot slip past the limit.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("api.access")

REQUEST_ID_HEADER = b"x-request-id"


class BodyTooLarge(HTTPException):
    """Raised inside ``receive`` when a streamed body passes the limit.

    An ``HTTPException`` so that FastAPI's body parsing lets it through to the shared
    error handler (it turns other exceptions while reading a body into a 400).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body exceeds the limit of {limit:,} bytes; send smaller batches"
        )


class RequestContext:
    """Give each request an id (or keep the caller's), refuse oversized bodies, log it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")
        # Only tidy ids are echoed back (they land in logs and headers).
        request_id = given[:64] if given and given.isascii() and given.isprintable() else ""
        request_id = request_id or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = {"code": 0, "sent": False}

        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send, request_id, int(length))
            self._log(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not status["sent"]:
                await self._too_large(send, request_id, received)
                status["code"] = 413
        finally:
            self._log(scope, status["code"] or 500, started, request_id)

    async def _too_large(self, send: Send, request_id: str, size: int) -> None:
        body = json.dumps(
            {
                "code": "request_too_large",
                "message": f"request body of {size:,}+ bytes exceeds the limit of "
                f"{self.max_body_bytes:,} bytes; send smaller batches",
                "details": {"limit_bytes": self.max_body_bytes},
                "request_id": request_id,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log(scope: Scope, status: int, started: float, request_id: str) -> None:
        # Method, path and status only: never headers (the API key) or query strings.
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s %s %d %.1f ms id=%s",
                scope.get("method", "?"),
                scope.get("path", "?"),
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )
