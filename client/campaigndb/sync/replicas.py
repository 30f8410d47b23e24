"""Sync replica pools: one small pool per replica DSN, chosen by core.routing.Router."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import psycopg_pool

from campaigndb.core.declare import FunctionSpec
from campaigndb.core.routing import REPLAY_CAUGHT_UP, REPLICA_STATE, Replica, Router
from campaigndb.settings import Settings
from campaigndb.sync.pool import make_pool


class ReplicaSet:
    def __init__(self, router: Router, settings: Settings) -> None:
        self.router = router
        self._pools: dict[str, psycopg_pool.ConnectionPool] = {}
        self._settings = settings

    def _pool(self, replica: Replica) -> psycopg_pool.ConnectionPool:
        pool = self._pools.get(replica.dsn)
        if pool is None:
            pool = self._pools[replica.dsn] = make_pool(
                replica.dsn, self._settings, name=f"campaigndb-replica-{len(self._pools)}")
        return pool

    @contextmanager
    def connection(self, spec: FunctionSpec) -> Iterator[psycopg.Connection[Any] | None]:
        """A replica connection fit for this read, or None: read from the primary."""
        for _ in range(len(self.router.replicas)):
            replica = self.router.pick(spec)
            if replica is None:
                break
            with ExitStack() as stack:
                try:
                    conn = stack.enter_context(self._pool(replica).connection(
                        timeout=self._settings.connect_timeout_s))
                    ready = self._ready(conn, replica)
                except (psycopg.OperationalError, psycopg_pool.PoolTimeout):
                    self.router.failed(replica)
                    continue
                if ready:
                    yield conn
                    return
        yield None

    def _ready(self, conn: psycopg.Connection[Any], replica: Replica) -> bool:
        """Still a standby, within the lag bound, and (after a write) caught up to it."""
        lsn = self.router.last_write_lsn
        give_up = time.monotonic() + self.router.wait_s
        while True:
            if lsn is None:
                row = conn.execute(REPLICA_STATE).fetchone()
                assert row is not None
                return self.router.observed(replica, in_recovery=row[0], lag_s=row[1])
            row = conn.execute(REPLAY_CAUGHT_UP, (lsn,)).fetchone()
            assert row is not None
            if not self.router.observed(replica, in_recovery=row[0], lag_s=row[2]):
                return False
            if row[1]:
                return True
            if time.monotonic() >= give_up:
                return False
            time.sleep(self.router.poll_s)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
