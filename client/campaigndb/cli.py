"""The `campaigndb` command line (typer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from campaigndb.embedded import EmbeddedError, EmbeddedServer, project_root

app = typer.Typer(help="campaigndb: atomic campaign functions for PostgreSQL", no_args_is_help=True)
db_app = typer.Typer(help="The embedded local PostgreSQL (used when no DSN is set)",
                     no_args_is_help=True)
migrate_app = typer.Typer(help="Deploy the schema (wraps alembic)", no_args_is_help=True)
dev_app = typer.Typer(help="Developer tools", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(migrate_app, name="migrate")
app.add_typer(dev_app, name="dev")
console = Console()


# -- db -------------------------------------------------------------------------
@db_app.command("up")
def db_up(name: Annotated[str, typer.Option(help="cluster name")] = "default") -> None:
    """Start the embedded server (initialising it on first use) and print its URL."""
    try:
        print(EmbeddedServer(name).up())
    except EmbeddedError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@db_app.command("down")
def db_down(
    name: Annotated[str, typer.Option(help="cluster name")] = "default",
    destroy: Annotated[bool, typer.Option(help="also delete its data")] = False,
) -> None:
    """Stop the embedded server."""
    EmbeddedServer(name).down(destroy=destroy)
    console.print(f"embedded server {name!r} stopped" + (" and destroyed" if destroy else ""))


@db_app.command("status")
def db_status(name: Annotated[str, typer.Option(help="cluster name")] = "default") -> None:
    """Show whether the embedded server runs, and where."""
    status = EmbeddedServer(name).status()
    print(json.dumps(status, indent=2))
    if not status["running"]:
        raise typer.Exit(3)


@db_app.command("url")
def db_url(name: Annotated[str, typer.Option(help="cluster name")] = "default") -> None:
    """Print the embedded server's URL (exit 3 when it is not running)."""
    server = EmbeddedServer(name)
    if not server.is_running():
        console.print("[yellow]not running: campaigndb db up[/yellow]")
        raise typer.Exit(3)
    print(server.url())


# -- migrate --------------------------------------------------------------------
def _alembic(*args: str) -> None:
    root = project_root()
    command = [sys.executable, "-m", "alembic", "-c", str(root / "alembic.ini"), *args]
    raise typer.Exit(subprocess.call(command, cwd=root, env=os.environ.copy()))


@migrate_app.command("upgrade")
def migrate_upgrade(revision: str = "head",
                    sql: Annotated[bool, typer.Option(help="print SQL only")] = False) -> None:
    """alembic upgrade (default: head)."""
    _alembic("upgrade", revision, *(["--sql"] if sql else []))


@migrate_app.command("downgrade")
def migrate_downgrade(revision: str) -> None:
    """alembic downgrade REVISION (e.g. base, -1)."""
    _alembic("downgrade", revision)


@migrate_app.command("current")
def migrate_current() -> None:
    """The deployed revision."""
    _alembic("current")


@migrate_app.command("history")
def migrate_history() -> None:
    """The revision history."""
    _alembic("history")


# -- call -----------------------------------------------------------------------
def _parse_value(raw: str) -> Any:
    """key=value: JSON when it parses as JSON (objects, arrays, numbers), else text."""
    try:
        return json.loads(raw, parse_float=__import__("decimal").Decimal)
    except ValueError:
        return raw


@app.command("call")
def call(
    function: str,
    params: Annotated[list[str] | None, typer.Argument(help="p_name=value ...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="compact JSON output")] = False,
) -> None:
    """Call an API function through the client and print its envelope (exit 1 on failure)."""
    from campaigndb.client import Client
    from campaigndb.pool import json_dumps

    kwargs: dict[str, Any] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected p_name=value, got {item!r}")
        kwargs[key if key.startswith("p_") else f"p_{key}"] = _parse_value(value)
    with Client(pool_min_size=0, pool_max_size=1) as client:
        envelope = client.call(function, **kwargs)
    print(json_dumps(envelope) if as_json else json.dumps(
        json.loads(json_dumps(envelope)), indent=2))
    if not envelope.get("success"):
        raise typer.Exit(1)


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Database and client health as a table; exit 0 healthy, 1 degraded, 2 unhealthy,
    3 critical (for monitoring scripts)."""
    from rich.table import Table

    from campaigndb.client import Client
    from campaigndb.health import HealthMonitor, HealthStatus

    try:
        with Client(pool_min_size=1, pool_max_size=2, retry_attempts=1) as client:
            report = HealthMonitor(client).check()
    except Exception as exc:  # noqa: BLE001 - no database at all is the worst health
        console.print(f"[red]CRITICAL[/red]: {exc}")
        raise typer.Exit(int(HealthStatus.CRITICAL)) from exc
    if as_json:
        print(json.dumps({"status": report.status.name,
                          "checks": [{"name": c.name, "value": c.value, "status": c.status.name,
                                      "recommendation": c.recommendation}
                                     for c in report.checks]}, default=str))
    else:
        table = Table(title=f"campaigndb health: {report.status.name}")
        for column in ("check", "value", "status", "recommendation"):
            table.add_column(column)
        for check in report.checks:
            value = "-" if check.value is None else f"{check.value:.4g}"
            table.add_row(check.name, value, check.status.name, check.recommendation or "")
        console.print(table)
    raise typer.Exit(int(report.status))


# -- demo / bench ---------------------------------------------------------------
@app.command("demo")
def demo() -> None:
    """Deploy to the configured (or embedded) database and run a demonstration workload."""
    from campaigndb.demo import run_demo

    run_demo(console)


@app.command("bench")
def bench(quick: Annotated[bool, typer.Option(help="fewer repeats")] = False) -> None:
    """Run the benchmark harness and rewrite BENCHMARKS.md."""
    root = project_root()
    command = [sys.executable, str(root / "benchmarks" / "bench.py")]
    command += ["--quick"] if quick else []
    raise typer.Exit(subprocess.call(command, cwd=root))


# -- dev ------------------------------------------------------------------------
@dev_app.command("freeze")
def dev_freeze(
    revision: str,
    files: Annotated[list[str] | None, typer.Argument(help="manifest files (default: all)")] = None,
) -> None:
    """Write migrations/frozen/REVISION/upgrade.sql from the declared sources."""
    from campaigndb.migration_support import freeze, sha256_of

    path = freeze(revision, files)
    print(f"{path}\nsha256 {sha256_of(path)}")


@dev_app.command("declared-sql")
def dev_declared_sql(output: Annotated[Path | None, typer.Option()] = None) -> None:
    """Print (or write) the whole declared schema, in manifest order."""
    from campaigndb.migration_support import declared_sql

    text = declared_sql()
    if output:
        output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":  # pragma: no cover
    app()
