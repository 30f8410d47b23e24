"""Oversize arrays are refused by the client before anything is sent (docs/limits.md,
"Batches and arrays"): the server parses a whole jsonb argument before the function can
read its length, so only the client can refuse a 1,000,000-element array cheaply.  The
client's answer is the function's own 54000 envelope, and its limits are the functions'."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from campaigndb import AsyncClient, BatchTooLarge, Client, StepFailed, Transaction
from campaigndb.core.calls import array_length
from campaigndb.core.declare import FUNCTIONS, ArrayLimit

MILLION = 1_000_000


def _zips(n: int) -> list[str]:
    return [f"{i:05d}" for i in range(n)]


def _arguments(path: str, n: int) -> dict[str, Any]:
    """Arguments of the function owning `path` with an array of `n` elements there, wrong
    enough elsewhere that a call that gets past the length check writes nothing."""
    nowhere = str(uuid.uuid4())
    return {
        "p_zip_codes": {"p_campaign_data": {"workspace_id": nowhere, "name": "x"},
                        "p_zip_codes": _zips(n)},
        "p_campaign_data.keywords": {
            "p_campaign_data": {"workspace_id": nowhere, "name": "x",
                                "keywords": [f"k{i}" for i in range(n)]},
            "p_zip_codes": ["10001"]},
        "p_businesses": {"p_campaign_id": nowhere, "p_zip_code": "10001",
                         "p_businesses": [{"place_id": f"p{i}", "name": "b"}
                                          for i in range(n)]},
        "p_enrichments": {"p_enrichment_type": "facebook",
                          "p_enrichments": [{"business_id": nowhere}] * n},
        "p_rows": {"p_rows": [{}] * n, "p_source": "test"},
    }[path]


LIMITED = [(name, limit) for name, spec in sorted(FUNCTIONS.items())
           for limit in spec.array_limits]


def test_every_array_of_the_functions_is_declared() -> None:
    assert {limit.path for _, limit in LIMITED} == {
        "p_zip_codes", "p_campaign_data.keywords", "p_businesses", "p_enrichments", "p_rows"}


@pytest.mark.parametrize(("name", "limit"), LIMITED, ids=[lim.path for _, lim in LIMITED])
def test_the_client_refuses_what_the_function_refuses_and_sends_what_it_takes(
        client: Client, raw: psycopg.Connection[Any], name: str, limit: ArrayLimit) -> None:
    over = _arguments(limit.path, limit.maximum + 1)
    refused = client.call(name, **over)
    # the same arguments sent by hand: the function's own answer
    spec = FUNCTIONS[name]
    row = raw.execute(spec.call_sql(tuple(over)),
                      {k: json.dumps(v) if spec.params[k] == "jsonb" else v
                       for k, v in over.items()}).fetchone()
    assert row is not None
    assert refused == row[0]
    assert refused["error_code"] == "54000"
    # at the limit the client sends the call, and the function gets past its length check
    at = client.call(name, **_arguments(limit.path, limit.maximum))
    assert at.get("error_code") != "54000", at


def test_a_million_elements_answer_54000_without_a_round_trip(
        direct_dsn: str, raw: psycopg.Connection[Any]) -> None:
    businesses = [{"place_id": f"p{i}", "name": f"Business {i}"} for i in range(MILLION)]
    with Client(direct_dsn, pool_min_size=1, pool_max_size=1, pgbouncer=False) as db:
        marker = f"SELECT 'before the big call {uuid.uuid4()}'"
        with db.pool.connection() as conn:
            pid = conn.info.backend_pid
            conn.execute(marker)
        requests = db.pool.get_stats().get("requests_num", 0)

        envelope = db.call("insert_businesses_batch", p_campaign_id=str(uuid.uuid4()),
                           p_zip_code="10001", p_businesses=businesses)
        as_text = db.call("insert_businesses_batch", p_campaign_id=str(uuid.uuid4()),
                          p_zip_code="10001", p_businesses=json.dumps(businesses))
        with pytest.raises(BatchTooLarge) as typed:
            db.insert_businesses_batch(uuid.uuid4(), "10001", businesses)

        # no connection was taken from the pool, and its one backend ran nothing since
        assert db.pool.get_stats().get("requests_num", 0) == requests
        row = raw.execute("SELECT query FROM pg_stat_activity WHERE pid = %s",
                          [pid]).fetchone()
        assert row == (marker,)
    for answer in (envelope, as_text, typed.value.envelope):
        assert answer["error_code"] == "54000" and answer["retry_recommended"] is False
        assert answer["error"] == (f"p_businesses holds {MILLION} elements; "
                                   "the limit is 25000 per call")
        assert answer["error_detail"] == {"hint": "send the businesses in several batches"}


def test_the_async_client_refuses_without_sending(direct_dsn: str) -> None:
    async def scenario() -> dict[str, Any]:
        async with AsyncClient(direct_dsn, pool_min_size=1, pool_max_size=1,
                               pgbouncer=False) as db:
            requests = db.pool.get_stats().get("requests_num", 0)
            envelope = await db.call("update_enrichment_batch", p_enrichment_type="facebook",
                                     p_enrichments=[{"business_id": str(uuid.uuid4())}]
                                     * 10_001)
            assert db.pool.get_stats().get("requests_num", 0) == requests
            return envelope

    envelope = asyncio.run(scenario())
    assert envelope["error_code"] == "54000" and "p_enrichments" in envelope["error"]


def test_inside_a_transaction_an_oversize_step_fails_without_being_sent(
        client: Client, workspace: uuid.UUID) -> None:
    zips = _zips(50_001)

    def body(tx: Transaction) -> dict[str, Any]:
        optional = tx.call("create_campaign_with_coverage", optional=True,
                           p_campaign_data={"workspace_id": str(workspace), "name": "a"},
                           p_zip_codes=zips)
        tx.call("create_campaign_with_coverage",
                p_campaign_data={"workspace_id": str(workspace), "name": "b"},
                p_zip_codes=zips)
        return optional

    with pytest.raises(StepFailed) as info:
        client.run_transaction(body)
    assert info.value.sqlstate == "54000" and "p_zip_codes" in str(info.value)
    assert not info.value.retryable


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: [1] * 11, 11),
    (lambda: json.dumps([1] * 11), 11),
    (lambda: "[" + "1," * 4 + "1]", None),  # too short to exceed 10: not even read
    (lambda: "not json at all" * 10, None),  # the server answers for it
    (lambda: {"a": 1}, None),
], ids=["list", "text", "short-text", "bad-text", "object"])
def test_array_length(make: Callable[[], Any], expected: int | None) -> None:
    assert array_length(ArrayLimit("p_x", 10), {"p_x": make()}) == expected
    nested = ArrayLimit("p_x.k", 10)
    value = make()
    document = (f'{{"k": {value}}}' if isinstance(value, str) and value.startswith("[")
                else {"k": value})
    assert array_length(nested, {"p_x": document}) == expected
