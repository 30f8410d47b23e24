"""`track_campaign_cost`, one caller and many, against a `SELECT 1` round trip, one durable
commit and the application-level way (docs/benchmarks.md, "The hot row")."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import harness as h
import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from campaigndb import CampaignDBError, Client, Isolation, Settings

SERVICE = "gmaps_places"
RAW_MAX_ATTEMPTS = 1000  # the raw loop keeps trying: a call it gives up on is counted failed
LATENCY, RAW_LATENCY, CONCURRENT, STORM = (2000, 800), (1000, 400), (1500, 600), (600, 300)
WARMUP = 2  # untimed calls per thread before each concurrent run

RAW = ("SELECT id, total_cost FROM campaigndb.campaigns WHERE id = %s FOR UPDATE",
       "INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed,"
       " cost_usd, metadata) VALUES (%s, %s, %s, %s, %s) RETURNING id",
       "UPDATE campaigndb.campaigns SET total_cost = total_cost + %s, updated_at = now()"
       " WHERE id = %s RETURNING total_cost")
# the client's one-message transaction, by hand on a bare connection (no client code)
FN_CALL = (
    "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT public.track_campaign_cost(p_campaign_id =>"
    " %s::uuid, p_service => %s::varchar, p_items_processed => %s::integer, p_cost_usd =>"
    " %s::numeric, p_metadata => %s::jsonb, p_idempotency_key => %s::text); COMMIT"
)
# the same two writes as plain SQL in one message: no PL/pgSQL, no envelope, no validation
SQL_CALL = (
    "BEGIN ISOLATION LEVEL SERIALIZABLE; UPDATE campaigndb.campaigns SET total_cost ="
    " total_cost + %s, updated_at = now() WHERE id = %s; INSERT INTO campaigndb.gmaps_api_costs"
    " (campaign_id, service, items_processed, cost_usd, metadata, idempotency_key) VALUES"
    " (%s, %s, %s, %s, %s, %s); COMMIT"
)
NON_HOT = ("SELECT n_tup_upd - n_tup_hot_upd FROM pg_catalog.pg_stat_user_tables"
           " WHERE relid = 'campaigndb.campaigns'::regclass")


def cost_attempt(client: Client) -> h.Attempt:
    def attempt(campaign: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        try:
            client.track_campaign_cost(campaign, SERVICE, i % 500 + 1, h.value(i), {"i": i})
        except CampaignDBError:
            return False, 0
        return True, 0  # retries: client.stats

    return attempt


def floor_attempt(pool: ConnectionPool) -> h.Attempt:
    def attempt(row: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        with pool.connection() as conn:
            conn.execute(h.FLOOR_UPDATE, (h.value(i), row))
        return True, 0

    return attempt


def retried(pool: ConnectionPool, settings: Settings, begin: str,
            body: Callable[[psycopg.Connection[Any], Any, int], bool],
            errors: tuple[type[Exception], ...],
            note: Callable[[str], None] = lambda code: None) -> h.Attempt:
    """The application-level way: BEGIN, `body` statement by statement, COMMIT, retried on
    `errors` with the client's backoff (exponential, full jitter) up to RAW_MAX_ATTEMPTS."""

    def attempt(target: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        tries = 0
        while True:
            with pool.connection() as conn:
                try:
                    conn.execute(begin)
                    if not body(conn, target, i):
                        conn.execute("ROLLBACK")
                        return False, tries
                    conn.execute("COMMIT")
                    return True, tries
                except errors as exc:
                    note(str(getattr(exc, "sqlstate", "?")))
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            tries += 1
            if tries >= RAW_MAX_ATTEMPTS:
                note("exhausted")
                return False, tries - 1
            time.sleep(rng.uniform(0, min(settings.retry_max_s,
                                          settings.retry_base_s * 2 ** (tries - 1))))

    return attempt


def raw_cost(pool: ConnectionPool, settings: Settings) -> h.Attempt:
    def body(conn: psycopg.Connection[Any], campaign: Any, i: int) -> bool:
        conn.execute(RAW[0], (campaign,)).fetchone()
        conn.execute(RAW[1], (campaign, SERVICE, i % 500 + 1, h.value(i), Jsonb({"i": i})))
        conn.execute(RAW[2], (h.value(i), campaign)).fetchone()
        return True

    return retried(pool, settings, "BEGIN ISOLATION LEVEL SERIALIZABLE", body,
                   (pg_errors.SerializationFailure, pg_errors.DeadlockDetected))


def client_case(b: h.Bench, key: str, threads: int, campaigns: int, calls: int, seed: int, *,
                empty: bool = False, size: int = 0, **options: Any) -> None:
    """`track_campaign_cost` from `threads` threads on `campaigns` new campaigns."""
    before = non_hot(b) if empty else 0
    with b.client(size or min(threads, h.POOL_CAP), **options) as client:
        b.measure_warm(threads, cost_attempt(client), b.campaigns(1, "warm"), WARMUP)
        if empty:  # nearly empty tables: every workspace, campaign and cost row goes
            b.admin.execute("TRUNCATE campaigndb.workspaces, campaigndb.campaigns,"
                            " campaigndb.gmaps_api_costs CASCADE")
        run = b.case(key, threads, b.campaigns(campaigns, f"{key} s{seed}"), calls,
                     cost_attempt(client), seed, check=b.check_campaigns, stats=client)
    if empty:  # counted once the client's backends have exited (and flushed their stats)
        run.extra["non_hot"] = non_hot(b) - before


def non_hot(b: h.Bench) -> int:
    """Updates of campaigns so far that were not HOT (each wrote a campaigns_pkey entry)."""
    time.sleep(1.0)  # backends that just exited flush their statistics asynchronously
    return int(b.scalar(NON_HOT) or 0)


def measure(b: h.Bench, r: int) -> None:
    seed = r + 1
    with b.bare(autocommit=True, prepare_threshold=None) as conn:
        def select1(*_: Any) -> tuple[bool, int]:
            conn.execute("SELECT 1").fetchone()
            return True, 0

        def update(row: Any, i: int, _: random.Random) -> tuple[bool, int]:
            conn.execute(h.FLOOR_UPDATE, (h.value(i), row))
            return True, 0

        b.case("select1", 1, [None], b.n(LATENCY), select1, seed, warm=[None], warm_calls=200)
        b.case("commit.1x1", 1, b.floor_rows(1), b.n(LATENCY), update, seed,
               warm=b.floor_rows(1), warm_calls=200, check=b.check_floor)
    with b.pool(1, prepare=True) as pool:
        raw_case(b, "raw.1x1", pool, 1, b.n(RAW_LATENCY), seed)
    client_case(b, "client.1x1", 1, 1, b.n(LATENCY), seed)
    with b.bare(autocommit=True, prepare_threshold=None) as conn:
        cursor = psycopg.ClientCursor(conn)

        def by_hand(campaign: Any, i: int, _: random.Random) -> tuple[bool, int]:
            cursor.execute(FN_CALL, (campaign, SERVICE, i % 500 + 1, h.value(i), Jsonb({"i": i}),
                                     str(uuid.uuid4())))
            cursor.nextset()
            row = cursor.fetchone()
            return bool(row and row[0]["success"]), 0

        def plain(campaign: Any, i: int, _: random.Random) -> tuple[bool, int]:
            cursor.execute(SQL_CALL, (h.value(i), campaign, campaign, SERVICE, i % 500 + 1,
                                      h.value(i), Jsonb({"i": i}), str(uuid.uuid4())))
            return True, 0

        for key, attempt in (("fn.1x1", by_hand), ("sql.1x1", plain)):
            b.case(key, 1, b.campaigns(1, f"{key} r{r}"), b.n(LATENCY), attempt, seed,
                   warm=b.campaigns(1, "warm"), warm_calls=200, check=b.check_campaigns)
    for threads, count in ((10, 1), (100, 1), (10, 10)):
        floor_case(b, f"commit.{threads}x{count}", threads, count, b.n(CONCURRENT), seed)
    client_case(b, "client.10x1", 10, 1, b.n(CONCURRENT), seed)
    client_case(b, "client.100x1", 100, 1, b.n(CONCURRENT), seed)
    client_case(b, "client_rc.100x1", 100, 1, b.n(CONCURRENT), seed,
                isolation_overrides={"track_campaign_cost": Isolation.READ_COMMITTED})
    client_case(b, "client_never.100x1", 100, 1, b.n(STORM), seed, hot_row_lock="never")
    client_case(b, "client.10x10", 10, 10, b.n(CONCURRENT), seed, empty=True)
    with b.pool(100, prepare=True) as pool:
        raw_case(b, "raw.100x1", pool, 100, b.n(STORM), seed)


def raw_case(b: h.Bench, key: str, pool: ConnectionPool, threads: int, calls: int,
             seed: int) -> None:
    b.case(key, threads, b.campaigns(1, f"{key} s{seed}"), calls, raw_cost(pool, b.settings),
           seed, warm=b.campaigns(1, "warm"), check=b.check_campaigns)


def floor_case(b: h.Bench, key: str, threads: int, rows: int, calls: int, seed: int,
               size: int = h.POOL_CAP, *, rotate: bool = False, cpu: bool = False) -> None:
    """The one-row UPDATE from `threads` threads on `rows` rows, through a pool; with `cpu`,
    the run's CPU time (the pool's backends: one pool is open at a time)."""
    with b.pool(threads, cap=size) as pool:
        b.case(key, threads, b.floor_rows(rows), calls, floor_attempt(pool), seed,
               warm=b.floor_rows(1), check=b.check_floor, rotate=rotate,
               pids=b.backends(min(threads, size)) if cpu else None)


def ten_by_ten(res: dict[str, list[h.Run]]) -> str:
    runs = res.get("client.10x10", [])
    return (f"{sum(r.retries for r in runs)} retries in {sum(r.committed for r in runs):,} "
            f"calls ({sum(int(r.extra.get('non_hot', 0)) for r in runs)} non-HOT updates of "
            "campaigns)")


def exact_costs(res: dict[str, list[h.Run]]) -> list[float]:
    """1 for each run whose totals (or floor rows) were exact, 0 for each that was not."""
    return [0.0 if run.check else 1.0 for key, runs in res.items() if COSTED.fullmatch(key)
            for run in runs if run.check is not None]


COSTED = re.compile(r"(commit|raw|client\w*|fn|sql|metrics_\w+|conc\.\w+)\.\d+x\d+")
def shape(c: h.Cell) -> str:
    threads, campaigns = c.row.key.rsplit(".", 1)[1].split("x")
    return f"{threads} × {campaigns} ({min(int(threads), h.POOL_CAP)})"


ONE_COMMIT, TCC = "commit.1x1", "`track_campaign_cost`"
SECTION = h.Section(
    name="hot_row",
    title="`track_campaign_cost`: one caller, many callers, one hot row",
    about="The cost of one durable commit bounds every write; `track_campaign_cost` is "
          "measured against it, against the same transaction sent by hand and as plain SQL, "
          "and against the application-level way (five statements from Python, SERIALIZABLE, "
          "retried on 40001/40P01), from 1, 10 and 100 threads on one campaign and on ten.",
    measure=measure,
    tables=[
        h.Table([h.CALLS, h.P50, h.P99, h.P50_X, h.P99_X, h.FLOOR, h.CHECK], [
            h.Row("select1", "`SELECT 1` round trip (floor)"),
            h.Row(ONE_COMMIT, "autocommit single-row UPDATE, one durable commit (floor)",
                "select1"),
            h.Row("raw.1x1", "raw SQL: SERIALIZABLE transaction, 5 statements from Python",
                ONE_COMMIT),
            h.Row("client.1x1", "`track_campaign_cost` through `Client` (SERIALIZABLE)",
                ONE_COMMIT),
            h.Row("fn.1x1", "the same transaction without the client: one message, bare "
                          "connection", ONE_COMMIT),
            h.Row("sql.1x1", "the two writes as plain SQL in one message (no function), bare "
                           "connection", ONE_COMMIT),
        ], "Latency, one caller (sequential calls)"),
        h.Table([h.Col("threads × campaigns (pool)", shape), h.CALLS, h.TPS, h.TPS_X, h.FLOOR,
                 h.RETRIES, h.FAILED, h.Col("p99 ms per call", h.spread(lambda r: r.pct(99))),
                 h.CHECK], [h.Row(key, label, floor) for key, label, floor in (
                     (ONE_COMMIT, "autocommit single-row UPDATE (floor)", None),
                     *((f"commit.{s}", "autocommit single-row UPDATE (floor)", ONE_COMMIT)
                       for s in ("10x1", "100x1", "10x10")),
                     ("raw.1x1", "raw SQL, SERIALIZABLE + retry loop", ONE_COMMIT),
                     ("raw.100x1", "raw SQL, SERIALIZABLE + retry loop", "commit.100x1"),
                     ("client.1x1", f"{TCC}, SERIALIZABLE", ONE_COMMIT),
                     ("client.10x1", f"{TCC}, SERIALIZABLE", "commit.10x1"),
                     ("client.100x1", f"{TCC}, SERIALIZABLE", "commit.100x1"),
                     ("client.10x10", f"{TCC}, SERIALIZABLE, fresh campaigns, nearly empty "
                                      "tables", "commit.10x10"),
                     ("client_rc.100x1", f"{TCC}, READ COMMITTED (`isolation_overrides`)",
                      "commit.100x1"),
                     ("client_never.100x1", f"{TCC}, SERIALIZABLE, `hot_row_lock=\"never\"`",
                      "commit.100x1"))], "Throughput"),
    ],
    goals=[
        h.Goal("`track_campaign_cost` p50, one client ≤ 1.5 × one-commit floor p50",
             h.over(h.p("client.1x1", 50), h.p(ONE_COMMIT, 50)), lambda v: v <= 1.5),
        h.Goal("SERIALIZABLE, 100 callers on one campaign ≥ 0.8 × READ COMMITTED, 100 callers",
             h.over(h.tps("client.100x1"), h.tps("client_rc.100x1")), lambda v: v >= 0.8),
        h.Goal("zero serialization retries, 10 callers on 10 fresh campaigns (nearly empty "
             "tables)", h.of("client.10x10", lambda r: r.retries), lambda v: v == 0, every=True,
             shown=ten_by_ten),
        h.Goal("zero lost or doubled updates (total_cost = Σ rows = Σ sent, one row per call)",
             exact_costs, lambda v: v == 1, every=True, per=" runs exact"),
    ],
    compare=[
        h.Compare("`track_campaign_cost` p50 ÷ raw SQL p50, one client", h.p("client.1x1", 50),
                h.p("raw.1x1", 50)),
        h.Compare("`track_campaign_cost` tx/s ÷ raw SQL tx/s, 100 threads on one campaign",
                h.tps("client.100x1"), h.tps("raw.100x1")),
        h.Compare("`track_campaign_cost` SERIALIZABLE tx/s ÷ one-row UPDATE floor, 100 threads",
                h.tps("client.100x1"), h.tps("commit.100x1")),
        h.Compare("`hot_row_lock=\"adaptive\"` tx/s ÷ `\"never\"`, 100 threads on one campaign",
                h.tps("client.100x1"), h.tps("client_never.100x1")),
    ],
)
