"""One error body for every failure: ``{code, message, details, request_id}``.

Bad input never reaches the catch-all: validation errors are 422 with each field's
path, domain errors (unknown SKU, horizon too long) are 404/422, and anything else is
logged with the request id the caller also gets back.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecasting.errors import (
    ConfigError,
    DataContractError,
    HorizonError,
    OrdercastError,
    UnknownSeriesError,
)

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict] | dict | None = None
    request_id: str | None = None


def error_response(
    request: Request, status: int, code: str, message: str, details: list[dict] | dict | None = None
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = ErrorBody(code=code, message=message, details=details, request_id=request_id)
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "problem": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return error_response(
            request,
            422,
            "invalid_request",
            f"{len(details)} invalid field(s) in the request",
            details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "request_too_large",
            503: "not_ready",
        }
        return error_response(
            request, exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )

    @app.exception_handler(OrdercastError)
    async def domain(request: Request, exc: OrdercastError) -> JSONResponse:
        if isinstance(exc, UnknownSeriesError):
            return error_response(request, 404, "unknown_series", str(exc))
        if isinstance(exc, HorizonError):
            return error_response(request, 422, "horizon_out_of_range", str(exc))
        if isinstance(exc, DataContractError):
            details = [
                {"row": i.row, "field": i.column, "problem": i.message} for i in exc.issues[:100]
            ]
            return error_response(request, 422, "invalid_orders", str(exc).splitlines()[0], details)
        if isinstance(exc, ConfigError):
            return error_response(request, 422, "invalid_request", str(exc))
        return error_response(request, 400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception(
            "unexpected failure (request %s)", getattr(request.state, "request_id", "?")
        )
        return error_response(
            request,
            500,
            "internal_error",
            "unexpected failure; quote the request id when reporting it",
        )
