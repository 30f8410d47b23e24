"""The asyncio connection pool, configured like the sync one; open it with `await
pool.open()`.  `checkout` fails fast with the cause as the sync one does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Self

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from campaigndb.core.connection import (
    ConnectWatch,
    configure_connection,
    connection_kwargs,
    first_wait_s,
    pool_options,
    watch,
    watch_of,
)
from campaigndb.core.errors import connect_failed_envelope, transient_at_startup
from campaigndb.core.exceptions import ConnectFailed
from campaigndb.settings import Settings


async def configure_async_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    configure_connection(conn)


class _Watched(psycopg.AsyncConnection[Any]):
    """The pool's connection class: tells the pool's ConnectWatch how each attempt went."""

    connect_watch: ConnectWatch

    @classmethod
    async def connect(cls, *args: Any, **kwargs: Any) -> Self:
        try:
            conn = await super().connect(*args, **kwargs)
        except psycopg.Error as exc:
            cls.connect_watch.failed(exc)
            raise
        cls.connect_watch.succeeded()
        return conn


def make_async_pool(dsn: str, settings: Settings, *,
                    name: str = "campaigndb-async") -> AsyncConnectionPool:
    connect_watch = ConnectWatch()
    watched = type("WatchedAsyncConnection", (_Watched,), {"connect_watch": connect_watch})
    pool: AsyncConnectionPool = AsyncConnectionPool(
        dsn, **pool_options(settings), configure=configure_async_connection, name=name,
        connection_class=watched, open=False)
    watch(pool, connect_watch)
    return pool


async def probe_async(dsn: str, settings: Settings, *, after_open: bool = False) -> None:
    """The async twin of campaigndb.sync.pool.probe (fail fast with the cause)."""
    try:
        await (await psycopg.AsyncConnection.connect(dsn, **connection_kwargs(settings))).close()
    except psycopg.Error as exc:
        if transient_at_startup(exc):
            return
        raise ConnectFailed(connect_failed_envelope(exc, pgbouncer=settings.pgbouncer,
                                                    after_open=after_open),
                            "connect") from exc


@contextlib.asynccontextmanager
async def checkout(pool: AsyncConnectionPool, dsn: str, settings: Settings
                   ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The async twin of campaigndb.sync.pool.checkout."""
    connect_watch = watch_of(pool)
    if connect_watch is None or connect_watch.last_error is None:
        async with pool.connection() as conn:
            yield conn
        return
    first = first_wait_s(settings)
    got = False
    try:
        async with pool.connection(timeout=first) as conn:
            got = True
            yield conn
        return
    except PoolTimeout:
        if got:
            raise
        await probe_async(dsn, settings, after_open=True)
    async with pool.connection(timeout=max(0.001, settings.pool_timeout_s - first)) as conn:
        yield conn
