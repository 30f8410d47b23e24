"""`campaigndb migrate ...`: alembic with the migrations of the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from campaigndb.migrations import alembic_ini
from campaigndb_dev.embedded import dev_dsn
from campaigndb_dev.exits import CANNOT_CONNECT

migrate_app = typer.Typer(help="Deploy the schema (wraps alembic)", no_args_is_help=True)
# REV may start with "-" (alembic's relative `-1`): the arguments are not parsed as options
REVISION_ARGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def _alembic(*args: str, online: bool = True) -> None:
    """alembic with the migrations of the installed package (never a folder found from the
    working directory), against the configured (or embedded) database."""
    env = os.environ.copy()
    if online:
        import psycopg

        dsn = dev_dsn()
        try:
            psycopg.connect(dsn, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            print(f"campaigndb: cannot connect to the database: {' '.join(str(exc).split())}",
                  file=sys.stderr)
            raise typer.Exit(CANNOT_CONNECT) from exc
        env["CAMPAIGNDB_DSN"] = dsn
    command = [sys.executable, "-m", "alembic", "-c", str(alembic_ini()), *args]
    raise typer.Exit(subprocess.call(command, env=env))


RevisionArg = Annotated[str, typer.Argument(
    metavar="REV", help="head, base, a revision id, or relative: +1, -1, 0001_foundation+2")]


@migrate_app.command("upgrade", context_settings=REVISION_ARGS)
def migrate_upgrade(revision: RevisionArg = "head",
                    sql: Annotated[bool, typer.Option(help="print SQL only")] = False) -> None:
    """alembic upgrade REV (default: head); `--sql` prints the SQL instead."""
    _alembic("upgrade", revision, *(["--sql"] if sql else []), online=not sql)


@migrate_app.command("downgrade", context_settings=REVISION_ARGS)
def migrate_downgrade(revision: RevisionArg,
                      sql: Annotated[bool, typer.Option(help="print SQL only (REV as from:to)")]
                      = False) -> None:
    """alembic downgrade REV (e.g. -1, base, a revision id)."""
    _alembic("downgrade", revision, *(["--sql"] if sql else []), online=not sql)


@migrate_app.command("current")
def migrate_current() -> None:
    """The deployed revision."""
    _alembic("current")


@migrate_app.command("history")
def migrate_history() -> None:
    """The revision history."""
    _alembic("history", online=False)
