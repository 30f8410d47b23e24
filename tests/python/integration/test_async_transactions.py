"""`AsyncClient.run_transaction` against the real server: commit, rollback, optional steps,
nesting, whole-callback retries on real serialization conflicts, timeouts, read-only,
workspace binding, attempt logs, and the metrics the async client records."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import (
    AsyncClient,
    AsyncTransaction,
    Isolation,
    RetriesExhausted,
    StepFailed,
    TransactionTimeout,
)

CAMPAIGN_ROW = "SELECT total_cost FROM campaigndb.campaigns WHERE id = %s"


def cost_rows(raw: psycopg.Connection[Any], campaign: uuid.UUID) -> list[Decimal]:
    return sorted(r[0] for r in raw.execute(
        "SELECT cost_usd FROM campaigndb.gmaps_api_costs WHERE campaign_id = %s", [campaign]))


def campaign_total(raw: psycopg.Connection[Any], campaign: uuid.UUID) -> Decimal:
    row = raw.execute(CAMPAIGN_ROW, [campaign]).fetchone()
    assert row is not None
    return Decimal(row[0])


async def track(tx: AsyncTransaction, campaign: uuid.UUID, amount: str,
                **extra: Any) -> dict[str, Any]:
    return await tx.call("track_campaign_cost", p_campaign_id=str(campaign), p_service="gmaps",
                         p_items_processed=1, p_cost_usd=Decimal(amount), p_metadata={},
                         **extra)


def test_commit_several_calls_at_the_chosen_isolation(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    async def body(tx: AsyncTransaction) -> tuple[Decimal, str]:
        await track(tx, campaign, "1.00")
        last = await track(tx, campaign, "2.50")
        await tx.call("update_coverage_status", p_campaign_id=str(campaign), p_zip_code="10001",
                      p_businesses_found=3, p_emails_found=1, p_actual_cost=Decimal("3.5"))
        level = await (await tx.execute("SHOW transaction_isolation")).fetchone()
        assert level is not None
        return Decimal(str(last["new_total_cost"])), str(level[0])

    async def scenario() -> tuple[Decimal, str]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            return await db.run_transaction(body, isolation=Isolation.SERIALIZABLE,
                                            name="two costs")

    total, level = asyncio.run(scenario())
    assert total == Decimal("3.50") and level == "serializable"
    assert cost_rows(raw, campaign) == [Decimal("1.00"), Decimal("2.50")]
    row = raw.execute("SELECT status FROM campaigndb.gmaps_campaign_coverage"
                      " WHERE campaign_id = %s AND zip_code = '10001'", [campaign]).fetchone()
    assert row is not None and row[0] != "pending"


def test_a_failed_required_step_undoes_everything_and_optional_steps_fail_alone(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    async def doomed(tx: AsyncTransaction) -> None:
        await track(tx, campaign, "1.00")
        await track(tx, campaign, "-1")  # 22023: aborts the transaction
        raise AssertionError("not reached: the failed step raises StepFailed")

    async def tolerant(tx: AsyncTransaction) -> list[dict[str, Any]]:
        await track(tx, campaign, "1.00")
        bad = await track(tx, campaign, "-1", optional=True)
        cast = await tx.call("track_campaign_cost", optional=True, p_campaign_id="not-a-uuid",
                             p_service="x", p_items_processed=1, p_cost_usd=1, p_metadata={})
        await track(tx, campaign, "2.00")
        assert bad["error_code"] == "22023" and cast["error_code"] == "22P02"
        return tx.optional_failures

    async def scenario() -> tuple[StepFailed, int, list[dict[str, Any]]]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            with pytest.raises(StepFailed) as failed:
                await db.run_transaction(doomed)
            after_failure = len(cost_rows(raw, campaign))
            return failed.value, after_failure, await db.run_transaction(tolerant)

    failed, after_failure, failures = asyncio.run(scenario())
    assert failed.sqlstate == "22023" and not failed.retryable
    assert failed.operation == "track_campaign_cost" and after_failure == 0
    assert [(f["operation"], f["error_code"]) for f in failures] == [
        ("track_campaign_cost", "22023"), ("track_campaign_cost", "22P02")]
    assert cost_rows(raw, campaign) == [Decimal("1.00"), Decimal("2.00")]
    assert campaign_total(raw, campaign) == Decimal("3.00")


def test_nested_savepoint_and_an_independent_transaction(
    dsn: str, workspace: uuid.UUID, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    async def scenario() -> uuid.UUID:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            # another campaign: the outer transaction holds this one's row lock until it
            # commits, so an independent transaction on it would wait for its own caller
            elsewhere = (await db.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": "elsewhere"}, [])).campaign_id

            async def failing(tx: AsyncTransaction) -> None:
                await track(tx, campaign, "5.00")
                raise RuntimeError("undo this part")

            async def kept(tx: AsyncTransaction) -> str:
                return str((await track(tx, campaign, "0.50"))["cost_id"])

            async def body(tx: AsyncTransaction) -> None:
                await track(tx, campaign, "1.00")
                with pytest.raises(RuntimeError):
                    await tx.nested(failing)  # its cost row is rolled back to the savepoint
                assert await tx.nested(kept)
                await db.run_transaction(lambda other: track(other, elsewhere, "0.25"))
                await track(tx, campaign, "2.00")

            await db.run_transaction(body)
            return elsewhere

    elsewhere = asyncio.run(scenario())
    assert cost_rows(raw, campaign) == [Decimal("0.50"), Decimal("1.00"), Decimal("2.00")]
    assert cost_rows(raw, elsewhere) == [Decimal("0.25")]
    assert campaign_total(raw, campaign) == Decimal("3.50")


# backend_pid may be negative: behind PgBouncer it is PgBouncer's per-client cancel key
ATTEMPT_LOG = re.compile(r"transaction name=(\S+) txn_id=(\w+) backend_pid=(-?\d+)"
                         r" attempt=(\d+)"
                         r" (committed|rolled back sqlstate=(\w+) delay_ms=([\d.]+))")


def test_two_concurrent_transactions_conflict_and_the_loser_reruns(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two SERIALIZABLE transactions both read the campaign row, then both write it: the
    second writer waits for the first, gets 40001 when it commits, and its whole callback
    reruns (after at least 40001's retry_after_ms) and commits."""
    caplog.set_level(logging.INFO, logger="campaigndb")
    runs = {"a": 0, "b": 0}

    async def scenario() -> list[Decimal]:
        async with AsyncClient(dsn, pool_min_size=2, pool_max_size=2) as db:
            both_read = asyncio.Barrier(2)

            async def writer(tag: str, amount: str) -> Decimal:
                async def body(tx: AsyncTransaction) -> Decimal:
                    runs[tag] += 1
                    await tx.execute(CAMPAIGN_ROW, [campaign])  # the snapshot is taken here
                    if runs[tag] == 1:
                        await asyncio.wait_for(both_read.wait(), 10)
                    return Decimal(str((await track(tx, campaign, amount))["new_total_cost"]))

                return await db.run_transaction(body, isolation=Isolation.SERIALIZABLE,
                                                base_s=0.001, name=f"writer-{tag}")

            return list(await asyncio.gather(writer("a", "1.00"), writer("b", "2.00")))

    totals = asyncio.run(scenario())
    assert sorted(runs.values()) == [1, 2]  # exactly one callback ran twice
    assert sorted(totals) == [Decimal("1.00"), Decimal("3.00")] or sorted(totals) == [
        Decimal("2.00"), Decimal("3.00")]
    assert cost_rows(raw, campaign) == [Decimal("1.00"), Decimal("2.00")]
    assert campaign_total(raw, campaign) == Decimal("3.00")

    attempts = [m.groups() for m in map(ATTEMPT_LOG.search, caplog.messages) if m]
    loser = "writer-a" if runs["a"] == 2 else "writer-b"
    rolled_back = [a for a in attempts if a[4].startswith("rolled back")]
    assert [(a[0], a[3], a[5]) for a in rolled_back] == [(loser, "1", "40001")]
    assert float(rolled_back[0][6]) >= 10.0  # 40001's retry_after_ms, over 1 ms of jitter
    committed = {a[0]: a for a in attempts if a[4] == "committed"}
    assert committed[loser][3] == "2" and committed[loser][1] == rolled_back[0][1]  # txn_id
    assert set(committed) == {"writer-a", "writer-b"}


def test_many_concurrent_transactions_keep_the_invariant(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    async def scenario() -> None:
        async with AsyncClient(dsn, pool_min_size=6, pool_max_size=6) as db:
            async def two_costs(tx: AsyncTransaction) -> None:
                await track(tx, campaign, "0.01")
                await track(tx, campaign, "0.02")

            await asyncio.gather(*(db.run_transaction(two_costs, isolation=Isolation.SERIALIZABLE,
                                                      attempts=30, base_s=0.002)
                                   for _ in range(30)))
            assert db.stats.average_latency_ms() is not None

    asyncio.run(scenario())
    assert campaign_total(raw, campaign) == sum(cost_rows(raw, campaign)) == Decimal("0.90")


def test_statement_timeout_and_deadline(dsn: str) -> None:
    runs: list[int] = []

    async def thinks_too_long(tx: AsyncTransaction) -> None:
        runs.append(1)
        await asyncio.sleep(0.3)  # time outside the database counts against the deadline
        await tx.execute("SELECT 1")
        raise AssertionError("not reached: no statement starts after the deadline")

    async def scenario() -> tuple[RetriesExhausted, RetriesExhausted, float, TransactionTimeout]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            with pytest.raises(RetriesExhausted) as timeout:
                await db.run_transaction(lambda tx: tx.execute("SELECT pg_sleep(1)"),
                                         statement_timeout_ms=50, attempts=2, base_s=0.001)
            started = time.perf_counter()
            with pytest.raises(RetriesExhausted) as cut:  # the server cancels at the deadline
                await db.run_transaction(lambda tx: tx.execute("SELECT pg_sleep(2)"),
                                         deadline_s=0.2, attempts=1)
            elapsed = time.perf_counter() - started
            with pytest.raises(TransactionTimeout) as late:
                await db.run_transaction(thinks_too_long, deadline_s=0.1, attempts=3)
            return timeout.value, cut.value, elapsed, late.value

    timeout, cut, elapsed, late = asyncio.run(scenario())
    assert timeout.sqlstate == "57014" and cut.sqlstate == "57014"
    assert elapsed < 1.5
    assert late.sqlstate == "57014" and not late.retryable and runs == [1]  # not retried


def test_read_only_and_workspace_binding(dsn: str, campaign: uuid.UUID,
                                         raw: psycopg.Connection[Any]) -> None:
    async def reads(tx: AsyncTransaction) -> str:
        row = await (await tx.execute("SHOW transaction_read_only")).fetchone()
        assert row is not None
        await tx.call("get_businesses_for_enrichment", p_campaign_id=str(campaign),
                      p_enrichment_type="facebook", p_limit=10, p_offset=0)
        return str(row[0])

    async def scenario() -> tuple[str, StepFailed, StepFailed]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            read_only = await db.run_transaction(reads, read_only=True)
            with pytest.raises(StepFailed) as refused:
                await db.run_transaction(lambda tx: track(tx, campaign, "1"), read_only=True)
            other = (await db.create_workspace("someone else")).workspace_id
            with pytest.raises(StepFailed) as denied:
                await db.bound(other).run_transaction(lambda tx: track(tx, campaign, "1"))
            return read_only, refused.value, denied.value

    read_only, refused, denied = asyncio.run(scenario())
    assert read_only == "on"
    assert refused.sqlstate == "25006"  # read_only_sql_transaction, from the server
    assert denied.sqlstate == "42501"
    assert cost_rows(raw, campaign) == []


def test_async_metrics_are_recorded_and_written_on_close(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    """A transaction that commits after one real 40001, a failed one, and a typed call:
    one row each, written by close() (the flush interval is far longer than the test)."""
    name = f"launch-{uuid.uuid4().hex[:8]}"
    runs: list[int] = []

    async def launch(tx: AsyncTransaction) -> None:
        runs.append(1)
        await tx.execute(CAMPAIGN_ROW, [campaign])
        if len(runs) == 1:  # another session changes the row this snapshot has read
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as other:
                await other.execute("UPDATE campaigndb.campaigns SET total_cost = total_cost"
                                    " WHERE id = %s", [campaign])
        await track(tx, campaign, "1.00")

    def rows() -> list[tuple[Any, ...]]:
        return raw.execute(
            "SELECT operation_name, success, retry_count, isolation_level,"
            " error_message IS NOT NULL, duration_ms >= 0 FROM campaigndb.transaction_metrics"
            " WHERE campaign_id = %s ORDER BY operation_name", [campaign]).fetchall()

    async def scenario() -> list[tuple[Any, ...]]:
        db = AsyncClient(dsn, pool_min_size=1, pool_max_size=2, record_metrics=True,
                         metrics_flush_interval_s=600)
        async with db:
            await db.run_transaction(launch, isolation=Isolation.SERIALIZABLE, base_s=0.001,
                                     name=name)
            with pytest.raises(StepFailed):
                await db.run_transaction(lambda tx: track(tx, campaign, "-1"),
                                         name=f"{name}-bad")
            await db.track_campaign_cost(campaign, "gmaps", 1, "0.50")
            assert db.recorder is not None and db.recorder.recorded == 0
            return rows()

    before_close = asyncio.run(scenario())
    assert before_close == [] and len(runs) == 2
    assert rows() == [
        (name, True, 1, "SERIALIZABLE", False, True),
        (f"{name}-bad", False, 0, "READ COMMITTED", True, True),
        ("track_campaign_cost", True, 0, "SERIALIZABLE", False, True),
    ]
