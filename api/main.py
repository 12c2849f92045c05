"""The FastAPI app: assembly only. Models load in the lifespan, off the request path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors
from api.middleware import RequestContext
from api.model_store import Loader, ModelStore, registry_loader
from api.routes import admin, forecasts, health, models
from api.security import KeyRing, is_loopback
from forecasting.errors import ConfigError
from training.settings import Settings, load_settings

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, loader: Loader | None = None, poll: bool = True
) -> FastAPI:
    """Build the service. ``loader`` defaults to MLflow's registry at the configured URI."""
    settings = settings or load_settings()
    keys = KeyRing.parse(settings.api.api_keys)
    if keys.empty and not is_loopback(settings.api.host):
        raise ConfigError(
            f"no API keys configured: refusing to serve on {settings.api.host}, which is not a "
            "loopback address. Set ORDERCAST_API_KEYS='key:read,key2:admin'."
        )
    store = ModelStore(loader or registry_loader(settings.mlflow.tracking_uri))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.refresh)
        task = asyncio.create_task(_poll(store, settings.api.poll_seconds)) if poll else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        title="ordercast",
        version="0.1.0",
        description="Demand forecasts with intervals from the registry's champion models.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.keys = keys
    app.add_middleware(RequestContext, max_body_bytes=settings.api.max_request_bytes)
    errors.install(app)
    for router in (health.router, models.router, forecasts.router, admin.router):
        app.include_router(router)
    return app


async def _poll(store: ModelStore, seconds: float) -> None:
    """Pick up alias changes in the registry without a restart."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(store.refresh)
        except Exception:  # the poller must outlive a registry outage
            logger.exception("registry poll failed")
