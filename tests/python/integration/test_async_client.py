"""The asyncio client: the same methods, retries and guarantees as the sync one."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import AsyncClient, Category, Client, NotFound, PermissionDenied, classify


def test_async_has_every_typed_method_of_the_sync_client() -> None:
    sync = {n for n in dir(Client) if not n.startswith("_")} - {"pool"}
    assert sync <= {n for n in dir(AsyncClient) if not n.startswith("_")}
    # run_transaction takes the same options, with the same defaults
    options = [(p.name, p.kind, p.default)
               for p in inspect.signature(Client.run_transaction).parameters.values()]
    assert options == [(p.name, p.kind, p.default) for p in
                       inspect.signature(AsyncClient.run_transaction).parameters.values()]
    assert inspect.iscoroutinefunction(AsyncClient.run_transaction)


def test_async_calls_and_exact_totals_under_concurrency(
    dsn: str, raw: psycopg.Connection[Any]
) -> None:
    async def scenario() -> tuple[uuid.UUID, list[Decimal], int]:
        async with AsyncClient(dsn, pool_min_size=10, pool_max_size=10) as db:
            ws = (await db.create_workspace("async")).workspace_id
            campaign = (await db.create_campaign_with_coverage(
                {"workspace_id": ws, "name": "async"}, ["10001"])).campaign_id
            amounts = [Decimal(i) / 100 for i in range(1, 301)]
            await asyncio.gather(*(db.track_campaign_cost(campaign, "gmaps", 1, amount)
                                   for amount in amounts))
            with pytest.raises(NotFound):
                await db.track_campaign_cost(uuid.uuid4(), "gmaps", 1, "1")
            other = (await db.create_workspace("other")).workspace_id
            with pytest.raises(PermissionDenied) as denied:
                await db.bound(other).update_campaign_statistics(campaign)
            assert classify(denied.value).category is Category.PERMISSION
            await db.insert_businesses_batch(campaign, "10001", [
                {"place_id": f"a{i}", "name": "x"} for i in range(250)])
            seen = [b.id async for b in db.iter_businesses_for_enrichment(
                campaign, "facebook", 100)]
            health = await db.get_database_health_metrics()
            assert health.connections.total >= 1
            return campaign, amounts, len(set(seen))

    campaign, amounts, distinct = asyncio.run(scenario())
    assert distinct == 250
    total = raw.execute("SELECT total_cost, (SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs"
                        " k WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c"
                        " WHERE id = %s", [campaign]).fetchone()
    assert total == (sum(amounts), sum(amounts))


def test_async_generic_call_envelopes(dsn: str) -> None:
    async def scenario() -> dict[str, Any]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            return await db.call("create_workspace", p_name=" ")

    envelope = asyncio.run(scenario())
    assert envelope["success"] is False and envelope["error_code"] == "23502"
