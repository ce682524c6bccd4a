"""One exception family for reelforge.

Every error a user can cause is a `ReelforgeError`. The CLI prints `str(error)` as one line
and exits with `error.exit_code`; the HTTP API (later) maps `status`, `type`, `param` and
`code` onto the OpenAI error envelope. Messages name the field and the value.
"""

from __future__ import annotations


class ReelforgeError(Exception):
    """Base of every error reelforge raises on purpose."""

    status = 500
    type = "server_error"
    exit_code = 1
    # A server-side error (status 5xx) reaches an API client as "the server failed" unless
    # its message was written for clients (it names no path, secret or internal detail).
    public = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidRequest(ReelforgeError):
    """The caller asked for something we cannot do; nothing was changed."""

    status = 400
    type = "invalid_request_error"
    exit_code = 2


class ConfigError(ReelforgeError):
    """The installation or the settings are wrong (missing espeak-ng, bad model path)."""

    status = 500
    type = "server_error"
    exit_code = 3


class EngineError(ReelforgeError):
    """An engine failed while generating a clip."""

    status = 500
    type = "server_error"
    exit_code = 1


class MediaError(ReelforgeError):
    """Encoding or decoding a media file failed (corrupt input, codec missing)."""

    status = 400
    type = "invalid_request_error"
    exit_code = 2


class Cancelled(ReelforgeError):
    """Generation was cancelled by the caller."""

    status = 409
    type = "invalid_request_error"
    exit_code = 130
