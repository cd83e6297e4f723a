"""Ports for servers the tests start: the OS's pick, so tests in parallel processes (xdist)
never reach for the same one, as fixed starting points like 21000 would."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS hands out a different one to each caller)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
