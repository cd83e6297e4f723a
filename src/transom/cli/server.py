"""`transom server start`."""

from __future__ import annotations

import typer

from transom.cli.output import error_console

app = typer.Typer(no_args_is_help=True)


@app.command("start")
def start(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default TRANSOM_SERVER_API_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port (default TRANSOM_SERVER_API_PORT, 4200)."),
) -> None:
    """Run the API server in the foreground until Ctrl+C."""
    from transom.server.serve import serve
    from transom.settings import Settings

    serve(Settings.load(), host=host, port=port,
          echo=lambda line: error_console().print(line, markup=False))
