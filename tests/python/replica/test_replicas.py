"""Routing, read-your-writes and fallback on a real primary/standby pair (docs/replicas.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from campaigndb import AsyncClient, Client, HealthMonitor, HealthStatus
from campaigndb.core.declare import FUNCTIONS
from campaigndb.core.routing import ReplicaState, WriteToReplica
from campaigndb.settings import Settings
from campaigndb_dev import testing
from campaigndb_dev.embedded import EmbeddedServer
from campaigndb_dev.standby import Standby

pytestmark = pytest.mark.skipif(bool(Settings().dsn),
                                reason="a standby is built of the embedded test cluster only")


@pytest.fixture(scope="module")
def standby(direct_dsn: str) -> Iterator[Standby]:
    server = Standby(EmbeddedServer(testing.test_cluster()))
    server.down(destroy=True) if server.exists() else None
    server.up()
    yield server
    server.down(destroy=True, mode="immediate")


@pytest.fixture()
def replica_dsn(standby: Standby, direct_dsn: str) -> str:
    return testing.dsn_for(str(conninfo_to_dict(direct_dsn)["dbname"]), standby.url())


def _queries(dsn: str, needle: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND query LIKE %s", [f"%{needle}%"]).fetchall()


def _replay(dsn: str, action: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SELECT pg_catalog.pg_wal_replay_{action}()")


def _client(primary: str, replica: str, **extra: Any) -> Client:
    return Client(primary, replica_dsns=replica, application_name="replica-test", **extra)


def test_reads_go_to_the_replica_and_writes_to_the_primary(
        direct_dsn: str, replica_dsn: str) -> None:
    with _client(direct_dsn, replica_dsn) as db:
        assert db.call("get_database_health_metrics")["success"] is True
        assert _queries(replica_dsn, "get_database_health_metrics(")
        assert not _queries(direct_dsn, "get_database_health_metrics(")
        db.create_workspace("replica routing")
        # the write's connection, on the primary, last read the commit LSN
        assert _queries(direct_dsn, "pg_current_wal_insert_lsn")
        assert not _queries(replica_dsn, "create_workspace(")
        assert db.replicas is not None and db.replicas.router.last_write_lsn is not None


def test_read_from_primary_is_honoured(direct_dsn: str, replica_dsn: str) -> None:
    with _client(direct_dsn, replica_dsn) as db:
        db.call("get_database_health_metrics", read_from_primary=True)
        assert _queries(direct_dsn, "get_database_health_metrics(")
        assert not _queries(replica_dsn, "get_database_health_metrics(")


def test_read_after_write_under_lag_falls_back_to_the_primary(
        direct_dsn: str, replica_dsn: str) -> None:
    _replay(replica_dsn, "pause")
    try:
        with _client(direct_dsn, replica_dsn, replica_wait_s=0.05) as db:
            db.create_workspace("written while replay is paused")
            assert db.call("get_database_health_metrics")["success"] is True
            assert _queries(direct_dsn, "get_database_health_metrics(")
            assert not _queries(replica_dsn, "get_database_health_metrics(")
    finally:
        _replay(replica_dsn, "resume")


def test_read_after_write_waits_for_replay_then_uses_the_replica(
        direct_dsn: str, replica_dsn: str) -> None:
    with _client(direct_dsn, replica_dsn, replica_wait_s=30) as db:
        db.create_workspace("replayed soon")
        assert db.call("get_database_health_metrics")["success"] is True
        assert _queries(replica_dsn, "get_database_health_metrics(")


def test_writes_never_reach_a_replica(replica_dsn: str, direct_dsn: str) -> None:
    with _client(direct_dsn, replica_dsn) as db:
        assert db.replicas is not None
        with pytest.raises(WriteToReplica):
            db.replicas.router.pick(FUNCTIONS["create_workspace"])
    # a client whose primary DSN names the standby by mistake: the server refuses, classified
    with Client(replica_dsn) as misconfigured:
        envelope = misconfigured.call("create_workspace", p_name="on a standby")
        assert envelope["success"] is False
        assert envelope["error_code"] == "25006"
        assert envelope["retry_recommended"] is False
        assert misconfigured.stats.retries.get("create_workspace", 0) == 0


def test_a_stopped_replica_leaves_rotation_and_reads_fall_back(
        direct_dsn: str, replica_dsn: str, standby: Standby) -> None:
    with _client(direct_dsn, replica_dsn, connect_timeout_s=2) as db:
        db.call("get_database_health_metrics")
        standby.down(mode="immediate")
        try:
            assert db.call("get_database_health_metrics")["success"] is True
            assert db.replicas is not None
            assert db.replicas.router.replicas[0].state is ReplicaState.DOWN
            assert _queries(direct_dsn, "get_database_health_metrics(")
        finally:
            standby.up()


def test_async_client_routes_alike(direct_dsn: str, replica_dsn: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(direct_dsn, replica_dsns=replica_dsn,
                               application_name="replica-test-async") as db:
            assert (await db.call("get_database_health_metrics"))["success"] is True
            assert _queries(replica_dsn, "get_database_health_metrics(")
            await db.create_workspace("async write")
            assert db.replicas is not None and db.replicas.router.last_write_lsn is not None
            _replay(replica_dsn, "pause")
            try:
                await db.create_workspace("async write while paused")
                await db.call("get_database_health_metrics")
                assert _queries(direct_dsn, "get_database_health_metrics(")
            finally:
                _replay(replica_dsn, "resume")

    asyncio.run(scenario())


def test_health_reports_each_replica(direct_dsn: str, replica_dsn: str) -> None:
    with _client(direct_dsn, replica_dsn) as db:
        db.call("get_database_health_metrics")
        report = HealthMonitor(db).check()
        [check] = [c for c in report.checks if c.name.startswith("replica ")]
        assert check.status is HealthStatus.HEALTHY and check.value is not None
        assert report.metrics["replicas"][0]["state"] == "up"
        assert db.replicas is not None
        db.replicas.router.failed(db.replicas.router.replicas[0])
        report = HealthMonitor(db).check()  # answered by the primary now
        [check] = [c for c in report.checks if c.name.startswith("replica ")]
        assert check.status is HealthStatus.DEGRADED
