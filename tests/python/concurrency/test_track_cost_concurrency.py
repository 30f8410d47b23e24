"""50 threads x 20 track_campaign_cost calls on one campaign: nothing lost, nothing doubled."""

from __future__ import annotations

import random
import threading
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import Client

pytestmark = pytest.mark.concurrency


@pytest.mark.parametrize("hot_row_lock", ["adaptive", "always"])
def test_fifty_threads_one_campaign_exact_totals(
    dsn: str, workspace: uuid.UUID, raw: psycopg.Connection[Any], hot_row_lock: str
) -> None:
    threads, calls = 50, 20
    with Client(dsn, pool_min_size=20, pool_max_size=20, hot_row_lock=hot_row_lock) as db:
        campaign = db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": "hot"}, []).campaign_id
        barrier = threading.Barrier(threads)
        sent: list[Decimal] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            barrier.wait()
            for _ in range(calls):
                amount = Decimal(rng.randint(1, 10**6)) / Decimal(10**4)  # up to 4 decimals
                try:
                    db.track_campaign_cost(campaign, "gmaps", 1, amount)
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    with lock:
                        failures.append(exc)
                else:
                    with lock:
                        sent.append(amount)

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    assert failures == []
    assert len(sent) == threads * calls
    total, rows_sum, rows = raw.execute(
        "SELECT c.total_cost, (SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs k"
        " WHERE k.campaign_id = c.id), (SELECT count(*) FROM campaigndb.gmaps_api_costs k"
        " WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c WHERE c.id = %s", [campaign]
    ).fetchone() or (None, None, None)
    assert rows == threads * calls
    assert total == rows_sum == sum(sent)


def test_concurrent_replays_of_one_key_add_once(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    """Twenty threads send the same logical call (same key) at once: one cost row."""
    threads = 20
    key = f"same-{uuid.uuid4()}"
    before = raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                         [campaign]).fetchone()
    with Client(dsn, pool_min_size=threads, pool_max_size=threads) as db:
        barrier = threading.Barrier(threads)
        results: list[Any] = []

        def worker() -> None:
            barrier.wait()
            results.append(db.track_campaign_cost(campaign, "gmaps", 1, "3.33",
                                                  idempotency_key=key))

        workers = [threading.Thread(target=worker) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert len(results) == threads
    assert len({r.cost_id for r in results}) == 1
    assert sum(1 for r in results if not r.replayed) == 1
    after = raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                        [campaign]).fetchone()
    assert before is not None and after is not None
    assert after[0] - before[0] == Decimal("3.33")
