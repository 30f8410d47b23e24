"""Every write function through the client against the same work as raw SQL, and latency at
1, 10 and 100 concurrent callers: the per-function part of bench.py.

Each repeat (called from bench.py at the end of the repeat, after lead generation), for each
write function in turn, one small call of the size the seeds name (50 businesses, 100 ZIP
codes, 50 enrichments; one campaign's month of KPI rows), made three ways, interleaved call
by call with the order rotating:

- `client`: the typed `Client` method (pool of 1; validation, idempotency key, the
  one-message transaction at the function's isolation, the envelope and its pydantic model);
- `raw`: the same writes as plain SQL statements in one transaction at the same isolation,
  `BEGIN`, one round trip per statement, `COMMIT`, on a bare connection with psycopg's
  prepared statements: what an application writes without the function;
- `pipe` (the floor): exactly the same statements and transaction, sent in psycopg's pipeline
  mode, so the whole transaction is one round trip like the client's message: the least the
  same work costs from Python on this server.

The statements are the function's writes and the reads they depend on (its row locks, the
existence check record_transaction_metric does instead of a foreign key), not its validation
or its envelope.  Every statement's row count is checked on every call, and each function's
effect on the tables is checked after its calls (rows, totals, counters, audit rows).

Concurrency: `track_campaign_cost` (the seeds' critical path) from 1, 10 and 100 threads,
each on a campaign of its own, through a pool sized like bench.py's (up to 20), against two
floors at the same concurrency and pool size: a `SELECT 1` round trip and an autocommit
single-row UPDATE (one durable commit), one row per thread.  bench.py's one-campaign runs
(every thread on the same row) are reported beside them.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from bench_kpi import (
    KPI_FUNCTIONS_PRESENT,
    LOG_COLLECTION,
    PLATFORMS,
    UPSERT_KPI,
    kpi_rows,
    summary_differences,
    summary_insert,
)
from bench_leadgen import ZIP, businesses, copy_businesses, zip_codes
from bench_report import Run, Spread, Table, paired_ratio
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from campaigndb import CampaignDBError, Client
from campaigndb.pool import json_dumps

WAYS = ("client", "raw", "pipe")
SERVICE = "gmaps_places"
KPI_MONTH = date(2026, 10, 1)
# (callers, pool size): the client's default pool caps at 20; 100 callers with a connection
# each are 100 processes with a connection of their own
CONCURRENCY = ((1, 1), (10, 10), (100, 20), (100, 100))


@dataclass(frozen=True)
class FnSizes:
    calls: int  # timed calls per repeat of each function, each way
    warmup: int  # untimed calls of each way before them (same interleaving)
    batch: int  # elements of the batch calls (the seeds' 50)
    zips: int  # ZIP codes of create_campaign_with_coverage (the seeds' 100)
    stats_rows: int  # businesses of the campaign update_campaign_statistics counts
    kpi_days: int  # days of KPI rows per upsert_daily_kpi_batch call (x 2 platforms)
    concurrent_calls: int  # calls per concurrency run, spread over its threads


FN_FULL = FnSizes(calls=60, warmup=5, batch=50, zips=100, stats_rows=10_000, kpi_days=30,
                  concurrent_calls=1500)
FN_QUICK = FnSizes(calls=20, warmup=3, batch=50, zips=100, stats_rows=10_000, kpi_days=30,
                   concurrent_calls=600)

# A statement of the raw way: SQL, parameters, the row count it must report (None: any).
Statement = tuple[str, Sequence[Any] | Mapping[str, Any], int | None]

BEGIN = {
    "RC": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "RR": "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "SER": "BEGIN ISOLATION LEVEL SERIALIZABLE",
}
ISOLATION_NAMES = {"RC": "READ COMMITTED", "RR": "REPEATABLE READ", "SER": "SERIALIZABLE"}

# -- the raw statements ---------------------------------------------------------------------
INSERT_WORKSPACE = "INSERT INTO campaigndb.workspaces (id, name) VALUES (%s, %s)"
INSERT_CAMPAIGN = "INSERT INTO campaigndb.campaigns (id, workspace_id, name) VALUES (%s, %s, %s)"
INSERT_COVERAGE = (
    "INSERT INTO campaigndb.gmaps_campaign_coverage (campaign_id, zip_code)"
    " SELECT %s, z FROM unnest(%s::text[]) AS z"
)
ADD_COST = (
    "UPDATE campaigndb.campaigns SET total_cost = total_cost + %s, updated_at = now()"
    " WHERE id = %s RETURNING total_cost"
)
INSERT_COST = (
    "INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed, cost_usd,"
    " metadata, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)
BUSINESS_FIELDS = ("place_id", "name", "address", "city", "state", "phone", "website",
                   "category", "rating", "reviews_count", "latitude", "longitude", "email")
_CHANGED = ", ".join(f"{f} = EXCLUDED.{f}" for f in BUSINESS_FIELDS[1:])
UPSERT_BUSINESSES = (
    "INSERT INTO campaigndb.gmaps_businesses AS b (campaign_id, zip_code, "
    + ", ".join(BUSINESS_FIELDS) + ") SELECT %s, %s, "
    + ", ".join(f"r.{f}" for f in BUSINESS_FIELDS)
    + " FROM jsonb_to_recordset(%s::jsonb) AS r(place_id text, name text, address text,"
    " city text, state text, phone text, website text, category text, rating numeric,"
    " reviews_count integer, latitude double precision, longitude double precision,"
    " email text) ORDER BY r.place_id"
    f" ON CONFLICT (campaign_id, place_id) DO UPDATE SET {_CHANGED}, updated_at = now()"
    " WHERE (" + ", ".join(f"b.{f}" for f in BUSINESS_FIELDS[1:]) + ") IS DISTINCT FROM ("
    + ", ".join(f"EXCLUDED.{f}" for f in BUSINESS_FIELDS[1:]) + ")"
)
LOCK_CAMPAIGN = "SELECT id FROM campaigndb.campaigns WHERE id = %s FOR NO KEY UPDATE"
RECOUNT = (
    "UPDATE campaigndb.campaigns AS c SET total_businesses = s.n, total_emails = s.e,"
    " total_facebook_pages = s.f, total_linkedin_profiles = s.l, updated_at = now()"
    " FROM (SELECT count(*) AS n, count(*) FILTER (WHERE b.email <> '') AS e,"
    " count(*) FILTER (WHERE b.facebook_url <> '') AS f,"
    " count(*) FILTER (WHERE b.linkedin_url <> '') AS l"
    " FROM campaigndb.gmaps_businesses AS b WHERE b.campaign_id = %s) AS s"
    " WHERE c.id = %s RETURNING c.total_businesses"
)
UPDATE_COVERAGE = (
    "UPDATE campaigndb.gmaps_campaign_coverage SET status = 'completed', businesses_found = %s,"
    " emails_found = %s, actual_cost = %s, scraped_at = now()"
    " WHERE campaign_id = %s AND zip_code = %s RETURNING status"
)
VERIFY_EMAIL = (
    "UPDATE campaigndb.gmaps_businesses SET email = COALESCE(%s, email),"
    " email_verification_status = %s, email_verification_data = %s,"
    " email_verified_at = now(), updated_at = now() WHERE id = %s"
)
LOCK_BUSINESSES = (
    "SELECT 1 FROM campaigndb.gmaps_businesses WHERE id = ANY(%s::uuid[]) ORDER BY id"
    " FOR NO KEY UPDATE"
)
ENRICH = (
    "UPDATE campaigndb.gmaps_businesses AS b SET facebook_url = COALESCE(g.url, b.facebook_url),"
    " facebook_data = g.data, facebook_enriched_at = now(), updated_at = now()"
    " FROM jsonb_to_recordset(%s::jsonb) AS g(business_id uuid, url text, data jsonb)"
    " WHERE b.id = g.business_id"
)
UPSERT_WORKFLOW = (
    "INSERT INTO campaigndb.workspace_n8n_workflows AS w (id, workspace_id, n8n_workflow_id,"
    " name, campaign_type, deployment_status) VALUES (%s, %s, %s, %s, %s, 'active')"
    " ON CONFLICT (workspace_id, n8n_workflow_id) DO UPDATE SET name = EXCLUDED.name,"
    " campaign_type = EXCLUDED.campaign_type, deployment_status = EXCLUDED.deployment_status,"
    " updated_at = now() WHERE (w.name, w.campaign_type, w.deployment_status) IS DISTINCT FROM"
    " (EXCLUDED.name, EXCLUDED.campaign_type, EXCLUDED.deployment_status)"
)
AUDIT_WORKFLOW = (
    "INSERT INTO campaigndb.workflow_deployment_history (workspace_id, workflow_id, event_type,"
    " details) VALUES (%s, %s, 'workflow_registered', %s)"
)
LOCK_WORKFLOW = (
    "SELECT deployment_status FROM campaigndb.workspace_n8n_workflows"
    " WHERE id = %s AND workspace_id = %s FOR UPDATE NOWAIT"
)
COUNT_EXECUTION = (
    "UPDATE campaigndb.workspace_n8n_workflows SET total_executions = total_executions + 1,"
    " last_executed_at = now(), updated_at = now() WHERE id = %s"
)
INSERT_EXECUTION = (
    "INSERT INTO campaigndb.n8n_campaign_executions (id, workspace_id, workspace_n8n_workflow_id,"
    " campaign_approval_session_id, campaign_name, campaign_type, execution_status,"
    " execution_config, execution_number)"
    " SELECT %s, %s, w.id, %s, %s, %s, 'pending', %s, w.total_executions"
    " FROM campaigndb.workspace_n8n_workflows AS w WHERE w.id = %s"
)
AUDIT_EXECUTION = (
    "INSERT INTO campaigndb.workflow_deployment_history (workspace_id, workflow_id,"
    " execution_id, event_type, details)"
    " SELECT w.workspace_id, w.id, %s, 'campaign_execution_started',"
    " jsonb_build_object('campaign_name', %s::text, 'campaign_type', %s::text,"
    " 'campaign_approval_session_id', %s::uuid, 'execution_number', w.total_executions)"
    " FROM campaigndb.workspace_n8n_workflows AS w WHERE w.id = %s"
)
LOCK_EXECUTION = (
    "SELECT execution_status FROM campaigndb.n8n_campaign_executions WHERE id = %s FOR UPDATE"
)
FINISH_EXECUTION = (
    "UPDATE campaigndb.n8n_campaign_executions SET execution_status = %s, result = %s,"
    " error_message = NULL, completed_at = clock_timestamp(),"
    " duration_ms = LEAST(GREATEST(0, round(extract(epoch FROM clock_timestamp() - started_at)"
    " * 1000)), 2147483647)::integer"
    " WHERE id = %s AND execution_status IN ('pending', 'running')"
)
INSERT_METRIC = (
    "INSERT INTO campaigndb.transaction_metrics (id, operation_name, campaign_id, duration_ms,"
    " success, error_message, retry_count, isolation_level)"
    " SELECT %s, %s, c.id, %s, %s, NULL, 0, NULL FROM campaigndb.campaigns AS c WHERE c.id = %s"
)
# the monthly roll-up of one campaign: bench_kpi's floor, restricted to that campaign
DELETE_SUMMARY = (
    "DELETE FROM campaigndb.campaign_summaries WHERE campaign_id = %s AND period_type = 'month'"
    " AND period_start = %s"
)
ONE_CAMPAIGN = " AND d.campaign_id = %(campaign)s"
SOME_CAMPAIGNS = " AND d.campaign_id = ANY(%(ids)s)"

CAMPAIGNS_FOR = (
    "INSERT INTO campaigndb.campaigns (workspace_id, name)"
    " SELECT %s, %s || g FROM generate_series(1, %s) AS g RETURNING id"
)


class Host(Protocol):
    """What bench.py's Bench lends this part."""

    dsn: str
    admin: psycopg.Connection[Any]
    setup: Client
    results: dict[str, list[Run]]

    def campaigns(self, count: int, label: str) -> list[str]: ...

    def floor_rows(self, count: int) -> list[int]: ...

    def check_campaigns(self, expected: dict[Any, list[Decimal]]) -> str: ...

    def check_floor(self, expected: dict[Any, list[Decimal]]) -> str: ...

    def record(self, key: str, run: Run) -> None: ...


Attempt = Callable[[Any, Decimal, int, dict[str, Any], random.Random], tuple[bool, int]]
Check = Callable[[dict[Any, list[Decimal]]], str]
Measure = Callable[[int, Sequence[Any], int, Attempt, Check | None, int], Run]


@dataclass
class Case:
    """One write function: its client call, its raw statements, and the check of its effect."""

    function: str
    shape: str  # what one call does
    isolation: str  # key of BEGIN
    client: Callable[[int], str]  # call i through the client -> problem ("" when right)
    statements: Callable[[str, int], list[Statement]]  # (way, i) -> the raw transaction
    check: Callable[[], str]  # after every call: the tables hold what the calls wrote


def run_statements(conn: psycopg.Connection[Any], isolation: str,
                   statements: Sequence[Statement], pipelined: bool) -> str:
    """One raw transaction: BEGIN, the statements, COMMIT; "" or what went wrong."""
    cursors: list[psycopg.Cursor[Any]] = []
    try:
        if pipelined:
            with conn.pipeline():
                conn.execute(BEGIN[isolation])
                cursors = [conn.execute(sql, params) for sql, params, _ in statements]
                conn.execute("COMMIT")
        else:
            conn.execute(BEGIN[isolation])
            cursors = [conn.execute(sql, params) for sql, params, _ in statements]
            conn.execute("COMMIT")
    except psycopg.Error as exc:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    wrong = [f"statement {k + 1}: {cur.rowcount} rows, expected {expected}"
             for k, (cur, (_, _, expected)) in enumerate(zip(cursors, statements, strict=True))
             if expected is not None and cur.rowcount != expected]
    return "; ".join(wrong)


def _scalar(conn: psycopg.Connection[Any], sql: str,
            params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


class FunctionBench:
    def __init__(self, host: Host, sizes: FnSizes, measure: Measure,
                 client_attempt: Callable[[Client], Attempt],
                 floor_attempt: Callable[[ConnectionPool], Attempt]) -> None:
        self.host = host
        self.sizes = sizes
        self.measure = measure
        self.client_attempt = client_attempt
        self.floor_attempt = floor_attempt
        self.cases: list[tuple[str, str, str, int]] = []  # function, shape, isolation, statements
        self.kpi_available = True
        # handed from one case to the next within a repeat
        self.executions: dict[str, list[uuid.UUID]] = {}
        self.enrich_ids: list[uuid.UUID] = []
        self.kpi_campaigns: dict[str, list[uuid.UUID]] = {}

    @property
    def calls_each(self) -> int:
        return self.sizes.warmup + self.sizes.calls

    # -- fixtures ----------------------------------------------------------------------------
    def new_campaigns(self, workspace: Any, count: int, label: str) -> list[uuid.UUID]:
        """`count` bare campaigns in one INSERT (fixtures, not timed)."""
        return [row[0] for row in self.host.admin.execute(
            CAMPAIGNS_FOR, (workspace, f"fn {label} ", count)).fetchall()]

    def copy_campaign(self, workspace: Any, label: str, rows: int, seed: int) -> uuid.UUID:
        campaign = self.new_campaigns(workspace, 1, label)[0]
        with psycopg.connect(self.host.dsn) as conn:
            copy_businesses(conn, campaign, businesses(seed, rows))
        return campaign

    def business_ids(self, campaign: Any) -> list[uuid.UUID]:
        return [row[0] for row in self.host.admin.execute(
            "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id",
            (campaign,)).fetchall()]

    # -- one repeat ----------------------------------------------------------------------------
    def repeat(self, r: int) -> None:
        seed = r + 1
        workspace = str(self.host.setup.create_workspace(f"bench functions r{r}").workspace_id)
        self.kpi_available = self.has_kpi_functions()
        with self.client() as client, psycopg.connect(
                self.host.dsn, autocommit=True, application_name="campaigndb-bench-fn") as conn:
            builders: list[Callable[[Client, str, int], Case]] = [
                self.create_workspace, self.create_campaign_with_coverage,
                self.track_campaign_cost, self.insert_businesses_batch,
                self.update_campaign_statistics, self.update_coverage_status,
                self.update_email_verification, self.update_enrichment_batch,
                self.register_n8n_workflow, self.execute_campaign_atomically,
                self.complete_campaign_execution, self.record_transaction_metric,
            ]
            if self.kpi_available:
                builders += [self.upsert_daily_kpi_batch, self.aggregate_monthly_kpis]
            for build in builders:
                case = build(client, workspace, seed)
                self.run_case(case, client, conn)
        self.concurrency(r)

    def has_kpi_functions(self) -> bool:
        return bool(_scalar(self.host.admin, KPI_FUNCTIONS_PRESENT))

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = Client(self.host.dsn, pool_min_size=1, pool_max_size=1,
                        application_name="campaigndb-bench-fn")
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    def run_case(self, case: Case, client: Client, conn: psycopg.Connection[Any]) -> None:
        clock = time.perf_counter
        timings: dict[str, list[float]] = {way: [] for way in WAYS}
        problems: list[str] = []
        statements = 0
        for i in range(self.calls_each):
            turn = i % len(WAYS)
            for way in WAYS[turn:] + WAYS[:turn]:
                if way == "client":
                    started = clock()
                    try:
                        problem = case.client(i)
                    except CampaignDBError as exc:
                        problem = f"{exc.sqlstate}: {exc}"
                    elapsed = clock() - started
                else:
                    started = clock()
                    batch = case.statements(way, i)
                    problem = run_statements(conn, case.isolation, batch, way == "pipe")
                    elapsed = clock() - started
                    statements = len(batch)
                if problem:
                    problems.append(f"{way} call {i}: {problem}")
                if i >= self.sizes.warmup:
                    timings[way].append(elapsed)
        effect = case.check()
        check = "; ".join(([effect] if effect else []) + problems[:2]
                          + ([f"… {len(problems) - 2} more"] if len(problems) > 2 else []))
        if (case.function, case.shape, case.isolation, statements) not in self.cases:
            self.cases.append((case.function, case.shape, case.isolation, statements))
        for way in WAYS:
            values = timings[way]
            self.host.results[f"fn.{case.function}.{way}"].append(
                Run(values, sum(values), len(values), check=check))
        runs = {way: self.host.results[f"fn.{case.function}.{way}"][-1] for way in WAYS}
        mark = "" if not check else f"  CHECK FAILED: {check}"
        print(f"  fn.{case.function:<32} p50 client {runs['client'].pct(50):7.2f} raw "
              f"{runs['raw'].pct(50):7.2f} pipe {runs['pipe'].pct(50):7.2f} ms{mark}", flush=True)

    # -- the cases -----------------------------------------------------------------------------
    def targets(self, make: Callable[[str, int], Any]) -> dict[str, list[Any]]:
        return {way: [make(way, i) for i in range(self.calls_each)] for way in WAYS}

    def create_workspace(self, client: Client, workspace: str, seed: int) -> Case:
        names = self.targets(lambda way, i: f"fn workspace s{seed} {way} {i}")
        ids = self.targets(lambda way, i: uuid.uuid4())

        def call(i: int) -> str:
            made = client.create_workspace(names["client"][i])
            return "" if not made.replayed else "replayed"

        def check() -> str:
            every = [n for way in WAYS for n in names[way]]
            got = _scalar(self.host.admin, "SELECT count(*) FROM campaigndb.workspaces"
                          " WHERE name = ANY(%s)", (every,))
            return "" if got == len(every) else f"{got} workspaces for {len(every)} calls"

        return Case("create_workspace", "one workspace", "RC", call,
                    lambda way, i: [(INSERT_WORKSPACE, (ids[way][i], names[way][i]), 1)], check)

    def create_campaign_with_coverage(self, client: Client, workspace: str, seed: int) -> Case:
        n = self.sizes.zips
        zips = zip_codes(seed * 41 + 1, n)
        ids = self.targets(lambda way, i: uuid.uuid4())
        made: list[uuid.UUID] = []

        def call(i: int) -> str:
            answer = client.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": f"fn coverage {i}"}, zips)
            made.append(answer.campaign_id)
            return "" if answer.zip_count == n else f"zip_count {answer.zip_count}"

        def statements(way: str, i: int) -> list[Statement]:
            campaign = ids[way][i]
            return [(INSERT_CAMPAIGN, (campaign, workspace, f"fn coverage {way} {i}"), 1),
                    (INSERT_COVERAGE, (campaign, zips), n)]

        def check() -> str:
            every = made + ids["raw"] + ids["pipe"]
            rows = self.host.admin.execute(
                "SELECT count(*) FROM campaigndb.gmaps_campaign_coverage"
                " WHERE campaign_id = ANY(%s) GROUP BY campaign_id", (every,)).fetchall()
            wrong = [count for (count,) in rows if count != n]
            return ("" if len(rows) == len(every) and not wrong else
                    f"{len(rows)} campaigns with coverage of {len(every)}, {len(wrong)} with "
                    f"a count other than {n}")

        return Case("create_campaign_with_coverage", f"a campaign with {n} ZIP codes", "RC",
                    call, statements, check)

    def track_campaign_cost(self, client: Client, workspace: str, seed: int) -> Case:
        campaigns = dict(zip(WAYS, self.new_campaigns(workspace, len(WAYS), "cost"),
                             strict=True))
        rng = random.Random(seed * 41 + 2)
        values = self.targets(lambda way, i: (Decimal(rng.randint(1, 999_999)).scaleb(-4),
                                              rng.randint(1, 500)))
        sent: dict[Any, list[Decimal]] = {campaign: [] for campaign in campaigns.values()}

        def call(i: int) -> str:
            cost, items = values["client"][i]
            client.track_campaign_cost(campaigns["client"], SERVICE, items, cost, {"i": i})
            sent[campaigns["client"]].append(cost)
            return ""

        def statements(way: str, i: int) -> list[Statement]:
            cost, items = values[way][i]
            sent[campaigns[way]].append(cost)
            return [(ADD_COST, (cost, campaigns[way]), 1),
                    (INSERT_COST, (campaigns[way], SERVICE, items, cost,
                                   Jsonb({"i": i}, dumps=json_dumps), str(uuid.uuid4())), 1)]

        return Case("track_campaign_cost", "one cost row + the campaign's total", "SER", call,
                    statements, lambda: self.host.check_campaigns(
                        {str(k): v for k, v in sent.items()}))

    def insert_businesses_batch(self, client: Client, workspace: str, seed: int) -> Case:
        n = self.sizes.batch
        campaigns = dict(zip(WAYS, self.new_campaigns(workspace, len(WAYS), "batch"),
                             strict=True))
        rows = businesses(seed * 41 + 3, len(WAYS) * self.calls_each * n)
        chunks = {way: [rows[(w * self.calls_each + i) * n:(w * self.calls_each + i + 1) * n]
                        for i in range(self.calls_each)] for w, way in enumerate(WAYS)}

        def call(i: int) -> str:
            answer = client.insert_businesses_batch(campaigns["client"], ZIP, chunks["client"][i])
            return "" if answer.inserted == n else f"inserted {answer.inserted}"

        def statements(way: str, i: int) -> list[Statement]:
            return [(UPSERT_BUSINESSES, (campaigns[way], ZIP,
                                         Jsonb(chunks[way][i], dumps=json_dumps)), n)]

        def check() -> str:
            counts = dict(self.host.admin.execute(
                "SELECT campaign_id, count(*) FROM campaigndb.gmaps_businesses"
                " WHERE campaign_id = ANY(%s) GROUP BY campaign_id",
                (list(campaigns.values()),)).fetchall())
            wrong = {way: counts.get(c, 0) for way, c in campaigns.items()
                     if counts.get(c, 0) != self.calls_each * n}
            return "" if not wrong else f"rows per way {wrong}, expected {self.calls_each * n}"

        return Case("insert_businesses_batch", f"{n} new businesses", "RC", call, statements,
                    check)

    def update_campaign_statistics(self, client: Client, workspace: str, seed: int) -> Case:
        n = self.sizes.stats_rows
        campaign = self.copy_campaign(workspace, "stats", n, seed * 41 + 4)
        expected = self.host.admin.execute(
            "SELECT count(*), count(*) FILTER (WHERE email <> ''),"
            " count(*) FILTER (WHERE facebook_url <> ''),"
            " count(*) FILTER (WHERE linkedin_url <> '')"
            " FROM campaigndb.gmaps_businesses WHERE campaign_id = %s", (campaign,)).fetchone()

        def call(i: int) -> str:
            got = client.update_campaign_statistics(campaign)
            answer = (got.total_businesses, got.total_emails, got.total_facebook_pages,
                      got.total_linkedin_profiles)
            return "" if expected and answer == tuple(expected) else f"{answer} != {expected}"

        def check() -> str:
            row = self.host.admin.execute(
                "SELECT total_businesses, total_emails, total_facebook_pages,"
                " total_linkedin_profiles FROM campaigndb.campaigns WHERE id = %s",
                (campaign,)).fetchone()
            return "" if row == expected else f"campaign totals {row}, counted {expected}"

        return Case("update_campaign_statistics", f"recount a campaign of {n:,} businesses",
                    "RC", call, lambda way, i: [(LOCK_CAMPAIGN, (campaign,), 1),
                                                (RECOUNT, (campaign, campaign), 1)], check)

    def update_coverage_status(self, client: Client, workspace: str, seed: int) -> Case:
        zips = zip_codes(seed * 41 + 5, self.calls_each)
        campaigns: dict[str, Any] = {}
        for way in WAYS:
            campaigns[way] = uuid.uuid4()
            run_statements(self.host.admin, "RC", [
                (INSERT_CAMPAIGN, (campaigns[way], workspace, f"fn zips {way}"), 1),
                (INSERT_COVERAGE, (campaigns[way], zips), len(zips))], False)

        def call(i: int) -> str:
            got = client.update_coverage_status(campaigns["client"], zips[i], 20 + i % 7, 6,
                                                Decimal("0.40"))
            return "" if got.status == "completed" else f"status {got.status}"

        def check() -> str:
            done = _scalar(self.host.admin, "SELECT count(*) FROM campaigndb."
                           "gmaps_campaign_coverage WHERE campaign_id = ANY(%s) AND status ="
                           " 'completed' AND scraped_at IS NOT NULL",
                           (list(campaigns.values()),))
            return "" if done == len(WAYS) * len(zips) else (
                f"{done} ZIP codes completed of {len(WAYS) * len(zips)}")

        return Case("update_coverage_status", "one ZIP code's outcome", "RC", call,
                    lambda way, i: [(UPDATE_COVERAGE, (20 + i % 7, 6, Decimal("0.40"),
                                                       campaigns[way], zips[i]), 1)], check)

    def enrichment_campaign(self, workspace: str, seed: int) -> list[uuid.UUID]:
        """One campaign with a business for each verification and each enrichment element."""
        needed = len(WAYS) * self.calls_each * (1 + self.sizes.batch)
        campaign = self.copy_campaign(workspace, "enrich", needed, seed * 41 + 6)
        return self.business_ids(campaign)

    def update_email_verification(self, client: Client, workspace: str, seed: int) -> Case:
        ids = self.enrichment_campaign(workspace, seed)
        self.enrich_ids = ids[len(WAYS) * self.calls_each:]
        chosen = {way: ids[w * self.calls_each:(w + 1) * self.calls_each]
                  for w, way in enumerate(WAYS)}
        verdict = {"status": "valid", "score": 97, "provider": "bench"}

        def call(i: int) -> str:
            business = chosen["client"][i]
            got = client.update_email_verification(business, f"owner{i}@example.com", verdict)
            return "" if got.verification_status == "valid" else got.verification_status

        def check() -> str:
            every = [b for way in WAYS for b in chosen[way]]
            done = _scalar(self.host.admin, "SELECT count(*) FROM campaigndb.gmaps_businesses"
                           " WHERE id = ANY(%s) AND email_verification_status = 'valid'"
                           " AND email_verified_at IS NOT NULL AND email LIKE 'owner%%'",
                           (every,))
            return "" if done == len(every) else f"{done} verified of {len(every)}"

        return Case("update_email_verification", "one verdict", "RC", call,
                    lambda way, i: [(VERIFY_EMAIL, (f"owner{i}@example.com", "valid",
                                                    Jsonb(verdict, dumps=json_dumps),
                                                    chosen[way][i]), 1)], check)

    def update_enrichment_batch(self, client: Client, workspace: str, seed: int) -> Case:
        n = self.sizes.batch
        ids = self.enrich_ids
        elements = {way: [[{"business_id": str(b), "url": f"https://facebook.com/p{b.hex[:12]}",
                            "data": {"followers": k, "verified": k % 2 == 0}}
                           for k, b in enumerate(ids[(w * self.calls_each + i) * n:
                                                     (w * self.calls_each + i + 1) * n])]
                          for i in range(self.calls_each)] for w, way in enumerate(WAYS)}

        def call(i: int) -> str:
            got = client.update_enrichment_batch("facebook", elements["client"][i])
            return "" if (got.updated, got.failed) == (n, 0) else (
                f"updated {got.updated}, failed {got.failed}")

        def statements(way: str, i: int) -> list[Statement]:
            batch = elements[way][i]
            return [(LOCK_BUSINESSES, ([e["business_id"] for e in batch],), n),
                    (ENRICH, (Jsonb(batch, dumps=json_dumps),), n)]

        def check() -> str:
            done = _scalar(self.host.admin, "SELECT count(*) FROM campaigndb.gmaps_businesses"
                           " WHERE id = ANY(%s) AND facebook_url LIKE 'https://facebook.com/p%%'"
                           " AND facebook_enriched_at IS NOT NULL", (ids,))
            return "" if done == len(ids) else f"{done} enriched of {len(ids)}"

        return Case("update_enrichment_batch", f"{n} Facebook pages", "RC", call, statements,
                    check)

    def register_n8n_workflow(self, client: Client, workspace: str, seed: int) -> Case:
        keys = self.targets(lambda way, i: f"wf-s{seed}-{way}-{i}")
        ids = self.targets(lambda way, i: uuid.uuid4())

        def call(i: int) -> str:
            got = client.register_n8n_workflow(workspace, keys["client"][i], f"launcher {i}",
                                               "email")
            return "" if not got.replayed and not got.updated else "not a new workflow"

        def statements(way: str, i: int) -> list[Statement]:
            details = {"n8n_workflow_id": keys[way][i], "name": f"launcher {i}",
                       "campaign_type": "email", "deployment_status": "active"}
            return [(UPSERT_WORKFLOW, (ids[way][i], workspace, keys[way][i], f"launcher {i}",
                                       "email"), 1),
                    (AUDIT_WORKFLOW, (workspace, ids[way][i], Jsonb(details, dumps=json_dumps)),
                     1)]

        def check() -> str:
            every = [k for way in WAYS for k in keys[way]]
            row = self.host.admin.execute(
                "SELECT count(DISTINCT w.id), count(h.id) FROM campaigndb.workspace_n8n_workflows"
                " AS w LEFT JOIN campaigndb.workflow_deployment_history AS h ON h.workflow_id ="
                " w.id AND h.event_type = 'workflow_registered'"
                " WHERE w.workspace_id = %s AND w.n8n_workflow_id = ANY(%s)",
                (workspace, every)).fetchone()
            return "" if row == (len(every), len(every)) else (
                f"{row} (workflows, audit rows) for {len(every)} calls")

        return Case("register_n8n_workflow", "a new workflow + its audit row", "RC", call,
                    statements, check)

    def execute_campaign_atomically(self, client: Client, workspace: str, seed: int) -> Case:
        flows = {way: str(self.host.setup.register_n8n_workflow(
            workspace, f"wf-exec-s{seed}-{way}", f"exec {way}", "email").workflow_id)
            for way in WAYS}
        self.executions = {way: [] for way in WAYS}

        def call(i: int) -> str:
            got = client.execute_campaign_atomically(workspace, flows["client"], uuid.uuid4(),
                                                     f"launch {i}", "email", {"call": i})
            self.executions["client"].append(got.execution_id)
            return "" if got.total_executions == i + 1 else f"total {got.total_executions}"

        def statements(way: str, i: int) -> list[Statement]:
            execution, session, name = uuid.uuid4(), uuid.uuid4(), f"launch {i}"
            self.executions[way].append(execution)
            flow = flows[way]
            return [(LOCK_WORKFLOW, (flow, workspace), 1),
                    (COUNT_EXECUTION, (flow,), 1),
                    (INSERT_EXECUTION, (execution, workspace, session, name, "email",
                                        Jsonb({"call": i}, dumps=json_dumps), flow), 1),
                    (AUDIT_EXECUTION, (execution, name, "email", session, flow), 1)]

        def check() -> str:
            rows = self.host.admin.execute(
                "SELECT w.total_executions, (SELECT count(*) FROM campaigndb."
                "n8n_campaign_executions AS e WHERE e.workspace_n8n_workflow_id = w.id),"
                " (SELECT count(DISTINCT e.execution_number) FROM campaigndb."
                "n8n_campaign_executions AS e WHERE e.workspace_n8n_workflow_id = w.id),"
                " (SELECT count(*) FROM campaigndb.workflow_deployment_history AS h"
                "   WHERE h.workflow_id = w.id AND h.event_type = 'campaign_execution_started')"
                " FROM campaigndb.workspace_n8n_workflows AS w WHERE w.id = ANY(%s::uuid[])",
                (list(flows.values()),)).fetchall()
            n = self.calls_each
            wrong = [row for row in rows if tuple(row) != (n, n, n, n)]
            return "" if len(rows) == len(WAYS) and not wrong else (
                f"(total_executions, executions, distinct numbers, audit rows) {wrong}, "
                f"expected {n} each")

        return Case("execute_campaign_atomically", "an execution + counter + audit row", "RR",
                    call, statements, check)

    def complete_campaign_execution(self, client: Client, workspace: str, seed: int) -> Case:
        executions = self.executions
        result = {"sent": 120, "bounced": 3}

        def call(i: int) -> str:
            got = client.complete_campaign_execution(executions["client"][i], "completed",
                                                     result)
            return "" if got.execution_status == "completed" and not got.replayed else (
                f"{got.execution_status}, replayed {got.replayed}")

        def check() -> str:
            every = [e for way in WAYS for e in executions[way]]
            row = self.host.admin.execute(
                "SELECT count(*) FILTER (WHERE e.execution_status = 'completed'"
                " AND e.duration_ms IS NOT NULL),"
                " (SELECT count(*) FROM campaigndb.workflow_deployment_history AS h"
                "   WHERE h.execution_id = ANY(%s) AND h.event_type ="
                "   'campaign_execution_completed')"
                " FROM campaigndb.n8n_campaign_executions AS e WHERE e.id = ANY(%s)",
                (every, every)).fetchone()
            return "" if row == (len(every), len(every)) else (
                f"{row} (completed, completion audit rows) for {len(every)} executions")

        return Case("complete_campaign_execution", "finish an execution (+ its trigger's "
                    "metric and audit rows)", "RC", call,
                    lambda way, i: [(LOCK_EXECUTION, (executions[way][i],), 1),
                                    (FINISH_EXECUTION, ("completed",
                                                        Jsonb(result, dumps=json_dumps),
                                                        executions[way][i]), 1)], check)

    def record_transaction_metric(self, client: Client, workspace: str, seed: int) -> Case:
        campaign = self.new_campaigns(workspace, 1, "metric")[0]
        operation = f"bench_fn_s{seed}"

        def call(i: int) -> str:
            client.record_transaction_metric(operation, campaign, 10 + i % 50, True)
            return ""

        def check() -> str:
            got = _scalar(self.host.admin, "SELECT count(*) FROM campaigndb.transaction_metrics"
                          " WHERE campaign_id = %s AND operation_name = %s", (campaign, operation))
            expected = len(WAYS) * self.calls_each
            return "" if got == expected else f"{got} metric rows for {expected} calls"

        return Case("record_transaction_metric", "one metric row", "RC", call,
                    lambda way, i: [(INSERT_METRIC, (uuid.uuid4(), operation, 10 + i % 50, True,
                                                     campaign), 1)], check)

    def upsert_daily_kpi_batch(self, client: Client, workspace: str, seed: int) -> Case:
        days = self.sizes.kpi_days
        campaigns = {way: self.new_campaigns(workspace, self.calls_each, f"kpi {way}")
                     for way in WAYS}
        self.kpi_campaigns = campaigns
        rng = random.Random(seed * 41 + 7)
        rows = {way: [kpi_rows(rng, c, KPI_MONTH, days) for c in campaigns[way]]
                for way in WAYS}
        n = days * len(PLATFORMS)

        def call(i: int) -> str:
            got = client.upsert_daily_kpi_batch(rows["client"][i], "bench")
            return "" if got.upserted == n else f"upserted {got.upserted}"

        def statements(way: str, i: int) -> list[Statement]:
            return [(UPSERT_KPI, ("bench", Jsonb(rows[way][i], dumps=json_dumps)), n),
                    (LOG_COLLECTION, ("upsert_daily_kpi_batch", KPI_MONTH.isoformat()[:7], n),
                     1)]

        def check() -> str:
            every = [c for way in WAYS for c in campaigns[way]]
            expected = {(r["campaign_id"], r["kpi_date"], r["platform"]): r["impressions"]
                        for way in WAYS for batch in rows[way] for r in batch}
            got = {(str(c), d.isoformat(), p): imp for c, d, p, imp in self.host.admin.execute(
                "SELECT campaign_id, kpi_date, platform, impressions FROM campaigndb."
                "daily_kpi_data WHERE campaign_id = ANY(%s)", (every,)).fetchall()}
            return "" if got == expected else (
                f"{len(got)} rows stored, {len(expected)} sent, "
                f"{sum(1 for k, v in expected.items() if got.get(k) != v)} differ")

        return Case("upsert_daily_kpi_batch", f"one campaign's {days} days × {len(PLATFORMS)} "
                    "platforms", "RC", call, statements, check)

    def aggregate_monthly_kpis(self, client: Client, workspace: str, seed: int) -> Case:
        campaigns = self.kpi_campaigns

        def call(i: int) -> str:
            got = client.aggregate_monthly_kpis(KPI_MONTH, campaign_id=campaigns["client"][i])
            return "" if got.summaries_written == 1 else f"written {got.summaries_written}"

        def statements(way: str, i: int) -> list[Statement]:
            campaign = campaigns[way][i]
            return [(DELETE_SUMMARY, (campaign, KPI_MONTH), 0),
                    (summary_insert(ONE_CAMPAIGN), {"month": KPI_MONTH, "campaign": campaign}, 1),
                    (LOG_COLLECTION, ("aggregate_monthly_kpis", KPI_MONTH.isoformat()[:7], 1),
                     1)]

        def check() -> str:
            # every way's summaries against the same aggregation recomputed now
            every = [c for way in WAYS for c in campaigns[way]]
            differ = _scalar(self.host.admin, summary_differences(SOME_CAMPAIGNS),
                             {"ids": every, "month": KPI_MONTH})
            return "" if differ == 0 else f"{differ} summaries differ from a fresh aggregation"

        return Case("aggregate_monthly_kpis", "one campaign's month (60 daily rows)", "RC",
                    call, statements, check)

    # -- latency at 1, 10 and 100 concurrent callers --------------------------------------------
    @contextmanager
    def sized_pool(self, size: int) -> Iterator[ConnectionPool]:
        """A psycopg_pool pool of `size` connections, open and filled (as bench.py's)."""
        pool = ConnectionPool(self.host.dsn, min_size=size, max_size=size, open=True,
                              name="bench-concurrency",
                              kwargs={"autocommit": True, "prepare_threshold": None,
                                      "application_name": "campaigndb-bench"})
        try:
            pool.wait(timeout=60)
            yield pool
        finally:
            pool.close()

    @contextmanager
    def sized_client(self, size: int) -> Iterator[Client]:
        client = Client(self.host.dsn, pool_min_size=size, pool_max_size=size,
                        application_name="campaigndb-bench")
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    def concurrency(self, r: int) -> None:
        seed = r + 1
        calls = self.sizes.concurrent_calls
        for threads, size in CONCURRENCY:
            shape = f"{threads}x{size}"
            with self.sized_pool(size) as pool:
                def select1(*_: Any) -> tuple[bool, int]:
                    with pool.connection() as conn:
                        conn.execute("SELECT 1").fetchone()
                    return True, 0

                self.measure(threads, [None], threads * 2, select1, None, 0)
                self.host.record(f"conc.select1.{shape}",
                                 self.measure(threads, [None], calls, select1, None, seed))
                attempt = self.floor_attempt(pool)
                self.measure(threads, self.host.floor_rows(1), threads * 2, attempt, None, 0)
                self.host.record(f"conc.commit.{shape}",
                                 self.measure(threads, self.host.floor_rows(threads), calls,
                                              attempt, self.host.check_floor, seed))
            with self.sized_client(size) as client:
                attempt = self.client_attempt(client)
                self.measure(threads, self.host.campaigns(1, "warm"), threads * 2, attempt,
                             None, 0)
                targets = self.host.campaigns(threads, f"conc{shape} s{seed}")
                client.stats.reset()
                run = self.measure(threads, targets, calls, attempt, self.host.check_campaigns,
                                   seed)
                run.retries = client.stats.total_retries()
                self.host.record(f"conc.client.{shape}", run)

    # -- the report ----------------------------------------------------------------------------
    def goal_rows(self) -> list[list[str]]:
        res = self.host.results
        runs = [run for key, values in res.items()
                if key.startswith("fn.") and key.endswith(".client") for run in values]
        if not runs:
            return []
        bad = [run for run in runs if run.check]
        return [[f"every write function ({len(self.cases)}), three ways: each statement's row "
                 "count on every call, and the tables after the calls (rows, totals, counters, "
                 "audit and trigger rows, summaries) exact",
                 f"{len(runs) - len(bad)}/{len(runs)} function runs exact",
                 f"{len(runs) - len(bad)}/{len(runs)}", "met" if not bad else "**not met**"]]

    def sections(self) -> list[str]:
        res = self.host.results

        def p(key: str, q: float) -> list[float]:
            return [run.pct(q) for run in res.get(key, [])]

        table = Table(["function", "one call", "isolation", "statements", "client p50 ms",
                       "raw SQL p50 ms (a round trip per statement)",
                       "floor p50 ms (same statements, one round trip)",
                       "client ÷ floor", "client ÷ raw SQL", "client ÷ `SELECT 1`",
                       "floor ÷ `SELECT 1`", "client ÷ one commit", "client p99 ms", "check"])
        for function, shape, isolation, statements in self.cases:
            key = f"fn.{function}"
            client, raw, pipe = p(f"{key}.client", 50), p(f"{key}.raw", 50), p(f"{key}.pipe", 50)
            if not client:
                continue
            select1, commit = p("select1", 50), p("commit.1x1", 50)
            table.add(f"`{function}`", shape, ISOLATION_NAMES[isolation], statements,
                      Spread.of(client).fmt(3), Spread.of(raw).fmt(3), Spread.of(pipe).fmt(3),
                      paired_ratio(client, pipe).fmt(2, "×"),
                      paired_ratio(client, raw).fmt(2, "×"),
                      paired_ratio(client, select1).fmt(1, "×"),
                      paired_ratio(pipe, select1).fmt(1, "×"),
                      paired_ratio(client, commit).fmt(2, "×"),
                      Spread.of(p(f"{key}.client", 99)).fmt(2),
                      _check(res[f"{key}.client"]))

        conc = Table(["callers", "pool", "work", "calls × repeats", "p50 ms", "p95 ms", "p99 ms",
                      "p50 ÷ floor p50", "p99 ÷ floor p99", "floor", "p50 ÷ `SELECT 1` p50 "
                      "(same callers)", "p50 ÷ p50 of 1 caller", "tx/s", "retries",
                      "failed", "check"])
        for threads, size in CONCURRENCY:
            shape = f"{threads}x{size}"
            hot = _HOT.get((threads, size))
            for key, work, floor, floor_name in (
                (f"conc.select1.{shape}", "`SELECT 1` round trip (floor)", None, "–"),
                (f"conc.commit.{shape}", "autocommit one-row UPDATE, a row per caller (floor)",
                 f"conc.select1.{shape}", "`SELECT 1`, same callers and pool"),
                (f"conc.client.{shape}", "`track_campaign_cost`, a campaign per caller",
                 f"conc.commit.{shape}", "one-row UPDATE, same callers and pool"),
                *([(hot[0], "`track_campaign_cost`, all callers on one campaign (bench.py's "
                   "throughput runs)", hot[1], "one-row UPDATE on one row, same callers")]
                  if hot else []),
            ):
                runs = res.get(key, [])
                if not runs:
                    continue
                first = (key.rsplit(".", 1)[0] + ".1x1" if key.startswith("conc.")
                         else "client.1x1")
                conc.add(threads, size, work, f"{runs[0].committed + runs[0].failed:,} × "
                         f"{len(runs)}", Spread.of(p(key, 50)).fmt(2),
                         Spread.of(p(key, 95)).fmt(2), Spread.of(p(key, 99)).fmt(2),
                         "1 (floor)" if floor is None else paired_ratio(p(key, 50), p(floor, 50))
                         .fmt(2, "×"),
                         "1 (floor)" if floor is None else paired_ratio(p(key, 99), p(floor, 99))
                         .fmt(2, "×"), floor_name,
                         "1 (floor)" if floor is None else
                         paired_ratio(p(key, 50), p(f"conc.select1.{shape}", 50)).fmt(1, "×")
                         if res.get(f"conc.select1.{shape}") else "–",
                         paired_ratio(p(key, 50), p(first, 50)).fmt(1, "×") if threads > 1
                         and res.get(first) else "1",
                         Spread.of([run.tps for run in runs]).fmt(0),
                         sum(run.retries for run in runs), sum(run.failed for run in runs),
                         _check(runs))
        missing = "" if self.kpi_available else (
            " (`upsert_daily_kpi_batch` and `aggregate_monthly_kpis` are missing: they were not "
            "deployed in the benchmark database)")
        return [
            "## Every write function: the client against the same work as raw SQL",
            "",
            "One call of each function, the size the seeds name, three ways interleaved call by "
            "call (see \"What was measured\"): through `Client`; as raw SQL statements in one "
            "transaction at the function's isolation, one round trip per statement (what an "
            "application writes without the function); and the floor: the same statements in "
            "the same transaction in psycopg's pipeline mode (one round trip, like the client's "
            "one message). `SELECT 1` and one commit are bench.py's floors of the same "
            "repeat." + missing,
            "",
            table.markdown(),
            "",
            "## Latency at 1, 10 and 100 concurrent callers",
            "",
            "`track_campaign_cost` (the seeds' critical path), threads released together, "
            "each call timed from the caller's side (waiting for a pooled connection "
            "included). Floors at the same number of callers through a pool of the same size.",
            "",
            conc.markdown(),
        ]

    def measured(self) -> list[str]:
        s = self.sizes
        return [
            f"- **every write function**: {s.calls} timed calls per repeat each way (after "
            f"{s.warmup} untimed), the three ways interleaved call by call with the order "
            "rotating; the client with a pool of 1; the raw ways on one bare autocommit "
            "connection with psycopg's prepared statements, `BEGIN ISOLATION LEVEL …`, the "
            "statements, `COMMIT`, either one round trip each or all in one pipeline. The "
            "statements are the function's writes and the reads they need (row locks, "
            "`FOR UPDATE NOWAIT` of the workflow, the campaign lookup that stands in for "
            "transaction_metrics' missing foreign key), without the function's validation, "
            "idempotency lookups or envelope; ids are generated in Python. Each statement's row "
            "count is checked on every call; after the calls, the tables (rows, totals, "
            "counters, audit rows, the trigger's rows) are checked for every way. Fixtures "
            "(campaigns, the businesses to count, verify and enrich, by one INSERT or COPY) are "
            f"made before and not timed; `update_campaign_statistics` counts a campaign of "
            f"{s.stats_rows:,} businesses; `complete_campaign_execution` finishes the "
            "executions `execute_campaign_atomically` started; `aggregate_monthly_kpis` rolls "
            "up the campaigns `upsert_daily_kpi_batch` loaded, one campaign per call "
            "(`p_campaign_id`).",
            f"- **concurrent callers**: {s.concurrent_calls:,} calls per run from 1, 10 and 100 "
            "threads released by a `threading.Barrier`, each thread on a campaign of its own "
            "(new campaigns), through a client pool of min(threads, 20) connections (min = max, "
            "warmed); the floors through a psycopg_pool pool of the same size. Percentiles are "
            "nearest-rank over the run's calls; \"p50 ÷ p50 of 1 caller\" is the same work "
            "against itself with one caller in the same repeat.",
        ]

    def notes(self) -> list[str]:
        res = self.host.results
        if not self.cases:
            return []

        def med(key: str, q: float = 50) -> float:
            values = [run.pct(q) for run in res.get(key, [])]
            return Spread.of(values).median if values else float("nan")

        def ratio(a: str, b: str) -> float:
            return paired_ratio([run.pct(50) for run in res[a]],
                                [run.pct(50) for run in res[b]]).median

        per = [(ratio(f"fn.{f}.client", f"fn.{f}.pipe"), f) for f, *_ in self.cases
               if res.get(f"fn.{f}.client")]
        per.sort()
        small = [(med(f"fn.{f}.client") - med(f"fn.{f}.pipe"), f) for f, *_ in self.cases
                 if res.get(f"fn.{f}.client")]
        out = [
            f"- Every write function: through the client from {per[0][0]:.2f}× its floor "
            f"(`{per[0][1]}`) to {per[-1][0]:.2f}× (`{per[-1][1]}`); the client's p50 minus "
            f"the floor's ranges from {min(small)[0]:.2f} ms to {max(small)[0]:.2f} ms per call"
            + (" (below zero: within the run's noise)" if min(small)[0] < 0 else "") + ". "
            "That difference is what the function adds (validation, idempotency lookups, "
            "PL/pgSQL, the envelope) plus the client's Python (pool checkout, quoting, the "
            "pydantic model), on top of the same writes and the same single round trip.",
        ]
        c1, c100, c100all = "conc.client.1x1", "conc.client.100x20", "conc.client.100x100"
        if res.get(c1) and res.get(c100):
            out.append(
                f"- Concurrent callers, a campaign each: `track_campaign_cost` p50 "
                f"{med(c1):.2f} ms with 1 caller, {med('conc.client.10x10'):.2f} ms with 10, "
                f"{med(c100):.2f} ms with 100 sharing 20 connections (p99 {med(c100, 99):.1f} "
                f"ms); the one-row UPDATE floor {med('conc.commit.1x1'):.2f} / "
                f"{med('conc.commit.10x10'):.2f} / {med('conc.commit.100x20'):.2f} ms. With 100 "
                "callers and 20 connections, 80 callers wait for a connection at any time, so "
                "latency is mostly that wait (about callers ÷ throughput, Little's law), for "
                "the floor as for the function"
                + (f"; with a connection per caller (100 connections) p50 "
                   f"{med(c100all):.2f} ms and p99 {med(c100all, 99):.1f} ms, the floor "
                   f"{med('conc.commit.100x100'):.2f} / {med('conc.commit.100x100', 99):.1f} "
                   "ms: the wait moves from the pool to the server's 2 cores."
                   if res.get(c100all) else "."))
        retried = [(key, sum(run.retries for run in res[key]),
                    sum(run.committed for run in res[key]))
                   for key in ("conc.client.10x10", "conc.client.100x20", "conc.client.100x100")
                   if res.get(key)]
        if any(retries for _, retries, _ in retried):
            out.append(
                "- Serialization retries on different campaigns: "
                + "; ".join("{} callers on {} connections: {:,} in {:,} calls".format(
                    *key.rsplit(".", 1)[1].split("x"), retries, calls)
                    for key, retries, calls in retried)
                + ". Each caller has a campaign of its own: these are conflicts SERIALIZABLE "
                "reports between transactions on different campaigns (it tracks reads by index "
                "page as well as by row, as in the 10 × 10 throughput case); the client retries "
                "them, and they grow with the number of transactions running at once.")
        return out


# bench.py's runs with every caller on one campaign, by (callers, pool)
_HOT = {(1, 1): ("client.1x1", "commit.1x1"), (10, 10): ("client.10x1", "commit.10x1"),
        (100, 20): ("client.100x1", "commit.100x1")}


def _check(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"
