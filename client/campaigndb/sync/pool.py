"""The sync connection pool (psycopg_pool), configured as campaigndb.core.connection says."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from campaigndb.core.connection import configure_connection, pool_options, reset_connection
from campaigndb.settings import Settings


def make_pool(dsn: str, settings: Settings, *, name: str = "campaigndb") -> ConnectionPool:
    return ConnectionPool(dsn, **pool_options(settings), configure=configure_connection,
                          reset=None if settings.pgbouncer else reset_connection,
                          name=name, open=True)
