"""``/docs`` (Swagger UI) and ``/redoc`` served from files installed with the app.

FastAPI's own pages load their JavaScript, CSS, favicon and (ReDoc) fonts from CDNs, so
on a machine without internet they render blank. The ``fastapi-offline`` package ships
the Swagger UI and ReDoc bundles; we serve its ``static`` folder as it is and build the
two pages with FastAPI's page helpers pointing at it, so the pages name local paths only.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs-assets"
# The online validator badge would call out to the internet for every page view.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def assets_folder() -> Path:
    """The installed folder holding swagger-ui-bundle.js, swagger-ui.css,
    redoc.standalone.js and favicon.png."""
    folder = Path(str(files("fastapi_offline") / "static"))
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(
            f"the API docs assets are missing from {folder}: reinstall the fastapi-offline "
            "package (pip install -c constraints.txt -e .)"
        )
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve the assets under :data:`ASSETS_URL` and the two documentation pages.

    The app must be built with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off).
    """
    app.mount(ASSETS_URL, StaticFiles(directory=assets_folder()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # root_path: behind a proxy that mounts the app under a prefix, links keep it.
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,  # fonts from the internet; ReDoc falls back to system fonts
        )
