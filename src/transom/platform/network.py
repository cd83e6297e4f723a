"""Ports: is one free, who holds it, which one to suggest instead; is an address loopback.

Binding mirrors what the server will do: SO_REUSEADDR on POSIX (so a socket in TIME_WAIT after a
restart does not count as busy, as uvicorn sets it too) and SO_EXCLUSIVEADDRUSE on Windows (where
SO_REUSEADDR would let two servers share a port).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from dataclasses import dataclass

__all__ = ["PortOwner", "find_free_port", "is_loopback", "port_is_free", "port_owner"]


@dataclass(frozen=True)
class PortOwner:
    pid: int
    name: str


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (`localhost`, 127.x, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_is_free(host: str, port: int, platform: str = sys.platform) -> bool:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        if platform == "win32":
            exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
            if exclusive is not None:
                sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(host: str, start: int, platform: str = sys.platform, tries: int = 50) -> int:
    """The first free port from `start` up; the OS's choice if none of `tries` is free."""
    for port in range(start, min(start + tries, 65536)):
        if port_is_free(host, port, platform):
            return port
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_owner(port: int) -> PortOwner | None:
    """The process listening on `port`, if the OS lets us see it."""
    import psutil

    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            try:
                name = psutil.Process(conn.pid).name()
            except (psutil.Error, OSError):  # Wine cannot name processes (WinError 87)
                name = "unknown"
            return PortOwner(conn.pid, name)
    return None
