"""The client behind PgBouncer in transaction pooling mode (CAMPAIGNDB_PGBOUNCER=1): no
session state reaches a server connection, timeouts hold per transaction, and the suite
really goes where its pass says (runs in both passes, on a PgBouncer of its own if needed).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from campaigndb import AsyncClient, CampaignDBError, Client, Isolation, Settings
from campaigndb.core.connection import connection_kwargs
from campaigndb.core.hotrows import hot_row_key as _hot_row_key
from campaigndb.core.statements import HOT_ROW_LOCK_NAMESPACE
from campaigndb_dev.pgbouncer import PgBouncer

SERVER_POOL = 5  # the session PgBouncer's pool size (conftest)


def test_a_client_not_configured_for_pgbouncer_is_refused(bounced_dsn: str) -> None:
    """A direct client's session statement_timeout travels as the startup `options`
    parameter, which PgBouncer refuses; configured for PgBouncer, the client sends none."""
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(bounced_dsn, **connection_kwargs(Settings(pgbouncer=False)))
    with psycopg.connect(bounced_dsn, **connection_kwargs(Settings(pgbouncer=True))) as conn:
        assert conn.prepare_threshold is None  # PgBouncer cannot keep prepared statements
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _server_sessions(url: str) -> list[tuple[Any, ...]]:
    """Every server connection of the pool at once: SERVER_POOL transactions held open
    together through PgBouncer, each reporting its backend's session settings."""
    barrier = threading.Barrier(SERVER_POOL, timeout=20)
    seen: list[tuple[Any, ...]] = []
    errors: list[BaseException] = []

    def look() -> None:
        try:
            with psycopg.connect(url, prepare_threshold=None) as conn:
                row = conn.execute(
                    "SELECT pg_backend_pid(), current_setting('statement_timeout')"
                    " || ' ' || current_setting('default_transaction_isolation')"
                    " || ' ' || current_setting('default_transaction_read_only'),"
                    " coalesce(current_setting('campaigndb.workspace_id', true), ''),"
                    " current_user, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    "  AND pid = pg_backend_pid())").fetchone()
                assert row is not None
                seen.append(row)
                barrier.wait()  # hold this server connection until all are held
                conn.rollback()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=look) for _ in range(SERVER_POOL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return seen


def test_no_session_state_reaches_a_server_connection(
    bounced_dsn: str, direct_dsn: str, workspace: uuid.UUID,
) -> None:
    """Bound calls with a statement timeout and hot-row queueing asked for ("always"), six
    threads at once, then a read-only SERIALIZABLE run_transaction: no call waits for the
    hot-row advisory lock (held elsewhere all along: a call that asked for it would time
    out, attempt after attempt), and afterwards every server connection of the pool still
    has the server's defaults (no timeout, isolation or read-only state, no workspace
    binding, no role, no advisory lock)."""
    threads = 6
    with psycopg.connect(direct_dsn, autocommit=True) as holder, \
            Client(bounced_dsn, pgbouncer=True, hot_row_lock="always", statement_timeout_ms=1234,
                   pool_min_size=0, pool_max_size=threads) as db:
        campaigns = [db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": f"bounced {n}"}, ["10001"]).campaign_id
            for n in range(threads)]
        for campaign in campaigns:
            holder.execute("SELECT pg_advisory_lock(%s, %s)",
                           [HOT_ROW_LOCK_NAMESPACE, _hot_row_key(campaign)])
        bound = db.bound(workspace)

        def spend(campaign: uuid.UUID) -> None:
            for _ in range(5):
                bound.track_campaign_cost(campaign, "gmaps", 1, "0.01")

        workers = [threading.Thread(target=spend, args=(c,)) for c in campaigns]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        # and a bound read-only SERIALIZABLE transaction with a timeout of its own
        seen = bound.run_transaction(
            lambda tx: tx.execute("SELECT current_setting('transaction_isolation'),"
                                  " current_setting('transaction_read_only'),"
                                  " current_setting('statement_timeout')").fetchone(),
            isolation=Isolation.SERIALIZABLE, read_only=True, statement_timeout_ms=4321)
        assert seen == ("serializable", "on", "4321ms")
        assert db.stats.failures == {}
        assert db.stats.calls["track_campaign_cost"] == threads * 5
        assert db.stats.retries.get("track_campaign_cost", 0) == 0
    sessions = _server_sessions(bounced_dsn)
    assert len({s[0] for s in sessions}) == SERVER_POOL  # all of the pool's connections
    for _, timeout, bound_to, user, advisory in sessions:
        assert (timeout, bound_to, user, advisory) == (
            "0 read committed off", "", "postgres", 0)


def test_statement_timeout_bounds_each_call(bounced_dsn: str, direct_dsn: str,
                                            campaign: uuid.UUID) -> None:
    """The timeout is set per transaction (SET LOCAL): a call waiting for a row lock is
    cancelled after statement_timeout_ms, and answers 57014."""
    with psycopg.connect(direct_dsn) as holder, \
            Client(bounced_dsn, pgbouncer=True, statement_timeout_ms=200, retry_attempts=1,
                   pool_min_size=0, pool_max_size=1) as db:
        holder.execute("SELECT 1 FROM campaigndb.campaigns WHERE id = %s FOR UPDATE",
                       [campaign])
        started = time.monotonic()
        envelope = db.call("track_campaign_cost", p_campaign_id=str(campaign),
                           p_service="gmaps", p_items_processed=1, p_cost_usd="0.5",
                           p_metadata={})
        elapsed = time.monotonic() - started
        holder.rollback()
    assert envelope["success"] is False and envelope["error_code"] == "57014", envelope
    assert 0.15 < elapsed < 3


def test_run_transaction_statement_timeout_defaults_to_the_setting(bounced_dsn: str) -> None:
    """Behind PgBouncer the connection has no session timeout: run_transaction applies the
    configured statement_timeout_ms to each statement itself."""
    with Client(bounced_dsn, pgbouncer=True, statement_timeout_ms=200,
                pool_min_size=0, pool_max_size=1) as db:
        started = time.monotonic()
        with pytest.raises(CampaignDBError) as info:
            db.run_transaction(lambda tx: tx.execute("SELECT pg_sleep(3)"), attempts=1)
        assert info.value.sqlstate == "57014"
        assert time.monotonic() - started < 2.5


def test_async_run_transaction_statement_timeout_defaults_to_the_setting(
        bounced_dsn: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(bounced_dsn, pgbouncer=True, statement_timeout_ms=200,
                               pool_min_size=0, pool_max_size=1) as db:
            started = time.monotonic()
            with pytest.raises(CampaignDBError) as info:
                await db.run_transaction(lambda tx: tx.execute("SELECT pg_sleep(3)"),
                                         attempts=1)
            assert info.value.sqlstate == "57014"
            assert time.monotonic() - started < 2.5

    asyncio.run(scenario())


def test_the_suite_goes_where_its_pass_says(
    client: Client, suite_pgbouncer: PgBouncer | None, direct_dsn: str,
) -> None:
    """In the PgBouncer pass the module's client is PgBouncer's client, configured for it;
    otherwise it talks to the server directly."""
    with client.pool.connection() as conn:
        port = conn.info.port
    direct_port = int(conninfo_to_dict(direct_dsn)["port"] or 0)
    if suite_pgbouncer is None:
        assert port == direct_port and client.settings.pgbouncer is False
        return
    assert port == suite_pgbouncer.port != direct_port
    assert client.settings.pgbouncer is True and Settings().pgbouncer is True
    database = conninfo_to_dict(direct_dsn)["dbname"]
    stats = {row["database"]: row for row in suite_pgbouncer.show("STATS")}
    assert stats[database]["total_xact_count"] > 0
