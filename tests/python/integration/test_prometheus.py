"""Prometheus exposition of the client's figures, scraped after real calls."""

from __future__ import annotations

import uuid

from prometheus_client import CollectorRegistry, generate_latest

from campaigndb import Client
from campaigndb.observe.prometheus import register


def test_scrape_shows_calls_failures_latency_and_pool(dsn: str, campaign: uuid.UUID) -> None:
    registry = CollectorRegistry()
    with Client(dsn, pool_min_size=2, pool_max_size=3) as db:
        register(db, registry, name="scraper")
        for _ in range(3):
            db.track_campaign_cost(campaign, "gmaps", 1, "0.01")
        db.call("track_campaign_cost", p_campaign_id=str(campaign), p_service="gmaps",
                p_items_processed=1, p_cost_usd=-1, p_metadata={})
        text = generate_latest(registry).decode()
    label = '{client="scraper",operation="track_campaign_cost"}'
    assert f"campaigndb_calls_total{label} 4.0" in text
    assert f"campaigndb_call_failures_total{label} 1.0" in text
    assert 'campaigndb_pool_max{client="scraper"} 3.0' in text
    latency = [line for line in text.splitlines()
               if line.startswith('campaigndb_call_latency_avg_ms{client="scraper"}')]
    assert len(latency) == 1 and float(latency[0].split()[-1]) > 0
