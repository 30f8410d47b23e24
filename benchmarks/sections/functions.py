"""Every write function through the client against the same writes as raw SQL (a round trip
per statement, and all in one pipeline: the floor), and `track_campaign_cost` latency at 1, 10
and 100 concurrent callers (docs/benchmarks.md, "Every write function").  Over 350 lines on
purpose: one declaration per write function (its client call, its raw statements, its check),
in one place."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import harness as h
import psycopg
from fixtures import RECORDSET, ZIP, businesses, copy_businesses, kpi_rows, zip_codes
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from campaigndb import CampaignDBError, Client, json_dumps
from sections.hot_row import SERVICE, client_case, cost_attempt, floor_case
from sections.kpi import LOG, UPSERT, summary_differences, summary_insert

WAYS = ("client", "raw", "pipe")
CALLS_EACH, WARMUP, BATCH, ZIPS, STATS_ROWS, CONCURRENT = (60, 20), (5, 3), 50, 100, 10_000, \
    (1500, 600)
MONTH = date(2026, 10, 1)
CONCURRENCY = ((1, 1), (10, 10), (100, 20), (100, 100))  # (callers, pool)
BEGIN = {"RC": "BEGIN ISOLATION LEVEL READ COMMITTED", "SER": "BEGIN ISOLATION LEVEL SERIALIZABLE",
         "RR": "BEGIN ISOLATION LEVEL REPEATABLE READ"}
LEVELS = {"RC": "READ COMMITTED", "RR": "REPEATABLE READ", "SER": "SERIALIZABLE"}
Statement = tuple[str, Sequence[Any] | Mapping[str, Any], int | None]  # SQL, params, rows
FIELDS = ("name", "address", "city", "state", "phone", "website", "category", "rating",
          "reviews_count", "latitude", "longitude", "email")
SQL = {
    "workspace": "INSERT INTO campaigndb.workspaces (id, name) VALUES (%s, %s)",
    "campaign": "INSERT INTO campaigndb.campaigns (id, workspace_id, name) VALUES (%s, %s, %s)",
    "coverage": "INSERT INTO campaigndb.gmaps_campaign_coverage (campaign_id, zip_code)"
                " SELECT %s, z FROM unnest(%s::text[]) AS z",
    "add_cost": "UPDATE campaigndb.campaigns SET total_cost = total_cost + %s, updated_at ="
                " now() WHERE id = %s RETURNING total_cost",
    "cost": "INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed,"
            " cost_usd, metadata, idempotency_key) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
    "businesses": "INSERT INTO campaigndb.gmaps_businesses AS b (campaign_id, zip_code, place_id,"
                  f" {', '.join(FIELDS)}) SELECT %s, %s, r.place_id, "
                  + ", ".join(f"r.{f}" for f in FIELDS) + RECORDSET + " ORDER BY r.place_id"
                  " ON CONFLICT (campaign_id, place_id) DO UPDATE SET "
                  + ", ".join(f"{f} = EXCLUDED.{f}" for f in FIELDS) + ", updated_at = now()"
                  " WHERE (" + ", ".join(f"b.{f}" for f in FIELDS) + ") IS DISTINCT FROM ("
                  + ", ".join(f"EXCLUDED.{f}" for f in FIELDS) + ")",
    "lock_campaign": "SELECT id FROM campaigndb.campaigns WHERE id = %s FOR NO KEY UPDATE",
    "recount": "UPDATE campaigndb.campaigns AS c SET total_businesses = s.n, total_emails = s.e,"
               " total_facebook_pages = s.f, total_linkedin_profiles = s.l, updated_at = now()"
               " FROM (SELECT count(*) AS n, count(*) FILTER (WHERE b.email <> '') AS e,"
               " count(*) FILTER (WHERE b.facebook_url <> '') AS f, count(*) FILTER (WHERE"
               " b.linkedin_url <> '') AS l FROM campaigndb.gmaps_businesses AS b WHERE"
               " b.campaign_id = %s) AS s WHERE c.id = %s RETURNING c.total_businesses",
    "zip": "UPDATE campaigndb.gmaps_campaign_coverage SET status = 'completed', businesses_found"
           " = %s, emails_found = %s, actual_cost = %s, scraped_at = now() WHERE campaign_id = %s"
           " AND zip_code = %s RETURNING status",
    "verify": "UPDATE campaigndb.gmaps_businesses SET email = COALESCE(%s, email),"
              " email_verification_status = %s, email_verification_data = %s,"
              " email_verified_at = now(), updated_at = now() WHERE id = %s",
    "lock_businesses": "SELECT 1 FROM campaigndb.gmaps_businesses WHERE id = ANY(%s::uuid[])"
                       " ORDER BY id FOR NO KEY UPDATE",
    "enrich": "UPDATE campaigndb.gmaps_businesses AS b SET facebook_url = COALESCE(g.url,"
              " b.facebook_url), facebook_data = g.data, facebook_enriched_at = now(), updated_at"
              " = now() FROM jsonb_to_recordset(%s::jsonb) AS g(business_id uuid, url text, data"
              " jsonb) WHERE b.id = g.business_id",
    "workflow": "INSERT INTO campaigndb.workspace_n8n_workflows AS w (id, workspace_id,"
                " n8n_workflow_id, name, campaign_type, deployment_status) VALUES (%s, %s, %s,"
                " %s, %s, 'active') ON CONFLICT (workspace_id, n8n_workflow_id) DO UPDATE SET"
                " name = EXCLUDED.name, campaign_type = EXCLUDED.campaign_type, deployment_status"
                " = EXCLUDED.deployment_status, updated_at = now() WHERE (w.name,"
                " w.campaign_type, w.deployment_status) IS DISTINCT FROM (EXCLUDED.name,"
                " EXCLUDED.campaign_type, EXCLUDED.deployment_status)",
    "audit_workflow": "INSERT INTO campaigndb.workflow_deployment_history (workspace_id,"
                      " workflow_id, event_type, details) VALUES (%s, %s, 'workflow_registered',"
                      " %s)",
    "lock_workflow": "SELECT deployment_status FROM campaigndb.workspace_n8n_workflows WHERE id ="
                     " %s AND workspace_id = %s FOR UPDATE NOWAIT",
    "count_execution": "UPDATE campaigndb.workspace_n8n_workflows SET total_executions ="
                       " total_executions + 1, last_executed_at = now(), updated_at = now()"
                       " WHERE id = %s",
    "execution": "INSERT INTO campaigndb.n8n_campaign_executions (id, workspace_id,"
                 " workspace_n8n_workflow_id, campaign_approval_session_id, campaign_name,"
                 " campaign_type, execution_status, execution_config, execution_number) SELECT"
                 " %s, %s, w.id, %s, %s, 'email', 'pending', %s, w.total_executions FROM"
                 " campaigndb.workspace_n8n_workflows AS w WHERE w.id = %s",
    "audit_execution": "INSERT INTO campaigndb.workflow_deployment_history (workspace_id,"
                       " workflow_id, execution_id, event_type, details) SELECT w.workspace_id,"
                       " w.id, %s, 'campaign_execution_started', jsonb_build_object("
                       "'campaign_name', %s::text, 'campaign_type', 'email',"
                       " 'campaign_approval_session_id', %s::uuid, 'execution_number',"
                       " w.total_executions) FROM campaigndb.workspace_n8n_workflows AS w"
                       " WHERE w.id = %s",
    "lock_execution": "SELECT execution_status FROM campaigndb.n8n_campaign_executions WHERE id ="
                      " %s FOR UPDATE",
    "finish": "UPDATE campaigndb.n8n_campaign_executions SET execution_status = 'completed',"
              " result = %s, error_message = NULL, completed_at = clock_timestamp(), duration_ms"
              " = LEAST(GREATEST(0, round(extract(epoch FROM clock_timestamp() - started_at) *"
              " 1000)), 2147483647)::integer WHERE id = %s AND execution_status IN ('pending',"
              " 'running')",
    "metric": "INSERT INTO campaigndb.transaction_metrics (id, operation_name, campaign_id,"
              " duration_ms, success, error_message, retry_count, isolation_level) SELECT %s, %s,"
              " c.id, %s, true, NULL, 0, NULL FROM campaigndb.campaigns AS c WHERE c.id = %s",
    "drop_summary": "DELETE FROM campaigndb.campaign_summaries WHERE campaign_id = %s AND"
                    " period_type = 'month' AND period_start = %s",
}


def j(value: Any) -> Jsonb:
    return Jsonb(value, dumps=json_dumps)


@dataclass
class Case:
    """One write function: its client call, the same writes as raw SQL, the check after."""

    client: Callable[[int], object]  # call i through the client -> what was wrong (a str)
    statements: Callable[[str, int], list[Statement]]  # (way, call i) -> the raw transaction
    check: Callable[[], str]  # after every call: the tables hold what the calls wrote


class Kit:
    """What the cases of one repeat share: the bench, the client, a workspace, ids by way."""

    def __init__(self, b: h.Bench, client: Client, workspace: str, seed: int) -> None:
        self.b, self.client, self.ws, self.seed = b, client, workspace, seed
        self.n = b.n(CALLS_EACH) + b.n(WARMUP)
        self.state: dict[str, Any] = {}

    def each(self, make: Callable[[str, int], Any]) -> dict[str, list[Any]]:
        return {way: [make(way, i) for i in range(self.n)] for way in WAYS}

    def count(self, sql: str, *params: Any) -> Any:
        return self.b.scalar(sql, params)

    def campaigns(self, label: str, count: int = 1) -> list[Any]:
        return self.b.bare_campaigns(self.ws, count, label)

    def copied(self, label: str, rows: int) -> tuple[Any, list[uuid.UUID]]:
        """A campaign of `rows` businesses (COPY), and their ids in order."""
        campaign = self.campaigns(label)[0]
        with self.b.bare() as conn:
            copy_businesses(conn, campaign, businesses(self.seed * 41 + rows % 97, rows))
        return campaign, [row[0] for row in self.b.admin.execute(
            "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id",
            (campaign,)).fetchall()]


def expect(got: Any, want: Any, what: str) -> str:
    return "" if got == want else f"{what}: {got}, expected {want}"


# -- the cases, one builder each ------------------------------------------------------------
def create_workspace(k: Kit) -> Case:
    names, ids = k.each(lambda w, i: f"fn ws s{k.seed} {w} {i}"), k.each(lambda w, i: uuid.uuid4())
    return Case(lambda i: "replayed" if k.client.create_workspace(names["client"][i]).replayed
                else "",
                lambda w, i: [(SQL["workspace"], (ids[w][i], names[w][i]), 1)],
                lambda: expect(k.count("SELECT count(*) FROM campaigndb.workspaces WHERE name ="
                                       " ANY(%s)", sum(names.values(), [])), 3 * k.n,
                               "workspaces"))


def create_campaign_with_coverage(k: Kit) -> Case:
    zips, ids, made = zip_codes(k.seed * 41 + 1, ZIPS), k.each(lambda w, i: uuid.uuid4()), []

    def call(i: int) -> str:
        answer = k.client.create_campaign_with_coverage(
            {"workspace_id": k.ws, "name": f"fn coverage {i}"}, zips)
        made.append(answer.campaign_id)
        return expect(answer.zip_count, ZIPS, "zip_count")

    return Case(call, lambda w, i: [(SQL["campaign"], (ids[w][i], k.ws, f"fn cov {w} {i}"), 1),
                                    (SQL["coverage"], (ids[w][i], zips), ZIPS)],
                lambda: expect(k.count("SELECT count(*) FROM campaigndb.gmaps_campaign_coverage"
                                       " WHERE campaign_id = ANY(%s)",
                                       made + ids["raw"] + ids["pipe"]), 3 * k.n * ZIPS, "rows"))


def track_campaign_cost(k: Kit) -> Case:
    campaigns = dict(zip(WAYS, k.campaigns("cost", 3), strict=True))
    attempt, sent = cost_attempt(k.client), {w: list[int]() for w in WAYS}

    def call(i: int) -> str:
        sent["client"].append(i)
        return "" if attempt(campaigns["client"], i, random.Random())[0] else "failed"

    def statements(w: str, i: int) -> list[Statement]:
        sent[w].append(i)
        return [(SQL["add_cost"], (h.value(i), campaigns[w]), 1),
                (SQL["cost"], (campaigns[w], SERVICE, i % 500 + 1, h.value(i), j({"i": i}),
                               str(uuid.uuid4())), 1)]

    return Case(call, statements, lambda: k.b.check_campaigns(
        list(campaigns.values()), [(campaigns[w], i) for w in WAYS for i in sent[w]]))


def insert_businesses_batch(k: Kit) -> Case:
    campaigns = dict(zip(WAYS, k.campaigns("batch", 3), strict=True))
    chunks = k.each(lambda w, i: businesses(k.seed * 1009 + WAYS.index(w) * 997 + i, BATCH))
    return Case(lambda i: expect(k.client.insert_businesses_batch(
        campaigns["client"], ZIP, chunks["client"][i]).inserted, BATCH, "inserted"),
        lambda w, i: [(SQL["businesses"], (campaigns[w], ZIP, j(chunks[w][i])), BATCH)],
        lambda: expect(k.count("SELECT count(*) FROM campaigndb.gmaps_businesses WHERE"
                               " campaign_id = ANY(%s)", list(campaigns.values())),
                       3 * k.n * BATCH, "rows"))


def update_campaign_statistics(k: Kit) -> Case:
    campaign, _ = k.copied("stats", STATS_ROWS)
    want = k.b.admin.execute(
        "SELECT count(*), count(*) FILTER (WHERE email <> ''), count(*) FILTER (WHERE"
        " facebook_url <> ''), count(*) FILTER (WHERE linkedin_url <> '') FROM"
        " campaigndb.gmaps_businesses WHERE campaign_id = %s", (campaign,)).fetchone()

    def call(i: int) -> str:
        got = k.client.update_campaign_statistics(campaign)
        return expect((got.total_businesses, got.total_emails, got.total_facebook_pages,
                       got.total_linkedin_profiles), want, "totals")

    return Case(call, lambda w, i: [(SQL["lock_campaign"], (campaign,), 1),
                                    (SQL["recount"], (campaign, campaign), 1)],
                lambda: expect(k.b.admin.execute(
                    "SELECT total_businesses, total_emails, total_facebook_pages,"
                    " total_linkedin_profiles FROM campaigndb.campaigns WHERE id = %s",
                    (campaign,)).fetchone(), want, "campaign totals"))


def update_coverage_status(k: Kit) -> Case:
    zips, campaigns = zip_codes(k.seed * 41 + 5, k.n), {w: uuid.uuid4() for w in WAYS}
    for w in WAYS:
        run_statements(k.b.admin, "RC", [(SQL["campaign"], (campaigns[w], k.ws, f"zips {w}"), 1),
                                         (SQL["coverage"], (campaigns[w], zips), k.n)], False)
    return Case(lambda i: expect(k.client.update_coverage_status(
        campaigns["client"], zips[i], 20 + i % 7, 6, Decimal("0.40")).status, "completed",
        "status"),
        lambda w, i: [(SQL["zip"], (20 + i % 7, 6, Decimal("0.40"), campaigns[w], zips[i]), 1)],
        lambda: expect(k.count("SELECT count(*) FROM campaigndb.gmaps_campaign_coverage WHERE"
                               " campaign_id = ANY(%s) AND status = 'completed' AND scraped_at"
                               " IS NOT NULL", list(campaigns.values())), 3 * k.n, "completed"))


def update_email_verification(k: Kit) -> Case:
    _, ids = k.copied("enrich", 3 * k.n * (1 + BATCH))
    k.state["enrich"] = ids[3 * k.n:]
    chosen = {w: ids[n * k.n:(n + 1) * k.n] for n, w in enumerate(WAYS)}
    verdict = {"status": "valid", "score": 97, "provider": "bench"}
    return Case(lambda i: expect(k.client.update_email_verification(
        chosen["client"][i], f"owner{i}@example.com", verdict).verification_status, "valid",
        "status"),
        lambda w, i: [(SQL["verify"], (f"owner{i}@example.com", "valid", j(verdict),
                                       chosen[w][i]), 1)],
        lambda: expect(k.count("SELECT count(*) FROM campaigndb.gmaps_businesses WHERE id ="
                               " ANY(%s) AND email_verification_status = 'valid' AND email"
                               " LIKE 'owner%%'", sum(chosen.values(), [])), 3 * k.n,
                       "verified"))


def update_enrichment_batch(k: Kit) -> Case:
    ids: list[uuid.UUID] = k.state["enrich"]
    pages = {w: [[{"business_id": str(b), "url": f"https://facebook.com/p{b.hex[:12]}",
                   "data": {"followers": n}}
                  for n, b in enumerate(ids[(x * k.n + i) * BATCH:(x * k.n + i + 1) * BATCH])]
                 for i in range(k.n)] for x, w in enumerate(WAYS)}
    return Case(lambda i: expect((lambda a: (a.updated, a.failed))(
        k.client.update_enrichment_batch("facebook", pages["client"][i])), (BATCH, 0),
        "updated, failed"),
        lambda w, i: [(SQL["lock_businesses"], ([e["business_id"] for e in pages[w][i]],), BATCH),
                      (SQL["enrich"], (j(pages[w][i]),), BATCH)],
        lambda: expect(k.count("SELECT count(*) FROM campaigndb.gmaps_businesses WHERE id ="
                               " ANY(%s) AND facebook_enriched_at IS NOT NULL", ids),
                       len(ids), "enriched"))


def register_n8n_workflow(k: Kit) -> Case:
    keys, ids = k.each(lambda w, i: f"wf-s{k.seed}-{w}-{i}"), k.each(lambda w, i: uuid.uuid4())
    return Case(lambda i: "not new" if (lambda a: a.replayed or a.updated)(
        k.client.register_n8n_workflow(k.ws, keys["client"][i], f"launcher {i}", "email"))
        else "",
        lambda w, i: [(SQL["workflow"], (ids[w][i], k.ws, keys[w][i], f"launcher {i}", "email"),
                       1), (SQL["audit_workflow"], (k.ws, ids[w][i], j({
                          "n8n_workflow_id": keys[w][i], "name": f"launcher {i}",
                          "campaign_type": "email", "deployment_status": "active"})), 1)],
        lambda: expect(k.b.admin.execute(
            "SELECT count(DISTINCT w.id), count(h.id) FROM campaigndb.workspace_n8n_workflows AS"
            " w LEFT JOIN campaigndb.workflow_deployment_history AS h ON h.workflow_id = w.id AND"
            " h.event_type = 'workflow_registered' WHERE w.workspace_id = %s AND"
            " w.n8n_workflow_id = ANY(%s)", (k.ws, sum(keys.values(), []))).fetchone(),
            (3 * k.n, 3 * k.n), "(workflows, audit rows)"))


def execute_campaign_atomically(k: Kit) -> Case:
    flows = {w: str(k.b.setup.register_n8n_workflow(k.ws, f"wf-exec-s{k.seed}-{w}", w, "email")
                    .workflow_id) for w in WAYS}
    done: dict[str, list[Any]] = {w: [] for w in WAYS}
    k.state["executions"] = done

    def call(i: int) -> str:
        got = k.client.execute_campaign_atomically(k.ws, flows["client"], uuid.uuid4(),
                                                   f"launch {i}", "email", {"call": i})
        done["client"].append(got.execution_id)
        return expect(got.total_executions, i + 1, "total_executions")

    def statements(w: str, i: int) -> list[Statement]:
        execution, session = uuid.uuid4(), uuid.uuid4()
        done[w].append(execution)
        return [(SQL["lock_workflow"], (flows[w], k.ws), 1), (SQL["count_execution"], (flows[w],),
                                                               1),
                (SQL["execution"], (execution, k.ws, session, f"launch {i}", j({"call": i}),
                                    flows[w]), 1),
                (SQL["audit_execution"], (execution, f"launch {i}", session, flows[w]), 1)]

    return Case(call, statements, lambda: expect(sorted(tuple(row) for row in k.b.admin.execute(
        "SELECT w.total_executions, (SELECT count(DISTINCT e.execution_number) FROM"
        " campaigndb.n8n_campaign_executions AS e WHERE e.workspace_n8n_workflow_id = w.id),"
        " (SELECT count(*) FROM campaigndb.workflow_deployment_history AS h WHERE h.workflow_id ="
        " w.id AND h.event_type = 'campaign_execution_started') FROM"
        " campaigndb.workspace_n8n_workflows AS w WHERE w.id = ANY(%s::uuid[])",
        (list(flows.values()),))), [(k.n, k.n, k.n)] * 3, "(total, numbers, audit rows)"))


def complete_campaign_execution(k: Kit) -> Case:
    done, result = k.state["executions"], {"sent": 120, "bounced": 3}
    every: list[Any] = sum(done.values(), [])
    return Case(lambda i: expect(k.client.complete_campaign_execution(
        done["client"][i], "completed", result).execution_status, "completed", "status"),
        lambda w, i: [(SQL["lock_execution"], (done[w][i],), 1),
                      (SQL["finish"], (j(result), done[w][i]), 1)],
        lambda: expect(k.b.admin.execute(
            "SELECT count(*) FILTER (WHERE e.duration_ms IS NOT NULL), (SELECT count(*) FROM"
            " campaigndb.workflow_deployment_history AS h WHERE h.execution_id = ANY(%s) AND"
            " h.event_type = 'campaign_execution_completed') FROM"
            " campaigndb.n8n_campaign_executions AS e WHERE e.id = ANY(%s) AND"
            " e.execution_status = 'completed'", (every, every)).fetchone(),
            (len(every), len(every)), "(completed, audit rows)"))


def record_transaction_metric(k: Kit) -> Case:
    campaign, operation = k.campaigns("metric")[0], f"bench_fn_s{k.seed}"
    return Case(lambda i: k.client.record_transaction_metric(operation, campaign, 10 + i % 50,
                                                             True),
                lambda w, i: [(SQL["metric"], (uuid.uuid4(), operation, 10 + i % 50, campaign),
                               1)],
                lambda: expect(k.count("SELECT count(*) FROM campaigndb.transaction_metrics"
                                       " WHERE campaign_id = %s AND operation_name = %s",
                                       campaign, operation), 3 * k.n, "metric rows"))


def upsert_daily_kpi_batch(k: Kit) -> Case:
    campaigns = {w: k.campaigns(f"kpi {w}", k.n) for w in WAYS}
    k.state["kpi"] = campaigns
    rng = random.Random(k.seed * 41 + 7)
    rows = {w: [kpi_rows(rng, c, MONTH, 30) for c in campaigns[w]] for w in WAYS}
    return Case(lambda i: expect(k.client.upsert_daily_kpi_batch(rows["client"][i], "bench")
                                 .upserted, 60, "upserted"),
                lambda w, i: [(UPSERT, ("bench", j(rows[w][i])), 60),
                              (LOG, ("upsert_daily_kpi_batch", MONTH.isoformat()[:7], 60), 1)],
                lambda: expect(k.count("SELECT count(*) FROM campaigndb.daily_kpi_data WHERE"
                                       " campaign_id = ANY(%s)", sum(campaigns.values(), [])),
                               3 * k.n * 60, "rows"))


def aggregate_monthly_kpis(k: Kit) -> Case:
    campaigns = k.state["kpi"]
    one = summary_insert(" AND d.campaign_id = %(campaign)s")
    return Case(lambda i: expect(k.client.aggregate_monthly_kpis(
        MONTH, campaign_id=campaigns["client"][i]).summaries_written, 1, "written"),
        lambda w, i: [(SQL["drop_summary"], (campaigns[w][i], MONTH), 0),
                      (one, {"month": MONTH, "campaign": campaigns[w][i]}, 1),
                      (LOG, ("aggregate_monthly_kpis", MONTH.isoformat()[:7], 1), 1)],
        lambda: expect(k.b.scalar(summary_differences(" AND d.campaign_id = ANY(%(ids)s)"),
                                  {"ids": sum(campaigns.values(), []), "month": MONTH}),
                       0, "summaries differing from a fresh aggregation"))


# (function, one call, isolation, builder): in this order, later ones use earlier ones' rows
CASES: list[tuple[str, str, str, Callable[[Kit], Case]]] = [
    ("create_workspace", "one workspace", "RC", create_workspace),
    ("create_campaign_with_coverage", f"a campaign with {ZIPS} ZIP codes", "RC",
     create_campaign_with_coverage),
    ("track_campaign_cost", "one cost row + the campaign's total", "SER", track_campaign_cost),
    ("insert_businesses_batch", f"{BATCH} new businesses", "RC", insert_businesses_batch),
    ("update_campaign_statistics", f"recount a campaign of {STATS_ROWS:,} businesses", "RC",
     update_campaign_statistics),
    ("update_coverage_status", "one ZIP code's outcome", "RC", update_coverage_status),
    ("update_email_verification", "one verdict", "RC", update_email_verification),
    ("update_enrichment_batch", f"{BATCH} Facebook pages", "RC", update_enrichment_batch),
    ("register_n8n_workflow", "a new workflow + its audit row", "RC", register_n8n_workflow),
    ("execute_campaign_atomically", "an execution + counter + audit row", "RR",
     execute_campaign_atomically),
    ("complete_campaign_execution", "finish an execution (+ its trigger's metric and audit "
                                    "rows)", "RC", complete_campaign_execution),
    ("record_transaction_metric", "one metric row", "RC", record_transaction_metric),
    ("upsert_daily_kpi_batch", "one campaign's 30 days × 2 platforms", "RC",
     upsert_daily_kpi_batch),
    ("aggregate_monthly_kpis", "one campaign's month (60 daily rows)", "RC",
     aggregate_monthly_kpis),
]


def run_statements(conn: psycopg.Connection[Any], level: str, statements: Sequence[Statement],
                   pipelined: bool) -> str:
    """BEGIN, the statements (one round trip each, or all in one pipeline), COMMIT."""
    try:
        if pipelined:
            with conn.pipeline():
                conn.execute(BEGIN[level])
                cursors = [conn.execute(sql, params) for sql, params, _ in statements]
                conn.execute("COMMIT")
        else:
            conn.execute(BEGIN[level])
            cursors = [conn.execute(sql, params) for sql, params, _ in statements]
            conn.execute("COMMIT")
    except psycopg.Error as exc:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "; ".join(f"statement {n + 1}: {cur.rowcount} rows, expected {want}"
                     for n, (cur, (_, _, want)) in enumerate(zip(cursors, statements, strict=True))
                     if want is not None and cur.rowcount != want)


def every_function(b: h.Bench, r: int) -> None:
    with b.client(1) as client, b.bare(autocommit=True) as conn:
        kit = Kit(b, client, b.workspace(f"functions r{r}"), r + 1)
        for function, _, level, build in CASES:
            case = build(kit)

            def through_client(i: int, case: Case = case) -> object:
                try:
                    return case.client(i)
                except CampaignDBError as exc:
                    return f"{exc.sqlstate}: {exc}"

            sent: list[int] = []

            def raw(pipelined: bool, case: Case = case, level: str = level,
                    sent: list[int] = sent) -> Callable[[int], str]:
                def call(i: int) -> str:
                    statements = case.statements("pipe" if pipelined else "raw", i)
                    sent.append(len(statements))
                    return run_statements(conn, level, statements, pipelined)
                return call

            runs = h.interleave({"client": through_client, "raw": raw(False), "pipe": raw(True)},
                              b.n(CALLS_EACH), b.n(WARMUP), turn=r)
            effect = case.check()
            for way, run in runs.items():
                run.check = "; ".join(x for x in (effect, run.check or "") if x)
                run.extra["statements"] = max(sent)
                b.record(f"fn.{function}.{way}", run)


def concurrency(b: h.Bench, r: int) -> None:
    for threads, size in CONCURRENCY:
        shape, calls = f"{threads}x{size}", b.n(CONCURRENT)
        with b.pool(size, cap=size) as pool:
            def select1(*_: Any) -> tuple[bool, int]:
                with pool.connection() as conn:
                    conn.execute("SELECT 1").fetchone()
                return True, 0

            b.case(f"conc.select1.{shape}", threads, [None], calls, select1, r + 1, warm=[None])
        floor_case(b, f"conc.commit.{shape}", threads, threads, calls, r + 1, size)
        client_case(b, f"conc.client.{shape}", threads, threads, calls, r + 1, size=size)


def measure(b: h.Bench, r: int) -> None:
    every_function(b, r)
    concurrency(b, r)


def way(name: str) -> Callable[[h.Row], str]:
    return lambda row: row.key.rsplit(".", 1)[0] + f".{name}"


SECTION = h.Section(
    name="functions",
    title="Every write function: the client against the same work as raw SQL",
    about="One call of each function, the size the seeds name, three ways interleaved call by "
          "call: through `Client`; as raw SQL statements in one transaction at the function's "
          "isolation, a round trip per statement (what an application writes without the "
          "function); and the floor: the same statements in psycopg's pipeline mode, one round "
          "trip like the client's one message. Row counts are checked on every call, the tables "
          "after the calls. Then `track_campaign_cost` from 1, 10 and 100 callers, a campaign "
          "each, against `SELECT 1` and one-row UPDATE floors through a pool of the same size.",
    measure=measure,
    tables=[
        h.Table([h.fixed(0, "one call"), h.fixed(1, "isolation"),
               h.Col("statements", lambda c: f"{c.runs[0].extra.get('statements', 0):.0f}"),
               h.Col("client p50 ms", h.spread(lambda r: r.pct(50), 3)),
               h.shown("raw SQL p50 ms (a round trip per statement)", way("raw"),
                     lambda r: r.pct(50)),
               h.shown("floor p50 ms (one round trip)", way("pipe"), lambda r: r.pct(50)),
               h.Col("client ÷ floor", h.P50_X.cell), h.against("client ÷ raw SQL", way("raw")),
               h.against("client ÷ `SELECT 1`", lambda row: "select1", digits=1),
               h.against("floor ÷ `SELECT 1`", lambda row: "select1", way("pipe"), digits=1),
               h.against("client ÷ one commit", lambda row: "commit.1x1"),
               h.Col("client p99 ms", h.spread(lambda r: r.pct(99), 2)), h.CHECK],
              [h.Row(f"fn.{f}.client", f"`{f}`", f"fn.{f}.pipe", (shape, LEVELS[level]))
               for f, shape, level, _ in CASES]),
        h.Table([h.fixed(0, "callers (pool)"), h.CALLS,
                 h.P50,
               h.Col("p95 ms", h.spread(lambda r: r.pct(95))),
               h.P99, h.P50_X, h.P99_X, h.FLOOR,
               h.against("p50 ÷ `SELECT 1` p50 (same callers)",
                       lambda row: "conc.select1." + row.key.rsplit(".", 1)[1], digits=1),
               h.TPS, h.Col("retries", lambda c: f"{sum(r.retries for r in c.runs):,}"), h.FAILED,
               h.CHECK],
              [h.Row(f"conc.{w}.{t}x{s}", label, None if w == "select1" else
                   f"conc.{'select1' if w == 'commit' else 'commit'}.{t}x{s}", (f"{t} ({s})",))
               for t, s in CONCURRENCY for w, label in (
                   ("select1", "`SELECT 1` round trip (floor)"),
                   ("commit", "autocommit one-row UPDATE, a row per caller (floor)"),
                   ("client", "`track_campaign_cost`, a campaign per caller"))],
              "Latency at 1, 10 and 100 concurrent callers"),
    ],
    goals=[h.Goal(f"every write function ({len(CASES)}), three ways: each statement's row count on "
                "every call, and the tables after the calls (rows, totals, counters, audit and "
                "trigger rows, summaries) exact",
                h.exact(*(f"fn.{f}.client" for f, *_ in CASES)), lambda v: v == 1, every=True,
                per=" function runs exact")],
)
