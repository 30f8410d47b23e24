"""The asyncio connection pool, configured like the sync one; open it with `await
pool.open()`."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from campaigndb.core.connection import (
    configure_connection,
    connection_kwargs,
    pool_options,
)
from campaigndb.core.errors import connect_failed_envelope, transient_at_startup
from campaigndb.core.exceptions import ConnectFailed
from campaigndb.settings import Settings


async def configure_async_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    configure_connection(conn)


def make_async_pool(dsn: str, settings: Settings, *,
                    name: str = "campaigndb-async") -> AsyncConnectionPool:
    return AsyncConnectionPool(dsn, **pool_options(settings),
                               configure=configure_async_connection,
                               name=name, open=False)


async def probe_async(dsn: str, settings: Settings) -> None:
    """The async twin of campaigndb.sync.pool.probe (fail fast with the cause)."""
    try:
        await (await psycopg.AsyncConnection.connect(dsn, **connection_kwargs(settings))).close()
    except psycopg.Error as exc:
        if transient_at_startup(exc):
            return
        raise ConnectFailed(connect_failed_envelope(exc, pgbouncer=settings.pgbouncer),
                            "connect") from exc
