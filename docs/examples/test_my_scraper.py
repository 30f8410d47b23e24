"""An example of a user's own tests with the campaigndb pytest plugin
(docs/testing-your-code.md): each test gets a fresh, migrated database."""

from __future__ import annotations

from typing import Any

import pytest

from campaigndb import AsyncClient, Client


def save_places(db: Client, workspace_name: str, places: list[dict[str, Any]]) -> int:
    """The code under test: a scraper's sink that stores what it found."""
    workspace = db.create_workspace(workspace_name)
    campaign = db.create_campaign_with_coverage(
        {"workspace_id": workspace.workspace_id, "name": "Dentists", "search_query": "dentist",
         "location": "New York, NY"}, ["10001"])
    result = db.insert_businesses_batch(campaign.campaign_id, "10001", places)
    return result.inserted


def test_places_are_saved(campaigndb_client: Client) -> None:
    places = [{"place_id": f"p{i}", "name": f"Dentist {i}"} for i in range(3)]
    assert save_places(campaigndb_client, "Agency", places) == 3


def test_a_repeated_place_is_saved_once(campaigndb_client: Client) -> None:
    places = [{"place_id": "same", "name": "Dentist"}] * 2
    assert save_places(campaigndb_client, "Agency", places) == 1


def test_every_test_starts_empty(campaigndb_dsn: str) -> None:
    import psycopg

    with psycopg.connect(campaigndb_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM campaigndb.gmaps_businesses").fetchone() == (0,)


async def places_to_enrich(db: AsyncClient, workspace_name: str, count: int) -> list[str]:
    """Asynchronous code under test: an enricher's queue after a scrape."""
    workspace = await db.create_workspace(workspace_name)
    campaign = await db.create_campaign_with_coverage(
        {"workspace_id": workspace.workspace_id, "name": "Dentists"}, ["10001"])
    await db.insert_businesses_batch(
        campaign.campaign_id, "10001",
        [{"place_id": f"p{i}", "name": f"Dentist {i}"} for i in range(count)])
    return [b.name async for b in db.iter_businesses_for_enrichment(
        campaign.campaign_id, "linkedin", page_size=2)]


@pytest.mark.asyncio
async def test_the_async_client(campaigndb_async_client: AsyncClient) -> None:
    names = await places_to_enrich(campaigndb_async_client, "Async agency", 5)
    assert sorted(names) == [f"Dentist {i}" for i in range(5)]
