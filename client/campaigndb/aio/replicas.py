"""Async replica pools: the twin of campaigndb.sync.replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
import psycopg_pool

from campaigndb.aio.pool import make_async_pool
from campaigndb.core.declare import FunctionSpec
from campaigndb.core.routing import REPLAY_CAUGHT_UP, REPLICA_STATE, Replica, Router
from campaigndb.settings import Settings


class AsyncReplicaSet:
    def __init__(self, router: Router, settings: Settings) -> None:
        self.router = router
        self._pools: dict[str, psycopg_pool.AsyncConnectionPool] = {}
        self._settings = settings

    async def _pool(self, replica: Replica) -> psycopg_pool.AsyncConnectionPool:
        pool = self._pools.get(replica.dsn)
        if pool is None:
            pool = self._pools[replica.dsn] = make_async_pool(
                replica.dsn, self._settings, name=f"campaigndb-replica-{len(self._pools)}")
            await pool.open()
        return pool

    @asynccontextmanager
    async def connection(
            self, spec: FunctionSpec) -> AsyncIterator[psycopg.AsyncConnection[Any] | None]:
        """A replica connection fit for this read, or None: read from the primary."""
        for _ in range(len(self.router.replicas)):
            replica = self.router.pick(spec)
            if replica is None:
                break
            async with AsyncExitStack() as stack:
                try:
                    pool = await self._pool(replica)
                    conn = await stack.enter_async_context(pool.connection(
                        timeout=self._settings.connect_timeout_s))
                    ready = await self._ready(conn, replica)
                except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
                    self.router.failed(replica)
                    continue
                if ready:
                    yield conn
                    return
        yield None

    async def _ready(self, conn: psycopg.AsyncConnection[Any], replica: Replica) -> bool:
        lsn = self.router.last_write_lsn
        give_up = time.monotonic() + self.router.wait_s
        while True:
            if lsn is None:
                row = await (await conn.execute(REPLICA_STATE)).fetchone()
                assert row is not None
                return self.router.observed(replica, in_recovery=row[0], lag_s=row[1])
            row = await (await conn.execute(REPLAY_CAUGHT_UP, (lsn,))).fetchone()
            assert row is not None
            if not self.router.observed(replica, in_recovery=row[0], lag_s=row[2]):
                return False
            if row[1]:
                return True
            if time.monotonic() >= give_up:
                return False
            await asyncio.sleep(self.router.poll_s)

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
