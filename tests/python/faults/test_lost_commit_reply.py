"""The reply to COMMIT is lost: every write function applies exactly once.

A proxy between the client (sync and asyncio) and the server forwards the attempt's one
message (`BEGIN ...; SELECT fn(...); COMMIT`, ClientBase._plan), lets the server execute
and commit it, then swallows the whole reply and closes the connection.  The client sees a
lost connection (08006, retryable), retries with the same idempotency key on a new
connection, and the write must be applied once: no second row, no second increment, the
first answer replayed.

Table-driven: CASES maps each write function of campaigndb.FUNCTIONS to how to make
its arguments and how to check that it was applied exactly once; a function added to
FUNCTIONS without a case fails test_every_write_function_has_a_case.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import FUNCTIONS, AsyncClient, Client, Envelope, Isolation

from .support import CommitReplyDropper, Ledger, assert_invariants

WRITES = sorted(name for name, spec in FUNCTIONS.items() if not spec.read_only)


@dataclass
class Ctx:
    """One case's set-up: a direct client and connection, a fresh workspace, a unique tag."""

    client: Client
    raw: psycopg.Connection[Any]
    workspace: uuid.UUID
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    notes: dict[str, Any] = field(default_factory=dict)

    def value(self, query: str, params: list[Any] | None = None) -> Any:
        row = self.raw.execute(query, params or []).fetchone()
        assert row is not None, query
        return row[0]

    def rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.raw.execute(query, params or []).fetchall()

    def campaign(self) -> uuid.UUID:
        created = self.client.create_campaign_with_coverage(
            {"workspace_id": self.workspace, "name": f"c-{self.tag}"}, ["10001", "10002"])
        return created.campaign_id

    def business(self, campaign: uuid.UUID, email: str | None = None) -> uuid.UUID:
        row: dict[str, Any] = {"place_id": f"p-{self.tag}", "name": "Bakery"}
        if email:
            row["email"] = email
        self.client.insert_businesses_batch(campaign, "10001", [row])
        return uuid.UUID(str(self.value(
            "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s AND place_id = %s",
            [campaign, row["place_id"]])))

    def workflow(self) -> uuid.UUID:
        return self.client.register_n8n_workflow(self.workspace, f"wf-{self.tag}", "Flow",
                                                 "email").workflow_id

    def collection_log_mark(self) -> None:
        self.notes["log_before"] = self.value(
            "SELECT COALESCE(max(id), 0) FROM campaigndb.collection_log")

    def new_collection_log_ids(self) -> list[int]:
        return [r[0] for r in self.rows("SELECT id FROM campaigndb.collection_log WHERE id > %s",
                                        [self.notes["log_before"]])]


class AppliedTwice(AssertionError):
    """A write applied more than once for one logical call."""


Make = Callable[[Ctx], dict[str, Any]]
Check = Callable[[Ctx, dict[str, Any], Envelope], None]


@dataclass(frozen=True)
class WriteCase:
    make: Make
    check: Check


# -- the cases -----------------------------------------------------------------------------

def _create_workspace(ctx: Ctx) -> dict[str, Any]:
    return {"p_name": f"ws-{ctx.tag}"}


def _check_create_workspace(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT id FROM campaigndb.workspaces WHERE name = %s", [params["p_name"]])
    assert len(rows) == 1
    assert env["replayed"] is True and str(env["workspace_id"]) == str(rows[0][0])


def _create_campaign(ctx: Ctx) -> dict[str, Any]:
    return {"p_campaign_data": {"workspace_id": str(ctx.workspace), "name": f"cc-{ctx.tag}"},
            "p_zip_codes": ["20001", "20002", "20003"]}


def _check_create_campaign(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT id FROM campaigndb.campaigns WHERE name = %s",
                    [params["p_campaign_data"]["name"]])
    assert len(rows) == 1
    assert env["replayed"] is True and str(env["campaign_id"]) == str(rows[0][0])
    assert ctx.value("SELECT count(*) FROM campaigndb.gmaps_campaign_coverage"
                     " WHERE campaign_id = %s", [rows[0][0]]) == 3


def _track_cost(ctx: Ctx) -> dict[str, Any]:
    return {"p_campaign_id": str(ctx.campaign()), "p_service": "gmaps",
            "p_items_processed": 3, "p_cost_usd": Decimal("1.2345"), "p_metadata": {}}


def _check_track_cost(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    campaign = params["p_campaign_id"]
    rows = ctx.rows("SELECT id, cost_usd FROM campaigndb.gmaps_api_costs WHERE campaign_id = %s",
                    [campaign])
    assert [r[1] for r in rows] == [Decimal("1.2345")]
    assert ctx.value("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                     [campaign]) == Decimal("1.2345")
    assert env["replayed"] is True and str(env["cost_id"]) == str(rows[0][0])
    assert Decimal(str(env["new_total_cost"])) == Decimal("1.2345")


def _insert_businesses(ctx: Ctx) -> dict[str, Any]:
    return {"p_campaign_id": str(ctx.campaign()), "p_zip_code": "10001",
            "p_businesses": [{"place_id": f"{ctx.tag}-{n}", "name": f"Shop {n}"}
                             for n in range(3)]}


def _check_insert_businesses(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT place_id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s"
                    " ORDER BY place_id", [params["p_campaign_id"]])
    assert [r[0] for r in rows] == [f"{ctx.tag}-{n}" for n in range(3)]
    # An upsert without a key: the retry finds the rows it wrote, unchanged.  Its answer
    # describes the retry (nothing new), but every row was written once.
    assert env["inserted"] + env["skipped"] == 3 and env["updated"] == 0


def _statistics(ctx: Ctx) -> dict[str, Any]:
    campaign = ctx.campaign()
    ctx.client.insert_businesses_batch(campaign, "10001", [
        {"place_id": f"{ctx.tag}-a", "name": "A", "email": "a@example.com"},
        {"place_id": f"{ctx.tag}-b", "name": "B"}])
    return {"p_campaign_id": str(campaign)}


def _check_statistics(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    row = ctx.rows("SELECT total_businesses, total_emails FROM campaigndb.campaigns"
                   " WHERE id = %s", [params["p_campaign_id"]])
    assert row == [(2, 1)]  # recounted, never incremented: the retry cannot double it
    assert (env["total_businesses"], env["total_emails"]) == (2, 1)


def _coverage(ctx: Ctx) -> dict[str, Any]:
    return {"p_campaign_id": str(ctx.campaign()), "p_zip_code": "10002",
            "p_businesses_found": 7, "p_emails_found": 3, "p_actual_cost": Decimal("0.70")}


def _check_coverage(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT zip_code, status, businesses_found, emails_found, actual_cost"
                    " FROM campaigndb.gmaps_campaign_coverage WHERE campaign_id = %s"
                    " ORDER BY zip_code", [params["p_campaign_id"]])
    assert rows == [("10001", "pending", 0, 0, None),
                    ("10002", "completed", 7, 3, Decimal("0.70"))]
    assert env["status"] == "completed"


def _verification(ctx: Ctx) -> dict[str, Any]:
    business = ctx.business(ctx.campaign())
    return {"p_business_id": str(business), "p_email": f"{ctx.tag}@example.com",
            "p_verification_data": {"status": "valid", "score": 97}}


def _check_verification(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT b2.email, b2.email_verification_status,"
                    " (SELECT count(*) FROM campaigndb.gmaps_businesses b"
                    "   WHERE b.campaign_id = b2.campaign_id)"
                    " FROM campaigndb.gmaps_businesses b2 WHERE b2.id = %s",
                    [params["p_business_id"]])
    assert rows == [(params["p_email"], "valid", 1)]
    assert env["verification_status"] == "valid"


def _enrichment(ctx: Ctx) -> dict[str, Any]:
    business = ctx.business(ctx.campaign())
    return {"p_enrichment_type": "facebook",
            "p_enrichments": [{"business_id": str(business),
                               "url": f"https://facebook.com/{ctx.tag}",
                               "data": {"likes": 12}}]}


def _check_enrichment(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    element = params["p_enrichments"][0]
    rows = ctx.rows("SELECT facebook_url, facebook_data FROM campaigndb.gmaps_businesses"
                    " WHERE id = %s", [element["business_id"]])
    assert rows == [(element["url"], {"likes": 12})]
    assert (env["updated"], env["failed"]) == (1, 0)


def _register(ctx: Ctx) -> dict[str, Any]:
    return {"p_workspace_id": str(ctx.workspace), "p_n8n_workflow_id": f"n8n-{ctx.tag}",
            "p_name": "Outreach", "p_campaign_type": "email"}


def _check_register(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT id FROM campaigndb.workspace_n8n_workflows"
                    " WHERE workspace_id = %s AND n8n_workflow_id = %s",
                    [params["p_workspace_id"], params["p_n8n_workflow_id"]])
    assert len(rows) == 1
    assert ctx.value("SELECT count(*) FROM campaigndb.workflow_deployment_history"
                     " WHERE workflow_id = %s", [rows[0][0]]) == 1
    assert env["replayed"] is True and str(env["workflow_id"]) == str(rows[0][0])


def _execute(ctx: Ctx) -> dict[str, Any]:
    return {"p_workspace_id": str(ctx.workspace),
            "p_workspace_n8n_workflow_id": str(ctx.workflow()),
            "p_campaign_approval_session_id": str(uuid.uuid4()),
            "p_campaign_name": f"launch-{ctx.tag}", "p_campaign_type": "email"}


def _check_execute(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    workflow = params["p_workspace_n8n_workflow_id"]
    executions = ctx.rows("SELECT id FROM campaigndb.n8n_campaign_executions"
                          " WHERE workspace_n8n_workflow_id = %s", [workflow])
    assert len(executions) == 1
    assert ctx.value("SELECT total_executions FROM campaigndb.workspace_n8n_workflows"
                     " WHERE id = %s", [workflow]) == 1
    assert ctx.value("SELECT count(*) FROM campaigndb.workflow_deployment_history"
                     " WHERE execution_id = %s", [executions[0][0]]) == 1
    assert env["replayed"] is True and env["total_executions"] == 1
    assert str(env["execution_id"]) == str(executions[0][0])


def _complete(ctx: Ctx) -> dict[str, Any]:
    started = ctx.client.execute_campaign_atomically(ctx.workspace, ctx.workflow(), None,
                                                     f"run-{ctx.tag}", "email")
    ctx.notes["metrics_before"] = ctx.value(
        "SELECT count(*) FROM campaigndb.transaction_metrics"
        " WHERE operation_name = 'campaign_execution:email'")
    return {"p_execution_id": str(started.execution_id), "p_status": "completed",
            "p_result": {"sent": 3}}


def _check_complete(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    execution = params["p_execution_id"]
    assert ctx.value("SELECT execution_status FROM campaigndb.n8n_campaign_executions"
                     " WHERE id = %s", [execution]) == "completed"
    assert ctx.value("SELECT count(*) FROM campaigndb.workflow_deployment_history"
                     " WHERE execution_id = %s AND event_type = 'campaign_execution_completed'",
                     [execution]) == 1
    assert ctx.value("SELECT count(*) FROM campaigndb.transaction_metrics"
                     " WHERE operation_name = 'campaign_execution:email'"
                     ) == ctx.notes["metrics_before"] + 1
    assert env["replayed"] is True and env["execution_status"] == "completed"


def _metric(ctx: Ctx) -> dict[str, Any]:
    return {"p_operation_name": f"op-{ctx.tag}", "p_campaign_id": None, "p_duration_ms": 12,
            "p_success": True}


def _check_metric(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT id FROM campaigndb.transaction_metrics WHERE operation_name = %s",
                    [params["p_operation_name"]])
    if len(rows) != 1:
        raise AppliedTwice(f"{len(rows)} rows for one logical call")
    assert str(env["id"]) == str(rows[0][0])


_KPI_ROWS = [("2026-10-01", "google", 100, 10, "5.5000", 2, "20.0000"),
             ("2026-10-02", "google", 300, 20, "4.5000", 1, "10.0000"),
             ("2026-10-01", "meta", 50, 5, "1.2500", 0, "0.0000")]


def _kpi_elements(campaign: uuid.UUID) -> list[dict[str, Any]]:
    return [{"campaign_id": str(campaign), "kpi_date": day, "platform": platform,
             "impressions": impressions, "clicks": clicks, "spend": spend,
             "conversions": conversions, "revenue": revenue}
            for day, platform, impressions, clicks, spend, conversions, revenue in _KPI_ROWS]


def _upsert_kpis(ctx: Ctx) -> dict[str, Any]:
    campaign = ctx.campaign()
    ctx.collection_log_mark()
    return {"p_rows": _kpi_elements(campaign), "p_source": f"src-{ctx.tag}"}


def _check_upsert_kpis(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    campaign = params["p_rows"][0]["campaign_id"]
    rows = ctx.rows("SELECT kpi_date::text, platform, impressions, clicks, spend::text,"
                    " conversions, revenue::text FROM campaigndb.daily_kpi_data"
                    " WHERE campaign_id = %s ORDER BY platform, kpi_date", [campaign])
    assert rows == sorted(_KPI_ROWS, key=lambda r: (r[1], r[0]))
    logs = ctx.new_collection_log_ids()
    assert len(logs) == 1, f"{len(logs)} collection_log rows for one logical call"
    assert env["replayed"] is True and env["collection_log_id"] == logs[0]
    assert env["upserted"] == len(_KPI_ROWS)


def _aggregate(ctx: Ctx) -> dict[str, Any]:
    campaign = ctx.campaign()
    ctx.raw.execute(
        "INSERT INTO campaigndb.daily_kpi_data (campaign_id, kpi_date, platform, impressions,"
        " clicks, spend, conversions, revenue)"
        " SELECT %s, d::date, p, i, c, s::numeric, v, r::numeric"
        " FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::text[], %s::int[],"
        " %s::text[]) AS t(d, p, i, c, s, v, r)",
        [campaign, *(list(column) for column in zip(*_KPI_ROWS, strict=True))])
    ctx.collection_log_mark()
    return {"p_month": datetime.date(2026, 10, 1), "p_campaign_id": str(campaign)}


def _check_aggregate(ctx: Ctx, params: dict[str, Any], env: Envelope) -> None:
    rows = ctx.rows("SELECT period_start, impressions, clicks, spend, conversions, revenue,"
                    " days_reported FROM campaigndb.campaign_summaries"
                    " WHERE campaign_id = %s AND period_type = 'month'",
                    [params["p_campaign_id"]])
    assert rows == [(datetime.date(2026, 10, 1), 450, 35, Decimal("11.25"), 3,
                     Decimal("30.00"), 2)]
    logs = ctx.new_collection_log_ids()
    assert len(logs) == 1, f"{len(logs)} collection_log rows for one logical call"
    assert env["replayed"] is True and env["collection_log_id"] == logs[0]
    assert env["summaries_written"] == 1


CASES: dict[str, WriteCase] = {
    "create_workspace": WriteCase(_create_workspace, _check_create_workspace),
    "create_campaign_with_coverage": WriteCase(_create_campaign, _check_create_campaign),
    "track_campaign_cost": WriteCase(_track_cost, _check_track_cost),
    "insert_businesses_batch": WriteCase(_insert_businesses, _check_insert_businesses),
    "update_campaign_statistics": WriteCase(_statistics, _check_statistics),
    "update_coverage_status": WriteCase(_coverage, _check_coverage),
    "update_email_verification": WriteCase(_verification, _check_verification),
    "update_enrichment_batch": WriteCase(_enrichment, _check_enrichment),
    "register_n8n_workflow": WriteCase(_register, _check_register),
    "execute_campaign_atomically": WriteCase(_execute, _check_execute),
    "complete_campaign_execution": WriteCase(_complete, _check_complete),
    "record_transaction_metric": WriteCase(_metric, _check_metric),
    "upsert_daily_kpi_batch": WriteCase(_upsert_kpis, _check_upsert_kpis),
    "aggregate_monthly_kpis": WriteCase(_aggregate, _check_aggregate),
}

def test_every_write_function_has_a_case() -> None:
    assert set(WRITES) - set(CASES) == set(), "write functions without a lost-reply case"
    assert set(CASES) - set(WRITES) == set(), "cases for functions that do not exist"


def _call_through(kind: str, dsn: str, name: str, params: dict[str, Any]
                  ) -> tuple[Envelope, int]:
    """One logical call by the sync or the asyncio client: its answer and its retries."""
    options: dict[str, Any] = {"pool_min_size": 1, "pool_max_size": 1,
                               "retry_base_s": 0.001, "retry_max_s": 0.01}
    if kind == "sync":
        with Client(dsn, **options) as db:
            return db.call(name, **params), db.stats.retries.get(name, 0)

    async def scenario() -> tuple[Envelope, int]:
        async with AsyncClient(dsn, **options) as adb:
            return await adb.call(name, **params), adb.stats.retries.get(name, 0)

    return asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("name", WRITES)
def test_lost_commit_reply_applies_once(
    name: str, kind: str, client: Client, raw: psycopg.Connection[Any], workspace: uuid.UUID,
    proxy: CommitReplyDropper,
) -> None:
    case = CASES[name]
    ctx = Ctx(client, raw, workspace)
    params = case.make(ctx)
    proxy.arm(f"public.{name}(")
    envelope, retries = _call_through(kind, proxy.dsn(), name, params)
    # The fault happened as intended: one reply swallowed, and in it the server's COMMIT.
    assert len(proxy.sabotaged) == 1 and proxy.armed() == 0
    assert f"public.{name}(" in proxy.sabotaged[0].query
    assert proxy.sabotaged[0].server_committed
    assert retries == 1
    assert envelope["success"] is True, envelope
    case.check(ctx, params, envelope)
    assert_invariants(raw)


@pytest.mark.parametrize("name", ["track_campaign_cost", "execute_campaign_atomically"])
def test_lost_commit_reply_on_the_hot_row_queue(
    name: str, client: Client, raw: psycopg.Connection[Any], workspace: uuid.UUID,
    proxy: CommitReplyDropper,
) -> None:
    """The same, for an attempt queued on a hot row: its message also takes and releases
    the pre-snapshot advisory lock around the transaction (three statements more).  The
    lost session releases the lock; the retry queues again and replays."""
    case = CASES[name]
    ctx = Ctx(client, raw, workspace)
    params = case.make(ctx)
    proxy.arm(f"public.{name}(")
    with Client(proxy.dsn(), pool_min_size=1, pool_max_size=1, hot_row_lock="always",
                retry_base_s=0.001, retry_max_s=0.01) as db:
        envelope = db.call(name, **params)
        retries = db.stats.retries.get(name, 0)
    assert len(proxy.sabotaged) == 1 and proxy.sabotaged[0].server_committed
    assert "pg_advisory_lock" in proxy.sabotaged[0].query
    assert retries == 1 and envelope["success"] is True, envelope
    case.check(ctx, params, envelope)
    assert raw.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d"
                       " ON d.oid = l.database WHERE l.locktype = 'advisory'"
                       " AND d.datname = current_database()").fetchone() == (0,)  # no queue
    assert_invariants(raw)


def test_lost_commit_reply_of_run_transaction_replays_its_steps(
    client: Client, raw: psycopg.Connection[Any], workspace: uuid.UUID,
    proxy: CommitReplyDropper,
) -> None:
    """run_transaction commits with a COMMIT of its own (psycopg, extended protocol).  Its
    reply is lost; the whole callback reruns; each step reuses its key and replays."""
    ctx = Ctx(client, raw, workspace)
    campaign, flow = ctx.campaign(), ctx.workflow()
    answers: list[list[Envelope]] = []

    def body(tx: Any) -> None:
        answers.append([
            tx.call("track_campaign_cost", p_campaign_id=str(campaign), p_service="gmaps",
                    p_items_processed=1, p_cost_usd=Decimal("2.50"), p_metadata={}),
            tx.call("execute_campaign_atomically", p_workspace_id=str(workspace),
                    p_workspace_n8n_workflow_id=str(flow),
                    p_campaign_approval_session_id=None, p_campaign_name="in a transaction",
                    p_campaign_type="email"),
            tx.call("update_coverage_status", p_campaign_id=str(campaign), p_zip_code="10001",
                    p_businesses_found=4, p_emails_found=1, p_actual_cost=Decimal("2.50")),
        ])

    proxy.arm("COMMIT")
    with Client(proxy.dsn(), pool_min_size=1, pool_max_size=1) as db:
        db.run_transaction(body, isolation=Isolation.SERIALIZABLE, attempts=3, base_s=0.001)
    assert len(proxy.sabotaged) == 1 and proxy.sabotaged[0].query.strip() == "COMMIT"
    assert proxy.sabotaged[0].server_committed
    assert len(answers) == 2, "the callback was not rerun"
    first, rerun = answers
    assert [a["success"] for a in first + rerun] == [True] * 6
    assert (first[0]["replayed"], first[1]["replayed"]) == (False, False)
    assert (rerun[0]["replayed"], rerun[1]["replayed"]) == (True, True)
    assert rerun[0]["cost_id"] == first[0]["cost_id"]
    assert rerun[1]["execution_id"] == first[1]["execution_id"]
    ledger = Ledger()
    ledger.cost(campaign, Decimal("2.50"), "one call")
    ledger.execution(flow, uuid.UUID(str(first[1]["execution_id"])))
    assert_invariants(raw, ledger)



def _lose_every_reply(proxy: CommitReplyDropper, ctx: Ctx, key: str | None
                      ) -> tuple[dict[str, Any], Envelope]:
    """A track_campaign_cost call whose every attempt (3) commits and loses its reply."""
    params = _track_cost(ctx)
    if key is not None:
        params["p_idempotency_key"] = key
    for _ in range(3):
        proxy.arm("public.track_campaign_cost(")
    with Client(proxy.dsn(), pool_min_size=1, pool_max_size=1, retry_attempts=3,
                retry_base_s=0.001, retry_max_s=0.01) as db:
        envelope = db.call("track_campaign_cost", **params)
    assert len(proxy.sabotaged) == 3 and all(s.server_committed for s in proxy.sabotaged)
    # the write may have committed (here it did): 08007 transaction_resolution_unknown,
    # never a "nothing written" failure, with the key to ask again with
    assert envelope["success"] is False and envelope["error_code"] == "08007", envelope
    assert envelope["retry_recommended"] is True
    assert "08006" in envelope["error_detail"]["detail"]
    return params, envelope


def test_caller_with_its_own_key_recovers_when_every_reply_is_lost(
    client: Client, raw: psycopg.Connection[Any], workspace: uuid.UUID,
    proxy: CommitReplyDropper,
) -> None:
    """Every attempt's reply is lost, so the client gives up with a retryable 08006 although
    the first attempt committed.  A caller that chose its key calls again with it (as the
    docs/contract.md section 1 advises for retryable failures): replayed, applied once."""
    ctx = Ctx(client, raw, workspace)
    params, _ = _lose_every_reply(proxy, ctx, key=f"mine-{ctx.tag}")
    again = client.call("track_campaign_cost", **params)
    assert again["success"] is True and again["replayed"] is True, again
    _check_track_cost(ctx, params, again)
    assert_invariants(raw)


def test_unknown_outcome_carries_the_key_to_ask_again(
    client: Client, raw: psycopg.Connection[Any], workspace: uuid.UUID,
    proxy: CommitReplyDropper,
) -> None:
    """Every attempt's reply is lost and the caller let the client generate the key: the
    answer is 08007 (not "nothing written") with that key; asking again with it replays the
    write that did commit, applied once."""
    ctx = Ctx(client, raw, workspace)
    params, envelope = _lose_every_reply(proxy, ctx, key=None)
    key = envelope["idempotency_key"]
    assert key and key in envelope["error"]
    again = client.call("track_campaign_cost", **params, p_idempotency_key=key)
    assert again["success"] is True and again["replayed"] is True, again
    assert ctx.value("SELECT count(*) FROM campaigndb.gmaps_api_costs"
                     " WHERE campaign_id = %s", [params["p_campaign_id"]]) == 1
    _check_track_cost(ctx, {**params, "p_idempotency_key": key}, again)
    assert_invariants(raw)
