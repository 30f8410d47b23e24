"""The sync connection pool (psycopg_pool), configured as campaigndb.core.connection says."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from campaigndb.core.connection import (
    configure_connection,
    connection_kwargs,
    pool_options,
)
from campaigndb.core.errors import connect_failed_envelope, transient_at_startup
from campaigndb.core.exceptions import ConnectFailed
from campaigndb.settings import Settings


def probe(dsn: str, settings: Settings) -> None:
    """One direct connection before the pool starts: a DSN that cannot connect fails now,
    within connect_timeout and with the server's message, instead of as a pool timeout
    after the pool's workers retried it in the background."""
    try:
        psycopg.connect(dsn, **connection_kwargs(settings)).close()
    except psycopg.Error as exc:
        if transient_at_startup(exc):
            return
        raise ConnectFailed(connect_failed_envelope(exc, pgbouncer=settings.pgbouncer),
                            "connect") from exc


def make_pool(dsn: str, settings: Settings, *, name: str = "campaigndb") -> ConnectionPool:
    probe(dsn, settings)
    return ConnectionPool(dsn, **pool_options(settings), configure=configure_connection,
                          name=name, open=True)
