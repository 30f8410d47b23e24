"""The seeds' load test through PgBouncer: 1,000 concurrent campaign launches, 1,000 client
connections, 5 server connections.

PgBouncer (transaction pooling) multiplexes the client's 1,000 connections onto a server
pool of five; the client is configured for it (CAMPAIGNDB_PGBOUNCER: no session state, so no
hot-row advisory lock: once a workflow's row is found busy, 55P03 from FOR UPDATE NOWAIT, the
process's launches on it take turns in the client, and the busy attempts are retried).
Every launch must succeed and the counters must add up exactly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from campaigndb import AsyncClient, Client
from campaigndb.core.statements import HOT_ROW_LOCK_NAMESPACE
from campaigndb_dev.pgbouncer import PgBouncer
from campaigndb_dev.testing import WORKFLOW_COUNTS_SQL

pytestmark = pytest.mark.concurrency

LAUNCHES = 1_000
SERVER_POOL = 5
WORKFLOWS = 3


@pytest.fixture(scope="module")
def small_bouncer(direct_dsn: str) -> Iterator[PgBouncer]:
    """A PgBouncer of this module's own: 5 server connections, room for 1,000 clients."""
    with PgBouncer.in_front_of(direct_dsn, pool_size=SERVER_POOL,
                               max_client_conn=LAUNCHES + 50) as bouncer:
        yield bouncer


class RetryLog(logging.Handler):
    """The client's retry log lines: the highest attempt number any one call reached."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.highest_attempt = 0

    def emit(self, record: logging.LogRecord) -> None:
        attempt = getattr(record, "attempt", None)
        if isinstance(attempt, int):
            self.highest_attempt = max(self.highest_attempt, attempt)


class ServerWatch:
    """Samples pg_stat_activity (directly on the server) while the load runs: the most
    backends connected to the database at once, and any hot-row advisory lock seen."""

    def __init__(self, direct_dsn: str) -> None:
        self._dsn = direct_dsn
        self._stop = threading.Event()
        self.peak_backends = 0
        self.advisory_locks_seen = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM pg_stat_activity"
                    "        WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    "          AND backend_type = 'client backend'"
                    # Citus's own connections (recovery, deadlock detection) are no clients
                    "          AND application_name NOT LIKE 'citus\\_%%'),"
                    "       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    "          AND classid = %s::oid)",
                    [HOT_ROW_LOCK_NAMESPACE]).fetchone()
                assert row is not None
                self.peak_backends = max(self.peak_backends, int(row[0]))
                self.advisory_locks_seen += int(row[1])
                self.samples += 1
                time.sleep(0.01)

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


async def _launch_all(url: str, workspace: uuid.UUID, flows: list[uuid.UUID]
                      ) -> tuple[list[Any], list[BaseException], int, float]:
    # One client connection per launch (1,000 PgBouncer clients on 5 server connections),
    # the client's default retry policy.  Behind PgBouncer no session advisory lock can
    # queue the callers of a hot workflow: once a workflow's row is found locked (55P03),
    # this process's launches on it take turns in the client (HotRows.turn) instead.
    async with AsyncClient(url, pgbouncer=True, pool_min_size=LAUNCHES,
                           pool_max_size=LAUNCHES, pool_timeout_s=120) as db:
        start = asyncio.Event()

        async def launch(n: int) -> Any:
            await start.wait()  # all 1,000 are in flight at once
            return await db.execute_campaign_atomically(
                workspace, flows[n % len(flows)], uuid.uuid4(), f"load {n}", "email")

        tasks = [asyncio.create_task(launch(n)) for n in range(LAUNCHES)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        start.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        retries = db.stats.total_retries()
    results = [o for o in outcomes if not isinstance(o, BaseException)]
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return results, failures, retries, elapsed


def test_thousand_launches_through_pgbouncer_all_succeed_and_add_up(
    direct_dsn: str, small_bouncer: PgBouncer
) -> None:
    url = small_bouncer.route(direct_dsn)
    with Client(url, pgbouncer=True, pool_min_size=1, pool_max_size=2) as setup:
        workspace = setup.create_workspace("pgbouncer load").workspace_id
        flows = [setup.register_n8n_workflow(workspace, f"load-{i}", f"Load {i}", "email")
                 .workflow_id for i in range(WORKFLOWS)]
    before = {row["database"]: row for row in small_bouncer.show("STATS")}
    database = conninfo_to_dict(direct_dsn)["dbname"]

    retry_log = RetryLog()
    logger = logging.getLogger("campaigndb")
    level = logger.level
    logger.addHandler(retry_log)
    logger.setLevel(logging.INFO)
    try:
        with ServerWatch(direct_dsn) as watch:
            results, failures, retries, elapsed = asyncio.run(
                _launch_all(url, workspace, flows))
    finally:
        logger.removeHandler(retry_log)
        logger.setLevel(level)

    assert failures == [], failures[:3]
    ids = [r.execution_id for r in results]
    assert len(ids) == len(set(ids)) == LAUNCHES
    assert all(r.replayed is False for r in results)

    with psycopg.connect(direct_dsn, autocommit=True) as raw:
        rows = raw.execute(
            WORKFLOW_COUNTS_SQL, [flows]).fetchall()
        stored = raw.execute(
            "SELECT count(*), count(*) FILTER (WHERE id = ANY(%s::uuid[]))"
            " FROM campaigndb.n8n_campaign_executions WHERE workspace_id = %s",
            [ids, workspace]).fetchone()
    # total_executions = count of executions = audit rows = successful calls, exactly
    assert sum(r[1] for r in rows) == LAUNCHES
    for _, total, executions, audits, numbers in rows:
        assert total == executions == audits == numbers  # 1..n, each number once
    assert stored == (LAUNCHES, LAUNCHES)

    # It really went through PgBouncer, on its small server pool, with no session lock.
    after = {row["database"]: row for row in small_bouncer.show("STATS")}
    transactions = after[database]["total_xact_count"] - (
        before[database]["total_xact_count"] if database in before else 0)
    assert transactions >= LAUNCHES + retries
    assert after[database]["total_wait_time"] > 0  # clients queued for a server connection
    assert watch.samples > 0 and 1 <= watch.peak_backends <= SERVER_POOL
    assert watch.advisory_locks_seen == 0
    servers = [s for s in small_bouncer.show("SERVERS") if s["database"] == database]
    assert 1 <= len(servers) <= SERVER_POOL
    print(f"\n{LAUNCHES} launches through PgBouncer ({SERVER_POOL} server connections) in "
          f"{elapsed:.2f} s: "
          f"{retries} retries, at most {retry_log.highest_attempt + 1} attempts for one call, "
          f"peak {watch.peak_backends} backends")
