"""Safe at first contact: rejected calls against successful ones, a 1,000,000-element argument,
cost tracking during statistics recounts, serialization retries between callers on different
campaigns (docs/benchmarks.md, "First contact"; docs/limits.md), and what the client adds to
a page read and a cost call (docs/client.md, "Where a call's time goes")."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import harness as h
import psycopg

from campaigndb import Client
from sections.hot_row import NON_HOT, cost_attempt

REJECTED_CALLS, WARMUP = (300, 60), 5
HUGE = 1_000_000
RECOUNT = (1_000_000, 100_000), 10, (100, 40)  # businesses, trackers, calls per tracker
RETRY_SHAPES, RETRY_CALLS = ((10, 10), (100, 20), (100, 100)), (30, 12)  # (callers, pool)
READ_CALLS, PAGE = (400, 150), 100
Params = Callable[[int], dict[str, Any]]
# the function's own query for 'facebook' (sql/functions/get_businesses_for_enrichment.sql)
RAW_PAGE = ("SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city,"
            " b.state, b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url,"
            " b.email_verification_status FROM campaigndb.gmaps_businesses AS b"
            " WHERE b.campaign_id = %s AND b.id > %s AND b.facebook_enriched_at IS NULL"
            " ORDER BY b.id LIMIT %s OFFSET %s")
# what the client sends, written by hand: one message, one round trip
FN_PAGE = ("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT * FROM"
           " public.get_businesses_for_enrichment(p_campaign_id => %s::uuid, p_enrichment_type"
           " => %s::varchar, p_limit => %s::integer, p_offset => %s::integer, p_after_id =>"
           " %s::uuid); COMMIT")
COST = ("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT public.track_campaign_cost(p_campaign_id =>"
        " %s::uuid, p_service => %s::varchar, p_items_processed => %s::integer, p_cost_usd =>"
        " %s::numeric, p_metadata => %s::jsonb, p_idempotency_key => %s::text); COMMIT")
FRESH = ("SELECT count(*), count(*) FILTER (WHERE email <> ''), count(*) FILTER (WHERE"
         " facebook_url <> '') FROM campaigndb.gmaps_businesses WHERE campaign_id = %s")
SEED = ("INSERT INTO campaigndb.gmaps_businesses (campaign_id, zip_code, place_id, name, email,"
        " facebook_url) SELECT %s, '10001', 'seed-' || g, 'Business ' || g, CASE WHEN g %% 3 = 0"
        " THEN 'b' || g || '@example.com' END, CASE WHEN g %% 5 = 0 THEN"
        " 'https://facebook.example/' || g END FROM generate_series(1, %s) AS g")


@dataclass
class Fx:
    """What the rejected and successful calls refer to."""

    tag: str
    ws: str
    cid: str
    flow: str
    businesses: list[str]
    executions: list[str]
    unknown: str = str(uuid.uuid4())


def fixture(b: h.Bench, r: int, calls: int) -> Fx:
    ws = b.workspace(f"first contact r{r}")
    cid = str(b.setup.call("create_campaign_with_coverage",
                           p_campaign_data={"workspace_id": ws, "name": "first contact"},
                           p_zip_codes=[f"{10000 + i}" for i in range(50)])["campaign_id"])
    b.setup.call("insert_businesses_batch", p_campaign_id=cid, p_zip_code="10001",
                 p_businesses=[{"place_id": f"seed{i}", "name": f"B {i}",
                                "email": f"b{i}@example.com"} for i in range(200)])
    flow = str(b.setup.call("register_n8n_workflow", p_workspace_id=ws, p_n8n_workflow_id="fc",
                            p_name="fc", p_campaign_type="email")["workflow_id"])
    x = Fx(f"r{r}", ws, cid, flow, [str(row[0]) for row in b.admin.execute(
        "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id", [cid])],
        [])
    x.executions = [str(b.setup.call("execute_campaign_atomically", **launch(x, x.flow))
                        ["execution_id"]) for _ in range(calls + WARMUP)]
    return x


def launch(x: Fx, flow: str) -> dict[str, Any]:
    return {"p_workspace_id": x.ws, "p_workspace_n8n_workflow_id": flow,
            "p_campaign_approval_session_id": None, "p_campaign_name": "fc",
            "p_campaign_type": "email"}


def cases(x: Fx) -> dict[str, tuple[str, Params, Params]]:
    """label -> (function, a successful call's arguments, a rejected call's), by call number."""
    cost = {"p_service": "fc", "p_items_processed": 1, "p_cost_usd": Decimal("0.01"),
            "p_metadata": {}}
    coverage = {"p_campaign_id": x.cid, "p_zip_code": "10001", "p_actual_cost": Decimal("0.5")}
    mail = {"p_email": "a@example.com", "p_verification_data": {"status": "valid"}}
    flow = {"p_name": "f", "p_campaign_type": "email"}
    kpi = {"campaign_id": x.cid, "kpi_date": "2026-10-01", "platform": "fc", "impressions": 1,
           "clicks": 1, "spend": "1.00", "conversions": 0, "revenue": "0"}
    metric = {"p_operation_name": "fc", "p_campaign_id": x.cid, "p_success": True}
    month = {"p_month": date(2026, 10, 1)}
    return {
        "create_workspace": ("create_workspace", lambda i: {"p_name": f"w{x.tag}-{i}"},
                             lambda i: {"p_name": " "}),
        "create_campaign_with_coverage": (
            "create_campaign_with_coverage",
            lambda i: {"p_campaign_data": {"workspace_id": x.ws, "name": "c"},
                       "p_zip_codes": ["10001", "10002"]},
            lambda i: {"p_campaign_data": {"workspace_id": x.unknown, "name": "c"},
                       "p_zip_codes": ["10001", "10002"]}),
        "track_campaign_cost": ("track_campaign_cost", lambda i: {"p_campaign_id": x.cid, **cost},
                                lambda i: {"p_campaign_id": x.unknown, **cost}),
        "track_campaign_cost (22023)": (
            "track_campaign_cost", lambda i: {"p_campaign_id": x.cid, **cost},
            lambda i: {"p_campaign_id": x.cid, **cost, "p_items_processed": -1}),
        "insert_businesses_batch": (
            "insert_businesses_batch",
            lambda i: {"p_campaign_id": x.cid, "p_zip_code": "10001",
                       "p_businesses": [{"place_id": f"n{x.tag}-{i}", "name": "n"}]},
            lambda i: {"p_campaign_id": x.unknown, "p_zip_code": "10001",
                       "p_businesses": [{"place_id": "x", "name": "n"}]}),
        "update_campaign_statistics": ("update_campaign_statistics",
                                       lambda i: {"p_campaign_id": x.cid},
                                       lambda i: {"p_campaign_id": x.unknown}),
        "update_coverage_status": (
            "update_coverage_status",
            lambda i: {**coverage, "p_businesses_found": 3, "p_emails_found": 1},
            lambda i: {**coverage, "p_businesses_found": 1, "p_emails_found": 3}),
        "update_email_verification": (
            "update_email_verification", lambda i: {"p_business_id": x.businesses[0], **mail},
            lambda i: {"p_business_id": x.unknown, **mail}),
        "update_enrichment_batch": (
            "update_enrichment_batch",
            lambda i: {"p_enrichment_type": "facebook", "p_enrichments": [
                {"business_id": x.businesses[1], "url": "https://f.example/x"}]},
            lambda i: {"p_enrichment_type": "myspace",
                       "p_enrichments": [{"business_id": x.businesses[1]}]}),
        "register_n8n_workflow": (
            "register_n8n_workflow",
            lambda i: {"p_workspace_id": x.ws, "p_n8n_workflow_id": f"f{x.tag}-{i}", **flow},
            lambda i: {"p_workspace_id": x.unknown, "p_n8n_workflow_id": "f", **flow}),
        "execute_campaign_atomically": ("execute_campaign_atomically",
                                        lambda i: launch(x, x.flow),
                                        lambda i: launch(x, x.unknown)),
        "complete_campaign_execution": (
            "complete_campaign_execution",
            lambda i: {"p_execution_id": x.executions[i], "p_status": "completed"},
            lambda i: {"p_execution_id": x.unknown, "p_status": "completed"}),
        "record_transaction_metric": ("record_transaction_metric",
                                      lambda i: {**metric, "p_duration_ms": 3},
                                      lambda i: {**metric, "p_duration_ms": -3}),
        "upsert_daily_kpi_batch": (
            "upsert_daily_kpi_batch",
            lambda i: {"p_rows": [{**kpi, "clicks": i + 1}], "p_source": "fc"},
            lambda i: {"p_rows": [{**kpi, "campaign_id": x.unknown}], "p_source": "fc"}),
        "aggregate_monthly_kpis": ("aggregate_monthly_kpis",
                                   lambda i: {**month, "p_campaign_id": x.cid},
                                   lambda i: {**month, "p_campaign_id": x.unknown}),
    }


def answer(db: Client, function: str, params: Params, success: bool) -> Callable[[int], str]:
    def call(i: int) -> str:
        envelope = db.call(function, **params(i))
        return "" if envelope.get("success") is success else \
            f"success {envelope.get('success')} ({envelope.get('error_code')})"
    return call


def rejected(b: h.Bench, r: int) -> None:
    """Each function on a fresh session whose first call is a rejected one (PL/pgSQL caches
    the plan of the error lookup per session: the first failure decides what later ones pay)."""
    calls = b.n(REJECTED_CALLS)
    x = fixture(b, r, calls)
    with h.quiet():
        for label, (function, ok, bad) in cases(x).items():
            with b.client(1) as db:
                runs = h.interleave({"rejected": answer(db, function, bad, False),
                                     "ok": answer(db, function, ok, True)}, calls, WARMUP)
            for way, run in runs.items():
                b.record(f"fc.{way}.{label}", run)


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM"))


def huge(b: h.Bench, r: int) -> None:
    """A 1,000,000-element argument on a fresh backend: time to the 54000 answer and the
    backend's peak memory, against the same text read as `text`."""
    x = Fx(f"r{r}", b.workspace(f"huge r{r}"), "", "", [], [])
    x.cid = b.campaigns(1, f"huge r{r}", x.ws)[0]
    places = json.dumps([{"place_id": f"p{i}", "name": f"Business {i}"} for i in range(HUGE)])
    ways = {"text": ("SELECT length(%s::text)", [places]),
            "insert_businesses_batch": (f"SELECT public.insert_businesses_batch('{x.cid}',"
                                        " '10001', %s::jsonb)", [places])}
    if not b.quick:
        ways["create_campaign_with_coverage"] = (
            "SELECT public.create_campaign_with_coverage(%s::jsonb, %s::jsonb)",
            [json.dumps({"workspace_id": x.ws, "name": "huge"}),
             json.dumps([f"{10000 + i % 90000}" for i in range(HUGE)])])
    for way, (query, params) in ways.items():
        with b.bare(autocommit=True) as conn:
            pid = conn.info.backend_pid
            started = time.perf_counter()
            row = conn.execute(query, params).fetchone()
            elapsed = time.perf_counter() - started
            peak = peak_mb(pid)
        got = row[0] if row else None
        code = got.get("error_code") if isinstance(got, dict) else None
        check = None if way == "text" else "" if code == "54000" else f"answered {code}"
        b.record(f"fc.huge.{way}", h.Run([elapsed], elapsed, 1, check=check,
                                         extra={"peak_mb": peak}))


_recount: dict[str, Any] = {}  # the large campaign (seeded once per run) and its ledger


def recount_campaign(b: h.Bench) -> str:
    # hot_row's TRUNCATE between repeats removes it: seeded again, with a fresh ledger
    if _recount and not b.admin.execute("SELECT 1 FROM campaigndb.campaigns WHERE id = %s",
                                        [_recount["cid"]]).fetchone():
        _recount.clear()
    if not _recount:
        cid = b.campaigns(1, "recount")[0]
        b.admin.execute(SEED, [cid, b.n(RECOUNT[0])])
        b.admin.execute("VACUUM (ANALYZE) campaigndb.gmaps_businesses")
        _recount.update(cid=cid, ledger=[], fresh=tuple(b.admin.execute(FRESH, [cid])
                                                        .fetchone() or ()))
    return str(_recount["cid"])


def recount(b: h.Bench, r: int) -> None:
    """10 trackers on the large campaign: without recounts, with them back to back, without."""
    cid, (_, trackers, calls) = recount_campaign(b), RECOUNT

    def exact(targets: Any, ledger: h.Ledger) -> str:
        _recount["ledger"] += ledger
        return b.check_campaigns(targets, _recount["ledger"])

    with b.client(trackers + 2) as db, h.quiet():
        for phase in ("without", "with", "again"):
            stop, times, wrong = threading.Event(), list[float](), list[str]()
            counting = threading.Thread(target=recounter, args=(db, cid, stop, times, wrong),
                                        daemon=True)
            if phase == "with":
                counting.start()
                time.sleep(0.3)
            run = b.case(f"fc.recount.{phase}", trackers, [cid], trackers * b.n(calls),
                         cost_attempt(db), r + 1, check=exact, stats=db)
            stop.set()
            if phase == "with":
                counting.join()
                run.check = "; ".join(x for x in (*wrong[:2], run.check) if x)
                run.extra.update(recounts=len(times),
                                 recount_ms=h.Run(times, 0, 0).pct(50) if times else 0.0)


def recounter(db: Client, cid: str, stop: threading.Event, times: list[float],
              wrong: list[str]) -> None:
    """update_campaign_statistics back to back until `stop`; each recount = a fresh count."""
    while not stop.is_set():
        started = time.perf_counter()
        got = db.call("update_campaign_statistics", p_campaign_id=cid)
        times.append(time.perf_counter() - started)
        counted = (got.get("total_businesses"), got.get("total_emails"),
                   got.get("total_facebook_pages"))
        if counted != _recount["fresh"]:
            wrong.append(f"recount {counted}, fresh count {_recount['fresh']}")


def non_hot(b: h.Bench) -> int:
    time.sleep(0.7)  # backends flush their statistics asynchronously
    return int(b.scalar(NON_HOT) or 0)


def retries(b: h.Bench, r: int) -> None:
    """track_campaign_cost, every caller on its own new campaign."""
    for callers, size in RETRY_SHAPES:
        targets = b.campaigns(callers, f"retries {callers}x{size} r{r}")
        with b.client(size) as db, h.quiet():
            before = non_hot(b)
            run = b.case(f"fc.retries.{callers}x{size}", callers, targets,
                         callers * b.n(RETRY_CALLS), cost_attempt(db), r + 1,
                         check=b.check_campaigns, stats=db)
        run.extra["non_hot"] = non_hot(b) - before


def reads(b: h.Bench, r: int) -> None:
    """A page of 100 and a cost call: through the client, the same message sent by hand,
    and (pages) the function's own SELECT sent raw, the ways interleaved call by call."""
    ws = b.workspace(f"read path r{r}")
    cid = b.campaigns(1, f"read path r{r}", ws)[0]
    b.setup.call("insert_businesses_batch", p_campaign_id=cid, p_zip_code="10001", p_businesses=[
        {"place_id": f"rp{i}", "name": f"Business {i}", "address": f"{i} Main St",
         "city": "New York", "state": "NY", "phone": "555-0100",
         "website": "https://example.com", "category": "food",
         "email": f"b{i}@example.com"} for i in range(4 * PAGE)])
    b.admin.execute("VACUUM (ANALYZE) campaigndb.gmaps_businesses")
    want = [row[0] for row in b.admin.execute(
        "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id LIMIT %s",
        (cid, PAGE))]
    with b.client(1) as db, b.bare(autocommit=True) as raw, \
            b.bare(autocommit=True, prepare_threshold=None) as by_hand, h.quiet():
        hand = psycopg.ClientCursor(by_hand)

        def page(ids: list[Any]) -> str:
            return "" if ids == want else "page differs from the campaign's first ids"

        def fn_page(i: int) -> str:
            hand.execute(FN_PAGE, (cid, "facebook", PAGE, 0, None))
            hand.nextset()
            return page([row[0] for row in hand.fetchall()])

        def cost_by_hand(i: int) -> str:
            hand.execute(COST, (cid, "fc", 1, Decimal("0.01"), "{}", str(uuid.uuid4())))
            hand.nextset()
            rows = hand.fetchall()
            return "" if rows and rows[0][0].get("success") else f"answered {rows}"

        def cost_client(i: int) -> str:
            got = db.track_campaign_cost(cid, "fc", 1, Decimal("0.01"))
            return "" if got.cost_id else "no cost id"

        ways: dict[str, Callable[[int], object]] = {
            "page.raw": lambda i: page([row[0] for row in raw.execute(
                RAW_PAGE, (cid, uuid.UUID(int=0), PAGE, 0)).fetchall()]),
            "page.hand": fn_page,
            "page.client": lambda i: page([row.id for row in db.get_businesses_for_enrichment(
                cid, "facebook", PAGE, 0)]),
            "cost.hand": cost_by_hand, "cost.client": cost_client}
        runs = h.interleave(ways, b.n(READ_CALLS), WARMUP, turn=r)
    for way, run in runs.items():
        b.record(f"fc.read.{way}", run)


def measure(b: h.Bench, r: int) -> None:
    reads(b, r)
    rejected(b, r)
    huge(b, r)
    recount(b, r)
    retries(b, r)


def worst_rejected(res: h.Results) -> list[float]:
    """Per repeat, the largest rejected ÷ successful p50 over the functions."""
    pairs = [(runs, res.get(key.replace(".rejected.", ".ok."), []))
             for key, runs in res.items() if key.startswith("fc.rejected.")]
    repeats = min((min(len(bad), len(ok)) for bad, ok in pairs), default=0)
    return [max(bad[i].pct(50) / ok[i].pct(50) for bad, ok in pairs) for i in range(repeats)]


def huge_values(f: Callable[[h.Run], float]) -> Callable[[h.Results], list[float]]:
    return lambda res: [f(run) for key, runs in res.items() if key.startswith("fc.huge.")
                        and key != "fc.huge.text" for run in runs]


def recount_ratio(res: h.Results) -> list[float]:
    return h.ratios(h.p("fc.recount.with", 99)(res), [max(a, b) for a, b in zip(
        h.p("fc.recount.without", 99)(res), h.p("fc.recount.again", 99)(res), strict=True)])


def retry_values(res: h.Results) -> list[float]:
    return [run.retries for c, s in RETRY_SHAPES for run in res.get(f"fc.retries.{c}x{s}", [])]


def extra(header: str, name: str, digits: int = 0) -> h.Col:
    return h.Col(header, h.spread(lambda r: r.extra.get(name, float("nan")), digits))


SECTION = h.Section(
    name="first_contact",
    title="First contact: rejected calls, huge input, recounts, retries between campaigns",
    about="Rejected ÷ successful calls per write function; a 1,000,000-element argument; cost "
          "calls during recounts of a large campaign; retries between different campaigns.",
    measure=measure,
    tables=[
        h.Table([h.CALLS, h.P50, h.P50_X, h.P99, h.CHECK], [
            h.Row("fc.read.page.raw", f"a page of {PAGE}: the function's own SELECT, raw, "
                                      "prepared (floor)"),
            h.Row("fc.read.page.hand", "the function by hand: the client's message, bare "
                                       "connection", "fc.read.page.raw"),
            h.Row("fc.read.page.client", "`Client.get_businesses_for_enrichment`",
                  "fc.read.page.raw"),
            h.Row("fc.read.cost.hand", "`track_campaign_cost` by hand: the client's message, "
                                       "bare connection (floor)"),
            h.Row("fc.read.cost.client", "`Client.track_campaign_cost`", "fc.read.cost.hand")],
            "What the client adds: a page read and a cost call, the ways interleaved"),
        h.Table([h.CALLS, h.P50, h.P50_X, h.P99, h.CHECK], lambda res: [
            h.Row(key, f"`{key.split('.', 2)[2]}` rejected", key.replace(".rejected.", ".ok."))
            for key in res if key.startswith("fc.rejected.")],
            "Rejected calls against successful ones (floor: the successful call, same session)"),
        h.Table([h.TIME, h.TIME_X, extra("backend peak MB", "peak_mb"),
                 h.Col("peak ÷ floor", h.vs_floor(lambda r: r.extra["peak_mb"])), h.CHECK],
                [h.Row("fc.huge.text", "the JSON text read as `text` (floor)"),
                 *(h.Row(f"fc.huge.{f}", f"`{f}`, {HUGE:,} elements (refused, 54000)",
                         "fc.huge.text")
                   for f in ("insert_businesses_batch", "create_campaign_with_coverage"))],
                "A 1,000,000-element argument, a fresh backend each"),
        h.Table([h.CALLS, h.P50, h.P99, h.P99_X, h.RETRIES, h.FAILED,
                 extra("recounts", "recounts"), extra("recount p50 ms", "recount_ms", 1),
                 h.CHECK],
                [h.Row("fc.recount.without", "10 trackers, no recounts (floor)"),
                 h.Row("fc.recount.with", "10 trackers, recounts back to back",
                       "fc.recount.without"),
                 h.Row("fc.recount.again", "10 trackers, no recounts again",
                       "fc.recount.without")],
                "`track_campaign_cost` on one campaign of 1,000,000 businesses (--quick: "
                "100,000) during statistics recounts"),
        h.Table([h.fixed(0, "callers (pool)"), h.CALLS, h.P50, h.P99,
                 h.Col("retries", lambda c: f"{sum(r.retries for r in c.runs):,}"),
                 extra("non-HOT campaign updates", "non_hot"), h.FAILED, h.CHECK],
                [h.Row(f"fc.retries.{c}x{s}", "`track_campaign_cost`, a campaign per caller",
                       cells=(f"{c} ({s})",)) for c, s in RETRY_SHAPES],
                "Serialization retries between callers on different campaigns"),
    ],
    goals=[
        h.Goal(f"a page of {PAGE} through the client ≤ 1.3× the raw SELECT (p50)",
               h.over(h.p("fc.read.page.client", 50), h.p("fc.read.page.raw", 50)),
               lambda v: v <= 1.3),
        h.Goal("`track_campaign_cost` through the client ≤ 1.1× by hand (p50)",
               h.over(h.p("fc.read.cost.client", 50), h.p("fc.read.cost.hand", 50)),
               lambda v: v <= 1.1),
        h.Goal("rejected ÷ successful p50 ≤ 1.5× for every write function (worst shown)",
               worst_rejected, lambda v: v <= 1.5),
        h.Goal(f"a {HUGE:,}-element argument refused within 1 s", huge_values(lambda r: r.ms),
               lambda v: v < 1000, every=True, per=" calls"),
        h.Goal(f"a {HUGE:,}-element argument: backend peak < 256 MB",
               huge_values(lambda r: r.extra["peak_mb"]), lambda v: v < 256, every=True,
               per=" calls"),
        h.Goal("`track_campaign_cost` p99 during recounts ≤ 2× without", recount_ratio,
               lambda v: v <= 2),
        h.Goal("no failed cost call during recounts",
               h.of("fc.recount.with", lambda r: r.failed), lambda v: v == 0, every=True),
        h.Goal("zero serialization retries between different campaigns (10 and 100 callers)",
               retry_values, lambda v: v == 0, every=True, per=" runs"),
    ],
)
