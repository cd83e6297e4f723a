"""`transom server start`: check the port, say where everything is, run uvicorn until Ctrl+C."""

from __future__ import annotations

from collections.abc import Callable

from transom.exceptions import PortInUse
from transom.platform.network import find_free_port, is_loopback, port_is_free, port_owner
from transom.platform.system import current_platform
from transom.settings import Settings

__all__ = ["PortInUse", "banner", "check_port", "is_loopback", "serve"]


def check_port(host: str, port: int, *, platform: str | None = None) -> None:
    """PortInUse, naming the process that holds the port and a free one to use instead."""
    platform = platform or current_platform()
    if port_is_free(host, port, platform):
        return
    owner = port_owner(port)
    held = f"by {owner.name} (pid {owner.pid})" if owner else "by another program"
    free = find_free_port(host, port + 1, platform)
    raise PortInUse(
        f"port {port} on {host} is already in use {held}; start on a free port with "
        f"`transom server start --port {free}` or set TRANSOM_SERVER_API_PORT={free}")


def banner(settings: Settings, host: str, port: int, database: str) -> list[str]:
    """What the server says when it starts: where the UI, the API and docs are, and any
    warning."""
    lines = []
    if not is_loopback(host) and not (settings.server_api_auth_string or settings.server_api_key):
        lines.append(f"Warning: listening on {host} without authentication; anyone who can reach "
                     "this machine can read and change runs. Set "
                     "TRANSOM_SERVER_API_AUTH_STRING=user:password or TRANSOM_SERVER_API_KEY.")
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}{settings.server_root_path}"
    lines += [
        f"Transom server on {base}",
        f"  UI:   {base}/runs",
        f"  API:  {base}/api   (database: {database})",
        f"  Docs: {base}/docs",
        f"  Point flows at it with TRANSOM_API_URL={base}/api. Stop with Ctrl+C.",
    ]
    return lines


def serve(settings: Settings, *, host: str | None = None, port: int | None = None,
          echo: Callable[[str], None] = print) -> None:
    """Run the API server in the foreground; returns when it is stopped (Ctrl+C)."""
    import uvicorn

    from transom.server.app import create_app

    host = host or settings.server_api_host
    port = port if port is not None else settings.server_api_port
    check_port(host, port)
    if host != settings.server_api_host:  # the Host header may name the address it listens on
        settings = settings.model_copy(update={"server_api_host": host})
    app = create_app(settings)  # opens and migrates the database: fails here, before listening
    for line in banner(settings, host, port, app.state.db.url):
        echo(line)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass  # uvicorn shuts down gracefully on Ctrl+C, then re-raises it: stopping is the goal
    echo("Transom server stopped.")
