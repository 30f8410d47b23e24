"""The server went away after the client opened (docs/client.md, "First contact"): calls
answer the real cause (08001 with the server's own message, retryable, "check network /
check DSN") after at most about connect_timeout per attempt, never an opaque pool timeout;
`HealthMonitor` says "unreachable" (no pool advice); when the server is back, the same
client works again.  On the package's own server, stopped and started."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from campaigndb import AsyncClient, Client, HealthMonitor, HealthStatus, RetriesExhausted

from .support import OwnServer

OPAQUE = "no database connection became free in time"


def _until_connect_error(call: Any, tries: int = 6) -> dict[str, Any]:
    """Call until the answer is the pool's failed reconnection (the first calls may meet
    idle connections the stop broke: 08006 connection lost)."""
    envelope: dict[str, Any] = {}
    for _ in range(tries):
        envelope = call()
        assert OPAQUE not in str(envelope.get("error")), envelope
        if envelope.get("error_code") == "08001":
            return envelope
    raise AssertionError(f"never answered 08001: {envelope}")


def test_a_lost_server_answers_its_cause_and_the_client_recovers(own_server: OwnServer) -> None:
    # a pool timeout of 10 minutes: waiting it out would fail the suite's time budget
    with Client(own_server.dsn, pool_min_size=2, pool_max_size=2, pool_timeout_s=600,
                connect_timeout_s=1, retry_attempts=2, retry_base_s=0.01,
                retry_max_s=0.05) as db:
        workspace = db.create_workspace("gone").workspace_id
        own_server.stop("fast")
        try:
            started = time.monotonic()
            envelope = _until_connect_error(lambda: db.call(
                "create_workspace", p_name="while gone"))
            print(f"lost server answered in {time.monotonic() - started:.2f} s: {envelope}")
            assert envelope["success"] is False and envelope["retry_recommended"] is True
            assert envelope["error"].startswith("cannot connect to the database: ")
            assert envelope["recovery"] == "check network / check DSN"

            try:
                db.create_workspace("typed while gone")
                raise AssertionError("a call succeeded without a server")
            except RetriesExhausted as exc:
                assert exc.sqlstate in ("08001", "08006"), exc.envelope

            def in_transaction(tx: Any) -> None:
                tx.call("create_workspace", p_name="in a transaction while gone")

            try:
                db.run_transaction(in_transaction, attempts=2, base_s=0.01, max_s=0.05)
                raise AssertionError("a transaction committed without a server")
            except RetriesExhausted as exc:
                assert OPAQUE not in str(exc) and exc.sqlstate in ("08001", "08006"), exc

            report = HealthMonitor(db).check()
            assert report.status is HealthStatus.CRITICAL
            assert [c.name for c in report.checks] == ["database"], report.checks
            assert "unreachable" in str(report.checks[0].recommendation)
            assert "pool" not in str(report.checks[0].recommendation)
        finally:
            own_server.start_again()
        # the same client, without reopening: the server is back
        for _ in range(600):
            answer = db.call("create_workspace", p_name="back")
            if answer["success"]:
                break
            time.sleep(0.05)
        assert answer["success"], answer
        assert db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": "after"}, ["10001"]).zip_count == 1


def test_the_async_client_answers_the_cause_too(own_server: OwnServer) -> None:
    async def scenario() -> dict[str, Any]:
        async with AsyncClient(own_server.dsn, pool_min_size=1, pool_max_size=1,
                               pool_timeout_s=600, connect_timeout_s=1, retry_attempts=2,
                               retry_base_s=0.01, retry_max_s=0.05) as db:
            assert (await db.call("create_workspace", p_name="async"))["success"]
            own_server.stop("fast")
            try:
                envelope: dict[str, Any] = {}
                for _ in range(6):
                    envelope = await db.call("create_workspace", p_name="async gone")
                    assert OPAQUE not in str(envelope.get("error")), envelope
                    if envelope.get("error_code") == "08001":
                        break
                return envelope
            finally:
                own_server.start_again()

    envelope = asyncio.run(scenario())
    assert envelope["error_code"] == "08001", envelope
    assert envelope["error"].startswith("cannot connect to the database: ")
