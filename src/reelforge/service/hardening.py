"""JSON bodies checked before any route parses them (issue 21, "bounded resources").

Two inputs used to reach the routes and end as a 500 with the connection dropped:

- nesting a thousand levels deep: Python's json module recurses once per level, and the
  RecursionError escaped every handler;
- a lone surrogate, "\\ud800": valid JSON escaping, a valid Python str, and a string no
  database driver can encode (UTF-8 has no code for half a surrogate pair).

`JsonGuard` reads a JSON body (the body limit in front of it bounds its size), measures
its depth without recursion, and parses it once to find any string, key or value, that is
not encodable; either is a 400 naming where in the body it is (`param`: "prompt",
"characters[0].id"). Anything it cannot parse goes on to the route, which says what is
wrong with it in its own words. The body is then handed on unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.service import errors

MAX_JSON_DEPTH = 32  # the deepest body any route takes is 4
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(body: bytes) -> int:
    """How deeply `body`'s arrays and objects nest (brackets inside strings do not count)."""
    skeleton = np.frombuffer(_STRINGS.sub(b'""', body), np.uint8)
    if skeleton.size == 0:
        return 0
    return int(np.cumsum(_OPEN[skeleton], dtype=np.int64).max(initial=0))


def unencodable(value: Any) -> str | None:
    """The path of the first string in `value` (a parsed JSON body) that UTF-8 cannot
    encode, keys included; None when there is none. Iterative: depth is already bounded,
    but a wide body must not cost a frame per item either."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, inner in item.items():
                where = f"{path}.{key}" if path else str(key)
                if not _encodable(key):
                    return path or "body"
                stack.append((where, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", inner) for index, inner in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    return content_type == b"application/json" or content_type.endswith(b"+json")


class JsonGuard:
    """400 for a JSON request body nested deeper than MAX_JSON_DEPTH or holding a string
    that UTF-8 cannot encode; every other request passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body, replay = await read_body(receive)
        if body is None:
            return  # the client left
        problem = _problem(body)
        if problem is not None:
            message_text, param, code = problem
            response = errors.envelope(400, message_text, param=param, code=code)
            await response(scope, receive, send)
            return
        await self.app(scope, replay, send)


async def read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """A request's whole body (None if the client disconnected first) and a `receive`
    that hands it on to the app as if it had not been read."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _problem(body: bytes) -> tuple[str, str | None, str] | None:
    """(message, param, code) for a body this guard refuses, else None."""
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        return (
            f"the JSON body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted",
            None,
            "json_too_deep",
        )
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # the route says what is wrong with it
    where = unencodable(parsed)
    if where is not None:
        return (
            f"{where}: contains a lone surrogate (\\ud800-\\udfff without its pair), "
            "which is not text; send valid Unicode",
            where,
            "invalid_text",
        )
    return None
