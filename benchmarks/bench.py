"""The campaigndb benchmark harness: `make bench`, or from the repository root

    .venv/bin/python benchmarks/bench.py [--quick]

It creates its own migrated database on the test server (the embedded throwaway PostgreSQL
when CAMPAIGNDB_DSN is unset), measures, rewrites BENCHMARKS.md and prints the same tables.

Every figure is measured in this run, on this server, against floors measured in the same
repeat: a `SELECT 1` round trip, an autocommit single-row UPDATE (one durable commit) alone and
with the same number of threads, and the application-level way the project replaces (the same
work sent statement by statement from Python in a SERIALIZABLE transaction, retried on 40001).
Each measurement is repeated (5 times, --quick 2) with the repeats interleaved, and reported as
the median with the min–max of the repeats; ratios are taken per repeat (figure / floor of the
same repeat) and reported the same way.  After every run that writes costs the harness checks,
exactly (Decimal), that each campaign's total_cost equals the sum of its gmaps_api_costs rows
and the sum of what the committed calls sent, and that there is one row per committed call.

The lead-generation functions (bench_leadgen.py, run at the end of each repeat) are measured
against COPY of the same rows (bulk writes) and the raw SELECT on the same index (enrichment
pages), with the seeds' expectations for small calls beside them.

Campaign execution (bench_execution.py): `execute_campaign_atomically` alone against the
one-commit floor, and the seeds' load test (1,000 launches from 200 threads through a pool of
20 on 3 workflows) as the client does it, with `hot_row_lock="never"`, as raw SQL from Python,
and as the one-row UPDATE floor at the same concurrency, each run checked for the execution
invariants (counter = rows = committed calls, one audit row each, execution_number 1..n).

Transaction-metrics recording (bench_metrics.py): `track_campaign_cost` from 10 threads on 10
campaigns through a new `Client` per run, metrics off, on, on, off in each repeat, their
throughput ratio against the goal (on ≥ 0.95 × off), and one transaction_metrics row per call
checked after every run with metrics on.

Every write function (bench_functions.py): one call of each, the size the seeds name, through
the client against the same writes as raw SQL statements in one transaction (one round trip
per statement, and all in one pipeline: the floor), with `SELECT 1` and one commit beside
them; and `track_campaign_cost` latency (p50/p95/p99) at 1, 10 and 100 concurrent callers
against a `SELECT 1` and a one-row UPDATE floor at the same concurrency.

The KPI roll-up (bench_kpi.py): a month of daily rows for 1,000 campaigns loaded through
`upsert_daily_kpi_batch` against COPY, then `aggregate_monthly_kpis` against the same
aggregation as a plain INSERT ... SELECT ... GROUP BY, whose summaries must be identical.

The seeds' expectations (bench_seeds.py): every timing the design documents expected, beside
the figure of this run that answers it (plus a failed call's rollback, the health check and
error classification, measured there).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from bench_execution import EXEC_FULL, EXEC_QUICK, ExecSizes, ExecutionBench
from bench_functions import FN_FULL, FN_QUICK, FnSizes, FunctionBench
from bench_kpi import KPI_FULL, KPI_QUICK, KpiBench, KpiSizes
from bench_leadgen import LEAD_FULL, LEAD_QUICK, LeadGen, LeadSizes
from bench_leadgen import goal_rows as leadgen_goals
from bench_leadgen import measured as leadgen_measured
from bench_leadgen import notes as leadgen_notes
from bench_leadgen import sections as leadgen_sections
from bench_metrics import METRICS_FULL, METRICS_QUICK, MetricsBench, MetricsSizes
from bench_report import Run, Spread, Table, machine_facts, paired_ratio, server_facts
from bench_seeds import SEEDS_FULL, SEEDS_QUICK, SeedsBench, SeedSizes
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from campaigndb import CampaignDBError, Client, Isolation, Settings
from campaigndb.testing import drop_database, migrated_database, unique_name

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "gmaps_places"
POOL_CAP = 20  # pools are sized to the thread count, up to this (the client's default max)
RAW_MAX_ATTEMPTS = 1000  # the raw loop keeps trying: a call it gives up on is counted failed


@dataclass(frozen=True)
class Sizes:
    repeats: int
    latency_calls: int  # sequential calls per repeat for the floors and single-client latency
    raw_latency_calls: int  # sequential raw-SQL transactions per repeat (5 round trips each)
    concurrent_calls: int  # calls per concurrent run, spread over its threads
    storm_calls: int  # 100 threads on one campaign that retry a lot (raw SQL, hot_row_lock=never)
    warmup: int  # untimed calls before each timed run (per thread for concurrent runs)


FULL = Sizes(repeats=5, latency_calls=2000, raw_latency_calls=1000, concurrent_calls=1500,
             storm_calls=600, warmup=2)
QUICK = Sizes(repeats=2, latency_calls=800, raw_latency_calls=400, concurrent_calls=600,
              storm_calls=300, warmup=2)


# -- SQL ----------------------------------------------------------------------------------
FLOOR_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.floor (
    id          integer     PRIMARY KEY,
    n           bigint      NOT NULL DEFAULT 0,
    total       numeric     NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70)
"""
FLOOR_UPDATE = (
    "UPDATE bench.floor SET n = n + 1, total = total + %s, updated_at = now() WHERE id = %s"
)

RAW_BEGIN = "BEGIN ISOLATION LEVEL SERIALIZABLE"
RAW_LOCK = "SELECT id, total_cost FROM campaigndb.campaigns WHERE id = %s FOR UPDATE"
RAW_INSERT = (
    "INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed, cost_usd,"
    " metadata) VALUES (%s, %s, %s, %s, %s) RETURNING id"
)
RAW_UPDATE = (
    "UPDATE campaigndb.campaigns SET total_cost = total_cost + %s, updated_at = now()"
    " WHERE id = %s RETURNING total_cost"
)

# the client's one-message transaction, sent by hand on a bare connection (no client code)
FN_CALL = (
    "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT public.track_campaign_cost("
    "p_campaign_id => %s::uuid, p_service => %s::varchar, p_items_processed => %s::integer,"
    " p_cost_usd => %s::numeric, p_metadata => %s::jsonb, p_idempotency_key => %s::text); COMMIT"
)
# the same two writes as plain SQL in one message: no PL/pgSQL, no envelope, no validation
SQL_ONE_MESSAGE = (
    "BEGIN ISOLATION LEVEL SERIALIZABLE;"
    " UPDATE campaigndb.campaigns SET total_cost = total_cost + %s, updated_at = now()"
    " WHERE id = %s;"
    " INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed, cost_usd,"
    " metadata, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s); COMMIT"
)
NON_HOT_UPDATES = (
    "SELECT n_tup_upd - n_tup_hot_upd FROM pg_catalog.pg_stat_user_tables"
    " WHERE relid = 'campaigndb.campaigns'::regclass"
)

CHECK_CAMPAIGNS = """
SELECT c.id::text, c.total_cost, COALESCE(s.total, 0), COALESCE(s.n, 0)
  FROM campaigndb.campaigns AS c
  LEFT JOIN LATERAL (SELECT sum(k.cost_usd) AS total, count(*) AS n
                       FROM campaigndb.gmaps_api_costs AS k
                      WHERE k.campaign_id = c.id) AS s ON true
 WHERE c.id = ANY(%s::uuid[])
"""

# A call: (target, amount, items_processed, metadata) -> (committed?, retries)
Attempt = Callable[[Any, Decimal, int, dict[str, Any], random.Random], tuple[bool, int]]
Check = Callable[[dict[Any, list[Decimal]]], str]


def amount(rng: random.Random) -> Decimal:
    """A cost with four decimals (exact in numeric and in Decimal)."""
    return Decimal(rng.randint(1, 999_999)).scaleb(-4)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_threads(threads: int, body: Callable[[int], None]) -> float:
    """Start `threads` threads, release them together with a Barrier; wall seconds to the last."""
    barrier = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def main(t: int) -> None:
        barrier.wait()
        try:
            body(t)
        except BaseException as exc:  # reported after the join
            failures.append(exc)

    workers = [threading.Thread(target=main, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    if failures:
        raise failures[0]
    return wall


def measure(threads: int, targets: Sequence[Any], calls: int, attempt: Attempt,
            check: Check | None, seed: int) -> Run:
    """`calls` calls over `threads` threads (thread t works on targets[t % len(targets)])."""
    plans: list[list[tuple[Any, Decimal, int, dict[str, Any]]]] = []
    for t, count in enumerate(split(calls, threads)):
        rng = random.Random(seed * 100_003 + t)
        target = targets[t % len(targets)]
        plans.append([(target, amount(rng), rng.randint(1, 500), {"bench": seed, "t": t, "i": i})
                      for i in range(count)])
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ledger: list[list[tuple[Any, Decimal]]] = [[] for _ in range(threads)]
    retries = [0] * threads
    failed = [0] * threads

    def body(t: int) -> None:
        rng = random.Random(seed * 7 + t)
        clock = time.perf_counter
        own_latencies, own_ledger = latencies[t], ledger[t]
        for target, value, items, metadata in plans[t]:
            started = clock()
            ok, tries = attempt(target, value, items, metadata, rng)
            own_latencies.append(clock() - started)
            retries[t] += tries
            if ok:
                own_ledger.append((target, value))
            else:
                failed[t] += 1

    wall = run_threads(threads, body)
    run = Run(latencies=[x for per in latencies for x in per], wall=wall,
              committed=sum(len(per) for per in ledger), retries=sum(retries),
              failed=sum(failed))
    if check is not None:
        expected: dict[Any, list[Decimal]] = {target: [] for target in targets}
        for per in ledger:
            for target, value in per:
                expected[target].append(value)
        run.check = check(expected)
    return run


# -- the workloads -------------------------------------------------------------------------
def raw_attempt(pool: ConnectionPool, settings: Settings) -> Attempt:
    """The application-level way: five statements from Python, retried on 40001/40P01."""

    def attempt(campaign_id: Any, value: Decimal, items: int, metadata: dict[str, Any],
                rng: random.Random) -> tuple[bool, int]:
        tries = 0
        while True:
            with pool.connection() as conn:
                try:
                    conn.execute(RAW_BEGIN)
                    conn.execute(RAW_LOCK, (campaign_id,)).fetchone()
                    conn.execute(RAW_INSERT, (campaign_id, SERVICE, items, value,
                                              Jsonb(metadata))).fetchone()
                    conn.execute(RAW_UPDATE, (value, campaign_id)).fetchone()
                    conn.execute("COMMIT")
                    return True, tries
                except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            tries += 1
            if tries >= RAW_MAX_ATTEMPTS:
                return False, tries - 1
            # the client's own backoff: exponential with full jitter, same base and cap
            time.sleep(rng.uniform(0, min(settings.retry_max_s,
                                          settings.retry_base_s * 2 ** (tries - 1))))

    return attempt


def client_attempt(client: Client) -> Attempt:
    def attempt(campaign_id: Any, value: Decimal, items: int, metadata: dict[str, Any],
                rng: random.Random) -> tuple[bool, int]:
        try:
            client.track_campaign_cost(campaign_id, SERVICE, items, value, metadata)
        except CampaignDBError:
            return False, 0
        return True, 0  # retries: client.stats

    return attempt


def floor_attempt(pool: ConnectionPool) -> Attempt:
    def attempt(row: Any, value: Decimal, items: int, metadata: dict[str, Any],
                rng: random.Random) -> tuple[bool, int]:
        with pool.connection() as conn:
            conn.execute(FLOOR_UPDATE, (value, row))
        return True, 0

    return attempt


class Bench:
    def __init__(self, dsn: str, sizes: Sizes, lead: LeadSizes, execution: ExecSizes,
                 metrics: MetricsSizes, functions: FnSizes, kpi: KpiSizes,
                 seeds: SeedSizes) -> None:
        self.dsn = dsn
        self.sizes = sizes
        self.lead = lead
        self.settings = Settings()
        self.results: dict[str, list[Run]] = defaultdict(list)
        self.admin = psycopg.connect(dsn, autocommit=True)
        self.admin.execute(FLOOR_SCHEMA)
        self.setup = Client(dsn, pool_min_size=1, pool_max_size=2,
                            application_name="campaigndb-bench-setup")
        self._next_row = 0
        self.leadgen = LeadGen(dsn, self.admin, self.setup, lead, self.results)
        self.execution = ExecutionBench(self, execution, FLOOR_UPDATE)
        self.metrics = MetricsBench(self, metrics, measure, client_attempt)
        self.functions = FunctionBench(self, functions, measure, client_attempt, floor_attempt)
        self.kpi = KpiBench(self, kpi)
        self.seeds = SeedsBench(self, seeds, functions.stats_rows, self.execution,
                                self.metrics.ratios)

    def close(self) -> None:
        self.setup.close()
        self.admin.close()

    # -- fixtures ----------------------------------------------------------------------
    def campaigns(self, count: int, label: str) -> list[str]:
        """A new workspace and `count` new campaigns in it, created through the client."""
        workspace = self.setup.create_workspace(f"bench {label}").workspace_id
        return [
            str(self.setup.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": f"bench {label} {i}"}, ["10001"]
            ).campaign_id)
            for i in range(count)
        ]

    def floor_rows(self, count: int) -> list[int]:
        ids = list(range(self._next_row + 1, self._next_row + count + 1))
        self._next_row += count
        with self.admin.cursor() as cur:
            cur.executemany("INSERT INTO bench.floor (id) VALUES (%s)", [(i,) for i in ids])
        return ids

    def empty_tables(self) -> None:
        """Nearly empty campaign tables: every workspace, campaign and cost row goes."""
        self.admin.execute("TRUNCATE campaigndb.workspaces, campaigndb.campaigns,"
                           " campaigndb.gmaps_api_costs CASCADE")

    # -- checks: zero lost or doubled updates -------------------------------------------
    def check_campaigns(self, expected: dict[Any, list[Decimal]]) -> str:
        rows = self.admin.execute(CHECK_CAMPAIGNS, (list(expected),)).fetchall()
        problems = []
        if len(rows) != len(expected):
            problems.append(f"{len(expected) - len(rows)} campaign(s) missing")
        for campaign_id, total, rows_sum, row_count in rows:
            sent = sum(expected[campaign_id], Decimal(0))
            calls = len(expected[campaign_id])
            if not (total == rows_sum == sent) or row_count != calls:
                problems.append(f"campaign {campaign_id[:8]}: total_cost {total}, rows sum "
                                f"{rows_sum} ({row_count} rows), sent {sent} ({calls} calls)")
        return "; ".join(problems)

    def check_floor(self, expected: dict[Any, list[Decimal]]) -> str:
        rows = self.admin.execute("SELECT id, n, total FROM bench.floor WHERE id = ANY(%s)",
                                  (list(expected),)).fetchall()
        problems = [
            f"row {row}: n {n} total {total}, sent {len(expected[row])} / "
            f"{sum(expected[row], Decimal(0))}"
            for row, n, total in rows
            if n != len(expected[row]) or total != sum(expected[row], Decimal(0))
        ]
        return "; ".join(problems)

    # -- pools and clients --------------------------------------------------------------
    @contextmanager
    def pool(self, threads: int, *, prepare: bool = False) -> Iterator[ConnectionPool]:
        size = min(threads, POOL_CAP)
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "campaigndb-bench"}
        if not prepare:
            kwargs["prepare_threshold"] = None
        pool = ConnectionPool(self.dsn, min_size=size, max_size=size, kwargs=kwargs, open=True,
                              name="bench")
        try:
            pool.wait(timeout=60)
            yield pool
        finally:
            pool.close()

    @contextmanager
    def client(self, threads: int, **options: Any) -> Iterator[Client]:
        size = min(threads, POOL_CAP)
        client = Client(self.dsn, pool_min_size=size, pool_max_size=size,
                        application_name="campaigndb-bench", **options)
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    def warm(self, threads: int, attempt: Attempt, targets: Sequence[Any]) -> None:
        """Untimed calls on other targets: every pooled connection has run the statements."""
        measure(threads, targets, threads * self.sizes.warmup, attempt, None, seed=0)

    # -- one repeat of every measurement, interleaved --------------------------------------
    def repeat(self, r: int) -> None:
        s = self.sizes
        seed = r + 1

        # floors: a SELECT 1 round trip and one durable commit, on a bare connection
        with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
            def select1(*_: Any) -> tuple[bool, int]:
                conn.execute("SELECT 1").fetchone()
                return True, 0

            def update(row: Any, value: Decimal, *_: Any) -> tuple[bool, int]:
                conn.execute(FLOOR_UPDATE, (value, row))
                return True, 0

            measure(1, [None], 200, select1, None, seed)
            self.record("select1", measure(1, [None], s.latency_calls, select1, None, seed))
            measure(1, self.floor_rows(1), 200, update, None, seed)
            self.record("commit.1x1", measure(1, self.floor_rows(1), s.latency_calls, update,
                                              self.check_floor, seed))

        # the raw-SQL way, one client
        with self.pool(1, prepare=True) as pool:
            attempt = raw_attempt(pool, self.settings)
            self.warm(1, attempt, self.campaigns(1, "warm"))
            self.record("raw.1x1", measure(1, self.campaigns(1, f"raw r{r}"),
                                           s.raw_latency_calls, attempt, self.check_campaigns,
                                           seed))

        # track_campaign_cost through the client, one caller
        self.client_case("client.1x1", 1, 1, s.latency_calls, seed)
        # execute_campaign_atomically, one caller (floor: commit.1x1 above)
        self.execution.latency(r)

        # the same transaction without the client: one message on a bare connection
        with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
            cursor = psycopg.ClientCursor(conn)

            def bare(campaign_id: Any, value: Decimal, items: int, metadata: dict[str, Any],
                     rng: random.Random) -> tuple[bool, int]:
                cursor.execute(FN_CALL, (campaign_id, SERVICE, items, value, Jsonb(metadata),
                                         str(uuid.uuid4())))
                cursor.nextset()
                row = cursor.fetchone()
                return bool(row and row[0]["success"]), 0

            def plain(campaign_id: Any, value: Decimal, items: int, metadata: dict[str, Any],
                      rng: random.Random) -> tuple[bool, int]:
                cursor.execute(SQL_ONE_MESSAGE, (value, campaign_id, campaign_id, SERVICE, items,
                                                 value, Jsonb(metadata), str(uuid.uuid4())))
                return True, 0

            measure(1, self.campaigns(1, "warm"), 200, bare, None, seed)
            self.record("fn.1x1", measure(1, self.campaigns(1, f"fn r{r}"), s.latency_calls,
                                          bare, self.check_campaigns, seed))
            measure(1, self.campaigns(1, "warm"), 200, plain, None, seed)
            self.record("sql.1x1", measure(1, self.campaigns(1, f"sql r{r}"), s.latency_calls,
                                           plain, self.check_campaigns, seed))

        # one-commit floors at the concurrent shapes
        for threads, rows in ((10, 1), (100, 1), (10, 10)):
            with self.pool(threads) as pool:
                attempt = floor_attempt(pool)
                self.warm(threads, attempt, self.floor_rows(rows))
                self.record(f"commit.{threads}x{rows}",
                            measure(threads, self.floor_rows(rows), s.concurrent_calls, attempt,
                                    self.check_floor, seed))

        self.client_case("client.10x1", 10, 1, s.concurrent_calls, seed)
        self.client_case("client.100x1", 100, 1, s.concurrent_calls, seed)
        self.client_case("client_rc.100x1", 100, 1, s.concurrent_calls, seed,
                         isolation_overrides={"track_campaign_cost": Isolation.READ_COMMITTED})
        self.client_case("client_never.100x1", 100, 1, s.storm_calls, seed,
                         hot_row_lock="never")
        # transaction metrics off, then on: 10 callers on 10 new campaigns, a new client each
        self.metrics.repeat(r)
        # 10 callers on 10 campaigns created just now, in nearly empty tables
        self.client_case("client.10x10", 10, 10, s.concurrent_calls, seed, empty=True)

        # the raw-SQL way, 100 threads on one campaign
        with self.pool(100, prepare=True) as pool:
            attempt = raw_attempt(pool, self.settings)
            self.warm(100, attempt, self.campaigns(1, "warm"))
            self.record("raw.100x1", measure(100, self.campaigns(1, f"raw100 r{r}"),
                                             s.storm_calls, attempt,
                                             self.check_campaigns, seed))

        # the seeds' load test of execute_campaign_atomically, with its floor and the raw way
        self.execution.load_cases(r)

        # lead generation (after the 10 × 10 case's TRUNCATE: gmaps_businesses starts empty)
        self.leadgen.repeat(r)

        # every write function against raw SQL; latency at 1, 10 and 100 callers
        started = time.perf_counter()
        self.functions.repeat(r)
        # the seeds' extras: a failed call's rollback, health checks, classification
        self.seeds.repeat(r)
        # the KPI roll-up: 1,000 campaigns' month, loaded and aggregated, against floors
        middle = time.perf_counter()
        self.kpi.repeat(r)
        print(f"  (functions and seeds {middle - started:.1f} s, KPI roll-up "
              f"{time.perf_counter() - middle:.1f} s)", flush=True)

    def non_hot_updates(self) -> int:
        """Updates of campaigns that were not HOT (each wrote a campaigns_pkey entry) so far."""
        time.sleep(1.0)  # backends that just exited flush their statistics asynchronously
        row = self.admin.execute(NON_HOT_UPDATES).fetchone()
        return int(row[0]) if row else 0

    def client_case(self, key: str, threads: int, campaigns: int, calls: int, seed: int, *,
                    empty: bool = False, **options: Any) -> None:
        before = self.non_hot_updates() if empty else 0
        with self.client(threads, **options) as client:
            attempt = client_attempt(client)
            self.warm(threads, attempt, self.campaigns(1, "warm"))
            if empty:
                self.empty_tables()
            targets = self.campaigns(campaigns, f"{key} s{seed}")
            client.stats.reset()
            run = measure(threads, targets, calls, attempt, self.check_campaigns, seed)
            run.retries = client.stats.total_retries()
        if empty:  # counted once the client's backends have exited (and flushed their stats)
            run.non_hot = self.non_hot_updates() - before
        self.record(key, run)

    def record(self, key: str, run: Run) -> None:
        self.results[key].append(run)
        mark = "" if run.check in (None, "") else "  CHECK FAILED"
        print(f"  {key:<20} {run.committed:>6} calls {run.wall:7.2f}s {run.tps:9,.0f} tx/s "
              f"p50 {run.pct(50):6.2f} ms p99 {run.pct(99):7.2f} ms retries {run.retries}"
              f"{f' failed {run.failed}' if run.failed else ''}{mark}", flush=True)


# -- the report ------------------------------------------------------------------------------
LATENCY_ROWS = (
    # key, label, floor key
    ("select1", "`SELECT 1` round trip (floor)", None),
    ("commit.1x1", "autocommit single-row UPDATE, one durable commit (floor)", "select1"),
    ("raw.1x1", "raw SQL: SERIALIZABLE transaction, 5 statements from Python", "commit.1x1"),
    ("client.1x1", "`track_campaign_cost` through `Client` (SERIALIZABLE)", "commit.1x1"),
    ("fn.1x1", "the same transaction without the client: one message, bare connection",
     "commit.1x1"),
    ("sql.1x1", "the two writes as plain SQL in one message (no function), bare connection",
     "commit.1x1"),
)
THROUGHPUT_ROWS = (
    # key, label, threads, campaigns, floor key
    ("commit.1x1", "autocommit single-row UPDATE (floor)", 1, 1, None),
    ("commit.10x1", "autocommit single-row UPDATE (floor)", 10, 1, "commit.1x1"),
    ("commit.100x1", "autocommit single-row UPDATE (floor)", 100, 1, "commit.1x1"),
    ("commit.10x10", "autocommit single-row UPDATE (floor)", 10, 10, "commit.1x1"),
    ("raw.1x1", "raw SQL, SERIALIZABLE + retry loop", 1, 1, "commit.1x1"),
    ("raw.100x1", "raw SQL, SERIALIZABLE + retry loop", 100, 1, "commit.100x1"),
    ("client.1x1", "`track_campaign_cost`, SERIALIZABLE", 1, 1, "commit.1x1"),
    ("client.10x1", "`track_campaign_cost`, SERIALIZABLE", 10, 1, "commit.10x1"),
    ("client.100x1", "`track_campaign_cost`, SERIALIZABLE", 100, 1, "commit.100x1"),
    ("client.10x10", "`track_campaign_cost`, SERIALIZABLE, fresh campaigns, nearly empty tables",
     10, 10, "commit.10x10"),
    ("client_rc.100x1", "`track_campaign_cost`, READ COMMITTED (`isolation_overrides`)", 100, 1,
     "commit.100x1"),
    ("client_never.100x1", "`track_campaign_cost`, SERIALIZABLE, `hot_row_lock=\"never\"`", 100,
     1, "commit.100x1"),
)
FLOOR_NAMES = {
    "select1": "`SELECT 1`",
    "commit.1x1": "one commit, 1 thread",
    "commit.10x1": "one-row UPDATE, 10 threads",
    "commit.100x1": "one-row UPDATE, 100 threads",
    "commit.10x10": "UPDATE, 10 threads on 10 rows",
}


def checks_cell(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"


def build_report(bench: Bench, sizes: Sizes, meta: dict[str, str], quick: bool) -> str:
    res = bench.results

    def p(key: str, q: float) -> list[float]:
        return [run.pct(q) for run in res[key]]

    def tps(key: str) -> list[float]:
        return [run.tps for run in res[key]]

    latency = Table(["measurement", "calls × repeats", "p50 ms", "p99 ms", "p50 ÷ floor",
                     "p99 ÷ floor", "floor"])
    for key, label, floor in LATENCY_ROWS:
        runs = res[key]
        calls = f"{runs[0].committed:,} × {len(runs)}"
        if floor is None:
            latency.add(label, calls, Spread.of(p(key, 50)).fmt(3), Spread.of(p(key, 99)).fmt(3),
                        "1 (floor)", "1 (floor)", "–")
        else:
            latency.add(label, calls, Spread.of(p(key, 50)).fmt(3), Spread.of(p(key, 99)).fmt(3),
                        paired_ratio(p(key, 50), p(floor, 50)).fmt(2, "×"),
                        paired_ratio(p(key, 99), p(floor, 99)).fmt(2, "×"), FLOOR_NAMES[floor])

    throughput = Table(["measurement", "threads × campaigns (pool)", "calls × repeats", "tx/s",
                        "÷ floor", "floor", "retries per committed call", "failed calls",
                        "p99 ms per call", "lost/doubled check"])
    for key, label, threads, campaigns, floor in THROUGHPUT_ROWS:
        runs = res[key]
        committed = sum(run.committed for run in runs)
        retries = sum(run.retries for run in runs)
        shape = f"{threads} × {campaigns} ({min(threads, POOL_CAP)})"
        ratio = "1 (floor)" if floor is None else paired_ratio(tps(key), tps(floor)).fmt(2, "×")
        throughput.add(label, shape, f"{runs[0].committed + runs[0].failed:,} × {len(runs)}",
                       Spread.of(tps(key)).fmt(0), ratio, FLOOR_NAMES.get(floor or "", "–"),
                       f"{retries / committed:.3f} ({retries:,} total)" if committed else "–",
                       sum(run.failed for run in runs), Spread.of(p(key, 99)).fmt(2),
                       checks_cell(runs))

    # goals, judged on the median of the per-repeat ratios; every repeat shown as well
    goals = Table(["goal", "measured", "repeats meeting it", "status"])

    def goal(text: str, values: list[float], ok: Callable[[float], bool], unit: str) -> None:
        spread = Spread.of(values)
        hits = sum(1 for v in values if ok(v))
        goals.add(text, spread.fmt(2, unit), f"{hits}/{len(values)}",
                  "met" if ok(spread.median) else "**not met**")

    goal("`track_campaign_cost` p50, one client ≤ 1.5 × one-commit floor p50",
         [a / b for a, b in zip(p("client.1x1", 50), p("commit.1x1", 50), strict=True)],
         lambda v: v <= 1.5, "×")
    goal("SERIALIZABLE, 100 callers on one campaign ≥ 0.8 × READ COMMITTED, 100 callers",
         [a / b for a, b in zip(tps("client.100x1"), tps("client_rc.100x1"), strict=True)],
         lambda v: v >= 0.8, "×")
    per_call = [run.retries for run in res["client.10x10"]]
    non_hot = sum(run.non_hot or 0 for run in res["client.10x10"])
    goals.add("zero serialization retries, 10 callers on 10 fresh campaigns (nearly empty tables)",
              f"{sum(per_call)} retries in {sum(r.committed for r in res['client.10x10']):,} "
              f"calls ({non_hot} non-HOT updates of campaigns)",
              f"{sum(1 for v in per_call if v == 0)}/{len(per_call)}",
              "met" if sum(per_call) == 0 else "**not met**")
    own = ("exec", "fn.", "kpi.", "seed.")  # parts with goal rows of their own
    checked = [run for key, runs in res.items() if not key.startswith(own)
               for run in runs if run.check is not None]
    bad = [run for run in checked if run.check]
    goals.add("zero lost or doubled updates (total_cost = Σ rows = Σ sent, one row per call)",
              f"{len(checked) - len(bad)}/{len(checked)} runs exact",
              f"{len(checked) - len(bad)}/{len(checked)}", "met" if not bad else "**not met**")
    for row in leadgen_goals(res, bench.lead):
        goals.add(*row)
    for row in bench.execution.goal_rows():
        goals.add(*row)
    for row in bench.metrics.goal_rows():
        goals.add(*row)
    for row in bench.functions.goal_rows():
        goals.add(*row)
    for row in bench.kpi.goal_rows():
        goals.add(*row)

    # comparisons with the way the project replaces (no goal attached)
    versus = Table(["comparison", "ratio (median [min–max] of repeats)"])
    versus.add("`track_campaign_cost` p50 ÷ raw SQL p50, one client",
               paired_ratio(p("client.1x1", 50), p("raw.1x1", 50)).fmt(2, "×"))
    versus.add("`track_campaign_cost` tx/s ÷ raw SQL tx/s, 100 threads on one campaign",
               paired_ratio(tps("client.100x1"), tps("raw.100x1")).fmt(2, "×"))
    versus.add("`track_campaign_cost` SERIALIZABLE tx/s ÷ one-row UPDATE floor, 100 threads",
               paired_ratio(tps("client.100x1"), tps("commit.100x1")).fmt(2, "×"))
    versus.add("`hot_row_lock=\"adaptive\"` tx/s ÷ `\"never\"`, 100 threads on one campaign",
               paired_ratio(tps("client.100x1"), tps("client_never.100x1")).fmt(2, "×"))

    mode = "--quick (2 repeats, smaller call counts)" if quick else "default (5 repeats)"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/bench.py`; do not edit by hand. Every figure below was measured "
        "in one run, against one server, with the floors measured in the same repeats. Medians "
        "of the repeats, with [min–max] across repeats; a ratio is computed within each repeat "
        "(figure ÷ floor of the same repeat) and summarised the same way.",
        "",
        f"- command: `{meta['command']}` (from the repository root; `make bench` runs the same)",
        f"- mode: {mode}; repeats: {sizes.repeats}; measurements interleaved within each repeat",
        f"- date: {meta['date']}; wall time of the run: {meta['elapsed']}",
        f"- machine: {meta['cores']} cores, {meta['cpu']}, {meta['memory']} memory, {meta['os']}",
        f"- load average (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']}",
        f"- PostgreSQL: {meta['version']}",
        f"- server: {meta['server']}; fsync={meta['fsync']}, "
        f"synchronous_commit={meta['synchronous_commit']}, wal_sync_method="
        f"{meta['wal_sync_method']}, shared_buffers={meta['shared_buffers']}, "
        f"max_connections={meta['max_connections']}, max_pred_locks_per_transaction="
        f"{meta['max_pred_locks_per_transaction']}",
        f"- Python {meta['python']}, psycopg {meta['psycopg']}, psycopg_pool "
        f"{meta['psycopg_pool']}; client and server share the machine",
        "",
        "## Goals",
        "",
        goals.markdown(),
        "",
        *bench.seeds.sections(),
        "",
        *bench.functions.sections(),
        "",
        "## Latency, one caller (sequential calls)",
        "",
        latency.markdown(),
        "",
        "## Throughput",
        "",
        throughput.markdown(),
        "",
        "## Against the application-level way",
        "",
        versus.markdown(),
        "",
        *leadgen_sections(res, bench.leadgen.statements, bench.lead, bench.leadgen.profiled),
        "",
        *bench.execution.sections(),
        "",
        *bench.metrics.sections(),
        "",
        *bench.kpi.sections(),
        "",
        "## What was measured",
        "",
        "- **`SELECT 1` floor**: a bare psycopg connection, autocommit, `prepare_threshold=None`, "
        "one round trip per call.",
        "- **one-commit floor**: the same connection running an autocommit single-row "
        "`UPDATE bench.floor SET n = n + 1, total = total + $1 WHERE id = $2` (one WAL flush per "
        "call). The concurrent floors run the same statement from the same number of threads and "
        "the same pool as the case they are the floor of, on one row (or on 10 rows, one per "
        "thread); they are the ceiling for any transaction that must commit durably through one "
        "hot row.",
        "- **raw SQL**: what an application writes without the function: `BEGIN ISOLATION LEVEL "
        "SERIALIZABLE`, `SELECT … FROM campaigndb.campaigns WHERE id = $1 FOR UPDATE`, `INSERT "
        "INTO campaigndb.gmaps_api_costs …`, `UPDATE campaigndb.campaigns SET total_cost = "
        "total_cost + $1 …`, `COMMIT`, one round trip each, from a psycopg_pool pool (psycopg's "
        "default prepared statements), retried on 40001/40P01 with the client's backoff "
        f"(exponential, full jitter, base {bench.settings.retry_base_s * 1000:g} ms, cap "
        f"{bench.settings.retry_max_s:g} s) for up to {RAW_MAX_ATTEMPTS} attempts.",
        "- **without the client**: the message the client sends, `BEGIN ISOLATION LEVEL "
        "SERIALIZABLE; SELECT public.track_campaign_cost(…); COMMIT`, written by hand on a bare "
        "connection (a psycopg `ClientCursor`); and the function's two writes (`UPDATE` of the "
        "campaign, `INSERT` of the cost row) as plain SQL in one such message.",
        "- **`track_campaign_cost`**: the typed method `Client.track_campaign_cost` (validation, "
        "idempotency key, one-round-trip transaction, retries with default settings); "
        "`hot_row_lock=\"adaptive\"` unless stated.",
        f"- **concurrency**: threads released together by a `threading.Barrier`; throughput is "
        f"committed calls ÷ wall time from the release to the last thread's end; pools (the "
        f"client's and the raw/floor ones) sized to the thread count up to {POOL_CAP}, "
        f"`min_size = max_size`, opened and warmed ({sizes.warmup} untimed calls per thread on "
        "another campaign) before timing. Each case gets new campaigns (the 10 × 10 case first "
        "truncates workspaces, campaigns and cost rows, so its 10 campaigns are the only ones).",
        "- **retries per committed call**: `client.stats.total_retries()` for the client, the "
        "loop's own count for raw SQL. **failed calls**: calls that gave up (the client's "
        f"{bench.settings.retry_attempts} attempts, or the raw loop's {RAW_MAX_ATTEMPTS}).",
        "- **lost/doubled check**, after every run: for each campaign, `total_cost` = Σ "
        "`gmaps_api_costs.cost_usd` = Σ of what the committed calls sent (Decimal, exact), and "
        "one cost row per committed call; for the floor rows, the counter and the total.",
        *leadgen_measured(bench.lead),
        *bench.execution.measured(),
        *bench.metrics.measured(),
        *bench.functions.measured(),
        *bench.kpi.measured(),
        *bench.seeds.measured(),
        "",
        "## Reading the figures",
        "",
        *notes(bench),
        *leadgen_notes(res, bench.leadgen.statements, bench.lead),
        *bench.execution.notes(),
        *bench.metrics.notes(),
        *bench.functions.notes(),
        *bench.kpi.notes(),
        "",
    ]
    return "\n".join(lines)


def notes(bench: Bench) -> list[str]:
    """Observations computed from the figures (medians), so that they stay true on re-runs."""
    res = bench.results

    def med(values: list[float]) -> float:
        return Spread.of(values).median

    tps = {key: med([run.tps for run in runs]) for key, runs in res.items()}

    def per_call(key: str) -> float:
        committed = sum(run.committed for run in res[key])
        return sum(run.retries for run in res[key]) / max(1, committed)

    p50 = {key: med([run.pct(50) for run in runs]) for key, runs in res.items()}

    def x(key: str, floor: str = "commit.1x1") -> float:
        """Median of the per-repeat p50 ratios (as in the tables)."""
        return paired_ratio([r.pct(50) for r in res[key]], [r.pct(50) for r in res[floor]]).median
    wide = res["client.10x10"]
    retries_10x10 = sum(run.retries for run in wide)
    non_hot = sum(run.non_hot or 0 for run in wide)
    out = [
        f"- One caller: a durable commit costs {p50['commit.1x1']:.3f} ms here against "
        f"{p50['select1']:.3f} ms for a round trip; `track_campaign_cost` takes "
        f"{p50['client.1x1']:.3f} ms ({x('client.1x1'):.2f}× the commit), "
        f"the raw-SQL transaction {p50['raw.1x1']:.3f} ms "
        f"({x('raw.1x1'):.2f}×, five round trips). The same one-message "
        f"transaction sent by hand on a bare connection takes {p50['fn.1x1']:.3f} ms "
        f"({x('fn.1x1'):.2f}× the commit): that is the server's share (two "
        "writes, three index entries, a foreign-key check, PL/pgSQL and SSI bookkeeping); the "
        f"client adds {p50['client.1x1'] - p50['fn.1x1']:.3f} ms of Python per call (pool "
        "checkout, client-side quoting, the retry wrapper, JSON and pydantic parsing). The bare "
        f"`UPDATE` + `INSERT` in one message, without the function, takes {p50['sql.1x1']:.3f} "
        f"ms ({x('sql.1x1'):.2f}× the commit): the work itself, whatever "
        "wraps it.",
        f"- One campaign is one row: its callers commit one after another. With 100 threads "
        f"the bare one-row UPDATE reaches {tps['commit.100x1']:,.0f} tx/s; "
        f"`track_campaign_cost` reaches {tps['client.100x1']:,.0f} tx/s SERIALIZABLE and "
        f"{tps['client_rc.100x1']:,.0f} tx/s READ COMMITTED; the raw-SQL loop "
        f"{tps['raw.100x1']:,.0f} tx/s with "
        f"{per_call('raw.100x1'):.2f} retries per committed call.",
        f"- Without the hot-row lock (`hot_row_lock=\"never\"`) the same 100 callers reach "
        f"{tps['client_never.100x1']:,.0f} tx/s with "
        f"{per_call('client_never.100x1'):.2f} retries per committed call and "
        f"{sum(r.failed for r in res['client_never.100x1'])} calls that exhausted their retries.",
        f"- Different campaigns do not queue on one another: 10 threads on 10 rows reach "
        f"{tps['commit.10x10']:,.0f} tx/s for the bare UPDATE and {tps['client.10x10']:,.0f} "
        f"tx/s for `track_campaign_cost` (10 threads on one campaign: "
        f"{tps['client.10x1']:,.0f} tx/s). Client and server share "
        f"{os.cpu_count()} cores, so many-thread figures are also bounded by CPU (Python "
        "threads hold the GIL while building and parsing each call).",
    ]
    if retries_10x10:
        out.append(
            f"- The {retries_10x10} serialization retries of the 10 × 10 case came with "
            f"{non_hot} updates of `campaigns` that were not HOT (pg_stat_user_tables, run plus "
            "its warm-up calls). Every caller holds a predicate lock on the `campaigns_pkey` leaf "
            "page it read (B-tree predicate locks are per page, and a nearly empty table has one "
            "leaf page); an update that cannot stay on its heap page writes a new entry into that "
            "page, which is a read/write conflict with every concurrent caller."
        )
    return out


# -- main ----------------------------------------------------------------------------------------
def command_line(argv: Sequence[str]) -> str:
    exe = Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(ROOT))
    except ValueError:
        exe_text = str(exe)
    script = Path(__file__).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    return shlex.join([exe_text, script_text, *argv])


def describe_server(dsn: str) -> str:
    configured = Settings().dsn
    if not configured:
        return ("the embedded throwaway PostgreSQL (campaigndb.embedded, cluster \"test\", "
                "loopback TCP)")
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"CAMPAIGNDB_DSN server {info.get('host', 'local socket')}:{info.get('port', 5432)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats and smaller call counts (about a minute)")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md",
                        help="where to write the report (default: BENCHMARKS.md at the root)")
    parser.add_argument("--keep-database", action="store_true",
                        help="leave the benchmark database in place afterwards")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    lead = LEAD_QUICK if args.quick else LEAD_FULL
    execution = EXEC_QUICK if args.quick else EXEC_FULL
    metrics = METRICS_QUICK if args.quick else METRICS_FULL
    functions = FN_QUICK if args.quick else FN_FULL
    kpi = KPI_QUICK if args.quick else KPI_FULL
    seeds = SEEDS_QUICK if args.quick else SEEDS_FULL
    if args.repeats:
        sizes = Sizes(**{**sizes.__dict__, "repeats": args.repeats})

    started = time.perf_counter()
    meta = machine_facts()
    meta["load_start"] = meta.pop("load")
    meta["command"] = command_line(sys.argv[1:] if argv is None else argv)
    meta["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    name = unique_name("campaigndb_bench")
    print(f"creating and migrating database {name} ...", flush=True)
    dsn = migrated_database(name)
    bench: Bench | None = None
    try:
        bench = Bench(dsn, sizes, lead, execution, metrics, functions, kpi, seeds)
        meta.update(server_facts(bench.admin))
        meta["server"] = describe_server(dsn)
        for r in range(sizes.repeats):
            print(f"repeat {r + 1}/{sizes.repeats}", flush=True)
            bench.repeat(r)
        meta["elapsed"] = f"{time.perf_counter() - started:.0f} s"
        meta["load_end"] = machine_facts()["load"]
        text = build_report(bench, sizes, meta, args.quick)
    finally:
        if bench is not None:
            bench.close()
        if not args.keep_database:
            drop_database(name)
    args.output.write_text(text)
    print()
    print(text)
    print(f"wrote {args.output}")
    failed = (any(run.check for runs in bench.results.values() for run in runs)
              or bench.metrics.failed() or any(bench.kpi.same))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
