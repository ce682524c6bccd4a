"""A socket guard: connecting to anything but loopback raises NetworkBlocked."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class NetworkBlocked(OSError):
    pass


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name to resolve: not loopback by name
        return False


def _guarded(real: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise NetworkBlocked(f"network blocked in the ltx2 tests: connect to {address}")
        return real(self, address)

    return connect


def block_network() -> None:
    """For the rest of this process (a server the tests start: see `guard_directory`)."""
    socket.socket.connect = _guarded(socket.socket.connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(socket.socket.connect_ex)  # type: ignore[method-assign]


@contextmanager
def network_blocked() -> Iterator[None]:
    """socket.connect (and connect_ex) to anything but loopback raises NetworkBlocked."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _guarded(socket.socket.connect))
        patch.setattr(socket.socket, "connect_ex", _guarded(socket.socket.connect_ex))
        yield


SITECUSTOMIZE = """\
import sys
sys.path.insert(0, {root!r})
from tests.engines.ltx2.network_guard import block_network
block_network()
"""


def guard_directory(directory: Any, root: str) -> str:
    """Write a sitecustomize.py into `directory` that blocks the network in every Python
    process started with it on PYTHONPATH; returns the directory, as a string."""
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=root))
    return str(directory)
