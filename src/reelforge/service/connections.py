"""Slow and idle clients dropped, connections capped (issue 21, "bounded resources").

uvicorn times out a kept-alive connection that sends nothing, but not one that is in the
middle of a request: a client that sends half a header line and then one byte a minute
(slowloris), or a body that never finishes, held its socket for as long as it liked, and
24,000 such sockets ran the server out of file descriptors, so every request failed.

The algorithm, per connection:

1. From the connection's first moment, and again from the first byte of each later
   request, the client has `header_timeout_s` to finish the request line and headers.
2. Once the headers are in, it has `body_timeout_s` to finish the body.
3. A deadline that passes with the request still unread closes the socket; a finished
   request disarms it (the response may take as long as the route needs; the idle time
   between requests is uvicorn's own keep-alive timeout).

The connection cap (`max_connections`, kept below the process's file-descriptor limit so
that accepting a socket can never be the thing that fails) makes room rather than turning
clients away: a connection that takes the count past the cap closes the least recently
active *idle* connection (one with no request being answered: kept alive between
requests, or still sending its headers), as web servers recycle idle keep-alive
connections. A flood of idle sockets therefore costs the flood its own oldest sockets,
not other clients their requests. Only when every connection is busy does uvicorn's
`limit_concurrency`, one above the cap, answer a new request 503.
"""

from __future__ import annotations

import asyncio
import resource
from collections import OrderedDict
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Descriptors kept back from the connection cap for the database, storage and logs.
FD_RESERVE = 128


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body deadline (see the module
    docstring). `header_timeout_s` and `body_timeout_s` are set by `protocol_for`."""

    header_timeout_s = 10.0
    body_timeout_s = 60.0
    max_connections = 2000
    # The server's connections, least recently active first (one event loop per class:
    # `protocol_for` makes a class per server).
    by_activity: ClassVar[OrderedDict[DeadlineH11Protocol, None]] = OrderedDict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: Any = None  # the h11 state the deadline guards

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.by_activity[self] = None
        # limit_concurrency may already have answered 503 and closed it.
        if not transport.is_closing():
            self._arm(h11.IDLE, self.header_timeout_s)
            self._make_room()

    def data_received(self, data: bytes) -> None:
        if self in self.by_activity:
            self.by_activity.move_to_end(self)
        super().data_received(data)
        self._follow_state()

    def _idle(self) -> bool:
        """No request of this connection is being answered (and it is not closing)."""
        return (self.cycle is None or self.cycle.response_complete) and not (
            self.transport.is_closing()
        )

    def _make_room(self) -> None:
        """Past the cap, close the least recently active idle connection (not this one)."""
        if len(self.connections) <= self.max_connections:
            return
        # Oldest first; busy ones are skipped (few: each holds a request being answered).
        oldest = next((c for c in self.by_activity if c is not self and c._idle()), None)
        if oldest is None:
            return  # every connection is busy: uvicorn's limit answers 503
        self.logger.info("closing the least recently active idle connection (at the cap)")
        oldest.transport.close()
        # Out of the count now: its connection_lost may run after this connection's first
        # request is counted against uvicorn's limit.
        self.connections.discard(oldest)
        del self.by_activity[oldest]

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_state()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.by_activity.pop(self, None)
        super().connection_lost(exc)

    def _follow_state(self) -> None:
        """Move the deadline along with the client's side of the HTTP exchange."""
        state = self.conn.their_state
        if self.transport.is_closing() or state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # the request is read (or the connection is going)
        elif state is h11.SEND_BODY and self._deadline_for is not h11.SEND_BODY:
            self._arm(h11.SEND_BODY, self.body_timeout_s)
        elif state is h11.IDLE and self._deadline is None and self.conn.trailing_data[0]:
            # The first bytes of a next request on a kept-alive connection.
            self._arm(h11.IDLE, self.header_timeout_s)

    def _arm(self, state: Any, timeout_s: float) -> None:
        self._disarm()
        self._deadline_for = state
        self._deadline = self.loop.call_later(timeout_s, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_for = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.conn.their_state is self._deadline_for and not self.transport.is_closing():
            self.logger.info("dropping a client too slow to send its request")
            self.transport.close()


def protocol_for(
    header_timeout_s: float, body_timeout_s: float, max_connections: int
) -> type[DeadlineH11Protocol]:
    """A `DeadlineH11Protocol` class with these deadlines and this cap (uvicorn builds the
    protocol from its class, so the settings travel as class attributes). Pass uvicorn
    `limit_concurrency=max_connections + 1`: the cap is kept by closing idle connections,
    and uvicorn's limit only refuses requests when none is idle."""
    return type(
        "ConfiguredDeadlineH11Protocol",
        (DeadlineH11Protocol,),
        {
            "header_timeout_s": header_timeout_s,
            "body_timeout_s": body_timeout_s,
            "max_connections": max_connections,
            "by_activity": OrderedDict(),
        },
    )


def connection_cap(max_connections: int) -> int:
    """`max_connections`, lowered to fit the file-descriptor limit, which is first raised
    to its hard ceiling (the soft default, often 1,024, is a historical accident)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(1, min(max_connections, soft - FD_RESERVE - 1))
