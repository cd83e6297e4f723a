"""`transom server start` and `transom server firewall [--apply]`."""

from __future__ import annotations

import typer

from transom.cli.help import Typer
from transom.cli.output import error_console

app = Typer(no_args_is_help=True)


@app.command("start")
def start(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default TRANSOM_SERVER_API_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port (default TRANSOM_SERVER_API_PORT, 4200)."),
    root_path: str | None = typer.Option(None, "--root-path", help="The path prefix a reverse proxy serves it under, like /transom (default TRANSOM_SERVER_ROOT_PATH)."),
) -> None:
    """Run the API server and web UI in the foreground until Ctrl+C."""
    from transom.server.serve import serve
    from transom.settings import Settings

    settings = Settings.load() if root_path is None else Settings.load(server_root_path=root_path)
    serve(settings, host=host, port=port,
          echo=lambda line: error_console().print(line, markup=False))


@app.command("firewall")
def firewall(
    apply: bool = typer.Option(False, "--apply", help="Add the rule now (needs Administrator on "
                               "Windows, root elsewhere)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default "
                                    "TRANSOM_SERVER_API_PORT, 4200)."),
) -> None:
    """Print the inbound firewall rule for the server's port (ufw/firewalld on Linux), or add it."""
    import shutil
    import sys

    from rich.text import Text

    from transom.cli.output import console
    from transom.exceptions import ServiceError, UserInputError
    from transom.platform.firewall import firewall_plan, rule_name
    from transom.platform.network import is_loopback
    from transom.platform.system import admin_hint, current_platform, is_admin, run_system_command
    from transom.settings import Settings

    settings = Settings.load()
    port = port or settings.server_api_port
    host = settings.server_api_host
    platform = current_platform()
    plan = firewall_plan(platform, port, which=shutil.which, run=run_system_command,
                         python=sys.executable)
    apply_command = f"{sys.executable} -m transom server firewall --apply"
    out = console()
    out.print(Text(f"Inbound rule for the Transom server: TCP port {port} "
                   f"(\"{rule_name(port)}\")", style="bold"))
    if is_loopback(host):
        out.print(Text(f"Note: the server listens on {host}, which other machines cannot reach "
                       "whatever the firewall allows; set TRANSOM_SERVER_API_HOST=0.0.0.0 (and "
                       "TRANSOM_SERVER_API_KEY) to serve them.", style="yellow"))
    if not apply:
        for title, commands in plan.alternatives or (("run", tuple(s.shown for s in plan.steps)),):
            out.print(Text(f"{title}:"))
            for command in commands:
                out.print(Text(f"  {command}"))
        for note in plan.notes:
            out.print(Text(note, style="dim"))
        if plan.steps:
            where = admin_hint(platform, apply_command)
            running = f" ({plan.tool} runs here)" if plan.tool else ""
            out.print(Text(f"Add it with `transom server firewall --apply` {where}{running}."))
        return
    if not plan.steps:
        raise UserInputError("no firewall is running here (neither ufw nor firewalld), so there "
                             "is no rule to add")
    if not is_admin(platform):
        how = admin_hint(platform, apply_command, refused=True)
        raise UserInputError(f"adding a firewall rule needs {plan.needs} rights; run it again "
                             f"{how}")
    for step in plan.steps:
        out.print(Text(f"$ {step.shown}", style="dim"))
        result = run_system_command(step.argv, timeout=120)
        if step.check and not result.ok:
            raise ServiceError(f"`{step.shown}` failed: {result.reason()}")
    out.print(Text(f"Inbound TCP port {port} is open ({plan.tool})."))
