"""The sync connection pool (psycopg_pool), configured as campaigndb.core.connection says,
and its checkout (`checkout`): fail fast with the cause when the server went away."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

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


def probe(dsn: str, settings: Settings, *, after_open: bool = False) -> None:
    """One direct connection: a server that cannot be reached fails now, within
    connect_timeout and with the server's message (ConnectFailed), instead of as a pool
    timeout after the pool's workers retried it in the background.  Before the pool starts
    (the DSN is checked) and, `after_open`, when a checkout waited while the pool's own
    connection attempts failed (then the answer is retryable: docs/client.md)."""
    try:
        psycopg.connect(dsn, **connection_kwargs(settings)).close()
    except psycopg.Error as exc:
        if transient_at_startup(exc):
            return
        raise ConnectFailed(connect_failed_envelope(exc, pgbouncer=settings.pgbouncer,
                                                    after_open=after_open),
                            "connect") from exc


class _Watched(psycopg.Connection[Any]):
    """The pool's connection class: tells the pool's ConnectWatch how each attempt went."""

    connect_watch: ConnectWatch

    @classmethod
    def connect(cls, *args: Any, **kwargs: Any) -> Self:
        try:
            conn = super().connect(*args, **kwargs)
        except psycopg.Error as exc:
            cls.connect_watch.failed(exc)
            raise
        cls.connect_watch.succeeded()
        return conn


def make_pool(dsn: str, settings: Settings, *, name: str = "campaigndb") -> ConnectionPool:
    probe(dsn, settings)
    connect_watch = ConnectWatch()
    watched = type("WatchedConnection", (_Watched,), {"connect_watch": connect_watch})
    pool: ConnectionPool = ConnectionPool(
        dsn, **pool_options(settings), configure=configure_connection, name=name,
        connection_class=watched, open=True)
    watch(pool, connect_watch)
    return pool


@contextlib.contextmanager
def checkout(pool: ConnectionPool, dsn: str, settings: Settings
             ) -> Iterator[psycopg.Connection[Any]]:
    """`pool.connection()`, except while the pool's own connection attempts fail (the
    server went away after the client opened): then wait at most connect_timeout, ask the
    server directly, and raise ConnectFailed with its answer (08001 retryable, the
    server's message) instead of waiting out the pool timeout; a server that accepts the
    direct connection again leaves the rest of the pool timeout to the pool."""
    connect_watch = watch_of(pool)
    if connect_watch is None or connect_watch.last_error is None:
        with pool.connection() as conn:
            yield conn
        return
    first = first_wait_s(settings)
    got = False
    try:
        with pool.connection(timeout=first) as conn:
            got = True
            yield conn
        return
    except PoolTimeout:
        if got:
            raise
        probe(dsn, settings, after_open=True)
    with pool.connection(timeout=max(0.001, settings.pool_timeout_s - first)) as conn:
        yield conn
