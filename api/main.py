"""The FastAPI app: assembly only. Models load in a background thread, off the request path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from api import errors
from api.accuracy_cache import AccuracyCache
from api.adjusted_demand import AdjustmentsView
from api.docs_assets import install_docs
from api.key_file import ServedKeys
from api.middleware import RequestContext
from api.model_store import Loader, ModelStore, Poller
from api.order_store import OrderStoreHandle
from api.response_cache import ResponseCache
from api.routes import (
    accuracy,
    adjustments,
    admin,
    capacity_plan,
    forecast_batch,
    forecasts,
    health,
    ingest,
    models,
    orders,
    promise,
)
from api.security import is_loopback
from api.web import install_web
from forecasting.errors import ConfigError
from forecasting.redaction import redact
from ordercast.settings import Settings, load_settings
from training.serving import KINDS

DESCRIPTION = """Demand forecasts with intervals, site capacity outlooks and at-risk order
scores from the MLflow registry's **champion** models.

Send your API key in the `X-API-Key` header (role `read`; `write` to push order lines to
`POST /v1/orders`; `admin` for everything, `/v1/admin` included).
Every error has the body `{code, message, details, request_id}`.
"""


def create_app(
    settings: Settings | None = None,
    loader: Loader | None = None,
    *,
    kinds: Sequence[str] = KINDS,
    poll: bool = True,
) -> FastAPI:
    """Build the service.

    ``settings`` default to :func:`ordercast.settings.load_settings`; ``loader`` defaults to
    the MLflow registry at ``settings.mlflow.tracking_uri``; ``kinds`` are the model kinds
    ``/ready`` waits for; ``poll`` loads the champions in a background thread once the
    server is up and re-checks every ``api.poll_seconds`` (without it they are loaded once,
    before the app serves: what tests want).
    Raises :class:`ConfigError` when no API key is configured and the host is not loopback.
    """
    settings = settings or load_settings()
    keys = ServedKeys(settings.api.api_keys, settings.api.keys_file)
    if keys.empty and not is_loopback(settings.api.host):
        raise ConfigError(
            f"no API keys configured: refusing to serve on {settings.api.host}, which is not a "
            "loopback address. Create keys with `ordercast keys create NAME --role read|admin` "
            "(or set ORDERCAST_API_KEYS='key1:read,key2:admin')."
        )
    source = "the model loader"
    if loader is None:
        from api.registry_loader import registry_loader

        loader = registry_loader(settings.mlflow.tracking_uri)
        source = f"the model registry at {redact(settings.mlflow.tracking_uri)}"
    store = ModelStore(loader, kinds, source=source)
    order_store = OrderStoreHandle(settings.database.url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        poller = Poller(store, settings.api.poll_seconds) if poll else None
        if poller is None:
            await run_in_threadpool(store.refresh)  # no poller: load once, before serving
        else:
            # Listen at once: the first load runs in the poller, /ready is 503 until it is done.
            poller.start()
        yield
        if poller is not None:
            poller.stop()
        order_store.dispose()

    app = FastAPI(
        title="ordercast",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from CDNs: install_docs serves local copies
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.keys = keys
    app.state.order_store = order_store
    app.state.accuracy = AccuracyCache(settings, order_store, ttl=settings.api.poll_seconds)
    app.state.responses = ResponseCache()
    app.state.adjustments = AdjustmentsView(order_store)
    if settings.api.cors_origins:  # CORS stays off unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(RequestContext, max_body_bytes=settings.api.max_request_bytes)
    errors.install(app)
    install_docs(app)
    routers = (
        health,
        models,
        forecasts,
        capacity_plan,
        forecast_batch,
        adjustments,
        orders,
        promise,
        ingest,
        accuracy,
        admin,
    )
    for module in routers:
        app.include_router(module.router)
    install_web(app)  # the planner's pages under /web, behind the same keys and roles
    return app
