"""First-contact probe: what a rejected call, a huge argument, a statistics recount and
concurrency on different campaigns cost, each as a ratio against a floor measured in the
same run (issue 14, items 5, 6, 8 and 9; docs/limits.md explains the design behind them).

    .venv/bin/python benchmarks/first_contact_probe.py [--quick] [--dsn DSN] [--only PART ...]

Parts (all by default):
  rejected  p50 of a rejected call ÷ p50 of a successful call, per write function (goal 1.5x)
  huge      a 1,000,000-element array argument: time to the 54000 answer and the backend's
            peak memory (VmHWM), against the same text sent as `text` (goal < 1 s, < 256 MB)
  recount   track_campaign_cost p99 from 10 callers on one campaign of 1,000,000 businesses
            (--quick: 100,000) with update_campaign_statistics back to back ÷ p99 without
            (goal 2x, no failed call); checks the recount against a fresh count and the total
  retries   serialization retries of track_campaign_cost at 10 and 100 callers, each on its
            own campaign, on a pool of 20 and on a connection each (goal 0)

Without --dsn it creates a throwaway database on the embedded test server (campaigndb.testing)
and drops it at the end.  Self-contained: the public `campaigndb` API and psycopg only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from campaigndb import Client
from campaigndb.testing import drop_database, migrated_database, unique_name

PARTS = ("rejected", "huge", "recount", "retries")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    envelope = fn()
    return (time.perf_counter() - started) * 1000, envelope


class Probe:
    def __init__(self, dsn: str, quick: bool) -> None:
        self.dsn = dsn
        self.quick = quick
        self.admin = psycopg.connect(dsn, autocommit=True)
        self.failures: list[str] = []

    # -- fixtures ------------------------------------------------------------------------
    def workspace(self, db: Client) -> str:
        answer = db.call("create_workspace", p_name=f"probe {uuid.uuid4().hex[:8]}")
        return str(answer["workspace_id"])

    def campaign(self, db: Client, workspace_id: str, zips: list[str] | None = None) -> str:
        answer = db.call("create_campaign_with_coverage",
                         p_campaign_data={"workspace_id": workspace_id,
                                          "name": f"probe {uuid.uuid4().hex[:8]}"},
                         p_zip_codes=zips or ["10001"])
        assert answer["success"], answer
        return str(answer["campaign_id"])

    def check(self, label: str, ok: bool) -> None:
        if not ok:
            self.failures.append(label)
            print(f"  CHECK FAILED: {label}", flush=True)

    # -- 5: rejected ÷ successful ----------------------------------------------------------
    def rejected(self) -> None:
        calls = 60 if self.quick else 300
        print(f"rejected calls: p50 of {calls} rejected ÷ p50 of {calls} successful calls "
              "of the same function (through Client.call)", flush=True)
        with Client(self.dsn, pool_max_size=2) as db:
            ws = self.workspace(db)
            cid = self.campaign(db, ws, [f"{10000 + i}" for i in range(50)])
            db.call("insert_businesses_batch", p_campaign_id=cid, p_zip_code="10001",
                    p_businesses=[{"place_id": f"seed{i}", "name": f"B {i}",
                                   "email": f"b{i}@example.com"} for i in range(200)])
            business_ids = [str(r[0]) for r in self.admin.execute(
                "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id",
                [cid])]
            flow = db.call("register_n8n_workflow", p_workspace_id=ws, p_n8n_workflow_id="probe",
                           p_name="probe", p_campaign_type="email")["workflow_id"]
            unknown = str(uuid.uuid4())
            counter = iter(range(10**9))

            def launch() -> str:
                answer = db.call("execute_campaign_atomically", p_workspace_id=ws,
                                 p_workspace_n8n_workflow_id=flow,
                                 p_campaign_approval_session_id=None,
                                 p_campaign_name="probe", p_campaign_type="email")
                return str(answer["execution_id"])

            executions = [launch() for _ in range(calls + 5)]
            kpi_row = {"campaign_id": cid, "kpi_date": "2026-10-01", "platform": "probe",
                       "impressions": 1, "clicks": 1, "spend": "1.00", "conversions": 0,
                       "revenue": "0"}
            # each function on a fresh session: PL/pgSQL caches the plan of envelope_error's
            # lookup per session, so a session's first failure decides what every later one
            # pays (planned inside track_campaign_cost's enable_seqscan = off: JIT every time)
            current = [db]

            def call(name: str, **params: Any) -> dict[str, Any]:
                return current[0].call(name, **params)

            cases: dict[str, tuple[Callable[[], dict[str, Any]],
                                   Callable[[], dict[str, Any]]]] = {
                "create_workspace": (
                    lambda: call("create_workspace", p_name=f"w{next(counter)}"),
                    lambda: call("create_workspace", p_name=" ")),
                "create_campaign_with_coverage": (
                    lambda: call("create_campaign_with_coverage",
                                    p_campaign_data={"workspace_id": ws, "name": "c"},
                                    p_zip_codes=["10001", "10002"]),
                    lambda: call("create_campaign_with_coverage",
                                    p_campaign_data={"workspace_id": unknown, "name": "c"},
                                    p_zip_codes=["10001", "10002"])),
                "track_campaign_cost": (
                    lambda: call("track_campaign_cost", p_campaign_id=cid, p_service="probe",
                                    p_items_processed=1, p_cost_usd=Decimal("0.01"),
                                    p_metadata={}),
                    lambda: call("track_campaign_cost", p_campaign_id=unknown,
                                    p_service="probe", p_items_processed=1,
                                    p_cost_usd=Decimal("0.01"), p_metadata={})),
                "track_campaign_cost (22023)": (
                    lambda: call("track_campaign_cost", p_campaign_id=cid, p_service="probe",
                                    p_items_processed=1, p_cost_usd=Decimal("0.01"),
                                    p_metadata={}),
                    lambda: call("track_campaign_cost", p_campaign_id=cid, p_service="probe",
                                    p_items_processed=-1, p_cost_usd=Decimal("0.01"),
                                    p_metadata={})),
                "insert_businesses_batch": (
                    lambda: call("insert_businesses_batch", p_campaign_id=cid,
                                    p_zip_code="10001",
                                    p_businesses=[{"place_id": f"n{next(counter)}", "name": "n"}]),
                    lambda: call("insert_businesses_batch", p_campaign_id=unknown,
                                    p_zip_code="10001",
                                    p_businesses=[{"place_id": "x", "name": "n"}])),
                "update_campaign_statistics": (
                    lambda: call("update_campaign_statistics", p_campaign_id=cid),
                    lambda: call("update_campaign_statistics", p_campaign_id=unknown)),
                "update_coverage_status": (
                    lambda: call("update_coverage_status", p_campaign_id=cid,
                                    p_zip_code="10001", p_businesses_found=3, p_emails_found=1,
                                    p_actual_cost=Decimal("0.5")),
                    lambda: call("update_coverage_status", p_campaign_id=cid,
                                    p_zip_code="10001", p_businesses_found=1, p_emails_found=3,
                                    p_actual_cost=Decimal("0.5"))),
                "update_email_verification": (
                    lambda: call("update_email_verification", p_business_id=business_ids[0],
                                    p_email="a@example.com",
                                    p_verification_data={"status": "valid"}),
                    lambda: call("update_email_verification", p_business_id=unknown,
                                    p_email="a@example.com",
                                    p_verification_data={"status": "valid"})),
                "update_enrichment_batch": (
                    lambda: call("update_enrichment_batch", p_enrichment_type="facebook",
                                    p_enrichments=[{"business_id": business_ids[1],
                                                    "url": "https://f.example/x"}]),
                    lambda: call("update_enrichment_batch", p_enrichment_type="myspace",
                                    p_enrichments=[{"business_id": business_ids[1]}])),
                "register_n8n_workflow": (
                    lambda: call("register_n8n_workflow", p_workspace_id=ws,
                                    p_n8n_workflow_id=f"f{next(counter)}", p_name="f",
                                    p_campaign_type="email"),
                    lambda: call("register_n8n_workflow", p_workspace_id=unknown,
                                    p_n8n_workflow_id="f", p_name="f", p_campaign_type="email")),
                "execute_campaign_atomically": (
                    lambda: call("execute_campaign_atomically", p_workspace_id=ws,
                                    p_workspace_n8n_workflow_id=flow,
                                    p_campaign_approval_session_id=None,
                                    p_campaign_name="probe", p_campaign_type="email"),
                    lambda: call("execute_campaign_atomically", p_workspace_id=ws,
                                    p_workspace_n8n_workflow_id=unknown,
                                    p_campaign_approval_session_id=None,
                                    p_campaign_name="probe", p_campaign_type="email")),
                "complete_campaign_execution": (
                    lambda: call("complete_campaign_execution",
                                    p_execution_id=executions.pop(), p_status="completed"),
                    lambda: call("complete_campaign_execution", p_execution_id=unknown,
                                    p_status="completed")),
                "record_transaction_metric": (
                    lambda: call("record_transaction_metric", p_operation_name="probe",
                                    p_campaign_id=cid, p_duration_ms=3, p_success=True),
                    lambda: call("record_transaction_metric", p_operation_name="probe",
                                    p_campaign_id=cid, p_duration_ms=-3, p_success=True)),
                "upsert_daily_kpi_batch": (
                    lambda: call("upsert_daily_kpi_batch",
                                    p_rows=[{**kpi_row, "clicks": next(counter)}],
                                    p_source="probe"),
                    lambda: call("upsert_daily_kpi_batch",
                                    p_rows=[{**kpi_row, "campaign_id": unknown}],
                                    p_source="probe")),
                "aggregate_monthly_kpis": (
                    lambda: call("aggregate_monthly_kpis", p_month=date(2026, 10, 1),
                                    p_campaign_id=cid),
                    lambda: call("aggregate_monthly_kpis", p_month=date(2026, 10, 1),
                                    p_campaign_id=unknown)),
            }
            print(f"  {'function':<32} {'ok p50 ms':>10} {'rejected p50':>13} {'ratio':>7}  "
                  "rejected with", flush=True)
            worst = 0.0
            for name, (ok, bad) in cases.items():
                good_ms: list[float] = []
                bad_ms: list[float] = []
                code = None
                with Client(self.dsn, pool_max_size=1) as fresh:
                    current[0] = fresh
                    for i in range(calls + 5):  # interleaved, so drift hits both alike
                        t_bad, e_bad = timed(bad)  # the session's first call is a failure
                        t_ok, e_ok = timed(ok)
                        self.check(f"{name}: success", bool(e_ok.get("success")))
                        self.check(f"{name}: rejected", e_bad.get("success") is False)
                        code = e_bad.get("error_code")
                        if i >= 5:  # warm-up
                            good_ms.append(t_ok)
                            bad_ms.append(t_bad)
                ratio = statistics.median(bad_ms) / statistics.median(good_ms)
                worst = max(worst, ratio)
                print(f"  {name:<32} {statistics.median(good_ms):10.2f} "
                      f"{statistics.median(bad_ms):13.2f} {ratio:6.2f}x  {code}", flush=True)
            print(f"  worst rejected ÷ successful p50: {worst:.2f}x (goal 1.5x)", flush=True)

    # -- 6: a 1,000,000-element argument --------------------------------------------------
    @staticmethod
    def memory_mb(pid: int) -> dict[str, float]:
        values: dict[str, float] = {}
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    values[key] = int(value.split()[0]) / 1024
        return values

    def huge(self) -> None:
        n = 1_000_000
        print(f"huge arguments: {n:,} elements on a fresh backend each; time to the answer and "
              "the backend's peak memory (VmHWM), against the same text read as `text`",
              flush=True)
        with Client(self.dsn, pool_max_size=1) as db:
            ws = self.workspace(db)
            cid = self.campaign(db, ws)
        cases = [
            ("floor: the text as `text`", "SELECT length(%s::text)",
             [{"place_id": f"p{i}", "name": f"Business {i}"} for i in range(n)]),
            ("insert_businesses_batch",
             f"SELECT public.insert_businesses_batch('{cid}', '10001', %s::jsonb)",
             [{"place_id": f"p{i}", "name": f"Business {i}"} for i in range(n)]),
            ("create_campaign_with_coverage",
             "SELECT public.create_campaign_with_coverage("
             f"'{{\"workspace_id\": \"{ws}\", \"name\": \"huge\"}}', %s::jsonb)",
             [f"{10000 + i % 90000}" for i in range(n)]),
        ]
        if self.quick:
            cases = cases[:2]
        floor_ms = floor_mb = None
        for label, query, elements in cases:
            text = json.dumps(elements)
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
                before = self.memory_mb(pid)
                started = time.perf_counter()
                row = conn.execute(query, [text]).fetchone()
                elapsed = (time.perf_counter() - started) * 1000
                after = self.memory_mb(pid)
            answer = row[0] if row else None
            peak = after["VmHWM"]
            if floor_ms is None:
                floor_ms, floor_mb = elapsed, peak
                print(f"  {label:<32} {len(text) / 1e6:6.1f} MB of JSON: {elapsed:8.0f} ms, "
                      f"backend peak {peak:6.0f} MB (fresh backend {before['VmHWM']:.0f} MB)",
                      flush=True)
                continue
            code = answer.get("error_code") if isinstance(answer, dict) else answer
            self.check(f"huge {label}: 54000", code == "54000")
            print(f"  {label:<32} {elapsed:8.0f} ms ({elapsed / floor_ms:5.1f}x the floor), "
                  f"peak {peak:6.0f} MB ({peak / (floor_mb or 1):4.1f}x), still resident "
                  f"{after['VmRSS']:.0f} MB, answer {code}", flush=True)

    # -- 8: cost tracking during statistics recounts --------------------------------------
    def seed_businesses(self, campaign_id: str, n: int) -> None:
        self.admin.execute(
            "INSERT INTO campaigndb.gmaps_businesses (campaign_id, zip_code, place_id, name, "
            " email, facebook_url)"
            " SELECT %s, '10001', 'seed-' || g, 'Business ' || g,"
            "        CASE WHEN g %% 3 = 0 THEN 'b' || g || '@example.com' END,"
            "        CASE WHEN g %% 5 = 0 THEN 'https://facebook.example/' || g END"
            "   FROM generate_series(1, %s) AS g", [campaign_id, n])
        self.admin.execute("VACUUM (ANALYZE) campaigndb.gmaps_businesses")

    def recount(self) -> None:
        businesses = 100_000 if self.quick else 1_000_000
        trackers, calls = 10, (40 if self.quick else 100)
        print(f"recounts: {trackers} callers of track_campaign_cost ({calls} calls each) on "
              f"one campaign of {businesses:,} businesses, without and with "
              "update_campaign_statistics back to back", flush=True)
        with Client(self.dsn, pool_max_size=trackers + 2) as db:
            ws = self.workspace(db)
            cid = self.campaign(db, ws)
            started = time.perf_counter()
            self.seed_businesses(cid, businesses)
            print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
            fresh = self.admin.execute(
                "SELECT count(*), count(*) FILTER (WHERE email <> ''),"
                " count(*) FILTER (WHERE facebook_url <> '')"
                " FROM campaigndb.gmaps_businesses WHERE campaign_id = %s", [cid]).fetchone()
            results = {phase: self.recount_phase(db, cid, phase, trackers, calls, fresh)
                       for phase in ("without recounts", "with recounts",
                                     "without recounts again")}
            base = max(results["without recounts"]["p99"],
                       results["without recounts again"]["p99"])
            print(f"  p99 with recounts ÷ p99 without: "
                  f"{results['with recounts']['p99'] / base:.2f}x (goal 2x)", flush=True)
            drift = self.admin.execute(
                "SELECT c.total_cost - (SELECT COALESCE(sum(k.cost_usd), 0)"
                " FROM campaigndb.gmaps_api_costs k WHERE k.campaign_id = c.id)"
                " FROM campaigndb.campaigns c WHERE c.id = %s", [cid]).fetchone()
            self.check("total_cost equals the sum of the cost rows", drift == (0,))

    def recount_phase(self, db: Client, cid: str, phase: str, trackers: int, calls: int,
                      fresh: tuple[Any, ...] | None) -> dict[str, Any]:
        latencies: list[float] = []
        failed: list[str] = []
        recounts: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()

        def tracker() -> None:
            for _ in range(calls):
                ms, answer = timed(lambda: db.call(
                    "track_campaign_cost", p_campaign_id=cid, p_service="probe",
                    p_items_processed=1, p_cost_usd=Decimal("0.000001"), p_metadata={}))
                with lock:
                    latencies.append(ms)
                    if not answer.get("success"):
                        failed.append(str(answer.get("error_code")))

        def recounter() -> None:
            while not stop.is_set():
                ms, answer = timed(lambda: db.call("update_campaign_statistics",
                                                   p_campaign_id=cid))
                recounts.append(ms)
                self.check("recount equals a fresh count",
                           bool(answer.get("success"))
                           and (answer["total_businesses"], answer["total_emails"],
                                answer["total_facebook_pages"]) == tuple(fresh or ()))

        db.stats.reset()
        threads = [threading.Thread(target=tracker) for _ in range(trackers)]
        counting = threading.Thread(target=recounter)
        if phase == "with recounts":
            counting.start()
            time.sleep(0.3)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        if counting.is_alive():
            counting.join()
        r = {"p50": pct(latencies, 50), "p99": pct(latencies, 99), "failed": len(failed),
             "retries": db.stats.total_retries(), "recounts": len(recounts),
             "recount_p50": pct(recounts, 50) if recounts else None}
        self.check(f"{phase}: no failed call ({failed[:3]})", not failed)
        extra = (f", {r['recounts']} recounts (p50 {r['recount_p50']:.0f} ms)"
                 if recounts else "")
        print(f"  {phase:<24} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
              f"failed {r['failed']}  retries {r['retries']}{extra}", flush=True)
        return r

    # -- 9: serialization retries between different campaigns -----------------------------
    def non_hot(self) -> int:
        time.sleep(0.7)  # backends flush their statistics asynchronously
        row = self.admin.execute(
            "SELECT n_tup_upd - n_tup_hot_upd FROM pg_catalog.pg_stat_user_tables"
            " WHERE relid = 'campaigndb.campaigns'::regclass").fetchone()
        return int(row[0]) if row else 0

    def retries(self) -> None:
        calls = 12 if self.quick else 30
        print(f"retries: track_campaign_cost, every caller on its own campaign, {calls} calls "
              "each (SERIALIZABLE, the client's default hot-row setting)", flush=True)
        for callers in (10, 100):
            for pool in (20, callers):
                label = f"{callers} callers, {'pool of 20' if pool == 20 else 'a connection each'}"
                if callers == 10 and pool == 10:
                    label = "10 callers, a connection each"
                with Client(self.dsn, pool_max_size=pool, pool_min_size=pool) as db:
                    ws = self.workspace(db)
                    campaigns = [self.campaign(db, ws) for _ in range(callers)]
                    before = self.non_hot()
                    latencies, failed, retries = self.retry_case(db, campaigns, calls)
                non_hot = self.non_hot() - before
                self.check(f"{label}: no failed call", not failed)
                print(f"  {label:<36} {len(latencies):5} calls  retries {retries:4}  "
                      f"non-HOT campaign updates {non_hot:4}  p50 {pct(latencies, 50):6.2f} ms  "
                      f"p99 {pct(latencies, 99):7.2f} ms", flush=True)

    def retry_case(self, db: Client, campaigns: list[str],
                   calls: int) -> tuple[list[float], list[str], int]:
        db.stats.reset()
        latencies: list[float] = []
        failed: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(campaigns))

        def caller(cid: str) -> None:
            barrier.wait()
            for _ in range(calls):
                ms, answer = timed(lambda: db.call(
                    "track_campaign_cost", p_campaign_id=cid, p_service="probe",
                    p_items_processed=1, p_cost_usd=Decimal("0.01"), p_metadata={}))
                with lock:
                    latencies.append(ms)
                    if not answer.get("success"):
                        failed.append(str(answer.get("error_code")))

        threads = [threading.Thread(target=caller, args=(c,)) for c in campaigns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return latencies, failed, db.stats.total_retries()


@contextmanager
def database(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    name = unique_name("campaigndb_probe")
    try:
        yield migrated_database(name)
    finally:
        drop_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="smaller campaign, fewer calls")
    parser.add_argument("--dsn", default=os.environ.get("CAMPAIGNDB_PROBE_DSN"),
                        help="an already migrated database (default: a throwaway one)")
    parser.add_argument("--only", nargs="*", choices=PARTS, default=list(PARTS))
    args = parser.parse_args()
    # rejected calls are the point here: the client's per-failure log lines would drown the table
    logging.getLogger("campaigndb").setLevel(logging.ERROR)
    with database(args.dsn) as dsn:
        probe = Probe(dsn, args.quick)
        for part in PARTS:
            if part in args.only:
                getattr(probe, part)()
        probe.admin.close()
    if probe.failures:
        print(f"{len(probe.failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
