"""Form bodies (multipart/form-data, application/x-www-form-urlencoded) read as UTF-8 text.

Starlette decodes a form's text fields leniently: bytes that are not UTF-8 become Latin-1
(multipart) or U+FFFD (url-encoded), and a `charset` parameter on the Content-Type may
name any codec, `utf-7` or `unicode_escape` included, which turn plain ASCII into lone
surrogates ("\\ud800") that no database driver can encode (issue 21). Here every field
name and text field is decoded as strict UTF-8, whatever charset the request declares
(HTML and the OpenAI SDK send UTF-8), so a lone surrogate's UTF-8-like bytes (ED A0 80)
or any other invalid sequence is a 400 naming the field (`param`), as `hardening.JsonGuard`
does for JSON. Uploaded files are left as they are.

`read_form` keeps the form on the request, so a second reader (the CSRF check, then the
route) gets the same one.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from reelforge.service.errors import APIError

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class NotUtf8(MultiPartException):
    """A field name or text field whose bytes are not UTF-8. A MultiPartException, so the
    parser closes the files it spooled before it lets go."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field}: is not valid UTF-8 text (a lone surrogate, or bytes of another "
            "encoding); send UTF-8"
        )
        self.field = field


def _utf8(data: bytes | bytearray, field: str | None = None) -> str:
    """`data` as strict UTF-8; NotUtf8 naming `field` (or, for a name, the name itself
    with its bad bytes shown as U+FFFD) otherwise."""
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise NotUtf8(field or bytes(data).decode("utf-8", "replace")) from None


class _StrictMultiPartParser(MultiPartParser):
    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        _, options = parse_options_header(self._current_part.content_disposition)
        self._current_part.field_name = _utf8(options[b"name"])

    def on_part_end(self) -> None:
        if self._current_part.file is None:
            part = self._current_part
            self.items.append((part.field_name, _utf8(part.data, part.field_name)))
        else:
            super().on_part_end()


class _StrictFormParser(FormParser):
    def on_field_end(self) -> None:
        super().on_field_end()  # counts the field against max_fields, adds it decoded loosely
        # unquote_plus decodes %XX escapes with errors="replace": "+" is undone by hand.
        name = _utf8(unquote_to_bytes(bytes(self._field_name).replace(b"+", b" ")))
        value = _utf8(unquote_to_bytes(bytes(self._field_value).replace(b"+", b" ")), name)
        self._items[-1] = (name, value)


async def read_form(request: Request) -> FormData:
    """The request's form with every text field strict UTF-8; a 400 naming the field that
    is not, or describing a malformed body. Read once per request."""
    cached: FormData | None = getattr(request, "_form", None)  # starlette's own cache
    if cached is not None:
        return cached
    content_type = request.headers.get("content-type", "")
    parser: _StrictMultiPartParser | _StrictFormParser
    if content_type.startswith("multipart/form-data"):
        parser = _StrictMultiPartParser(request.headers, request.stream())
    elif content_type.startswith("application/x-www-form-urlencoded"):
        parser = _StrictFormParser(request.headers, request.stream())
    else:
        raise APIError(
            400, "send the fields as multipart/form-data", code="unsupported_content_type"
        )
    try:
        form = await parser.parse()
    except NotUtf8 as error:
        raise APIError(400, error.message, param=error.field, code="invalid_text") from None
    except MultiPartException as error:
        raise APIError(400, error.message, code="invalid_form") from None
    request._form = form  # request.form() and Request.close() use this one
    return form
