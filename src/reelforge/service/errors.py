"""Every error response is OpenAI's envelope: {"error": {"message", "type", "param", "code"}}.
No stack trace or secret ever reaches a client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge.errors import ReelforgeError

log = logging.getLogger(__name__)

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class APIError(ReelforgeError):
    """A ReelforgeError whose HTTP status is chosen where it is raised (the routers: 401,
    403, 404, 409, 413, 429, ...), with optional response headers (Retry-After). Its
    message is written for the client, whatever the status."""

    public = True

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message, param=param, code=code)
        self.status = status
        self.type = TYPES.get(status, "server_error")
        self.headers = headers


def envelope(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "message": message,
            "type": type_ or TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)  # the most specific handler wins: this one has headers
    async def _api_error(_: Request, error: APIError) -> JSONResponse:
        return envelope(
            error.status, error.message, error.param, error.code, error.type, error.headers
        )

    @app.exception_handler(ReelforgeError)
    async def _reelforge_error(_: Request, error: ReelforgeError) -> JSONResponse:
        if error.status >= 500 and not error.public:
            log.error("server error: %s", error)
            return envelope(500, "the server failed to handle the request", code="server_error")
        return envelope(error.status, error.message, error.param, error.code, error.type)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0] if error.errors() else {}
        location = [str(part) for part in problem.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header", "cookie"):
            location = location[1:]  # where it came from; a field may itself be named "body"
        param = location[-1] if location else None
        message = f"{param}: {problem.get('msg', 'invalid value')}" if param else "invalid request"
        return envelope(400, message, param, "invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "request failed"
        if error.status_code == 404 and message == "Not Found":
            message = "no such route"
        return envelope(error.status_code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, error: PoolTimeout) -> JSONResponse:
        log.warning("database connection pool exhausted: %s", error)
        return envelope(
            503,
            "the server is busy; retry shortly",
            code="server_busy",
            headers={"retry-after": "1"},
        )

    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, error: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", error.orig)
        return envelope(
            503,
            "the database is unavailable; retry shortly",
            code="database_unavailable",
            headers={"retry-after": "5"},
        )

    @app.exception_handler(Exception)
    async def _crash(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return envelope(500, "the server failed to handle the request", code="server_error")
