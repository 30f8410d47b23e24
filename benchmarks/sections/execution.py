"""`execute_campaign_atomically`: one caller against one commit, and the seeds' load test (1,000
launches from 200 threads through a pool of 20 on 3 workflows) four ways (docs/benchmarks.md,
"Campaign execution")."""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import harness as h
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from campaigndb import CampaignDBError, Client
from sections.hot_row import floor_case, retried

TYPE = "email"
LOAD_CALLS, THREADS, POOL, WORKFLOWS, LATENCY, WARMUP = 1000, 200, 20, 3, (1000, 300), 2
RETRY_CODES = ("55P03", "40001", "40P01")
RAW = ("SELECT workspace_id, deployment_status, total_executions"
       " FROM campaigndb.workspace_n8n_workflows WHERE id = %s FOR UPDATE NOWAIT",
       "INSERT INTO campaigndb.n8n_campaign_executions (workspace_id, workspace_n8n_workflow_id,"
       " campaign_approval_session_id, campaign_name, campaign_type, execution_status,"
       " execution_config, execution_number) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s)"
       " RETURNING id",
       "UPDATE campaigndb.workspace_n8n_workflows SET total_executions = total_executions + 1,"
       " last_executed_at = now(), updated_at = now() WHERE id = %s",
       "INSERT INTO campaigndb.workflow_deployment_history (workspace_id, workflow_id,"
       " execution_id, event_type, details) VALUES (%s, %s, %s, 'campaign_execution_started',"
       " %s)")
FN_CALL = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT public.execute_campaign_atomically("
    "p_workspace_id => %s::uuid, p_workspace_n8n_workflow_id => %s::uuid,"
    " p_campaign_approval_session_id => %s::uuid, p_campaign_name => %s::text,"
    " p_campaign_type => %s::text, p_execution_config => %s::jsonb,"
    " p_execution_id => %s::uuid); COMMIT"
)
CHECK_WORKFLOWS = """
SELECT w.id::text, w.total_executions, e.n, e.numbers, e.lo, e.hi, a.n, a.executions, a.strays
  FROM campaigndb.workspace_n8n_workflows AS w
  LEFT JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT x.execution_number) AS numbers,
                            min(x.execution_number) AS lo, max(x.execution_number) AS hi
                       FROM campaigndb.n8n_campaign_executions AS x
                      WHERE x.workspace_n8n_workflow_id = w.id) AS e ON true
  LEFT JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT h.execution_id) AS executions,
                            count(*) FILTER (WHERE x.id IS NULL
                                             OR x.workspace_n8n_workflow_id <> w.id) AS strays
                       FROM campaigndb.workflow_deployment_history AS h
                       LEFT JOIN campaigndb.n8n_campaign_executions AS x
                              ON x.id = h.execution_id
                      WHERE h.workflow_id = w.id
                        AND h.event_type = 'campaign_execution_started') AS a ON true
 WHERE w.id = ANY(%s::uuid[])
"""


class Codes(logging.Handler):
    """SQLSTATEs of a run: the client's retries (from its own retry log records) and the
    calls that gave up."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retried: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "operation", None) == "execute_campaign_atomically":
            self.retried[str(getattr(record, "sqlstate", None))] += 1

    def into(self, run: h.Run) -> None:
        run.extra.update({f"r:{c}": float(n) for c, n in self.retried.items()})
        run.extra.update({f"f:{c}": float(n) for c, n in self.failed.items()})


def launch(client: Client, workspace: str, codes: Codes) -> h.Attempt:
    def attempt(workflow: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        try:
            client.execute_campaign_atomically(workspace, workflow, uuid.uuid4(),
                                               f"bench launch {i}", TYPE, {"call": i})
        except CampaignDBError as exc:
            codes.failed[str(exc.sqlstate)] += 1
            return False, 0
        return True, 0

    return attempt


def raw_launch(b: h.Bench, pool: Any, workspace: str, codes: Codes) -> h.Attempt:
    """Six round trips: BEGIN, lock NOWAIT, the execution, the counter, the audit row, COMMIT."""

    def body(conn: psycopg.Connection[Any], workflow: Any, i: int) -> bool:
        row = conn.execute(RAW[0], (workflow,)).fetchone()
        if row is None or str(row[0]) != workspace or row[1] != "active":
            codes.failed["P0002"] += 1
            return False
        session, name, number = uuid.uuid4(), f"bench launch {i}", int(row[2]) + 1
        made = conn.execute(RAW[1], (workspace, workflow, session, name, TYPE,
                                     Jsonb({"call": i}), number)).fetchone()
        conn.execute(RAW[2], (workflow,))
        conn.execute(RAW[3], (workspace, workflow, made[0] if made else None, Jsonb(
            {"campaign_name": name, "campaign_type": TYPE, "execution_number": number,
             "campaign_approval_session_id": str(session)})))
        return True

    def note(code: str) -> None:
        (codes.failed if code == "exhausted" else codes.retried)[code] += 1

    return retried(pool, b.settings, "BEGIN ISOLATION LEVEL REPEATABLE READ", body,
                   (pg_errors.LockNotAvailable, pg_errors.SerializationFailure,
                    pg_errors.DeadlockDetected), note)


def workflows(b: h.Bench, count: int, label: str) -> tuple[str, list[str]]:
    workspace = b.workspace(label)
    return workspace, [str(b.setup.register_n8n_workflow(
        workspace, f"bench-{label}-{i}", f"bench {label} {i}", TYPE).workflow_id)
        for i in range(count)]


def check(b: h.Bench, flows: Sequence[str], ledger: h.Ledger) -> str:
    """total_executions = execution rows = committed calls; one audit row each; numbers 1..n."""
    committed = Counter(str(target) for target, _ in ledger)
    problems = []
    rows = b.admin.execute(CHECK_WORKFLOWS, (list(flows),)).fetchall()
    if len(rows) != len(flows):
        problems.append(f"{len(flows) - len(rows)} workflow(s) missing")
    for flow, total, n, numbers, lo, hi, audits, audited, strays in rows:
        if not total == n == committed[flow]:
            problems.append(f"{flow[:8]}: total_executions {total}, {n} rows, "
                            f"{committed[flow]} calls")
        if numbers != n or (n and (lo != 1 or hi != n)):
            problems.append(f"{flow[:8]}: execution_number {lo}..{hi}, {numbers} distinct")
        if audits != n or audited != n or strays:
            problems.append(f"{flow[:8]}: {audits} audit rows, {strays} strays, {n} executions")
    return "; ".join(problems)


def one_caller(b: h.Bench, r: int) -> None:
    warm, calls = max(50, b.n(LATENCY) // 10), b.n(LATENCY)
    with b.client(1) as client:
        workspace, flows = workflows(b, 2, f"exec1 r{r}")
        b.case("exec.1x1", 1, flows[:1], calls, launch(client, workspace, Codes()), r + 1,
               warm=flows[1:], warm_calls=warm, check=lambda t, x: check(b, t, x), stats=client)
    with b.bare(autocommit=True, prepare_threshold=None) as conn:
        cursor = psycopg.ClientCursor(conn)
        workspace, flows = workflows(b, 2, f"execfn r{r}")

        def by_hand(workflow: Any, i: int, _: random.Random) -> tuple[bool, int]:
            cursor.execute(FN_CALL, (workspace, workflow, uuid.uuid4(), f"bench launch {i}",
                                     TYPE, Jsonb({"call": i}), uuid.uuid4()))
            cursor.nextset()
            row = cursor.fetchone()
            return bool(row and row[0]["success"]), 0

        b.case("exec_fn.1x1", 1, flows[:1], calls, by_hand, r + 1, warm=flows[1:],
               warm_calls=warm, check=lambda t, x: check(b, t, x))


def client_load(b: h.Bench, key: str, seed: int, threads: int = THREADS,
                **options: Any) -> None:
    with b.client(POOL, **options) as client:
        workspace, flows = workflows(b, WORKFLOWS + 1, f"{key} s{seed}")
        b.measure_warm(POOL, launch(client, workspace, Codes()), flows[-1:], WARMUP)
        codes = Codes()
        client.stats.reset()
        log = logging.getLogger("campaigndb")
        level = log.level
        log.addHandler(codes)
        log.setLevel(logging.INFO)
        try:
            run, ledger = b.run(threads, flows[:-1], LOAD_CALLS, launch(client, workspace, codes),
                                rotate=True, seed=seed, pids=b.backends(POOL))
        finally:
            log.removeHandler(codes)
            log.setLevel(level)
        run.retries = client.stats.total_retries()
        unattributed = run.retries - sum(codes.retried.values())
        if unattributed > 0:  # retries whose log record carried no SQLSTATE
            codes.retried["unattributed"] += unattributed
    run.check = check(b, flows[:-1], ledger)
    codes.into(run)
    b.record(key, run)


def raw_load(b: h.Bench, seed: int) -> None:
    with b.pool(POOL, prepare=True) as pool:
        workspace, flows = workflows(b, WORKFLOWS + 1, f"raw s{seed}")
        b.measure_warm(POOL, raw_launch(b, pool, workspace, Codes()), flows[-1:], WARMUP)
        codes = Codes()
        run, ledger = b.run(THREADS, flows[:-1], LOAD_CALLS, raw_launch(b, pool, workspace, codes),
                            rotate=True, seed=seed, pids=b.backends(POOL))
    run.check = check(b, flows[:-1], ledger)
    codes.into(run)
    b.record("exec_raw.load", run)


def measure(b: h.Bench, r: int) -> None:
    one_caller(b, r)
    cases: list[Callable[[int], None]] = [
        lambda seed: client_load(b, "exec.load", seed, hot_row_lock="adaptive"),
        lambda seed: client_load(b, "exec_never.load", seed, hot_row_lock="never"),
        lambda seed: raw_load(b, seed),
        lambda seed: floor_case(b, "commit.load", THREADS, WORKFLOWS, LOAD_CALLS, seed, POOL,
                                rotate=True, cpu=True)]
    turn = r % len(cases)  # the order rotates from repeat to repeat
    for run_case in cases[turn:] + cases[:turn]:
        run_case(r + 1)
    # "1000+ concurrent campaign executions": as many threads as launches, released together
    client_load(b, "exec_all.load", r + 1, threads=LOAD_CALLS)


def codes_cell(prefix: str) -> Callable[[h.Cell], str]:
    def cell(c: h.Cell) -> str:
        total: Counter[str] = Counter()
        for run in c.runs:
            total.update({k[2:]: int(v) for k, v in run.extra.items() if k.startswith(prefix)})
        order = sorted(total, key=lambda k: (RETRY_CODES.index(k) if k in RETRY_CODES else 9, k))
        return ", ".join(f"{total[k]:,} × {k}" for k in order) or "none"
    return cell


def cpu(c: h.Cell) -> str:
    return " / ".join(h.Spread.of([r.extra.get(k, float("nan")) for r in c.runs]).fmt(2)
                      for k in ("process_ms", "server_ms", "machine_ms"))


SHAPE = f"{LOAD_CALLS:,} launches from {THREADS} threads on {WORKFLOWS} workflows, pool of {POOL}"
TPS_OF = {k: h.tps(k) for k in ("exec.load", "exec_never.load", "exec_raw.load")}
SECTION = h.Section(
    name="execution",
    title="Campaign execution",
    about="`execute_campaign_atomically` one call at a time against one durable commit; then "
          f"the seeds' load test ({SHAPE}, call k of thread t on workflow (t + k) mod 3) as the "
          "client does it, with `hot_row_lock=\"never\"`, as raw SQL from Python (REPEATABLE "
          "READ, `FOR UPDATE NOWAIT`, retried on 55P03/40001/40P01), and as the one-row UPDATE "
          "floor on 3 rows at the same concurrency. Every run is checked: total_executions = "
          "execution rows = committed calls, one audit row each, execution_number 1..n.",
    measure=measure,
    tables=[
        h.Table([h.CALLS, h.P50,
               h.P99, h.P50_X, h.P99_X, h.FLOOR,
               h.Col("invariant check", lambda c: h.checks(c.runs))], [
            h.Row("commit.1x1", "autocommit single-row UPDATE, one durable commit (floor)"),
            h.Row("exec.1x1", "`execute_campaign_atomically` through `Client` (REPEATABLE READ)",
                "commit.1x1"),
            h.Row("exec_fn.1x1", "the same transaction without the client: one message, bare "
                               "connection", "commit.1x1"),
        ], "One caller (sequential calls)"),
        h.Table([h.TPS, h.TPS_X, h.P50,
               h.P99, h.P99_X,
               h.Col("retries per call", h.spread(lambda r: r.retries / max(1, r.committed +
                                                                        r.failed), 3)),
               h.Col("retries by SQLSTATE (all repeats)", codes_cell("r:")),
               h.Col("failed calls (all repeats)", lambda c: (
                   f"{sum(r.failed for r in c.runs):,} ({codes_cell('f:')(c)})")),
               h.Col("machine CPU busy, cores", h.spread(lambda r: r.extra.get("cores",
                                                                           float("nan")))),
               h.Col("CPU ms per committed call: bench process / pool's backends / machine", cpu),
               h.Col("invariant check", lambda c: h.checks(c.runs))], [
            h.Row("exec.load", "`execute_campaign_atomically`, `hot_row_lock=\"adaptive\"` "
                             "(default)", "commit.load"),
            h.Row("exec_never.load", "`execute_campaign_atomically`, `hot_row_lock=\"never\"`",
                "commit.load"),
            h.Row("exec_raw.load", "raw SQL: REPEATABLE READ, `FOR UPDATE NOWAIT`, 6 round trips "
                                 "from Python, retried", "commit.load"),
            h.Row("commit.load", "autocommit one-row UPDATE of `bench.floor`, one row per "
                               "workflow (floor)"),
            h.Row("exec_all.load", f"`execute_campaign_atomically` from {LOAD_CALLS:,} threads "
                                 "released together, one launch each (the seeds' \"1000+ "
                                 "concurrent executions\")", "commit.load"),
        ], f"The seeds' load test ({SHAPE})"),
    ],
    goals=[
        h.Goal(f"`execute_campaign_atomically`, {SHAPE}: zero failed calls",
             h.of("exec.load", lambda r: r.failed), lambda v: v == 0, every=True,
             shown=lambda res: (
                 f"{sum(r.failed for r in res.get('exec.load', []))} failed in "
                 f"{sum(r.committed + r.failed for r in res.get('exec.load', [])):,} calls")),
        h.Goal("campaign execution invariants after every run: total_executions = execution rows "
             "= committed calls; one `campaign_execution_started` audit row per execution; "
             "execution_number 1..n without gaps", h.exact("exec.1x1", "exec_fn.1x1", "exec.load",
             "exec_never.load", "exec_raw.load", "exec_all.load"), lambda v: v == 1, every=True,
             per=" runs exact"),
    ],
    compare=[
        h.Compare("`adaptive` tx/s ÷ `never` tx/s", TPS_OF["exec.load"], TPS_OF["exec_never.load"]),
        h.Compare("`adaptive` tx/s ÷ raw SQL tx/s", TPS_OF["exec.load"], TPS_OF["exec_raw.load"]),
        h.Compare("`adaptive` p99 ÷ raw SQL p99", h.p("exec.load", 99), h.p("exec_raw.load", 99)),
        h.Compare("`execute_campaign_atomically` p50 ÷ one-message by hand p50, one caller",
                h.p("exec.1x1", 50), h.p("exec_fn.1x1", 50)),
    ],
)
