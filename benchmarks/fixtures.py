"""Data the sections write (businesses as a scraper returns them, ZIP codes, KPI rows), the COPY
floors, and where a call's time goes inside the server (auto_explain)."""

from __future__ import annotations

import base64
import random
import re
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from campaigndb import json_dumps

ZIP = "62701"
FIELDS = ("place_id", "name", "address", "city", "state", "phone", "website", "category",
          "rating", "reviews_count", "latitude", "longitude", "email")
COPY_BUSINESSES = ("COPY campaigndb.gmaps_businesses (campaign_id, zip_code, "
                   + ", ".join(FIELDS) + ") FROM STDIN")
RECORDSET = (" FROM jsonb_to_recordset(%s::jsonb) AS r(place_id text, name text, address text,"
             " city text, state text, phone text, website text, category text, rating numeric,"
             " reviews_count integer, latitude double precision, longitude double precision,"
             " email text)")
CITIES = (("Springfield", "IL", 39.7817, -89.6501), ("Austin", "TX", 30.2672, -97.7431),
          ("Portland", "OR", 45.5152, -122.6784), ("Columbus", "OH", 39.9612, -82.9988),
          ("Denver", "CO", 39.7392, -104.9903), ("Raleigh", "NC", 35.7796, -78.6382))
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Washington Blvd",
           "Park Rd", "Lake Shore Dr", "Market St", "2nd Ave")
CATEGORIES = ("Coffee shop", "Plumber", "Dentist", "Bakery", "Hair salon", "Auto repair shop",
              "Law firm", "Florist", "Gym", "Pet groomer", "Roofing contractor", "Pizza place")
WORDS = ("Blue", "Golden", "Summit", "Riverside", "Prime", "Bright", "Family", "Urban",
         "Classic", "Northside", "Heritage", "Evergreen")


def business(rng: random.Random, serial: int) -> dict[str, Any]:
    """One scraped Google-Maps business (an e-mail on about 35 % of them)."""
    city, state, lat, lon = rng.choice(CITIES)
    category = rng.choice(CATEGORIES)
    name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {category}"
    slug = re.sub(r"[^a-z0-9]", "", name.lower()) + str(serial)
    row: dict[str, Any] = {
        "place_id": "ChIJ" + base64.urlsafe_b64encode(rng.randbytes(18)).decode()[:23],
        "name": name, "address": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": city, "state": state,
        "phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
        "website": f"https://www.{slug}.com", "category": category,
        "rating": rng.randint(10, 50) / 10, "reviews_count": rng.randint(0, 4000),
        "latitude": round(lat + rng.uniform(-0.2, 0.2), 7),
        "longitude": round(lon + rng.uniform(-0.2, 0.2), 7),
    }
    if rng.random() < 0.35:
        row["email"] = f"info@{slug}.com"
    return row


def businesses(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [business(rng, i) for i in range(count)]


def overlap_batch(first: Sequence[dict[str, Any]],
                  seed: int) -> tuple[list[dict[str, Any]], tuple[int, int, int]]:
    """As many rows as `first`: half new, a quarter of `first` changed, a quarter unchanged;
    and the expected (inserted, updated, skipped)."""
    rng = random.Random(seed)
    half = len(first) // 2
    same = [dict(row) for row in first[: half // 2]]
    changed = [{**row, "reviews_count": row["reviews_count"] + rng.randint(1, 50),
                "rating": rng.randint(10, 50) / 10} for row in first[half // 2: half]]
    fresh = businesses(seed * 1_000_003, len(first) - half)
    batch = same + changed + fresh
    rng.shuffle(batch)
    return batch, (len(fresh), len(changed), len(same))


def zip_codes(seed: int, count: int) -> list[str]:
    return [f"{z:05d}" for z in random.Random(seed).sample(range(501, 99_951), count)]


def copy_businesses(conn: psycopg.Connection[Any], campaign_id: Any,
                    rows: Sequence[dict[str, Any]]) -> None:
    """COPY the rows into the campaign and commit (the tuples are built in the timed part)."""
    with conn.cursor() as cur, cur.copy(COPY_BUSINESSES) as copy:
        for row in rows:
            copy.write_row((campaign_id, ZIP, *[row.get(f) for f in FIELDS]))
    conn.commit()


def copy_coverage(conn: psycopg.Connection[Any], workspace_id: Any, name: str,
                  zips: Sequence[str]) -> uuid.UUID:
    """A campaign row and its coverage rows (COPY) in one transaction."""
    campaign_id = uuid.uuid4()
    conn.execute("INSERT INTO campaigndb.campaigns (id, workspace_id, name) VALUES (%s, %s, %s)",
                 (campaign_id, workspace_id, name))
    with conn.cursor() as cur, cur.copy("COPY campaigndb.gmaps_campaign_coverage"
                                        " (campaign_id, zip_code) FROM STDIN") as copy:
        for z in zips:
            copy.write_row((campaign_id, z))
    conn.commit()
    return campaign_id


def kpi_rows(rng: random.Random, campaign_id: Any, month: date,
             days: int) -> list[dict[str, Any]]:
    """A campaign's daily rows on two platforms: about 3 % of the days without impressions, 5 %
    without clicks (so every ratio meets a zero), money with four decimals."""
    rows = []
    for day in range(days):
        for platform in ("google_ads", "facebook_ads"):
            impressions = 0 if rng.random() < 0.03 else rng.randint(100, 50_000)
            clicks = (0 if impressions == 0 or rng.random() < 0.05
                      else rng.randint(1, max(1, impressions // 20)))
            conversions = rng.randint(0, clicks // 5) if clicks else 0
            rows.append({
                "campaign_id": str(campaign_id),
                "kpi_date": (month + timedelta(days=day)).isoformat(), "platform": platform,
                "impressions": impressions, "clicks": clicks,
                "spend": str(Decimal(rng.randint(1, 50_000_000)).scaleb(-4) if clicks else 0),
                "conversions": conversions,
                "revenue": str(Decimal(rng.randint(1, 90_000_000)).scaleb(-4) if conversions
                               else 0)})
    return rows


# -- where the time of a call goes inside the server ---------------------------------------
STATEMENT_MIN_MS = 2  # statements inside a function at least this long are reported
OTHER = ("… the rest of the function: what is no statement for auto_explain (PL/pgSQL "
         f"expressions such as an `IF` condition), statements under {STATEMENT_MIN_MS} ms")
WHOLE = "the whole call (auto_explain on)"
NOTICE = re.compile(r"duration: ([0-9.]+) ms\s+plan:\s*Query Text:\s*(.*)", re.DOTALL)


def statement_label(text: str) -> str:
    """Markdown naming a statement inside a function: its first words, INSERT's table."""
    words = " ".join(text.split())
    label = " ".join(words.split(" ")[:4])
    insert = re.search(r"INSERT INTO (\S+)", words)
    if insert and not label.startswith("INSERT"):
        label += f" … INSERT INTO {insert.group(1)}"
    label = "`" + label.replace("|", "\\|").replace("`", "'") + " …`"
    if not insert and "_array_elements" in words:
        label += " (a pass over the input's elements)"
    return label


def stage(conn: psycopg.Connection[Any], payload: Any) -> None:
    """The input of `profile`d calls, already on the server: bench_input.doc (a temp table,
    storage EXTERNAL, so reading it decompresses nothing)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS bench_input (doc jsonb)")
    conn.execute("ALTER TABLE bench_input ALTER doc SET STORAGE EXTERNAL")
    conn.execute("TRUNCATE bench_input")
    conn.execute("INSERT INTO bench_input VALUES (%s)", (Jsonb(payload, dumps=json_dumps),))


def profile(conn: psycopg.Connection[Any], statement: str,
            params: Sequence[Any]) -> dict[str, float] | None:
    """Seconds of each statement inside one call as auto_explain logs them, the rest (OTHER)
    and the whole call (WHOLE); None when auto_explain cannot be loaded."""
    notices: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(diag.message_primary or "")

    try:
        conn.execute("LOAD 'auto_explain'")
    except psycopg.Error:
        return None
    conn.add_notice_handler(keep)
    try:
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute(f"SET auto_explain.log_min_duration = {STATEMENT_MIN_MS}")
        conn.execute("SET client_min_messages = log")
        conn.execute(statement, params).fetchone()
    finally:
        conn.execute("SET client_min_messages = notice")
        conn.execute("SET auto_explain.log_min_duration = -1")
        conn.remove_notice_handler(keep)
    parts: dict[str, float] = {}
    for message in notices:
        match = NOTICE.search(message)
        if match and match.group(2).lstrip().startswith("SELECT public."):
            parts[WHOLE] = float(match.group(1)) / 1000
        elif match:
            label = statement_label(match.group(2))
            parts[label] = parts.get(label, 0.0) + float(match.group(1)) / 1000
    if WHOLE in parts:
        parts[OTHER] = 2 * parts[WHOLE] - sum(parts.values())
    return parts
