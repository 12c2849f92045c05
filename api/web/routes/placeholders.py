"""Nav entries whose pages are still to be built (#19, second half): each answers a short
page saying so, behind the session, so the nav never leads to a 404. A page's own router
replaces its entry here (remove it from PENDING)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.web.session import Reader, sessions_of
from api.web.templating import render

router = APIRouter(prefix="/web", tags=["pages"])
PENDING: dict[str, str] = {}  # every page of #19 is built


def _pending(name: str, title: str) -> None:
    def page(request: Request, user: Reader) -> Response:
        context = {
            "title": title,
            "user": user,
            "csrf": sessions_of(request).csrf_token(user),
            "message": f"The {title} page is not built yet; the API serves its data today.",
        }
        return render(request, "message.html", context)

    router.add_api_route(f"/{name}", page, methods=["GET"], name=f"pending-{name}")


for _name, _title in PENDING.items():
    _pending(_name, _title)
