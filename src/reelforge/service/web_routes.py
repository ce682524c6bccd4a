"""The web UI at `/` and the API docs at `/docs`, every byte served from this server.

The UI is one page (`web/index.html`) and plain ES modules under `web/js/` (no build
step, no framework, no CDN): the page's own router draws the feed, create page, drafts,
profiles, notifications, settings and moderation queue from the typed API under `/api/`
(docs/APP.md). Deep links (`/p/{id}`, `/u/{handle}`, ...) answer the same page, which
reads its path; any other unknown path stays a JSON 404 like the rest of the API.

Every response carries a strict Content-Security-Policy (scripts, styles, media and
connections from this origin only; no inline script; `blob:` and `data:` for media and
images the page makes itself) and `X-Content-Type-Options: nosniff`. The UI's files are
served with `Cache-Control: no-cache`: with no build step there are no content-hashed
names, so a browser revalidates (ETag, a 304 when unchanged) and an upgrade is never
half-applied. The pinned swagger-ui copy does change only with its pin, so it is cached
for a day.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.service.api_docs import default_swagger_dir

WEB_DIR = Path(__file__).parent / "web"
# The page's own routes (web/js/main.js `ROUTES`): each answers index.html.
PAGE_PATHS = (
    "/",
    "/feed",
    "/following",
    "/create",
    "/drafts",
    "/notifications",
    "/settings",
    "/cameos",
    "/moderation",
    "/login",
    "/signup",
    "/u/{handle}",
    "/p/{post_id}",
)
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def install(app: FastAPI, swagger_dir: Path | None = None) -> None:
    """Serve the UI's page at its paths, its static files, and `/docs`."""
    for path in PAGE_PATHS:
        app.add_api_route(path, _index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False)
    # /static/swagger before /static: the first mount whose prefix matches wins.
    swagger = CachedStatic(
        directory=swagger_dir or default_swagger_dir(), check_dir=False, max_age_s=86400
    )
    app.mount("/static/swagger", swagger, name="swagger")
    app.mount("/static", CachedStatic(directory=WEB_DIR, max_age_s=0), name="static")
    app.add_middleware(SecurityHeaders)


async def _index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers={"cache-control": "no-cache"})


async def _docs() -> FileResponse:
    return FileResponse(WEB_DIR / "docs.html", headers={"cache-control": "no-cache"})


class CachedStatic(StaticFiles):
    """Static files with a Cache-Control header: `no-cache` (revalidate) at max_age_s=0."""

    def __init__(self, *, directory: Path, max_age_s: int, check_dir: bool = True) -> None:
        super().__init__(directory=directory, check_dir=check_dir)
        self.cache_control = f"public, max-age={max_age_s}" if max_age_s > 0 else "no-cache"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", self.cache_control.encode()),
                ]
            await send(message)

        await super().__call__(scope, receive, with_cache_control)


class SecurityHeaders:
    """Adds the CSP, nosniff and referrer policy to every HTTP response (a plain ASGI
    middleware, so streamed responses such as the notification stream pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
