"""The lead-generation part of bench.py: bulk writes against COPY, enrichment pages against
the raw SELECT, and the seeds' own expectations for small calls.

Each repeat (called from bench.py after the track_campaign_cost cases, whose 10 × 10 case
truncates the campaign tables, so every repeat starts here with an empty gmaps_businesses):

- small calls: `insert_businesses_batch` of 50 new businesses and `create_campaign_with_coverage`
  of 100 ZIP codes through the client, against COPY of the same rows on a bare connection
  (one transaction per call, the campaign row included for coverage);
- `insert_businesses_batch` of 10,000 businesses into an empty campaign, then a second batch
  of 10,000 of which half overlap the first (half of those changed), against COPY of the same
  10,000 rows into another empty campaign; and where the client's time goes;
- `create_campaign_with_coverage` with 10,000 ZIP codes against COPY of 10,000 coverage rows;
- a campaign of many businesses (COPY, then VACUUM ANALYZE), and pages of 100 of
  `get_businesses_for_enrichment` at offset 0, at a deep offset and with keyset `after_id`,
  through the client, by hand on a bare connection, and as the raw SELECT on the same index.
"""

from __future__ import annotations

import base64
import random
import re
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from bench_report import Run, Spread, Table, paired_ratio
from psycopg.types.json import Jsonb

from campaigndb import BusinessRow, Client
from campaigndb.pool import json_dumps

ZIP = "62701"
ENRICHMENT_TYPE = "facebook"
PAGE = 100
DEEP_OFFSET = 10_000


@dataclass(frozen=True)
class LeadSizes:
    batch_rows: int  # businesses per big insert_businesses_batch call (and its COPY)
    coverage_zips: int  # ZIP codes of the big create_campaign_with_coverage call
    small_calls: int  # calls per repeat of each small case (50 businesses, 100 ZIP codes)
    small_batch: int
    small_zips: int
    campaign_rows: int  # businesses of the campaign the enrichment pages read
    page_calls: int  # calls per repeat of each page case (and of its floor)
    warmup: int  # untimed calls before each timed sequence
    bulk_rounds: int  # big calls (and their COPYs) per repeat, each recorded as its own run


LEAD_FULL = LeadSizes(batch_rows=10_000, coverage_zips=10_000, small_calls=60, small_batch=50,
                      small_zips=100, campaign_rows=100_000, page_calls=60, warmup=6,
                      bulk_rounds=2)
LEAD_QUICK = LeadSizes(batch_rows=10_000, coverage_zips=10_000, small_calls=25, small_batch=50,
                       small_zips=100, campaign_rows=100_000, page_calls=25, warmup=6,
                       bulk_rounds=1)

# -- data ---------------------------------------------------------------------------------
FIELDS = ("place_id", "name", "address", "city", "state", "phone", "website", "category",
          "rating", "reviews_count", "latitude", "longitude", "email")
COPY_BUSINESSES = (
    "COPY campaigndb.gmaps_businesses (campaign_id, zip_code, " + ", ".join(FIELDS)
    + ") FROM STDIN"
)
COPY_COVERAGE = "COPY campaigndb.gmaps_campaign_coverage (campaign_id, zip_code) FROM STDIN"
INSERT_CAMPAIGN = (
    "INSERT INTO campaigndb.campaigns (id, workspace_id, name) VALUES (%s, %s, %s)"
)
CITIES = (("Springfield", "IL", 39.7817, -89.6501), ("Austin", "TX", 30.2672, -97.7431),
          ("Portland", "OR", 45.5152, -122.6784), ("Columbus", "OH", 39.9612, -82.9988),
          ("Denver", "CO", 39.7392, -104.9903), ("Raleigh", "NC", 35.7796, -78.6382))
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Washington Blvd", "Park Rd",
           "Lake Shore Dr", "Market St", "2nd Ave")
CATEGORIES = ("Coffee shop", "Plumber", "Dentist", "Bakery", "Hair salon", "Auto repair shop",
              "Law firm", "Florist", "Gym", "Pet groomer", "Roofing contractor", "Pizza restaurant")
WORDS = ("Blue", "Golden", "Summit", "Riverside", "Prime", "Bright", "Family", "Urban",
         "Classic", "Northside", "Heritage", "Evergreen")
EMAIL_SHARE = 0.35


def business(rng: random.Random, serial: int) -> dict[str, Any]:
    """One scraped Google-Maps business, the fields a scraper fills (e-mail on about 35 %)."""
    city, state, lat, lon = rng.choice(CITIES)
    category = rng.choice(CATEGORIES)
    name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {category}"
    slug = re.sub(r"[^a-z0-9]", "", name.lower()) + str(serial)
    row: dict[str, Any] = {
        "place_id": "ChIJ" + base64.urlsafe_b64encode(rng.randbytes(18)).decode()[:23],
        "name": name,
        "address": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": city,
        "state": state,
        "phone": f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
        "website": f"https://www.{slug}.com",
        "category": category,
        "rating": rng.randint(10, 50) / 10,
        "reviews_count": rng.randint(0, 4000),
        "latitude": round(lat + rng.uniform(-0.2, 0.2), 7),
        "longitude": round(lon + rng.uniform(-0.2, 0.2), 7),
    }
    if rng.random() < EMAIL_SHARE:
        row["email"] = f"info@{slug}.com"
    return row


def businesses(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [business(rng, i) for i in range(count)]


def overlap_batch(first: Sequence[dict[str, Any]], seed: int) -> tuple[list[dict[str, Any]],
                                                                        tuple[int, int, int]]:
    """As many rows as `first`: half of them new, a quarter from `first` with new values
    (rating, reviews_count), a quarter from `first` unchanged; and the expected
    (inserted, updated, skipped)."""
    rng = random.Random(seed)
    n = len(first)
    half = n // 2
    same = [dict(row) for row in first[: half // 2]]
    changed = [{**row, "reviews_count": row["reviews_count"] + rng.randint(1, 50),
                "rating": rng.randint(10, 50) / 10} for row in first[half // 2: half]]
    fresh = businesses(seed * 1_000_003, n - half)
    batch = same + changed + fresh
    rng.shuffle(batch)
    return batch, (len(fresh), len(changed), len(same))


def zip_codes(seed: int, count: int) -> list[str]:
    return [f"{z:05d}" for z in random.Random(seed).sample(range(501, 99_951), count)]


def copy_businesses(conn: psycopg.Connection[Any], campaign_id: Any,
                    rows: Sequence[dict[str, Any]]) -> None:
    """COPY the rows into the campaign and commit (the timed floor: tuples built here too)."""
    with conn.cursor() as cur, cur.copy(COPY_BUSINESSES) as copy:
        for row in rows:
            copy.write_row((campaign_id, ZIP, *[row.get(f) for f in FIELDS]))
    conn.commit()


def copy_coverage(conn: psycopg.Connection[Any], workspace_id: Any, name: str,
                  zips: Sequence[str]) -> uuid.UUID:
    """The campaign row and its coverage rows (COPY) in one transaction."""
    campaign_id = uuid.uuid4()
    conn.execute(INSERT_CAMPAIGN, (campaign_id, workspace_id, name))
    with conn.cursor() as cur, cur.copy(COPY_COVERAGE) as copy:
        for z in zips:
            copy.write_row((campaign_id, z))
    conn.commit()
    return campaign_id


# -- enrichment pages -----------------------------------------------------------------------
COLUMNS = ("b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state, "
           "b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url, "
           "b.email_verification_status")
# the function's own query for 'facebook' (sql/functions/get_businesses_for_enrichment.sql)
RAW_PAGE = (
    f"SELECT {COLUMNS} FROM campaigndb.gmaps_businesses AS b"
    " WHERE b.campaign_id = %s AND b.id > %s AND b.facebook_enriched_at IS NULL"
    " ORDER BY b.id LIMIT %s OFFSET %s"
)
# the client's message for one page, written by hand
FN_PAGE = (
    "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT * FROM"
    " public.get_businesses_for_enrichment(p_campaign_id => %s::uuid, p_enrichment_type =>"
    " %s::varchar, p_limit => %s::integer, p_offset => %s::integer, p_after_id => %s::uuid);"
    " COMMIT"
)
ZERO_UUID = uuid.UUID(int=0)

# the same rows as one JSON parameter into a plain INSERT ... SELECT: no validation, no
# dedup, no ON CONFLICT (the least any one-statement JSON design can cost)
JSON_INSERT = (
    "INSERT INTO campaigndb.gmaps_businesses (campaign_id, zip_code, " + ", ".join(FIELDS)
    + ") SELECT %s, %s, " + ", ".join(f"r.{f}" for f in FIELDS)
    + " FROM jsonb_to_recordset(%s::jsonb) AS r(place_id text, name text, address text,"
    " city text, state text, phone text, website text, category text, rating numeric,"
    " reviews_count integer, latitude double precision, longitude double precision,"
    " email text)"
)

# -- where the time goes: statements inside the function (auto_explain) ---------------------
STATEMENT_MIN_MS = 2  # statements inside the function at least this long are reported
# what auto_explain does not see as a statement: PL/pgSQL expressions (an IF condition is
# evaluated without the executor) and statements shorter than STATEMENT_MIN_MS
OTHER = ("… the rest of the function: what is no statement for auto_explain (PL/pgSQL "
         f"expressions such as an `IF` condition), statements under {STATEMENT_MIN_MS} ms")
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


class LeadGen:
    """The lead-generation measurements; results go into bench.py's results dict."""

    def __init__(self, dsn: str, admin: psycopg.Connection[Any], setup: Client,
                 sizes: LeadSizes, results: dict[str, list[Run]]) -> None:
        self.dsn = dsn
        self.admin = admin
        self.setup = setup
        self.sizes = sizes
        self.results = results
        self.profiled = True  # False once auto_explain could not be loaded
        # statements inside a function: case -> label -> one total per repeat
        self.statements: dict[str, dict[str, list[float]]] = defaultdict(dict)

    # -- helpers ---------------------------------------------------------------------
    def record(self, key: str, run: Run, unit: str = "rows") -> None:
        self.results[key].append(run)
        mark = "" if run.check in (None, "") else f"  CHECK FAILED: {run.check}"
        if len(run.latencies) == 1:
            print(f"  {key:<28} {run.committed:>7,} {unit} {run.wall * 1000:9.1f} ms "
                  f"{run.tps:10,.0f} {unit}/s{mark}", flush=True)
        else:
            print(f"  {key:<28} {len(run.latencies):>7,} calls p50 {run.pct(50):8.2f} ms "
                  f"p99 {run.pct(99):8.2f} ms max {max(run.latencies) * 1000:8.2f} ms{mark}",
                  flush=True)

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = Client(self.dsn, pool_min_size=1, pool_max_size=1,
                        application_name="campaigndb-bench-leadgen")
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    @contextmanager
    def bare(self, **kwargs: Any) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.dsn, application_name="campaigndb-bench-leadgen",
                             **kwargs) as conn:
            yield conn

    def count(self, table: str, campaign_id: Any) -> int:
        row = self.admin.execute(
            f"SELECT count(*) FROM campaigndb.{table} WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
        return int(row[0]) if row else -1

    def campaign(self, workspace: Any, name: str) -> str:
        return str(self.setup.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": name}, [ZIP]).campaign_id)

    # -- one repeat ------------------------------------------------------------------
    def repeat(self, r: int) -> None:
        seed = r + 1
        workspace = self.setup.create_workspace(f"bench leadgen r{r}").workspace_id
        with self.client() as client, self.bare() as conn:
            self.small_cases(client, conn, workspace, seed, r)
            for k in range(self.sizes.bulk_rounds):
                run = r * self.sizes.bulk_rounds + k  # alternates the order of the cases
                self.batch_cases(client, conn, workspace, seed * 7 + k, run)
                self.coverage_cases(client, conn, workspace, seed * 7 + k, run)
                self.breakdown(workspace, seed * 7 + k)
        self.page_cases(workspace, seed, r)

    def small_cases(self, client: Client, conn: psycopg.Connection[Any], workspace: Any,
                    seed: int, r: int) -> None:
        s = self.sizes
        calls = s.small_calls + s.warmup
        rows = businesses(seed * 31 + 1, calls * s.small_batch)
        chunks = [rows[i * s.small_batch:(i + 1) * s.small_batch] for i in range(calls)]
        zips = zip_codes(seed * 31 + 2, s.small_zips)
        target, floor_target = self.campaign(workspace, "small"), self.campaign(workspace, "cp")
        clock = time.perf_counter
        client_t: list[float] = []
        copy_t: list[float] = []
        cov_t: list[float] = []
        cov_copy_t: list[float] = []
        problems: list[str] = []
        for i, chunk in enumerate(chunks):
            def biz_client(c: list[dict[str, Any]] = chunk) -> None:
                answer = client.insert_businesses_batch(target, ZIP, c)
                if answer.inserted != s.small_batch:
                    problems.append(f"inserted {answer.inserted}")

            def biz_copy(c: list[dict[str, Any]] = chunk) -> None:
                copy_businesses(conn, floor_target, c)

            def cov_client(i: int = i) -> None:
                made = client.create_campaign_with_coverage(
                    {"workspace_id": workspace, "name": f"small cov {i}"}, zips)
                if made.zip_count != s.small_zips:
                    problems.append(f"zip_count {made.zip_count}")

            def cov_copy(i: int = i) -> None:
                copy_coverage(conn, workspace, f"cp cov {i}", zips)

            # interleaved call by call, the order alternating
            pair: list[tuple[list[float], Callable[[], None]]] = [
                (client_t, biz_client), (copy_t, biz_copy)]
            cov_pair: list[tuple[list[float], Callable[[], None]]] = [
                (cov_t, cov_client), (cov_copy_t, cov_copy)]
            for sink, call in (pair if i % 2 else pair[::-1]) + (
                    cov_pair if i % 2 else cov_pair[::-1]):
                started = clock()
                call()
                elapsed = clock() - started
                if i >= s.warmup:
                    sink.append(elapsed)
        expected = calls * s.small_batch
        for campaign_id in (target, floor_target):
            if self.count("gmaps_businesses", campaign_id) != expected:
                problems.append(f"{self.count('gmaps_businesses', campaign_id)} rows, "
                                f"expected {expected}")
        check = "; ".join(problems)
        for key, values in (("lg.small.biz.copy", copy_t), ("lg.small.biz.client", client_t),
                            ("lg.small.cov.copy", cov_copy_t), ("lg.small.cov.client", cov_t)):
            self.record(key, Run(latencies=values, wall=sum(values), committed=len(values),
                                 check=check), unit="calls")

    def batch_cases(self, client: Client, conn: psycopg.Connection[Any], workspace: Any,
                    seed: int, r: int) -> None:
        n = self.sizes.batch_rows
        first = businesses(seed * 31 + 3, n)
        second, (ins, upd, skip) = overlap_batch(first, seed * 31 + 4)
        clock = time.perf_counter

        def copy_case() -> None:
            target = self.campaign(workspace, "copy 10k")
            started = clock()
            copy_businesses(conn, target, first)
            elapsed = clock() - started
            got = self.count("gmaps_businesses", target)
            self.record("lg.batch.copy", Run([elapsed], elapsed, n,
                                             check="" if got == n else f"{got} rows"))

        def client_case() -> None:
            target = self.campaign(workspace, "client 10k")
            started = clock()
            one = client.insert_businesses_batch(target, ZIP, first)
            elapsed = clock() - started
            problems = [] if (one.inserted, one.updated, one.skipped) == (n, 0, 0) else [
                f"first batch: {one.inserted}/{one.updated}/{one.skipped}"]
            self.record("lg.batch.client", Run([elapsed], elapsed, n, check="; ".join(problems)))
            started = clock()
            two = client.insert_businesses_batch(target, ZIP, second)
            elapsed = clock() - started
            if (two.inserted, two.updated, two.skipped) != (ins, upd, skip):
                problems.append(f"second batch: inserted/updated/skipped {two.inserted}/"
                                f"{two.updated}/{two.skipped}, expected {ins}/{upd}/{skip}")
            got = self.count("gmaps_businesses", target)
            if got != n + ins:
                problems.append(f"{got} rows, expected {n + ins}")
            self.record("lg.batch.overlap", Run([elapsed], elapsed, n,
                                                check="; ".join(problems)))

        def json_case() -> None:
            target = self.campaign(workspace, "json insert 10k")
            with self.bare(autocommit=True) as bare:
                started = clock()
                bare.execute(JSON_INSERT, (target, ZIP, Jsonb(first, dumps=json_dumps)))
                elapsed = clock() - started
            got = self.count("gmaps_businesses", target)
            self.record("lg.batch.json", Run([elapsed], elapsed, n,
                                             check="" if got == n else f"{got} rows"))

        cases = [copy_case, client_case, json_case]
        for case in (cases if r % 2 else cases[::-1]):
            case()

    def coverage_cases(self, client: Client, conn: psycopg.Connection[Any], workspace: Any,
                       seed: int, r: int) -> None:
        n = self.sizes.coverage_zips
        zips = zip_codes(seed * 31 + 5, n)
        clock = time.perf_counter

        def copy_case() -> None:
            started = clock()
            campaign_id = copy_coverage(conn, workspace, "copy coverage 10k", zips)
            elapsed = clock() - started
            got = self.count("gmaps_campaign_coverage", campaign_id)
            self.record("lg.coverage.copy", Run([elapsed], elapsed, n,
                                                check="" if got == n else f"{got} rows"))

        def client_case() -> None:
            started = clock()
            made = client.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": "client coverage 10k"}, zips)
            elapsed = clock() - started
            got = self.count("gmaps_campaign_coverage", made.campaign_id)
            ok = got == made.zip_count == n
            self.record("lg.coverage.client", Run(
                [elapsed], elapsed, n, check="" if ok else f"{got} rows, zip_count "
                                                           f"{made.zip_count}"))

        for case in ((copy_case, client_case) if r % 2 else (client_case, copy_case)):
            case()

    # -- where the time of a big call goes ---------------------------------------------
    def breakdown(self, workspace: Any, seed: int) -> None:
        """The parts of a 10,000-business call (and of a 10,000-ZIP one), measured apart."""
        rows = businesses(seed * 31 + 6, self.sizes.batch_rows)
        zips = zip_codes(seed * 31 + 7, self.sizes.coverage_zips)
        clock = time.perf_counter
        with self.bare(autocommit=True, prepare_threshold=None) as conn:
            cursor = psycopg.ClientCursor(conn)
            for case, payload in (("batch", rows), ("coverage", zips)):
                started = clock()
                text = json_dumps(payload)
                encode = clock() - started
                started = clock()
                cursor.mogrify("SELECT %s::jsonb", (Jsonb(payload, dumps=json_dumps),))
                quote = clock() - started - encode
                started = clock()
                cursor.execute("SELECT pg_catalog.length(%s::text)", (text,))
                cursor.fetchone()
                send_text = clock() - started
                started = clock()
                cursor.execute("SELECT %s::jsonb IS NULL", (Jsonb(payload, dumps=json_dumps),))
                cursor.fetchone()
                send_jsonb = clock() - started
                parts = {
                    "encode": encode,
                    "quote": quote,
                    # the str is quoted like the jsonb text: take that (and SELECT 1) away
                    "send": max(0.0, send_text - quote),
                    "parse": max(0.0, send_jsonb - send_text - encode),
                }
                for part, value in parts.items():
                    self.results[f"lg.part.{case}.{part}"].append(Run([value], value, 1))
        # the function alone, its input already on the server (a temp table, stored
        # uncompressed): once as it is, then once with the statements inside it timed by
        # auto_explain (which adds a little to every statement, each foreign-key check too)
        with self.bare(autocommit=True, prepare_threshold=None) as conn:
            notices: list[str] = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            if self.profiled:
                try:
                    conn.execute("LOAD 'auto_explain'")
                    conn.execute("SET auto_explain.log_nested_statements = on")
                except psycopg.Error:
                    self.profiled = False
            conn.execute("CREATE TEMP TABLE bench_input (doc jsonb)")
            conn.execute("ALTER TABLE bench_input ALTER doc SET STORAGE EXTERNAL")

            def batch_params() -> tuple[Any, ...]:
                return (self.campaign(workspace, "server 10k"), ZIP)

            def coverage_params() -> tuple[Any, ...]:
                return (Jsonb({"workspace_id": str(workspace), "name": "server coverage"},
                              dumps=json_dumps),)

            calls: list[tuple[str, Any, str, Callable[[], tuple[Any, ...]]]] = [
                ("batch", rows, "SELECT public.insert_businesses_batch(%s, %s, "
                                "(SELECT doc FROM bench_input))", batch_params),
                ("coverage", zips, "SELECT public.create_campaign_with_coverage(%s, "
                                   "(SELECT doc FROM bench_input))", coverage_params),
            ]
            for case, payload, statement, params in calls:
                conn.execute("TRUNCATE bench_input")
                conn.execute("INSERT INTO bench_input VALUES (%s)",
                             (Jsonb(payload, dumps=json_dumps),))
                for profile in (False, True) if self.profiled else (False,):
                    args = params()
                    if self.profiled:
                        conn.execute("SET auto_explain.log_min_duration = "
                                     f"{STATEMENT_MIN_MS if profile else -1}")
                        conn.execute(f"SET client_min_messages = {'log' if profile else 'notice'}")
                    notices.clear()
                    started = clock()
                    row = conn.execute(statement, args).fetchone()
                    elapsed = clock() - started
                    conn.execute("SET client_min_messages = notice")
                    ok = bool(row and isinstance(row[0], dict) and row[0].get("success"))
                    if not profile:
                        self.results[f"lg.part.{case}.server"].append(
                            Run([elapsed], elapsed, 1, check="" if ok else f"answer {row}"))
                        continue
                    totals: dict[str, float] = defaultdict(float)
                    whole = 0.0
                    for message in notices:
                        match = NOTICE.search(message)
                        if not match:
                            continue
                        seconds = float(match.group(1)) / 1000
                        if match.group(2).lstrip().startswith("SELECT public."):
                            whole = seconds  # the call itself: the function as a whole
                        else:
                            totals[statement_label(match.group(2))] += seconds
                    for label, seconds in totals.items():
                        self.statements[case].setdefault(label, []).append(seconds)
                    if whole:
                        self.statements[case].setdefault(OTHER, []).append(
                            whole - sum(totals.values()))

    # -- enrichment pages -------------------------------------------------------------
    def build_campaign(self, workspace: Any, seed: int) -> tuple[str, list[uuid.UUID]]:
        """A campaign of `campaign_rows` businesses by COPY; VACUUM ANALYZE; its ids in order."""
        target = self.campaign(workspace, "enrichment")
        rng = random.Random(seed * 31 + 8)
        started = time.perf_counter()
        with self.bare() as conn:
            with conn.cursor() as cur, cur.copy(COPY_BUSINESSES) as copy:
                for i in range(self.sizes.campaign_rows):
                    row = business(rng, i)
                    copy.write_row((target, ZIP, *[row.get(f) for f in FIELDS]))
            conn.commit()
        self.admin.execute("VACUUM (ANALYZE) campaigndb.gmaps_businesses")
        ids = [row[0] for row in self.admin.execute(
            "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id",
            (target,))]
        print(f"  built a campaign of {len(ids):,} businesses (COPY + VACUUM ANALYZE) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        return target, ids

    def positions(self, ids: Sequence[uuid.UUID]) -> list[tuple[str, int, uuid.UUID | None]]:
        deep = min(DEEP_OFFSET, len(ids) - PAGE)
        far = len(ids) * 9 // 10
        return [("off0", 0, None), ("offdeep", deep, None), ("keydeep", 0, ids[deep - 1]),
                ("keyfar", 0, ids[far - 1])]

    def page_cases(self, workspace: Any, seed: int, r: int) -> None:
        target, ids = self.build_campaign(workspace, seed)
        s = self.sizes
        clock = time.perf_counter
        with self.client() as client, self.bare(autocommit=True) as raw, \
                self.bare(autocommit=True, prepare_threshold=None) as by_hand:
            hand = psycopg.ClientCursor(by_hand)

            def raw_page(offset: int, after: uuid.UUID | None) -> list[Any]:
                return [row[0] for row in raw.execute(
                    RAW_PAGE, (target, after or ZERO_UUID, PAGE, offset)).fetchall()]

            def fn_page(offset: int, after: uuid.UUID | None) -> list[Any]:
                hand.execute(FN_PAGE, (target, ENRICHMENT_TYPE, PAGE, offset, after))
                hand.nextset()
                return [row[0] for row in hand.fetchall()]

            def client_page(offset: int, after: uuid.UUID | None) -> list[Any]:
                return [row.id for row in client.get_businesses_for_enrichment(
                    target, ENRICHMENT_TYPE, PAGE, offset, after_id=after)]

            for name, offset, after in self.positions(ids):
                variants: list[tuple[str, Callable[[int, uuid.UUID | None], list[Any]]]] = [
                    ("raw", raw_page), ("fn", fn_page), ("client", client_page)]
                timings: dict[str, list[float]] = {v: [] for v, _ in variants}
                problems: set[str] = set()
                start = offset + (ids.index(after) + 1 if after is not None else 0)
                expected = ids[start:start + PAGE]
                for i in range(s.warmup + s.page_calls):
                    for variant, page in variants if i % 2 else variants[::-1]:
                        started = clock()
                        got = page(offset, after)
                        elapsed = clock() - started
                        if i >= s.warmup:
                            timings[variant].append(elapsed)
                        if got != expected:
                            problems.add(f"{variant}: page differs from the campaign's ids "
                                         f"{start}..{start + PAGE - 1}")
                for variant, values in timings.items():
                    self.record(f"lg.page.{name}.{variant}",
                                Run(values, sum(values), len(values),
                                    check="; ".join(sorted(problems))), unit="calls")
            # the client's model validation of one page, alone
            hand.execute(FN_PAGE, (target, ENRICHMENT_TYPE, PAGE, 0, None))
            hand.nextset()
            names = [column.name for column in hand.description or ()]
            dicts = [dict(zip(names, row, strict=True)) for row in hand.fetchall()]
            validation: list[float] = []
            for _ in range(s.warmup + s.page_calls):
                started = clock()
                [BusinessRow.model_validate(row) for row in dicts]
                validation.append(clock() - started)
            self.results["lg.page.pydantic"].append(
                Run(validation[s.warmup:], sum(validation[s.warmup:]), s.page_calls))


# -- the report -------------------------------------------------------------------------------
def _spread(res: dict[str, list[Run]], key: str, f: Callable[[Run], float]) -> list[float]:
    return [f(run) for run in res.get(key, [])]


def _ms(run: Run) -> float:
    return run.wall * 1000


def _check(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"


def goal_rows(res: dict[str, list[Run]], sizes: LeadSizes) -> list[list[str]]:
    """Rows for bench.py's Goals table: goal, measured, repeats meeting it, status."""
    rows: list[list[str]] = []

    def goal(text: str, values: list[float], ok: Callable[[float], bool], fmt: str,
             per: str = "") -> None:
        if not values:
            return
        spread = Spread.of(values)
        rows.append([text, spread.fmt(2, fmt),
                     f"{sum(1 for v in values if ok(v))}/{len(values)}{per}",
                     "met" if ok(spread.median) else "**not met**"])

    def rps(key: str) -> list[float]:
        return _spread(res, key, lambda run: run.tps)

    n = f"{sizes.batch_rows:,}"
    goal(f"`insert_businesses_batch`, {n} new businesses: rows/s ≥ 0.6 × COPY's rows/s",
         [a / b for a, b in zip(rps("lg.batch.client"), rps("lg.batch.copy"), strict=True)],
         lambda v: v >= 0.6, "×", " runs")
    goal(f"`insert_businesses_batch`, {n} with 50 % overlap: rows/s ≥ 0.6 × COPY's rows/s",
         [a / b for a, b in zip(rps("lg.batch.overlap"), rps("lg.batch.copy"), strict=True)],
         lambda v: v >= 0.6, "×", " runs")
    goal(f"`create_campaign_with_coverage`, {sizes.coverage_zips:,} ZIP codes: time ≤ 1.5 × "
         "COPY's", [a / b for a, b in zip(_spread(res, "lg.coverage.client", _ms),
                                          _spread(res, "lg.coverage.copy", _ms), strict=True)],
         lambda v: v <= 1.5, "×", " runs")

    def worst(key: str) -> list[float]:
        return _spread(res, key, lambda run: max(run.latencies) * 1000)

    goal(f"seed: `insert_businesses_batch` of {sizes.small_batch} under 1 s (slowest call)",
         worst("lg.small.biz.client"), lambda v: v < 1000, " ms")
    goal(f"seed: `create_campaign_with_coverage` of {sizes.small_zips} ZIP codes under 500 ms "
         "(slowest call)", worst("lg.small.cov.client"), lambda v: v < 500, " ms")
    goal(f"seed: `get_businesses_for_enrichment` of {PAGE} under 500 ms (slowest call, offset 0"
         f", {sizes.campaign_rows:,}-business campaign)", worst("lg.page.off0.client"),
         lambda v: v < 500, " ms")
    return rows


PAGE_LABELS = {
    "off0": "offset 0",
    "offdeep": f"offset {DEEP_OFFSET:,}",
    "keydeep": f"keyset: `after_id` = id of row {DEEP_OFFSET:,}",
    "keyfar": "keyset: `after_id` = id of row {far:,}",
}
VARIANT_LABELS = {
    "raw": "raw SELECT, same index (floor)",
    "fn": "the function by hand: one message, bare connection",
    "client": "`Client.get_businesses_for_enrichment`",
}
PART_LABELS = (
    ("encode", "JSON encoding (orjson, in the client)"),
    ("quote", "quoting the JSON into the SQL text (psycopg `ClientCursor`)"),
    ("send", "sending the message, server reading and lexing it"),
    ("parse", "parsing the text into `jsonb` (server)"),
    ("server", "the function, input already on the server"),
)


def sections(res: dict[str, list[Run]], statements: dict[str, dict[str, list[float]]],
             sizes: LeadSizes, profiled: bool) -> list[str]:
    """The markdown of the lead-generation sections."""
    def ms(key: str) -> list[float]:
        return _spread(res, key, _ms)

    def rps(key: str) -> list[float]:
        return _spread(res, key, lambda run: run.tps)

    n = sizes.batch_rows
    bulk = Table(["measurement", "rows × runs", "time ms", "rows/s", "rows/s ÷ COPY's",
                  "time ÷ COPY's", "floor", "check"])
    for key, label, floor in (
        ("lg.batch.copy", f"COPY of {n:,} businesses into an empty campaign (floor)", None),
        ("lg.batch.client", f"`insert_businesses_batch`, {n:,} new businesses, empty campaign",
         "lg.batch.copy"),
        ("lg.batch.overlap", f"`insert_businesses_batch`, {n:,} again: {n // 2:,} new, "
         f"{(n // 2) - (n // 2) // 2:,} changed, {(n // 2) // 2:,} unchanged", "lg.batch.copy"),
        ("lg.batch.json", f"raw SQL: the same {n:,} as one JSON parameter, plain `INSERT … "
         "SELECT FROM jsonb_to_recordset` (no validation, no upsert), bare connection",
         "lg.batch.copy"),
        ("lg.coverage.copy", f"COPY of {sizes.coverage_zips:,} coverage rows + the campaign row "
         "(floor)", None),
        ("lg.coverage.client", f"`create_campaign_with_coverage`, {sizes.coverage_zips:,} ZIP "
         "codes", "lg.coverage.copy"),
    ):
        runs = res.get(key, [])
        if not runs:
            continue
        rows_cell = f"{runs[0].committed:,} × {len(runs)}"
        if floor is None:
            bulk.add(label, rows_cell, Spread.of(ms(key)).fmt(1), Spread.of(rps(key)).fmt(0),
                     "1 (floor)", "1 (floor)", "–", _check(runs))
        else:
            bulk.add(label, rows_cell, Spread.of(ms(key)).fmt(1), Spread.of(rps(key)).fmt(0),
                     paired_ratio(rps(key), rps(floor)).fmt(2, "×"),
                     paired_ratio(ms(key), ms(floor)).fmt(2, "×"),
                     "COPY, same rows", _check(runs))

    parts = Table(["part", f"{n:,} businesses: ms", "share of the client call",
                   f"{sizes.coverage_zips:,} ZIP codes: ms", "share of the client call"])
    totals = {"batch": ms("lg.batch.client"), "coverage": ms("lg.coverage.client")}

    def share(values: list[float], total: list[float]) -> str:
        if len(values) != len(total):
            return "–"
        return Spread.of([100 * v / t for v, t in zip(values, total, strict=True)]).fmt(0, " %")

    def cells(case: str, key: str) -> tuple[str, str]:
        values = ms(key)
        if not values or not totals[case]:
            return "–", "–"
        return Spread.of(values).fmt(1), share(values, totals[case])

    parts.add("the whole client call (end to end, from the tables above)",
              Spread.of(totals["batch"]).fmt(1) if totals["batch"] else "–", "100 %",
              Spread.of(totals["coverage"]).fmt(1) if totals["coverage"] else "–", "100 %")
    for part, label in PART_LABELS:
        parts.add(label, *cells("batch", f"lg.part.batch.{part}"),
                  *cells("coverage", f"lg.part.coverage.{part}"))
        if part == "server" and profiled:
            for case in ("batch", "coverage"):
                seen = [(stmt, values) for stmt, values in statements.get(case, {}).items()
                        if 2 * len(values) >= len(totals[case])]  # not a one-off slow check
                for stmt, values in sorted(seen, key=lambda kv: (kv[0] == OTHER,
                                                                 -statistics.median(kv[1]))):
                    in_ms = [v * 1000 for v in values]
                    cell = Spread.of(in_ms).fmt(1)
                    if len(values) != len(totals[case]):
                        cell += f" ({len(values)} of {len(totals[case])} repeats)"
                    part_share = share(in_ms, totals[case])
                    row = [stmt if stmt == OTHER else f"… of which the statement {stmt}"]
                    row += ([cell, part_share, "", ""] if case == "batch"
                            else ["", "", cell, part_share])
                    parts.add(*row)
    rest: dict[str, list[float]] = {}
    for case in ("batch", "coverage"):
        pieces = [ms(f"lg.part.{case}.{p}") for p, _ in PART_LABELS]
        if totals[case] and all(len(p) == len(totals[case]) for p in pieces):
            rest[case] = [t - sum(vals) for t, *vals in zip(totals[case], *pieces, strict=True)]
    if rest:
        def rest_cells(case: str) -> tuple[str, str]:
            if case not in rest:
                return "–", "–"
            return Spread.of(rest[case]).fmt(1), share(rest[case], totals[case])

        parts.add("the rest (pool, BEGIN/COMMIT around the call, answer parsing; by "
                  "difference of separate measurements, so noisy)", *rest_cells("batch"),
                  *rest_cells("coverage"))

    pages = Table(["page of 100, `facebook`", "measurement", "calls × repeats", "p50 ms",
                   "p99 ms", "p50 ÷ raw SELECT p50", "check"])
    far = sizes.campaign_rows * 9 // 10
    for name in ("off0", "offdeep", "keydeep", "keyfar"):
        for variant in ("raw", "fn", "client"):
            key = f"lg.page.{name}.{variant}"
            runs = res.get(key, [])
            if not runs:
                continue
            p50 = [run.pct(50) for run in runs]
            p99 = [run.pct(99) for run in runs]
            raw_p50 = [run.pct(50) for run in res[f"lg.page.{name}.raw"]]
            ratio = "1 (floor)" if variant == "raw" else paired_ratio(p50, raw_p50).fmt(2, "×")
            pages.add(PAGE_LABELS[name].format(far=far), VARIANT_LABELS[variant],
                      f"{len(runs[0].latencies):,} × {len(runs)}", Spread.of(p50).fmt(3),
                      Spread.of(p99).fmt(3), ratio, _check(runs))

    small = Table(["measurement", "calls × repeats", "p50 ms", "p99 ms", "slowest ms",
                   "p50 ÷ floor p50", "floor", "seed's expectation", "check"])
    for key, label, floor, seed in (
        ("lg.small.biz.copy", f"COPY of {sizes.small_batch} businesses (floor)", None, "–"),
        ("lg.small.biz.client", f"`insert_businesses_batch` of {sizes.small_batch} new "
         "businesses", "lg.small.biz.copy", "under 1 s"),
        ("lg.small.cov.copy", f"COPY of {sizes.small_zips} coverage rows + the campaign row "
         "(floor)", None, "–"),
        ("lg.small.cov.client", f"`create_campaign_with_coverage` of {sizes.small_zips} ZIP "
         "codes", "lg.small.cov.copy", "under 500 ms"),
        ("lg.page.off0.raw", f"raw SELECT of a page of {PAGE} (floor)", None, "–"),
        ("lg.page.off0.client", f"`get_businesses_for_enrichment` of {PAGE}, offset 0, "
         f"{sizes.campaign_rows:,}-business campaign", "lg.page.off0.raw", "under 500 ms"),
    ):
        runs = res.get(key, [])
        if not runs:
            continue
        p50 = [run.pct(50) for run in runs]
        ratio = "1 (floor)" if floor is None else paired_ratio(
            p50, [run.pct(50) for run in res[floor]]).fmt(2, "×")
        small.add(label, f"{len(runs[0].latencies):,} × {len(runs)}", Spread.of(p50).fmt(2),
                  Spread.of([run.pct(99) for run in runs]).fmt(2),
                  Spread.of([max(run.latencies) * 1000 for run in runs]).fmt(2), ratio,
                  "–" if floor is None else ("COPY, same rows" if "copy" in floor
                                              else "raw SELECT"), seed, _check(runs))

    return [
        "## Lead generation: bulk writes against COPY",
        "",
        bulk.markdown(),
        "",
        f"### Where the time of one big call goes ({n:,} businesses; "
        f"{sizes.coverage_zips:,} ZIP codes)",
        "",
        "Each part measured on its own right after the end-to-end calls above, on data of the "
        "same shape; shares are per run, of that run's client call."
        + (" Statements inside the function: their durations as auto_explain logs them (those "
           f"of at least {STATEMENT_MIN_MS} ms in at least half of the runs), from a second "
           "call of the function alone with auto_explain on; the per-row foreign-key checks "
           "run inside the INSERT's figure, and auto_explain's own timing of each of them "
           "makes the statement figures a little high." if profiled else
           " (auto_explain could not be loaded: no per-statement figures.)"),
        "",
        parts.markdown(),
        "",
        "## Lead generation: enrichment pages",
        "",
        f"A campaign of {sizes.campaign_rows:,} businesses (built by COPY, then VACUUM ANALYZE), "
        "in a table that also holds this repeat's other campaigns; a page of "
        f"{PAGE} at each position, the three ways interleaved call by call.",
        "",
        pages.markdown(),
        "",
        "## Lead generation: small calls (the seeds' expectations)",
        "",
        small.markdown(),
    ]


def json_bytes_per_business() -> float:
    return len(json_dumps(businesses(0, 1000))) / 1000


def measured(sizes: LeadSizes) -> list[str]:
    """Bullets for bench.py's "What was measured"."""
    rounds = sizes.bulk_rounds
    return [
        "- **lead-generation data**: businesses as a Google-Maps scraper returns them: place_id "
        "(`ChIJ…`, 27 characters), name, address, city, state, phone, website, category, rating "
        f"(one decimal), reviews_count, latitude, longitude, and an e-mail on about "
        f"{EMAIL_SHARE * 100:.0f} % of them; {json_bytes_per_business():.0f} bytes of JSON each "
        "on average. Passed to the client as plain dicts (its documented fast path: no per-row "
        "pydantic model).",
        "- **COPY floors**: psycopg `cursor.copy(\"COPY campaigndb.gmaps_businesses (...) FROM "
        "STDIN\")` with `write_row` from the same dicts (the tuples are built inside the timed "
        "part), into the real table (same indexes, constraints and foreign key), in one "
        "transaction committed at the end, on a bare connection; for coverage the campaign row "
        "is inserted in the same transaction. The client's calls, the COPYs and the plain JSON "
        "insert alternate their order from run to run.",
        f"- **big calls**: {rounds} run{'s' if rounds > 1 else ''} per repeat (each reported as "
        "a run of its own), each call into a campaign created just before it; the second batch "
        f"of {sizes.batch_rows:,} goes to the first batch's campaign. Checked: the counts the "
        "function answers (inserted/updated/skipped, zip_count) and the rows in the table.",
        "- **plain JSON insert**: the same rows as one `jsonb` parameter (orjson, psycopg's "
        "extended protocol) into `INSERT INTO campaigndb.gmaps_businesses (...) SELECT … FROM "
        "jsonb_to_recordset(%s::jsonb)`, autocommit on a bare connection, into another empty "
        "campaign: what is left of the function's design without its validation, dedup and "
        "upsert.",
        "- **where the time goes**: JSON encoding is `campaigndb.pool.json_dumps` (the client's); "
        "quoting is `ClientCursor.mogrify` minus that; sending is the same text as a `text` "
        "literal (`SELECT length(%s::text)`) minus the quoting; parsing is `SELECT %s::jsonb IS "
        "NULL` minus sending and encoding; the function alone reads its input from a temporary "
        "table (storage EXTERNAL, so no decompression); the rest is the difference.",
        f"- **small calls**: {sizes.small_calls} calls per repeat each, after {sizes.warmup} "
        "untimed ones, client and COPY interleaved call by call; each call of "
        f"`create_campaign_with_coverage` creates a new campaign; the {sizes.small_batch}-business "
        "batches all go to one campaign (new place_ids each call).",
        f"- **enrichment pages**: {sizes.page_calls} calls per repeat of each, after "
        f"{sizes.warmup} untimed ones (so the raw SELECT runs as a prepared statement, psycopg's "
        "default); `enrichment_type = 'facebook'` (no business enriched yet, so every row is in "
        "the partial index `gmaps_businesses_facebook_todo_idx`); the raw SELECT is the "
        "function's own query for that type, on a bare autocommit connection. Checked: every "
        "page is exactly the campaign's ids at that position.",
    ]


def notes(res: dict[str, list[Run]], statements: dict[str, dict[str, list[float]]],
          sizes: LeadSizes) -> list[str]:
    """Observations computed from the medians, for "Reading the figures"."""
    def med(key: str, f: Callable[[Run], float] = _ms) -> float:
        values = _spread(res, key, f)
        return statistics.median(values) if values else float("nan")

    def ratio(a: str, b: str, f: Callable[[Run], float] = _ms) -> float:
        return paired_ratio(_spread(res, a, f), _spread(res, b, f)).median

    def p50(run: Run) -> float:
        return run.pct(50)

    if not res.get("lg.batch.client"):
        return []
    n = sizes.batch_rows
    parts = {p: med(f"lg.part.batch.{p}") for p, _ in PART_LABELS}
    client_ms = med("lg.batch.client")
    biggest = sorted(((statistics.median(v) * 1000, label if label != OTHER else
                       "the rest (PL/pgSQL expressions, short statements)")
                      for label, v in statements.get("batch", {}).items()), reverse=True)
    def rps(run: Run) -> float:
        return run.tps

    copy_ms = med("lg.batch.copy")
    needed = paired_ratio(_spread(res, "lg.batch.client", _ms),
                          [c / 0.6 for c in _spread(res, "lg.batch.copy", _ms)]).median
    out = [
        f"- {n:,} businesses: COPY takes {copy_ms:,.0f} ms ({med('lg.batch.copy', rps):,.0f} "
        f"rows/s), `insert_businesses_batch` {client_ms:,.0f} ms into an empty campaign "
        f"({ratio('lg.batch.client', 'lg.batch.copy', rps):.2f}× COPY's rows/s) and "
        f"{med('lg.batch.overlap'):,.0f} ms for the half-overlapping batch "
        f"({ratio('lg.batch.overlap', 'lg.batch.copy', rps):.2f}×). The goal of 0.6× needs "
        f"the call to take at most COPY's time ÷ 0.6 (median {copy_ms / 0.6:,.0f} ms); it "
        f"takes {needed:.2f}× that.",
        f"- Where it goes: Python's share is small (encoding {parts['encode']:.0f} ms, quoting "
        f"{parts['quote']:.0f} ms), and so is the transfer ({parts['send']:.0f} ms); the "
        f"server parses the {n * json_bytes_per_business() / 1e6:.1f} MB of JSON into jsonb in "
        f"{parts['parse']:.0f} ms and the function "
        f"itself takes {parts['server']:,.0f} ms"
        + (" (" + "; ".join(f"{label} {value:,.0f} ms" for value, label in biggest[:3]) + ")"
           if biggest else "")
        + f". The same rows as one JSON parameter into a plain `INSERT … SELECT FROM "
        f"jsonb_to_recordset` (no validation, no dedup, no ON CONFLICT), end to end, take "
        f"{med('lg.batch.json'):,.0f} ms ({ratio('lg.batch.json', 'lg.batch.copy', rps):.2f}× "
        "COPY's rows/s): about the least a one-statement JSON design costs on this server.",
        f"- Coverage: COPY of {sizes.coverage_zips:,} rows takes "
        f"{med('lg.coverage.copy'):,.0f} ms, `create_campaign_with_coverage` "
        f"{med('lg.coverage.client'):,.0f} ms "
        f"({ratio('lg.coverage.client', 'lg.coverage.copy'):.2f}× COPY's time).",
        f"- Pages of {PAGE}: the raw SELECT takes {med('lg.page.off0.raw', p50):.2f} ms at "
        f"offset 0, {med('lg.page.offdeep.raw', p50):.2f} ms at offset {DEEP_OFFSET:,} (it "
        f"reads and drops the {DEEP_OFFSET:,} rows before the page) and "
        f"{med('lg.page.keydeep.raw', p50):.2f} / {med('lg.page.keyfar.raw', p50):.2f} ms by "
        f"keyset at rows {DEEP_OFFSET:,} / {sizes.campaign_rows * 9 // 10:,}; through the client "
        f"{med('lg.page.off0.client', p50):.2f}, {med('lg.page.offdeep.client', p50):.2f}, "
        f"{med('lg.page.keydeep.client', p50):.2f} and {med('lg.page.keyfar.client', p50):.2f}"
        f" ms. The same call by hand on a bare connection takes "
        f"{med('lg.page.off0.fn', p50):.2f} ms at offset 0: the function and its transaction "
        f"add {med('lg.page.off0.fn', p50) - med('lg.page.off0.raw', p50):.2f} ms to the "
        f"SELECT, the client "
        f"{med('lg.page.off0.client', p50) - med('lg.page.off0.fn', p50):.2f} ms, of which "
        f"{med('lg.page.pydantic', p50):.2f} ms is validating the {PAGE} rows into "
        "`BusinessRow` models.",
    ]
    return out
