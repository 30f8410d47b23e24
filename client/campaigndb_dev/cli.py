"""The `campaigndb` command line (typer).  Exit codes (docs/client.md#command-line): 0 done,
1 the call answered success:false (or the command failed), 2 usage error, 3 no such cluster
or not running, 4 cannot connect to the database."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from campaigndb_dev.embedded import EmbeddedError, EmbeddedServer, dev_dsn, project_root
from campaigndb_dev.exits import run_main
from campaigndb_dev.migrate_cli import migrate_app
from campaigndb_dev.token_cli import token_app

app = typer.Typer(help="campaigndb: atomic campaign functions for PostgreSQL", no_args_is_help=True)
db_app = typer.Typer(help="The embedded local PostgreSQL (used when no DSN is set)",
                     no_args_is_help=True)
dev_app = typer.Typer(help="Developer tools", no_args_is_help=True)
kpi_app = typer.Typer(help="Daily KPI rows and monthly summaries", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(kpi_app, name="kpi")
app.add_typer(token_app, name="token")
app.add_typer(migrate_app, name="migrate")
app.add_typer(dev_app, name="dev")
console = Console()


def main(argv: list[str] | None = None) -> int:
    """The console script: the exit codes of docs/client.md, errors on one line."""
    return run_main(app, argv)


def _version(value: bool) -> None:
    if value:
        from campaigndb import __version__

        print(f"campaigndb {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="log to stderr (-v INFO, -vv DEBUG)")] = 0,
) -> None:
    """campaigndb: atomic campaign functions for PostgreSQL"""
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            stream=sys.stderr,
                            format="%(asctime)s %(levelname)s [%(name)s] %(message)s")


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
    """Stop the embedded server (exit 3 when there is none of that name)."""
    try:
        EmbeddedServer(name).down(destroy=destroy)
    except EmbeddedError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(3 if not EmbeddedServer(name).exists() else 1) from exc
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


# -- call -----------------------------------------------------------------------
def _parse_value(raw: str) -> Any:
    """key=value: JSON when it parses as JSON (objects, arrays, numbers), else text."""
    try:
        return json.loads(raw, parse_float=__import__("decimal").Decimal)
    except ValueError:
        return raw


def _print_envelope(envelope: Any, as_json: bool) -> None:
    from campaigndb.core.connection import json_dumps

    print(json_dumps(envelope) if as_json else json.dumps(
        json.loads(json_dumps(envelope)), indent=2))


@app.command("call")
def call(
    function: str,
    params: Annotated[list[str] | None, typer.Argument(help="p_name=value ...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="compact JSON output")] = False,
) -> None:
    """Call an API function through the client and print its envelope (exit 1 on failure)."""
    from campaigndb import FUNCTIONS, Client
    from campaigndb.core.calls import check

    kwargs: dict[str, Any] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected p_name=value, got {item!r}")
        kwargs[key if key.startswith("p_") else f"p_{key}"] = _parse_value(value)
    try:  # an unknown function or parameter is a usage error, found before connecting
        check(FUNCTIONS, function, kwargs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with Client(dev_dsn(), pool_min_size=0, pool_max_size=1) as client:
        envelope = client.call(function, **kwargs)
    _print_envelope(envelope, as_json)
    if not envelope.get("success"):
        raise typer.Exit(1)


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Database and client health as a table; exit 0 healthy, 1 degraded, 2 unhealthy,
    3 critical (for monitoring scripts)."""
    from rich.table import Table

    from campaigndb import Client, HealthMonitor, HealthStatus

    try:
        with Client(dev_dsn(), pool_min_size=1, pool_max_size=2, retry_attempts=1) as client:
            # the pool's first connection ready before the check: one still being opened
            # would count as in use and grade this one-shot pool as exhausted
            client.pool.wait()
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


# -- kpi ------------------------------------------------------------------------
@kpi_app.command("upsert")
def kpi_upsert(
    file: Annotated[Path, typer.Argument(help="a .json (array of rows) or .csv file")],
    source: Annotated[str | None, typer.Option(help="who collected the rows "
                                                    "(default: the file's name)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000,
                                            help="rows per call (each call is atomic)")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="compact JSON output")] = False,
) -> None:
    """Upsert daily KPI rows from FILE with upsert_daily_kpi_batch and print each envelope.

    A file of at most --batch-size rows is one call: all rows and their collection_log row
    are saved, or none.  A longer file goes in batches, each atomic on its own; the command
    stops at the first failed batch (the batches before it stay saved; running the file
    again is safe, since rows are upserted).  Exit 1 on a failure.
    """
    from rich.progress import Progress

    from campaigndb import Client
    from campaigndb_dev.kpi_files import KpiFileError, batches, read_kpi_file

    try:
        rows = read_kpi_file(file)
    except KpiFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    parts = list(batches(rows, batch_size)) or [(0, rows)]
    failed = False
    with Client(dev_dsn(), pool_min_size=0, pool_max_size=1) as client, \
            Progress(console=Console(stderr=True), transient=True,
                     disable=len(parts) == 1) as progress:
        task = progress.add_task(f"upserting {len(rows):,} rows", total=len(rows))
        for offset, part in parts:
            envelope = client.call("upsert_daily_kpi_batch", p_rows=list(part),
                                   p_source=source or file.name)
            if not envelope.get("success") and len(parts) > 1:
                envelope = {**envelope, "batch_first_row": offset}
            _print_envelope(envelope, as_json)
            if not envelope.get("success"):
                failed = True
                break
            progress.advance(task, len(part))
    if failed:
        if len(parts) > 1:
            console.print(f"[red]stopped at the batch from row {offset}: rows before it are "
                          "saved; p_rows[i] in the message is row "
                          f"{offset} + i of the file[/red]")
        raise typer.Exit(1)


def _month(value: str) -> date:
    from datetime import datetime

    for fmt in ("%Y-%m", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date().replace(day=1)
        except ValueError:
            continue
    raise typer.BadParameter(f"expected YYYY-MM, got {value!r}")


@kpi_app.command("aggregate")
def kpi_aggregate(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    campaign: Annotated[str | None, typer.Option(help="only this campaign's summary")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="compact JSON output")] = False,
) -> None:
    """Replace a month's campaign_summaries with aggregate_monthly_kpis (all or nothing) and
    print the envelope; exit 1 on a failure."""
    from campaigndb import Client

    first_day = _month(month)
    with Client(dev_dsn(), pool_min_size=0, pool_max_size=1) as client:
        envelope = client.call("aggregate_monthly_kpis", p_month=first_day,
                               p_campaign_id=campaign)
    _print_envelope(envelope, as_json)
    if not envelope.get("success"):
        raise typer.Exit(1)


# -- demo / bench ---------------------------------------------------------------
@app.command("demo")
def demo() -> None:
    """Deploy to the configured (or embedded) database and run a demonstration workload."""
    from campaigndb_dev.demo import run_demo

    try:
        run_demo(console)
    except EmbeddedError as exc:  # no server binaries, or a cluster that will not start
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from exc


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
    """Write client/campaigndb/migrations/frozen/REVISION/upgrade.sql from the declared
    sources."""
    from campaigndb.migration_support import sha256_of
    from campaigndb_dev.freeze import freeze

    path = freeze(revision, files)
    print(f"{path}\nsha256 {sha256_of(path)}")


@dev_app.command("declared-sql")
def dev_declared_sql(output: Annotated[Path | None, typer.Option()] = None) -> None:
    """Print (or write) the whole declared schema, in manifest order."""
    from campaigndb_dev.freeze import declared_sql

    text = declared_sql()
    if output:
        output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":  # pragma: no cover
    app()
