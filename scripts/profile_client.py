"""Where a client call's time goes (docs/client.md, "Where a call's time goes").

    .venv/bin/python scripts/profile_client.py [CALLS] [--profile]

Creates a throwaway migrated database on the test server, a campaign of 2,000 businesses,
and measures the p50 of each way of reading a page of 100 of `get_businesses_for_enrichment`
and of calling `track_campaign_cost`, the ways interleaved in random order call by call:
the raw SELECT (prepared after 5 uses, as psycopg does by default), the function's
one-message transaction by hand, pieces of the client's path, and the client.  `--profile`
adds cProfile of the client's calls.  Not a benchmark (see benchmarks/): a decomposition.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from itertools import repeat

import psycopg
from pydantic import TypeAdapter

from campaigndb import Client
from campaigndb.core.functions.leadgen import BusinessRow
from campaigndb_dev.testing import drop_database, migrated_database, unique_name

COLUMNS = ("b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state, "
           "b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url, "
           "b.email_verification_status")
RAW_PAGE = (f"SELECT {COLUMNS} FROM campaigndb.gmaps_businesses AS b WHERE b.campaign_id = %s"
            " AND b.id > %s AND b.facebook_enriched_at IS NULL ORDER BY b.id LIMIT %s OFFSET %s")
FN = ("SELECT * FROM public.get_businesses_for_enrichment(p_campaign_id => %s::uuid,"
      " p_enrichment_type => %s::varchar, p_limit => %s::integer, p_offset => %s::integer,"
      " p_after_id => %s::uuid)")
FN_PAGE = f"BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; {FN}; COMMIT"
COST = ("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT public.track_campaign_cost(p_campaign_id =>"
        " %s::uuid, p_service => %s::varchar, p_items_processed => %s::integer, p_cost_usd =>"
        " %s::numeric, p_metadata => %s::jsonb, p_idempotency_key => %s::text); COMMIT")
PAGE = TypeAdapter(list[BusinessRow])


def p50s(ways: dict[str, Callable[[], object]], calls: int) -> dict[str, float]:
    for way in ways.values():
        for _ in range(20):
            way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(calls):
        order = list(ways.items())
        random.shuffle(order)
        for name, way in order:
            start = time.perf_counter()
            way()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    calls = next((int(a) for a in sys.argv[1:] if a.isdigit()), 300)
    name = unique_name("profile_client")
    dsn = migrated_database(name)
    try:
        with Client(dsn, pool_min_size=1, pool_max_size=1) as db, \
                psycopg.connect(dsn, autocommit=True) as raw, \
                psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as bare:
            workspace = db.create_workspace("profile").workspace_id
            campaign = db.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": "profile"}, ["10001"]).campaign_id
            for batch in range(4):
                db.insert_businesses_batch(campaign, "10001", [
                    {"place_id": f"p{batch}-{i}", "name": f"Business {i}",
                     "address": "1 Main St", "city": "New York", "state": "NY",
                     "phone": "555-0100", "website": "https://example.com",
                     "category": "food", "email": f"b{i}@example.com"} for i in range(500)])
            raw.execute("VACUUM ANALYZE campaigndb.gmaps_businesses")
            hand = psycopg.ClientCursor(bare)
            page_args = (campaign, "facebook", 100, 0, None)
            hand.execute(FN, page_args)
            names = [column.name for column in hand.description or ()]
            rows = hand.fetchall()
            dicts = [dict(zip(names, row, strict=True)) for row in rows]

            def raw_page() -> object:
                return raw.execute(RAW_PAGE, (campaign, uuid.UUID(int=0), 100, 0)).fetchall()

            def fn_by_hand() -> object:
                hand.execute(FN_PAGE, page_args)
                hand.nextset()
                return hand.fetchall()

            def pool_checkout() -> object:
                with db.pool.connection() as conn:
                    return conn

            def fn_on_pool() -> object:
                with db.pool.connection() as conn, psycopg.ClientCursor(conn) as cursor:
                    cursor.execute(FN_PAGE, page_args)
                    cursor.nextset()
                    return cursor.fetchall()

            def client_call() -> object:
                return db.call("get_businesses_for_enrichment", p_campaign_id=str(campaign),
                               p_enrichment_type="facebook", p_limit=100, p_offset=0)

            def client_typed() -> object:
                return db.get_businesses_for_enrichment(campaign, "facebook", 100, 0)

            def cost_by_hand() -> object:
                hand.execute(COST, (campaign, "gmaps", 1, Decimal("0.01"), "{}",
                                    str(uuid.uuid4())))
                hand.nextset()
                return hand.fetchall()

            def cost_client() -> object:
                return db.track_campaign_cost(campaign, "gmaps", 1, Decimal("0.01"))

            ways: dict[str, Callable[[], object]] = {
                "page: raw SELECT (floor)": raw_page,
                "page: the function by hand, one message": fn_by_hand,
                "page: the same on a pool connection": fn_on_pool,
                "page: Client.call (envelope of dicts)": client_call,
                "page: Client.get_businesses_for_enrichment": client_typed,
                "pool checkout and return alone": pool_checkout,
                "100 rows -> dicts alone (as calls.answer)": lambda: list(
                    map(dict, map(zip, repeat(names), rows))),
                "100 dicts -> BusinessRow alone": lambda: PAGE.validate_python(dicts),
                "cost: track_campaign_cost by hand, one message": cost_by_hand,
                "cost: Client.track_campaign_cost": cost_client,
            }
            result = p50s(ways, calls)
            floor = result["page: raw SELECT (floor)"]
            for way, p50 in result.items():
                print(f"{way:50s} {p50:7.3f} ms  {p50 / floor:5.2f}x the raw SELECT")
            ratio = (result["cost: Client.track_campaign_cost"]
                     / result["cost: track_campaign_cost by hand, one message"])
            print(f"cost: client / by hand = {ratio:.2f}x")
            if "--profile" in sys.argv:
                for way in (client_typed, cost_client):
                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(500):
                        way()
                    profile.disable()
                    pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
