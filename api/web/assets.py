"""The pages' scripts, styles and the vendored chart library, served only to a signed-in
session, except what the sign-in page itself needs."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.web.session import SESSION_COOKIE, Sessions

STATIC = Path(__file__).parent / "static"
# The sign-in page's own assets: a stranger may fetch these, nothing else.
PUBLIC = frozenset({"app.css"})


class SessionStatic(StaticFiles):
    """StaticFiles (path checks, ETags, ranges) behind the session check."""

    def __init__(self, sessions: Sessions) -> None:
        super().__init__(directory=STATIC)
        self._sessions = sessions

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in PUBLIC:
            cookie = Request(scope).cookies.get(SESSION_COOKIE)
            if self._sessions.read(cookie) is None:
                return PlainTextResponse("sign in first: /web/sign-in", status_code=401)
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
