"""The planner's pages (#19): server-rendered with Jinja2 in the API's own app, behind the
same keys and roles; see api/web/README.md for how to add a page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.errors import error_response
from api.web.assets import SessionStatic
from api.web.figures import OverviewFigures
from api.web.routes import at_risk, auth, capacity, demand, models, overview
from api.web.session import (
    CsrfError,
    PageForbidden,
    Sessions,
    SignInRequired,
    session_secret,
    sign_in_url,
)
from api.web.state import WebState
from api.web.templating import make_templates, render

ROUTERS = (auth, overview, demand, capacity, at_risk, models)


def install_web(app: FastAPI) -> None:
    """Mount the pages under /web on ``app`` (after create_app set its state)."""
    settings = app.state.settings
    sessions = Sessions(partial(session_secret, settings.api.keys_file), app.state.keys)
    app.state.web = WebState(
        settings=settings,
        sessions=sessions,
        templates=make_templates(),
        figures=OverviewFigures(app.state.order_store, ttl=settings.api.poll_seconds),
        accuracy=app.state.accuracy,
    )
    _warm_at_start(app)
    for module in ROUTERS:
        # Pages are not API: kept out of the OpenAPI schema (and so out of schemathesis).
        app.include_router(module.router, include_in_schema=False)
    app.mount("/web/static", SessionStatic(sessions), name="web-static")

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if _wants_page(request):
            return RedirectResponse(sign_in_url(request), status_code=303)
        return error_response(request, 401, "unauthorized", "sign in first: /web/sign-in")

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        if _wants_page(request):
            context = {"title": "Not allowed", "message": str(exc), "user": None}
            return render(request, "message.html", context, status_code=403)
        return error_response(request, 403, "forbidden", str(exc))

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> JSONResponse:
        message = "missing or wrong CSRF token: reload the page and try again"
        return error_response(request, 403, "csrf", message)


def _warm_at_start(app: FastAPI) -> None:
    """Wrap the app's lifespan: once it has started (the models loaded, or the poller
    started), a background thread computes the pages' figures (api/web/state.py)."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):  # api.main's lifespan keeps no state: it yields None
            app.state.web.start_warming(app.state.store)
            try:
                yield
            finally:
                app.state.web.stop_background_work()

    app.router.lifespan_context = lifespan


def _wants_page(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")
