"""The transaction helper against the real server: commit, rollback, optional steps,
nesting, whole-callback retries, timeouts."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import (
    Client,
    Isolation,
    RetriesExhausted,
    StepFailed,
    Transaction,
    TransactionTimeout,
)


def cost_rows(raw: psycopg.Connection[Any], campaign: uuid.UUID) -> int:
    row = raw.execute("SELECT count(*) FROM campaigndb.gmaps_api_costs WHERE campaign_id = %s",
                      [campaign]).fetchone()
    return int(row[0]) if row else -1


def track(tx: Transaction, campaign: uuid.UUID, amount: str, **extra: Any) -> Any:
    return tx.call("track_campaign_cost", p_campaign_id=str(campaign), p_service="gmaps",
                   p_items_processed=1, p_cost_usd=Decimal(amount), p_metadata={}, **extra)


def test_commit_several_calls(client: Client, campaign: uuid.UUID,
                              raw: psycopg.Connection[Any]) -> None:
    def body(tx: Transaction) -> Decimal:
        track(tx, campaign, "1.00")
        last = track(tx, campaign, "2.50")
        tx.call("update_coverage_status", p_campaign_id=str(campaign), p_zip_code="10001",
                p_businesses_found=3, p_emails_found=1, p_actual_cost=Decimal("3.5"))
        return Decimal(str(last["new_total_cost"]))

    total = client.run_transaction(body, isolation=Isolation.SERIALIZABLE, name="two costs")
    assert total == Decimal("3.50") and cost_rows(raw, campaign) == 2


def test_a_failed_required_step_undoes_everything(client: Client, campaign: uuid.UUID,
                                                  raw: psycopg.Connection[Any]) -> None:
    def body(tx: Transaction) -> None:
        track(tx, campaign, "1.00")
        track(tx, campaign, "-1")  # 22023: aborts the transaction

    with pytest.raises(StepFailed) as info:
        client.run_transaction(body)
    assert info.value.sqlstate == "22023" and not info.value.retryable
    assert cost_rows(raw, campaign) == 0


def test_an_optional_step_fails_alone(client: Client, campaign: uuid.UUID,
                                      raw: psycopg.Connection[Any]) -> None:
    def body(tx: Transaction) -> list[Any]:
        track(tx, campaign, "1.00")
        bad = track(tx, campaign, "-1", optional=True)
        cast = tx.call("track_campaign_cost", optional=True, p_campaign_id="not-a-uuid",
                       p_service="x", p_items_processed=1, p_cost_usd=1, p_metadata={})
        track(tx, campaign, "2.00")
        assert bad["error_code"] == "22023" and cast["error_code"] == "22P02"
        return tx.optional_failures

    failures = client.run_transaction(body)
    assert [f["error_code"] for f in failures] == ["22023", "22P02"]
    assert cost_rows(raw, campaign) == 2


def test_nested_savepoint_and_independent_transactions(
    client: Client, workspace: uuid.UUID, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    # another campaign: the outer transaction holds this one's row lock until it commits,
    # so an independent transaction on it would wait for its own caller
    elsewhere = client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": "elsewhere"}, []).campaign_id

    def failing(tx: Transaction) -> None:
        track(tx, campaign, "5.00")
        raise RuntimeError("undo this part")

    def body(tx: Transaction) -> None:
        track(tx, campaign, "1.00")
        with pytest.raises(RuntimeError):
            tx.nested(failing)  # its cost row is rolled back to the savepoint
        # an independent transaction on another connection commits on its own
        client.run_transaction(lambda other: track(other, elsewhere, "0.25"))
        track(tx, campaign, "2.00")

    client.run_transaction(body)
    amounts = sorted(r[0] for r in raw.execute(
        "SELECT cost_usd FROM campaigndb.gmaps_api_costs WHERE campaign_id = ANY(%s)",
        [[campaign, elsewhere]]))
    assert amounts == [Decimal("0.25"), Decimal("1.00"), Decimal("2.00")]


def test_a_conflict_reruns_the_whole_callback(client: Client, dsn: str, campaign: uuid.UUID,
                                              raw: psycopg.Connection[Any]) -> None:
    """Attempt 1 reads the campaign, another connection updates it, attempt 1's write fails
    with 40001; the helper rolls back and reruns the callback, which then commits."""
    runs: list[int] = []

    def body(tx: Transaction) -> None:
        runs.append(1)
        tx.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s", [campaign])
        if len(runs) == 1:
            with psycopg.connect(dsn, autocommit=True) as other:
                other.execute("UPDATE campaigndb.campaigns SET total_cost = total_cost"
                              " WHERE id = %s", [campaign])
        track(tx, campaign, "1.00")

    client.run_transaction(body, isolation=Isolation.REPEATABLE_READ, base_s=0.001)
    assert len(runs) == 2 and cost_rows(raw, campaign) == 1


def test_statement_timeout_and_deadline(client: Client) -> None:
    with pytest.raises(RetriesExhausted) as info:
        client.run_transaction(lambda tx: tx.execute("SELECT pg_sleep(1)"),
                               statement_timeout_ms=50, attempts=2, base_s=0.001)
    assert info.value.sqlstate == "57014"

    def slow(tx: Transaction) -> None:
        tx.execute("SELECT pg_sleep(0.15)")
        tx.execute("SELECT pg_sleep(0.15)")
        tx.execute("SELECT pg_sleep(0.15)")

    with pytest.raises((TransactionTimeout, RetriesExhausted)) as deadline:
        client.run_transaction(slow, deadline_s=0.25, attempts=1)
    assert deadline.value.sqlstate == "57014"


def test_read_only_transactions_refuse_writes(client: Client, campaign: uuid.UUID) -> None:
    with pytest.raises(StepFailed) as info:
        client.run_transaction(lambda tx: track(tx, campaign, "1"), read_only=True)
    assert info.value.sqlstate == "25006"  # read_only_sql_transaction, from the server


def test_concurrent_transactions_keep_the_invariant(dsn: str, campaign: uuid.UUID,
                                                    raw: psycopg.Connection[Any]) -> None:
    with Client(dsn, pool_min_size=8, pool_max_size=8) as db:
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def worker() -> None:
            barrier.wait()
            for _ in range(10):
                try:
                    db.run_transaction(lambda tx: (track(tx, campaign, "0.01"),
                                                   track(tx, campaign, "0.02")),
                                       isolation=Isolation.SERIALIZABLE, attempts=20)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    total = raw.execute("SELECT total_cost, (SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs"
                        " k WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c"
                        " WHERE id = %s", [campaign]).fetchone()
    assert total == (Decimal("2.40"), Decimal("2.40"))


def test_a_rerun_after_a_lost_commit_reply_replays_instead_of_doubling(
        client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]) -> None:
    """Attempt 1 commits its write, then its connection dies before the helper knows (the
    ambiguous commit); the rerun callback's steps carry the same idempotency keys, so the
    cost is added once and the rerun sees replayed: true."""
    before = cost_rows(raw, campaign)
    attempts: list[Any] = []

    def body(tx: Transaction) -> Any:
        envelope = track(tx, campaign, "3.00")
        attempts.append(envelope)
        if len(attempts) == 1:
            tx.execute("COMMIT")  # the server has the write...
            tx.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # ...the client not
        return envelope

    last = client.run_transaction(body, attempts=3, base_s=0.01)
    assert len(attempts) == 2
    assert attempts[0]["replayed"] is False and last["replayed"] is True
    assert last["cost_id"] == attempts[0]["cost_id"]
    assert cost_rows(raw, campaign) == before + 1
    total = raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                        [campaign]).fetchone()
    summed = raw.execute("SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs"
                         " WHERE campaign_id = %s", [campaign]).fetchone()
    assert total == summed


def test_each_run_and_each_step_gets_its_own_key(client: Client, campaign: uuid.UUID,
                                                 raw: psycopg.Connection[Any]) -> None:
    before = cost_rows(raw, campaign)
    for _ in range(2):
        client.run_transaction(lambda tx: [track(tx, campaign, "0.10") for _ in range(3)])
    assert cost_rows(raw, campaign) == before + 6
