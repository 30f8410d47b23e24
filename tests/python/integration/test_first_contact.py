"""Safe at first contact: numbers the server cannot store are refused before anything is
sent (22023 naming the path), and session state set inside a transaction never reaches
the next caller of a pooled connection (sync and async)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import (
    AsyncClient,
    AsyncTransaction,
    Client,
    ConnectFailed,
    InvalidInput,
    Transaction,
)

NON_FINITE = [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("Infinity"),
              Decimal("-Infinity"), Decimal("sNaN")]


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
def test_non_finite_inside_json_is_refused_with_its_path(
        client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any], bad: Any) -> None:
    envelope = client.call("track_campaign_cost", p_campaign_id=str(campaign),
                           p_service="gmaps", p_items_processed=1, p_cost_usd=Decimal("1"),
                           p_metadata={"a": [1, {"rating": bad}]})
    assert envelope["success"] is False and envelope["error_code"] == "22023"
    assert "p_metadata.a[1].rating" in envelope["error"]
    row = raw.execute("SELECT count(*) FROM campaigndb.gmaps_api_costs WHERE campaign_id = %s",
                      [campaign]).fetchone()
    assert row == (0,)


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
def test_non_finite_scalar_is_refused(client: Client, campaign: uuid.UUID, bad: Any) -> None:
    envelope = client.call("track_campaign_cost", p_campaign_id=str(campaign),
                           p_service="gmaps", p_items_processed=1, p_cost_usd=bad,
                           p_metadata={})
    assert envelope["error_code"] == "22023" and "p_cost_usd" in envelope["error"]


LEAKS = ["SET campaigndb.workspace_id = '00000000-0000-0000-0000-000000000000'",
         "SET statement_timeout = 1", "SET search_path = pg_temp"]
SHOW = ("SELECT NULLIF(current_setting('campaigndb.workspace_id', true), ''), "
        "current_setting('statement_timeout'), current_setting('search_path')")


def test_session_state_does_not_outlive_a_transaction(direct_dsn: str,
                                                      workspace: uuid.UUID) -> None:
    with Client(direct_dsn, pool_min_size=1, pool_max_size=1, pgbouncer=False) as db:
        def baseline(tx: Transaction) -> Any:
            return tx.execute(SHOW).fetchone()

        before = db.run_transaction(baseline)

        def leak(tx: Transaction) -> None:
            for statement in LEAKS:
                tx.execute(statement)

        db.run_transaction(leak)
        after = db.run_transaction(baseline)
        assert after == before
        made = db.create_campaign_with_coverage({"workspace_id": workspace, "name": "after"},
                                                ["10001"])
        assert made.campaign_id is not None


def test_session_state_does_not_outlive_an_async_transaction(direct_dsn: str) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with AsyncClient(direct_dsn, pool_min_size=1, pool_max_size=1, pgbouncer=False) as db:
            async def baseline(tx: AsyncTransaction) -> Any:
                return await (await tx.execute(SHOW)).fetchone()

            async def leak(tx: AsyncTransaction) -> None:
                for statement in LEAKS:
                    await tx.execute(statement)

            before = await db.run_transaction(baseline)
            await db.run_transaction(leak)
            return before, await db.run_transaction(baseline)

    before, after = asyncio.run(scenario())
    assert after == before


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bad_dsns(direct_dsn: str) -> list[tuple[str, str]]:
    info = psycopg.conninfo.conninfo_to_dict(direct_dsn)
    base = {k: v for k, v in info.items() if v is not None}
    make = psycopg.conninfo.make_conninfo
    return [
        (make(**{**base, "port": str(_free_port()), "host": "127.0.0.1"}), "08001"),
        (make(**{**base, "dbname": "no_such_database_14"}), "3D000"),
        (make(**{**base, "user": "no_such_user_14"}), "28000"),
        ("host=127.0.0.1 port=notaport dbname=x", "08001"),
    ]


def test_a_connection_that_cannot_be_made_fails_at_open_with_the_cause(direct_dsn: str) -> None:
    for bad, code in _bad_dsns(direct_dsn):
        with pytest.raises(ConnectFailed) as info:
            Client(bad, pool_timeout_s=600, connect_timeout_s=2)
        assert info.value.sqlstate == code, (bad, info.value.envelope)
        assert not info.value.retryable
        assert info.value.envelope["recovery"] == "check network / check DSN"


def test_an_async_connection_that_cannot_be_made_fails_at_open(direct_dsn: str) -> None:
    async def scenario(bad: str) -> None:
        async with AsyncClient(bad, pool_timeout_s=600, connect_timeout_s=2):
            pass

    for bad, code in _bad_dsns(direct_dsn):
        with pytest.raises(ConnectFailed) as info:
            asyncio.run(scenario(bad))
        assert info.value.sqlstate == code


@pytest.mark.parametrize("bad", ["abc", float("nan"), Decimal("Infinity"), Decimal("sNaN")],
                         ids=repr)
def test_typed_method_refuses_a_bad_cost_with_22023(client: Client, campaign: uuid.UUID,
                                                    bad: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        client.track_campaign_cost(campaign, "gmaps", 1, bad)
    assert info.value.sqlstate == "22023"


def test_typed_method_refuses_nan_inside_metadata(client: Client, campaign: uuid.UUID) -> None:
    with pytest.raises(InvalidInput) as info:
        client.track_campaign_cost(campaign, "gmaps", 1, "1", {"x": {"y": float("inf")}})
    assert info.value.sqlstate == "22023" and "p_metadata.x.y" in str(info.value)
