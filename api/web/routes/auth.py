"""Sign-in and sign-out: a key entered once becomes a session cookie."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import CurrentSnapshot
from api.web.session import (
    COOKIE_PATH,
    MAX_AGE_SECONDS,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    current_user,
    sessions_of,
)
from api.web.session import (
    cookie_secure as secure,
)
from api.web.state import WebStateDep
from api.web.templating import render

router = APIRouter(prefix="/web", tags=["pages"])
HOME = "/web/overview"


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    web: WebStateDep,
    snapshot: CurrentSnapshot,
    warm_up: BackgroundTasks,
    target: Annotated[str, Query(alias="next", max_length=2000)] = HOME,
) -> Response:
    sessions = sessions_of(request)
    if sessions.read(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(_safe_next(target), status_code=303)
    # The overview's store figures take seconds to compute the first time: start while the
    # planner types the key (after this page is sent; a stranger learns nothing from it).
    warm_up.add_task(web.warm, snapshot)
    return _form(request, _safe_next(target), None)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form_fields(request)
    target = _safe_next(form.get("next", HOME))
    cookie_token = request.cookies.get(SIGN_IN_COOKIE, "")
    if not cookie_token or not hmac.compare_digest(cookie_token, form.get("csrf", "")):
        return _form(request, target, "The form expired: sign in again.", status_code=403)
    sessions = sessions_of(request)
    cookie = sessions.issue(form.get("key", "").strip())
    if cookie is None:
        return _form(request, target, "Unknown key: check it and try again.", status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=MAX_AGE_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    user = current_user(request)
    form = await _form_fields(request)
    if not sessions_of(request).csrf_ok(user, form.get("csrf")):
        return render(
            request,
            "message.html",
            {"title": "Not signed out", "message": "The form expired: reload and try again."},
            status_code=403,
        )
    response = RedirectResponse(f"{COOKIE_PATH}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


def _form(request: Request, target: str, problem: str | None, status_code: int = 200) -> Response:
    """The sign-in form with a fresh double-submit token (cookie and hidden field)."""
    token = secrets.token_urlsafe(24)
    context = {
        "title": "Sign in",
        "user": None,
        "next": target,
        "csrf": token,
        "problem": problem,
        "open_access": sessions_of(request).open_access,
    }
    response = render(request, "sign_in.html", context, status_code=status_code)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )
    return response


async def _form_fields(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the first value of each): the pages' forms are that
    simple, so no multipart parser is needed."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


def _safe_next(target: str) -> str:
    """Only a page of this app: never an absolute or scheme-relative URL (an open redirect
    would let a link sign a planner in and send them elsewhere)."""
    if target.startswith("/web/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME
