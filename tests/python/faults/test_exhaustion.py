"""No connection to be had: a pool of two for ten callers, and a server at max_connections.

Callers either wait and succeed, or fail with a classified, retryable connection error
(the envelope says what happened) and write nothing; what succeeded adds up exactly.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import Category, Client, RecoveryAction, RetriesExhausted, classify

from .support import Ledger, OwnServer, assert_invariants

CALLERS = 10


@contextmanager
def _row_locked(dsn: str, campaign: uuid.UUID) -> Iterator[None]:
    """Hold the campaign's row lock: every cost call on it waits (holding its connection)."""
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT 1 FROM campaigndb.campaigns WHERE id = %s FOR UPDATE",
                       [campaign])
        yield
        holder.rollback()


def _callers(db: Client, campaign: uuid.UUID, ledger: Ledger,
             failures: list[RetriesExhausted]) -> list[threading.Thread]:
    barrier = threading.Barrier(CALLERS)
    lock = threading.Lock()

    def caller(n: int) -> None:
        key, amount = f"pool-{uuid.uuid4()}", Decimal(n + 1) / 100
        barrier.wait()
        try:
            db.track_campaign_cost(campaign, "gmaps", 1, amount, idempotency_key=key)
        except RetriesExhausted as exc:
            with lock:
                failures.append(exc)
                ledger.refused_cost_keys.add(key)
        else:
            ledger.cost(campaign, amount, key)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(CALLERS)]
    for thread in threads:
        thread.start()
    return threads


def _assert_connection_failure(error: RetriesExhausted) -> None:
    envelope = error.envelope
    assert envelope["success"] is False and envelope["retry_recommended"] is True
    assert envelope["error_code"] == "08001", envelope
    assert "no database connection became free" in envelope["error"]
    verdict = classify(error)
    assert verdict.category is Category.CONNECTION and verdict.retryable
    assert verdict.recovery_action is RecoveryAction.RETRY


@pytest.mark.parametrize("pool_timeout_s", [0.2, 15.0], ids=["fail-fast", "wait"])
def test_pool_of_two_for_ten_callers(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any], pool_timeout_s: float
) -> None:
    """Two calls hold the pool's two connections (waiting for a row lock) for 1.5 s; the
    other eight wait for a connection.  With a short pool timeout they give up, classified;
    with a long one they all get their turn and succeed."""
    ledger, failures = Ledger(), list[RetriesExhausted]()
    with Client(dsn, pool_min_size=2, pool_max_size=2, pool_timeout_s=pool_timeout_s,
                retry_attempts=2, retry_base_s=0.01, retry_max_s=0.05) as db:
        with _row_locked(dsn, campaign):
            threads = _callers(db, campaign, ledger, failures)
            time.sleep(1.5)
        for thread in threads:
            thread.join()
    print(f"pool timeout {pool_timeout_s}: {len(failures)} callers refused")
    if pool_timeout_s < 1:
        assert failures, "no caller ran out of pool"
        for failure in failures:
            _assert_connection_failure(failure)
    else:
        assert failures == []
    assert len(ledger.cost_keys) + len(failures) == CALLERS
    assert len(ledger.cost_keys) >= 2  # the two that held the connections finished
    assert_invariants(raw, ledger)  # nothing written by a failed call; the rest exact


def test_server_at_max_connections(own_server: OwnServer) -> None:
    """Every slot of the server is taken: a caller fails, classified and having written
    nothing; a caller that can wait succeeds as soon as one slot frees."""
    with psycopg.connect(own_server.dsn, autocommit=True) as raw:
        campaign = _campaign(raw)
        occupied: list[psycopg.Connection[Any]] = []
        try:
            with pytest.raises(psycopg.OperationalError, match="too many clients"):
                for _ in range(own_server.max_connections + 1):
                    occupied.append(psycopg.connect(own_server.dsn, autocommit=True))
            ledger = Ledger()
            with Client(own_server.dsn, pool_min_size=0, pool_max_size=2,
                        pool_timeout_s=0.5, retry_attempts=2, retry_base_s=0.01,
                        retry_max_s=0.05) as db, pytest.raises(RetriesExhausted) as refused:
                db.track_campaign_cost(campaign, "gmaps", 1, "9.99", idempotency_key="full-1")
            _assert_connection_failure(refused.value)
            ledger.refused_cost_keys.add("full-1")

            with Client(own_server.dsn, pool_min_size=0, pool_max_size=2,
                        pool_timeout_s=20, retry_attempts=3) as db:
                answer: list[Any] = []
                waiter = threading.Thread(target=lambda: answer.append(
                    db.track_campaign_cost(campaign, "gmaps", 1, "1.25",
                                           idempotency_key="full-2")))
                waiter.start()
                time.sleep(1.0)
                assert answer == []  # still waiting for a slot
                occupied.pop().close()
                waiter.join(30)
            assert len(answer) == 1 and answer[0].new_total_cost == Decimal("1.25")
            ledger.cost(campaign, Decimal("1.25"), "full-2")
        finally:
            for conn in occupied:
                conn.close()
        assert_invariants(raw, ledger)


def _campaign(raw: psycopg.Connection[Any]) -> uuid.UUID:
    workspace = raw.execute("SELECT public.create_workspace('full')").fetchone()
    assert workspace is not None and workspace[0]["success"], workspace
    created = raw.execute(
        "SELECT public.create_campaign_with_coverage(%s::jsonb, '[]'::jsonb)",
        [f'{{"workspace_id": "{workspace[0]["workspace_id"]}", "name": "full"}}']).fetchone()
    assert created is not None and created[0]["success"], created
    return uuid.UUID(created[0]["campaign_id"])
