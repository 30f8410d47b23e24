"""Scrapers and enrichers at once: no duplicates, exact counts, recounts, no skipped pages."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from campaigndb import Client

pytestmark = pytest.mark.concurrency


def run_all(threads: int, target: Any) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def body(n: int) -> None:
        barrier.wait()
        try:
            target(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    workers = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def test_twenty_overlapping_batches(dsn: str, workspace: uuid.UUID,
                                    raw: psycopg.Connection[Any]) -> None:
    """20 scrapers upsert batches drawn from one pool of 3,000 place_ids (heavy overlap)."""
    threads, batch_size = 20, 1_000
    with Client(dsn, pool_min_size=threads, pool_max_size=threads) as db:
        campaign = db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": "overlap"}, []).campaign_id
        results: list[Any] = []
        sent: list[set[str]] = []
        lock = threading.Lock()

        def scraper(n: int) -> None:
            rng = random.Random(n)
            ids = rng.sample(range(3_000), batch_size)
            batch = [{"place_id": f"p{i}", "name": f"Business {i}"} for i in ids]
            result = db.insert_businesses_batch(campaign, "10001", batch)
            with lock:
                results.append(result)
                sent.append({f"p{i}" for i in ids})

        assert run_all(threads, scraper) == []
    distinct_sent = set().union(*sent)
    total_rows, distinct_rows = raw.execute(
        "SELECT count(*), count(DISTINCT place_id) FROM campaigndb.gmaps_businesses"
        " WHERE campaign_id = %s", [campaign]).fetchone() or (None, None)
    assert total_rows == distinct_rows == len(distinct_sent)
    assert sum(r.inserted for r in results) == len(distinct_sent)
    assert sum(r.updated for r in results) == 0  # same name for a place_id: never a change
    assert sum(r.inserted + r.updated + r.skipped for r in results) == threads * batch_size


def test_statistics_while_batches_insert(dsn: str, workspace: uuid.UUID,
                                         raw: psycopg.Connection[Any]) -> None:
    """5 recounters and 10 scrapers at once: each recount is a true count as of its own
    snapshot (never below an earlier one), and the last equals a fresh recount."""
    with Client(dsn, pool_min_size=15, pool_max_size=15) as db:
        campaign = db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": "stats"}, []).campaign_id
        done = threading.Event()
        seen: list[list[int]] = [[] for _ in range(5)]

        def worker(n: int) -> None:
            if n < 10:
                for k in range(5):
                    db.insert_businesses_batch(campaign, "10001", [
                        {"place_id": f"s{n}-{k}-{i}", "name": "x",
                         "email": "a@b.c" if i % 2 else None} for i in range(200)])
                return
            while not done.is_set():
                seen[n - 10].append(db.update_campaign_statistics(campaign).total_businesses)

        def scrapers_then_stop(n: int) -> None:
            try:
                worker(n)
            finally:
                if n == 0:
                    done.set()

        assert run_all(15, scrapers_then_stop) == []
        final = db.update_campaign_statistics(campaign)
    for series in seen:
        assert series == sorted(series)  # a recount never goes backwards
        assert all(0 <= value <= 10_000 for value in series)
    recount = raw.execute(
        "SELECT count(*), count(*) FILTER (WHERE email <> '') FROM campaigndb.gmaps_businesses"
        " WHERE campaign_id = %s", [campaign]).fetchone()
    stored = raw.execute("SELECT total_businesses, total_emails FROM campaigndb.campaigns"
                         " WHERE id = %s", [campaign]).fetchone()
    assert recount == stored == (final.total_businesses, final.total_emails) == (10_000, 5_000)


def test_enrichers_page_while_others_enrich(dsn: str, workspace: uuid.UUID,
                                            raw: psycopg.Connection[Any]) -> None:
    """4 enrichers page through one campaign (keyset) and enrich every row they get, while
    the others do the same: no enricher sees a business twice, none is skipped by all."""
    with Client(dsn, pool_min_size=4, pool_max_size=4) as db:
        campaign = db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": "enrich"}, []).campaign_id
        db.insert_businesses_batch(campaign, "10001",
                                   [{"place_id": f"e{i}", "name": "x"} for i in range(2_000)])
        seen: list[list[uuid.UUID]] = [[] for _ in range(4)]

        def enricher(n: int) -> None:
            for page in _pages(db, campaign):
                seen[n].extend(b.id for b in page)
                db.update_enrichment_batch("facebook", [
                    {"business_id": str(b.id), "url": f"https://fb.com/{n}"} for b in page])

        assert run_all(4, enricher) == []
    for mine in seen:
        assert len(mine) == len(set(mine))  # no page overlapped another
    everyone = Counter(b for mine in seen for b in mine)
    all_ids = {r[0] for r in raw.execute(
        "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s", [campaign])}
    assert set(everyone) == all_ids  # nobody was skipped by everyone
    left = raw.execute("SELECT count(*) FROM campaigndb.gmaps_businesses WHERE campaign_id = %s"
                       " AND facebook_enriched_at IS NULL", [campaign]).fetchone()
    assert left == (0,)


def _pages(db: Client, campaign: uuid.UUID) -> Any:
    after = None
    while True:
        page = db.get_businesses_for_enrichment(campaign, "facebook", 50, after_id=after)
        if not page:
            return
        yield page
        after = page[-1].id
