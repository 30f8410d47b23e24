"""A call that outlasts the statement timeout: 57014, retry recommended, nothing written.

Another connection holds the campaign's row lock; a client with a 150 ms statement timeout
calls a function that needs it.  Every attempt is cancelled by the server; the answer is
57014 with retry_recommended, classified as a timeout; nothing of the call is written; and
once the lock is gone the same client (same pool) succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import Category, Client, RecoveryAction, classify

from .support import assert_invariants


def _cost(campaign: uuid.UUID) -> dict[str, Any]:
    return {"p_campaign_id": str(campaign), "p_service": "gmaps", "p_items_processed": 2,
            "p_cost_usd": Decimal("4.20"), "p_metadata": {},
            "p_idempotency_key": f"slow-{uuid.uuid4()}"}


def _batch(campaign: uuid.UUID) -> dict[str, Any]:
    return {"p_campaign_id": str(campaign), "p_zip_code": "10001",
            "p_businesses": [{"place_id": f"slow-{n}", "name": f"Slow {n}"} for n in range(50)]}


def _written(raw: psycopg.Connection[Any], campaign: uuid.UUID) -> tuple[Any, ...]:
    row = raw.execute(
        "SELECT c.total_cost,"
        " (SELECT count(*) FROM campaigndb.gmaps_api_costs k WHERE k.campaign_id = c.id),"
        " (SELECT count(*) FROM campaigndb.gmaps_businesses b WHERE b.campaign_id = c.id)"
        " FROM campaigndb.campaigns c WHERE c.id = %s", [campaign]).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize(("name", "make"), [("track_campaign_cost", _cost),
                                            ("insert_businesses_batch", _batch)],
                         ids=["track_campaign_cost", "insert_businesses_batch"])
def test_statement_timeout_answers_57014_and_writes_nothing(
    dsn: str, campaign: uuid.UUID, raw: psycopg.Connection[Any], name: str,
    make: Callable[[uuid.UUID], dict[str, Any]],
) -> None:
    params = make(campaign)
    before = _written(raw, campaign)
    with Client(dsn, statement_timeout_ms=150, pool_min_size=1, pool_max_size=1,
                retry_attempts=2, retry_base_s=0.01, retry_max_s=0.05) as db:
        with psycopg.connect(dsn) as holder:
            holder.execute("SELECT 1 FROM campaigndb.campaigns WHERE id = %s FOR UPDATE",
                           [campaign])
            envelope = db.call(name, **params)
            holder.rollback()
        assert db.stats.retries.get(name) == 1  # retried once, cancelled again
        assert envelope["success"] is False and envelope["error_code"] == "57014", envelope
        assert envelope["retry_recommended"] is True and envelope["retry_after_ms"] > 0
        verdict = classify(envelope)
        assert verdict.category is Category.TIMEOUT and verdict.retryable
        assert verdict.recovery_action is RecoveryAction.RETRY
        assert _written(raw, campaign) == before  # nothing of the call was written
        assert raw.execute("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                           " current_database() AND state = 'idle in transaction'"
                           ).fetchone() == (0,)  # no transaction was left open

        # The lock is gone: the same call, same key, on the same pool applies, once.
        again = db.call(name, **params)
    assert again["success"] is True, again
    after = _written(raw, campaign)
    if name == "track_campaign_cost":
        assert again.get("replayed") is False
        assert after == (before[0] + Decimal("4.20"), before[1] + 1, before[2])
    else:
        assert (again["inserted"], after) == (50, (before[0], before[1], before[2] + 50))
    assert_invariants(raw)
