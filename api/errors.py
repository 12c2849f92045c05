"""One error body for every failure: ``{code, message, details, request_id}``.

Bad input never reaches the catch-all: validation errors are 422 with each field's
path, domain errors (unknown SKU, horizon too long) are 404/422, and anything else is
logged with the request id the caller also gets back.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from forecasting.errors import (
    AdjustmentError,
    ConfigError,
    DataContractError,
    HorizonError,
    OrdercastError,
    UnknownSeriesError,
)

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    503: "not_ready",
}


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Stable machine-readable error code", examples=["unknown_series"])
    message: str = Field(description="What went wrong and how to fix it, for a person")
    details: list[dict[str, Any]] | dict[str, Any] | None = Field(
        None, description="Per-field problems (422) or facts such as the horizon limit"
    )
    request_id: str | None = Field(None, description="Quote this when reporting a problem")


ERROR_MEANINGS = {
    400: "The body is not readable JSON text (e.g. not UTF-8)",
    401: "No API key, or an unknown one (X-API-Key header)",
    403: "The key's role does not allow this endpoint",
    404: "Unknown SKU, site, channel or level (the message names it)",
    409: "The resource is not in a state that allows this (e.g. already revoked)",
    413: "Request body over the size limit",
    422: "Invalid field (each listed with its path), or a value the model cannot serve",
    503: "The model this endpoint needs is not loaded yet (see /ready)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries with the shared error body for ``statuses``."""
    return {s: {"model": ErrorBody, "description": ERROR_MEANINGS[s]} for s in statuses}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {"code": code, "message": message, "details": details, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Register the exception handlers that give every error the same body."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:  # its loc is a character position, not a field
            position = malformed[0].get("loc", ("body", "?"))[-1]
            reason = malformed[0].get("ctx", {}).get("error", "malformed JSON")
            return error_response(
                request,
                422,
                "invalid_json",
                f"the body is not valid JSON: {reason} at character {position}",
                [{"field": "body", "problem": f"{reason} at character {position}"}],
            )
        details = [
            {
                "field": _field_path(tuple(err.get("loc", ()))),
                "problem": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()[:200]
        ]
        fields = ", ".join(d["field"] for d in details[:5])
        return error_response(
            request,
            422,
            "invalid_request",
            f"{len(exc.errors())} invalid field(s): {fields}",
            details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the first route's methods when several routes share a
            # path (GET and POST of /adjustments are two routes): name them all.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return error_response(
            request,
            exc.status_code,
            HTTP_CODES.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=headers,
        )

    @app.exception_handler(OrdercastError)
    async def domain(request: Request, exc: OrdercastError) -> JSONResponse:
        if isinstance(exc, UnknownSeriesError):
            return error_response(request, 404, "unknown_series", str(exc))
        if isinstance(exc, HorizonError):
            limit = getattr(exc, "max_horizon", None)
            details = {"max_horizon": limit} if limit is not None else None
            return error_response(request, 422, "horizon_out_of_range", str(exc), details)
        if isinstance(exc, DataContractError):
            issues = [
                {"row": i.row, "field": i.column, "problem": i.message} for i in exc.issues[:200]
            ]
            return error_response(request, 422, "invalid_orders", str(exc).splitlines()[0], issues)
        if isinstance(exc, AdjustmentError):
            problem = [{"field": exc.field, "problem": str(exc)}]
            return error_response(request, 422, "invalid_adjustment", str(exc), problem)
        if isinstance(exc, ConfigError):  # valid JSON, but a value the model cannot serve
            return error_response(request, 422, "invalid_value", str(exc))
        return error_response(request, 400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        logger.error(
            "unexpected failure on %s %s (request %s)",
            request.method,
            request.url.path,
            request_id,
            exc_info=exc,
        )
        return error_response(
            request,
            500,
            "internal_error",
            f"unexpected failure; quote request id {request_id} when reporting it",
        )


def _allowed(request: Request) -> list[str]:
    """Every method some route of the app accepts at the request's path."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, APIRoute):
            methods |= route.methods or set()
    return sorted(methods)
