"""The campaign-execution part of bench.py: `execute_campaign_atomically` under the seeds' load
test and alone, against floors measured in the same repeat.

Each repeat (called from bench.py; the single caller right after `track_campaign_cost`'s, the
load test after the raw-SQL storm and before lead generation):

- one caller: sequential `Client.execute_campaign_atomically` calls on one workflow, and the
  same one-message transaction written by hand on a bare connection; the floor is bench.py's
  one-commit floor (`commit.1x1`) of the same repeat;
- the seeds' load test: 1,000 launches from 200 threads through a pool of 20 on 3 workflows
  (call k of thread t on workflow (t + k) mod 3), four ways, their order rotated from repeat to
  repeat: the client as configured (`hot_row_lock="adaptive"`), the client with
  `hot_row_lock="never"`, the application-level way (REPEATABLE READ, five statements from
  Python, retried on 55P03/40001/40P01), and the floor: the autocommit one-row UPDATE of
  bench.floor on 3 rows, from the same threads through the same pool size.

After every run the invariants are checked on each workflow: total_executions = its execution
rows = the calls that committed on it; one 'campaign_execution_started' audit row per execution
(and none for anything else); execution_number exactly 1..n.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from bench_report import Run, Spread, Table, paired_ratio
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from campaigndb import CampaignDBError, Client, Settings

OPERATION = "execute_campaign_atomically"
CAMPAIGN_TYPE = "email"
RAW_MAX_ATTEMPTS = 1000  # as bench.py's raw loop: a call it gives up on is counted failed
RETRY_CODES = ("55P03", "40001", "40P01")


@dataclass(frozen=True)
class ExecSizes:
    load_calls: int  # launches per load run (the seeds' 1,000)
    load_threads: int  # threads of a load run (the seeds' 200)
    pool: int  # pool size of every load run (the seeds' 20)
    workflows: int  # workflows of a load run (the seeds' 3)
    latency_calls: int  # sequential calls per repeat, one caller (each way)
    warmup: int  # untimed calls per pooled connection before each timed run


EXEC_FULL = ExecSizes(load_calls=1000, load_threads=200, pool=20, workflows=3,
                      latency_calls=1000, warmup=2)
EXEC_QUICK = ExecSizes(load_calls=1000, load_threads=200, pool=20, workflows=3,
                       latency_calls=300, warmup=2)


# -- SQL ------------------------------------------------------------------------------------
# the application-level way, one statement per round trip
RAW_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ"
RAW_LOCK = (
    "SELECT workspace_id, deployment_status, total_executions"
    " FROM campaigndb.workspace_n8n_workflows WHERE id = %s FOR UPDATE NOWAIT"
)
RAW_INSERT = (
    "INSERT INTO campaigndb.n8n_campaign_executions (workspace_id, workspace_n8n_workflow_id,"
    " campaign_approval_session_id, campaign_name, campaign_type, execution_status,"
    " execution_config, execution_number) VALUES (%s, %s, %s, %s, %s, 'pending', %s, %s)"
    " RETURNING id"
)
RAW_UPDATE = (
    "UPDATE campaigndb.workspace_n8n_workflows SET total_executions = total_executions + 1,"
    " last_executed_at = now(), updated_at = now() WHERE id = %s"
)
RAW_AUDIT = (
    "INSERT INTO campaigndb.workflow_deployment_history (workspace_id, workflow_id,"
    " execution_id, event_type, details) VALUES (%s, %s, %s, 'campaign_execution_started', %s)"
)
# the client's one-message transaction, sent by hand on a bare connection (no client code)
FN_CALL = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT public.execute_campaign_atomically("
    "p_workspace_id => %s::uuid, p_workspace_n8n_workflow_id => %s::uuid,"
    " p_campaign_approval_session_id => %s::uuid, p_campaign_name => %s::text,"
    " p_campaign_type => %s::text, p_execution_config => %s::jsonb,"
    " p_execution_id => %s::uuid); COMMIT"
)

# the index entries and foreign-key checks of one launch's three writes (for the notes)
SCHEMA_COUNTS = """
SELECT (SELECT count(*) FROM pg_catalog.pg_index
         WHERE indrelid IN ('campaigndb.n8n_campaign_executions'::regclass,
                            'campaigndb.workflow_deployment_history'::regclass)),
       (SELECT count(*) FROM pg_catalog.pg_constraint
         WHERE contype = 'f'
           AND conrelid IN ('campaigndb.n8n_campaign_executions'::regclass,
                            'campaigndb.workflow_deployment_history'::regclass))
"""

BACKENDS = (
    "SELECT pid FROM pg_catalog.pg_stat_activity"
    " WHERE datname = pg_catalog.current_database() AND application_name = 'campaigndb-bench'"
    " AND backend_type = 'client backend'"
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


class Host(Protocol):
    """What bench.py's Bench lends this part."""

    dsn: str
    admin: psycopg.Connection[Any]
    setup: Client
    settings: Settings
    results: dict[str, list[Run]]

    def pool(self, threads: int, *, prepare: bool = False) -> AbstractContextManager[
        ConnectionPool]: ...

    def client(self, threads: int, **options: Any) -> AbstractContextManager[Client]: ...

    def floor_rows(self, count: int) -> list[int]: ...

    def check_floor(self, expected: dict[Any, list[Decimal]]) -> str: ...

    def record(self, key: str, run: Run) -> None: ...


# A launch: (workflow or floor row, call number, rng) -> (committed?, retries)
Launch = Callable[[Any, int, random.Random], tuple[bool, int]]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def floor_value(i: int) -> Decimal:
    return Decimal(i % 9973 + 1).scaleb(-2)


@dataclass
class Cpu:
    """CPU time during a run: the whole machine's (/proc/stat), this process's, and that of
    the server backends serving the run's pool (/proc/PID/stat; NaN for a remote server)."""

    busy_s: float  # core-seconds the machine was busy (user, system, irq, steal ...)
    process_s: float  # core-seconds of this process (the bench's threads: client side)
    wall_s: float
    server_s: float = math.nan  # core-seconds of the pool's backends

    @staticmethod
    def ticks(pids: Sequence[int] = ()) -> tuple[float, float, float]:
        """(machine busy, this process, the backends `pids`) core-seconds so far."""
        hz = os.sysconf("SC_CLK_TCK")
        try:
            with open("/proc/stat") as handle:
                values = [int(v) for v in handle.readline().split()[1:9]]
            busy = (sum(values) - values[3] - values[4]) / hz
        except (OSError, ValueError, IndexError):
            busy = math.nan
        server = 0.0 if pids else math.nan
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                server += (int(fields[11]) + int(fields[12])) / hz  # utime + stime
            except (OSError, ValueError, IndexError):
                server = math.nan
        return busy, time.process_time(), server

    @property
    def cores(self) -> float:
        """Average busy cores of the machine during the run."""
        return self.busy_s / self.wall_s if self.wall_s > 0 else math.nan


def load(threads: int, targets: Sequence[Any], calls: int, launch: Launch,
         seed: int, cpu: list[Cpu] | None = None,
         pids: Sequence[int] = ()) -> tuple[Run, list[tuple[Any, int]]]:
    """`calls` launches from `threads` threads released together; call k of thread t goes to
    targets[(t + k) % len(targets)].  The run and the (target, call number) of each commit;
    the run's CPU time is appended to `cpu` when given (`pids`: the pool's backends)."""
    counts = split(calls, threads)
    starts = [sum(counts[:t]) for t in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ledger: list[list[tuple[Any, int]]] = [[] for _ in range(threads)]
    retries = [0] * threads
    failed = [0] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def body(t: int) -> None:
        rng = random.Random(seed * 100_003 + t)
        clock = time.perf_counter
        barrier.wait()
        try:
            for k in range(counts[t]):
                target = targets[(t + k) % len(targets)]
                started = clock()
                ok, tries = launch(target, starts[t] + k, rng)
                latencies[t].append(clock() - started)
                retries[t] += tries
                if ok:
                    ledger[t].append((target, starts[t] + k))
                else:
                    failed[t] += 1
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    workers = [threading.Thread(target=body, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    busy, process, server = Cpu.ticks(pids)
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    busy_end, process_end, server_end = Cpu.ticks(pids)
    if errors:
        raise errors[0]
    if cpu is not None:
        cpu.append(Cpu(busy_end - busy, process_end - process, wall, server_end - server))
    run = Run(latencies=[x for per in latencies for x in per], wall=wall,
              committed=sum(len(per) for per in ledger), retries=sum(retries),
              failed=sum(failed))
    return run, [entry for per in ledger for entry in per]


class RetryLog(logging.Handler):
    """Counts the client's retries of execute_campaign_atomically by SQLSTATE (from the
    client's own retry log records, so no client change is needed)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.codes: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "operation", None) == OPERATION:
            self.codes[str(getattr(record, "sqlstate", None))] += 1

    @contextmanager
    def attached(self) -> Iterator[RetryLog]:
        log = logging.getLogger("campaigndb")
        level = log.level
        log.setLevel(logging.INFO)
        log.addHandler(self)
        try:
            yield self
        finally:
            log.removeHandler(self)
            log.setLevel(level)


@dataclass
class Codes:
    """SQLSTATEs of one run: of the retried attempts, and of the calls that gave up; and the
    run's CPU time."""

    retried: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cpu: list[Cpu] = field(default_factory=list)

    def fail(self, code: str | None) -> None:
        with self.lock:
            self.failed[code or "?"] += 1

    def retry(self, code: str | None) -> None:
        with self.lock:
            self.retried[code or "?"] += 1


# -- the ways -------------------------------------------------------------------------------
def client_launch(client: Client, workspace: str, codes: Codes) -> Launch:
    def launch(workflow: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        try:
            client.execute_campaign_atomically(workspace, workflow, uuid.uuid4(),
                                               f"bench launch {i}", CAMPAIGN_TYPE,
                                               {"bench": True, "call": i})
        except CampaignDBError as exc:
            codes.fail(exc.sqlstate)
            return False, 0
        return True, 0  # retries: client.stats

    return launch


def raw_launch(pool: ConnectionPool, workspace: str, settings: Settings,
               codes: Codes) -> Launch:
    """The application-level way: six round trips, retried with the client's backoff."""

    def launch(workflow: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        tries = 0
        session = uuid.uuid4()
        name = f"bench launch {i}"
        while True:
            with pool.connection() as conn:
                try:
                    conn.execute(RAW_BEGIN)
                    row = conn.execute(RAW_LOCK, (workflow,)).fetchone()
                    if row is None or str(row[0]) != workspace or row[1] != "active":
                        conn.execute("ROLLBACK")
                        codes.fail("P0002")
                        return False, tries
                    number = int(row[2]) + 1
                    inserted = conn.execute(RAW_INSERT, (
                        workspace, workflow, session, name, CAMPAIGN_TYPE,
                        Jsonb({"bench": True, "call": i}), number)).fetchone()
                    conn.execute(RAW_UPDATE, (workflow,))
                    conn.execute(RAW_AUDIT, (workspace, workflow, inserted[0] if inserted else None,
                                             Jsonb({"campaign_name": name,
                                                    "campaign_type": CAMPAIGN_TYPE,
                                                    "campaign_approval_session_id": str(session),
                                                    "execution_number": number})))
                    conn.execute("COMMIT")
                    return True, tries
                except (pg_errors.LockNotAvailable, pg_errors.SerializationFailure,
                        pg_errors.DeadlockDetected) as exc:
                    codes.retry(exc.sqlstate)
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            tries += 1
            if tries >= RAW_MAX_ATTEMPTS:
                codes.fail("exhausted")
                return False, tries - 1
            # the client's backoff: exponential with full jitter, same base and cap
            time.sleep(rng.uniform(0, min(settings.retry_max_s,
                                          settings.retry_base_s * 2 ** (tries - 1))))

    return launch


def floor_launch(pool: ConnectionPool, floor_update: str) -> Launch:
    def launch(row: Any, i: int, rng: random.Random) -> tuple[bool, int]:
        with pool.connection() as conn:
            conn.execute(floor_update, (floor_value(i), row))
        return True, 0

    return launch


# -- the bench ------------------------------------------------------------------------------
LOAD_CASES = (
    # key, label
    ("exec.load", "`execute_campaign_atomically`, `hot_row_lock=\"adaptive\"` (default)"),
    ("exec_never.load", "`execute_campaign_atomically`, `hot_row_lock=\"never\"` (no queueing)"),
    ("exec_raw.load", "raw SQL: REPEATABLE READ, `FOR UPDATE NOWAIT`, 6 statements from Python, "
                      "retried on 55P03/40001/40P01"),
    ("commit.load", "autocommit one-row UPDATE of `bench.floor`, one row per workflow (floor)"),
)
LATENCY_CASES = (
    ("exec.1x1", "`execute_campaign_atomically` through `Client` (REPEATABLE READ)"),
    ("exec_fn.1x1", "the same transaction without the client: one message, bare connection"),
)


class ExecutionBench:
    def __init__(self, host: Host, sizes: ExecSizes, floor_update: str) -> None:
        self.host = host
        self.sizes = sizes
        self.floor_update = floor_update
        self.codes: dict[str, list[Codes]] = {}

    # -- fixtures and checks -------------------------------------------------------------
    def workflows(self, count: int, label: str) -> tuple[str, list[str]]:
        setup = self.host.setup
        workspace = str(setup.create_workspace(f"bench {label}").workspace_id)
        flows = [str(setup.register_n8n_workflow(workspace, f"bench-{label}-{i}",
                                                 f"bench {label} {i}", CAMPAIGN_TYPE).workflow_id)
                 for i in range(count)]
        return workspace, flows

    def check(self, flows: Sequence[str], ledger: Sequence[tuple[Any, int]]) -> str:
        committed = Counter(str(target) for target, _ in ledger)
        rows = self.host.admin.execute(CHECK_WORKFLOWS, (list(flows),)).fetchall()
        problems = []
        if len(rows) != len(flows):
            problems.append(f"{len(flows) - len(rows)} workflow(s) missing")
        for flow, total, n, numbers, lo, hi, audits, audited, strays in rows:
            sent = committed[flow]
            if not total == n == sent:
                problems.append(f"workflow {flow[:8]}: total_executions {total}, {n} execution "
                                f"rows, {sent} committed calls")
            if numbers != n or (n and (lo != 1 or hi != n)):
                problems.append(f"workflow {flow[:8]}: execution_number {lo}..{hi}, {numbers} "
                                f"distinct in {n} rows")
            if audits != n or audited != n or strays:
                problems.append(f"workflow {flow[:8]}: {audits} audit rows for {audited} "
                                f"executions ({strays} not of this workflow), {n} executions")
        return "; ".join(problems)

    def backends(self, expected: int) -> list[int]:
        """The pids of the open bench pool's backends (one pool is open at a time); none
        when the server is not on this machine or the count is not the pool's."""
        for _ in range(40):  # the previous pool's backends may still be exiting
            pids = [int(row[0]) for row in self.host.admin.execute(BACKENDS).fetchall()]
            if len(pids) == expected:
                break
            time.sleep(0.05)
        if len(pids) != expected or not all(os.path.exists(f"/proc/{pid}/stat") for pid in pids):
            return []
        return pids

    def record(self, key: str, run: Run, codes: Codes | None = None) -> None:
        self.host.record(key, run)
        self.codes.setdefault(key, []).append(codes or Codes())
        if codes and (codes.retried or codes.failed or codes.cpu):
            cpu = "".join(f" CPU {c.cores:.2f} cores, ms/call: this process "
                          f"{process_ms(c, run):.3f}, backends {server_ms(c, run):.3f}, machine "
                          f"{machine_ms(c, run):.3f}" for c in codes.cpu if run.committed)
            print(f"  {'':<20} retried {dict(codes.retried)} failed {dict(codes.failed)}{cpu}",
                  flush=True)

    # -- one caller ----------------------------------------------------------------------
    def latency(self, r: int) -> None:
        s = self.sizes
        seed = r + 1
        warm = max(50, s.latency_calls // 10)
        with self.host.client(1) as client:
            workspace, flows = self.workflows(2, f"exec1 r{r}")
            codes = Codes()
            launch = client_launch(client, workspace, codes)
            load(1, [flows[1]], warm, launch, seed)
            client.stats.reset()
            run, ledger = load(1, [flows[0]], s.latency_calls, launch, seed)
            run.retries = client.stats.total_retries()
            run.check = self.check(flows[:1], ledger)
            self.record("exec.1x1", run, codes)

        with psycopg.connect(self.host.dsn, autocommit=True, prepare_threshold=None) as conn:
            cursor = psycopg.ClientCursor(conn)
            workspace, flows = self.workflows(2, f"execfn r{r}")

            def bare(workflow: Any, i: int, rng: random.Random) -> tuple[bool, int]:
                cursor.execute(FN_CALL, (workspace, workflow, uuid.uuid4(), f"bench launch {i}",
                                         CAMPAIGN_TYPE, Jsonb({"bench": True, "call": i}),
                                         uuid.uuid4()))
                cursor.nextset()
                row = cursor.fetchone()
                return bool(row and row[0]["success"]), 0

            load(1, [flows[1]], warm, bare, seed)
            run, ledger = load(1, [flows[0]], s.latency_calls, bare, seed)
            run.check = self.check(flows[:1], ledger)
            self.record("exec_fn.1x1", run)

    # -- the seeds' load test --------------------------------------------------------------
    def load_cases(self, r: int) -> None:
        cases: list[Callable[[int], None]] = [
            lambda seed: self.client_case("exec.load", seed, hot_row_lock="adaptive"),
            lambda seed: self.client_case("exec_never.load", seed, hot_row_lock="never"),
            self.raw_case,
            self.floor_case,
        ]
        turn = r % len(cases)  # rotate the order from repeat to repeat
        for case in cases[turn:] + cases[:turn]:
            case(r + 1)

    def warm(self, launch: Launch, targets: Sequence[Any]) -> None:
        """Untimed calls from as many threads as the pool has connections: each runs them."""
        s = self.sizes
        load(s.pool, targets, s.pool * s.warmup, launch, seed=0)

    def client_case(self, key: str, seed: int, threads: int | None = None,
                    **options: Any) -> None:
        """The load test through the client (`threads`: other than the seeds' 200, one call
        each when it is as many as the calls)."""
        s = self.sizes
        threads = threads or s.load_threads
        with self.host.client(s.pool, **options) as client:
            workspace, flows = self.workflows(s.workflows + 1, f"{key} s{seed}")
            warm_codes = Codes()
            self.warm(client_launch(client, workspace, warm_codes), flows[-1:])
            codes = Codes()
            launch = client_launch(client, workspace, codes)
            client.stats.reset()
            with RetryLog().attached() as log:
                run, ledger = load(threads, flows[:-1], s.load_calls, launch, seed,
                                   codes.cpu, self.backends(s.pool))
            run.retries = client.stats.total_retries()
            codes.retried = log.codes
            unattributed = run.retries - sum(log.codes.values())
            if unattributed > 0:  # retries whose log record did not carry a SQLSTATE
                codes.retried["unattributed"] += unattributed
        run.check = self.check(flows[:-1], ledger)
        self.record(key, run, codes)

    def raw_case(self, seed: int) -> None:
        s = self.sizes
        with self.host.pool(s.pool, prepare=True) as pool:
            workspace, flows = self.workflows(s.workflows + 1, f"raw s{seed}")
            self.warm(raw_launch(pool, workspace, self.host.settings, Codes()), flows[-1:])
            codes = Codes()
            run, ledger = load(s.load_threads, flows[:-1], s.load_calls,
                               raw_launch(pool, workspace, self.host.settings, codes), seed,
                               codes.cpu, self.backends(s.pool))
        run.check = self.check(flows[:-1], ledger)
        self.record("exec_raw.load", run, codes)

    def floor_case(self, seed: int) -> None:
        s = self.sizes
        with self.host.pool(s.pool) as pool:
            launch = floor_launch(pool, self.floor_update)
            self.warm(launch, self.host.floor_rows(1))
            rows = self.host.floor_rows(s.workflows)
            codes = Codes()
            run, ledger = load(s.load_threads, rows, s.load_calls, launch, seed, codes.cpu,
                               self.backends(s.pool))
        expected: dict[Any, list[Decimal]] = {row: [] for row in rows}
        for row, i in ledger:
            expected[row].append(floor_value(i))
        run.check = self.host.check_floor(expected)
        self.record("commit.load", run, codes)

    # -- the report -----------------------------------------------------------------------
    def shape(self) -> str:
        s = self.sizes
        return (f"{s.load_calls:,} launches from {s.load_threads} threads on {s.workflows} "
                f"workflows, pool of {s.pool}")

    def cpu(self, key: str, f: Callable[[Cpu, Run], float]) -> list[float]:
        """f(cpu, run) for each repeat of a load case."""
        return [f(codes.cpu[0], run)
                for codes, run in zip(self.codes[key], self.host.results[key], strict=True)
                if codes.cpu and run.committed]

    def goal_rows(self) -> list[list[str]]:
        res = self.host.results
        runs = res["exec.load"]
        failed = [run.failed for run in runs]
        calls = sum(run.committed + run.failed for run in runs)
        rows = [[f"`execute_campaign_atomically`, {self.shape()}: zero failed calls",
                 f"{sum(failed)} failed in {calls:,} calls",
                 f"{sum(1 for f in failed if f == 0)}/{len(failed)}",
                 "met" if sum(failed) == 0 else "**not met**"]]
        checked = [run for key in ("exec.1x1", "exec_fn.1x1", "exec.load", "exec_never.load",
                                   "exec_raw.load") for run in res[key]]
        exact = sum(1 for run in checked if run.check == "")
        rows.append(["campaign execution invariants after every run: total_executions = "
                     "execution rows = committed calls; one `campaign_execution_started` audit "
                     "row per execution; execution_number 1..n without gaps",
                     f"{exact}/{len(checked)} runs exact", f"{exact}/{len(checked)}",
                     "met" if exact == len(checked) else "**not met**"])
        return rows

    def sections(self) -> list[str]:
        res = self.host.results

        def p(key: str, q: float) -> list[float]:
            return [run.pct(q) for run in res[key]]

        def tps(key: str) -> list[float]:
            return [run.tps for run in res[key]]

        latency = Table(["measurement", "calls × repeats", "p50 ms", "p99 ms", "p50 ÷ floor",
                         "p99 ÷ floor", "floor", "invariant check"])
        floor = res["commit.1x1"]
        latency.add("autocommit single-row UPDATE, one durable commit (floor; bench.py's, same "
                    "repeats)", f"{floor[0].committed:,} × {len(floor)}",
                    Spread.of(p("commit.1x1", 50)).fmt(3), Spread.of(p("commit.1x1", 99)).fmt(3),
                    "1 (floor)", "1 (floor)", "–", "–")
        for key, label in LATENCY_CASES:
            runs = res[key]
            latency.add(label, f"{runs[0].committed:,} × {len(runs)}",
                        Spread.of(p(key, 50)).fmt(3), Spread.of(p(key, 99)).fmt(3),
                        paired_ratio(p(key, 50), p("commit.1x1", 50)).fmt(2, "×"),
                        paired_ratio(p(key, 99), p("commit.1x1", 99)).fmt(2, "×"),
                        "one commit, 1 thread", checks_cell(runs))

        loaded = Table(["measurement", "tx/s", "tx/s ÷ floor", "p50 ms per call",
                        "p99 ms per call", "p99 ÷ floor p99", "retries per call",
                        "retries by SQLSTATE (all repeats)", "failed calls (all repeats)",
                        f"machine CPU busy, cores of {os.cpu_count()}",
                        "CPU ms per committed call: bench process / pool's backends / machine",
                        "invariant check"])
        for key, label in LOAD_CASES:
            runs = res[key]
            calls = sum(run.committed + run.failed for run in runs)
            retries = sum(run.retries for run in runs)
            per_repeat = [run.retries / max(1, run.committed + run.failed) for run in runs]
            floor_key = key == "commit.load"
            retried: Counter[str] = sum((c.retried for c in self.codes[key]), Counter())
            failed: Counter[str] = sum((c.failed for c in self.codes[key]), Counter())
            loaded.add(
                label, Spread.of(tps(key)).fmt(0),
                "1 (floor)" if floor_key
                else paired_ratio(tps(key), tps("commit.load")).fmt(2, "×"),
                Spread.of(p(key, 50)).fmt(2), Spread.of(p(key, 99)).fmt(2),
                "1 (floor)" if floor_key
                else paired_ratio(p(key, 99), p("commit.load", 99)).fmt(2, "×"),
                f"{Spread.of(per_repeat).fmt(3)} ({retries:,} total)",
                codes_cell(retried), f"{sum(run.failed for run in runs)}"
                + (f" ({codes_cell(failed)})" if failed else "")
                + f" of {calls:,}",
                Spread.of(self.cpu(key, lambda c, run: c.cores)).fmt(2),
                f"{Spread.of(self.cpu(key, process_ms)).fmt(2)} / "
                f"{Spread.of(self.cpu(key, server_ms)).fmt(2)} / "
                f"{Spread.of(self.cpu(key, machine_ms)).fmt(2)}",
                checks_cell(runs))

        versus = Table(["comparison", "ratio (median [min–max] of repeats)"])
        versus.add("`adaptive` tx/s ÷ `never` tx/s",
                   paired_ratio(tps("exec.load"), tps("exec_never.load")).fmt(2, "×"))
        versus.add("`adaptive` tx/s ÷ raw SQL tx/s",
                   paired_ratio(tps("exec.load"), tps("exec_raw.load")).fmt(2, "×"))
        versus.add("`adaptive` p99 ÷ raw SQL p99",
                   paired_ratio(p("exec.load", 99), p("exec_raw.load", 99)).fmt(2, "×"))
        versus.add("`execute_campaign_atomically` p50 ÷ one-message by hand p50, one caller",
                   paired_ratio(p("exec.1x1", 50), p("exec_fn.1x1", 50)).fmt(2, "×"))

        repeats = len(res["exec.load"])
        return [
            "## Campaign execution: one caller (sequential calls)",
            "",
            latency.markdown(),
            "",
            f"## Campaign execution: the seeds' load test ({self.shape()})",
            "",
            f"Each row: {self.sizes.load_calls:,} calls × {repeats} repeats, the four ways' "
            "order rotated from repeat to repeat; latency is per call, from the call to its "
            "answer (pool wait, queueing and retries included); the floor is the same threads "
            "and pool size running the one-row UPDATE on 3 rows.",
            "",
            loaded.markdown(),
            "",
            versus.markdown(),
        ]

    def measured(self) -> list[str]:
        s = self.sizes
        settings = self.host.settings
        return [
            f"- **campaign execution, one caller**: {s.latency_calls:,} sequential calls per "
            f"repeat on one workflow (after {max(50, s.latency_calls // 10)} untimed ones on "
            "another), through a `Client` with a pool of 1, and as the client's message "
            "(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT public.execute_campaign_atomically"
            "(…); COMMIT`) by hand on a bare connection; each call a new approval-session id and "
            "execution id; floor: bench.py's one-commit floor of the same repeat.",
            f"- **campaign execution, load test**: {s.load_threads} threads released by a "
            f"`threading.Barrier`, {s.load_calls // s.load_threads} calls each, call k of thread "
            f"t on workflow (t + k) mod {s.workflows}; every way through {s.pool} pooled "
            f"connections (the client's pool, or a psycopg_pool pool for raw SQL and the floor) "
            f"opened and warmed ({s.pool * s.warmup} untimed calls from {s.pool} threads on "
            "another workflow or row) before timing; a new workspace and workflows for each run. "
            "Raw SQL: `BEGIN ISOLATION LEVEL REPEATABLE READ`, `SELECT … FROM "
            "campaigndb.workspace_n8n_workflows WHERE id = $1 FOR UPDATE NOWAIT`, `INSERT` of "
            "the execution (execution_number = the locked total_executions + 1), `UPDATE` of "
            "total_executions, `INSERT` of the audit row, `COMMIT`, one round trip each, "
            "psycopg's prepared statements; retried on 55P03/40001/40P01 with the client's "
            f"backoff (exponential, full jitter, base {settings.retry_base_s * 1000:g} ms, cap "
            f"{settings.retry_max_s:g} s, without the client's floor of `retry_after_ms`) for "
            f"up to {RAW_MAX_ATTEMPTS} attempts. Retries by SQLSTATE: for the client, from its "
            f"own retry log records (logger `campaigndb`); a failed call is one that gave up "
            f"(the client's {settings.retry_attempts} attempts, or the raw loop's "
            f"{RAW_MAX_ATTEMPTS}).",
            "- **campaign execution invariants**, after every run, per workflow: "
            "`total_executions` = its rows in `n8n_campaign_executions` = the calls that "
            "committed on it; its `campaign_execution_started` rows in "
            "`workflow_deployment_history` = its executions = the distinct executions they name, "
            "none naming an execution of another workflow or none; `execution_number` has n "
            "distinct values from 1 to n.",
        ]

    def notes(self) -> list[str]:
        """Observations computed from the figures (medians), so that they stay true on re-runs."""
        res = self.host.results
        s = self.sizes
        attempts = self.host.settings.retry_attempts

        def med(values: list[float]) -> float:
            return Spread.of(values).median if values else math.nan

        def tps(key: str) -> float:
            return med([run.tps for run in res[key]])

        def pct(key: str, q: float) -> float:
            return med([run.pct(q) for run in res[key]])

        def ratio(a: str, b: str, f: Callable[[Run], float]) -> float:
            return paired_ratio([f(run) for run in res[a]], [f(run) for run in res[b]]).median

        def p50_x(key: str) -> float:
            return ratio(key, "commit.1x1", lambda run: run.pct(50))

        def per_call(key: str) -> float:
            runs = res[key]
            return sum(r.retries for r in runs) / max(1, sum(r.committed + r.failed
                                                              for r in runs))

        def failed(key: str) -> int:
            return sum(r.failed for r in res[key])

        def retried(key: str) -> str:
            return codes_cell(sum((c.retried for c in self.codes[key]), Counter()))

        def cores(key: str) -> float:
            return med(self.cpu(key, lambda c, run: c.cores))

        def cpu_ms(key: str) -> float:
            return med(self.cpu(key, machine_ms))

        def client_ms(key: str) -> float:
            return med(self.cpu(key, process_ms))

        def backend_ms(key: str) -> float:
            return med(self.cpu(key, server_ms))

        def other_share() -> float:
            cpus = [c for key, _ in LOAD_CASES for codes in self.codes[key] for c in codes.cpu]
            busy = sum(c.busy_s for c in cpus)
            return 1 - sum(c.process_s + c.server_s for c in cpus) / busy if busy else math.nan

        indexes, keys = self.host.admin.execute(SCHEMA_COUNTS).fetchone() or (0, 0)
        ncpu = os.cpu_count() or 1
        out = [
            f"- Campaign execution, one caller: `execute_campaign_atomically` takes "
            f"{pct('exec.1x1', 50):.3f} ms at p50 ({p50_x('exec.1x1'):.2f}× the one-commit "
            f"floor of {pct('commit.1x1', 50):.3f} ms); the same message by hand on a bare "
            f"connection {pct('exec_fn.1x1', 50):.3f} ms ({p50_x('exec_fn.1x1'):.2f}×). That is "
            "the server's share: one durable commit like the floor's, plus three writes (the "
            f"execution row and the audit row, with {indexes} index entries and {keys} "
            "foreign-key checks between them, and the workflow's counter), the idempotency "
            "lookup, the workspace check and PL/pgSQL. The client adds "
            f"{pct('exec.1x1', 50) - pct('exec_fn.1x1', 50):.3f} ms of Python per call (pool "
            "checkout, client-side quoting, the envelope and its pydantic model).",
        ]
        bound = ("so the machine's CPU, shared by the server and the bench's threads, is what "
                 "limits both: throughput follows CPU time per launch"
                 if min(cores("exec.load"), cores("commit.load")) >= 0.8 * ncpu else
                 "so the CPU is not saturated: the rows' lock queues limit them")
        out.append(
            f"- Load test: {s.workflows} workflows are {s.workflows} hot rows, and each launch "
            f"commits through one of them. The floor (the one-row UPDATE on {s.workflows} rows, "
            f"same {s.load_threads} threads and pool of {s.pool}) reaches "
            f"{tps('commit.load'):,.0f} tx/s, `execute_campaign_atomically` "
            f"{tps('exec.load'):,.0f} tx/s "
            f"({ratio('exec.load', 'commit.load', lambda run: run.tps):.2f}×). The machine's "
            f"{ncpu} cores were {cores('commit.load'):.2f} cores busy during the floor and "
            f"{cores('exec.load'):.2f} during the launches, {bound}: "
            f"{cpu_ms('exec.load'):.2f} ms of the machine's CPU per launch "
            f"({client_ms('exec.load'):.2f} ms in the bench process: the client and its "
            f"{s.load_threads} threads; {backend_ms('exec.load'):.2f} ms in the pool's server "
            "backends; the rest in the WAL writer, the kernel and anything else running) "
            f"against {cpu_ms('commit.load'):.2f} ms per floor UPDATE "
            f"({client_ms('commit.load'):.2f} / {backend_ms('commit.load'):.2f} ms). Over the "
            f"four ways' runs, {other_share():.0%} of the machine's busy CPU was neither the "
            "bench process nor the pool's backends (the WAL writer, the kernel, anything else "
            "on the machine): the larger that share, the less these runs had the machine to "
            "themselves.")
        out.append(
            f"- Per-call latency under that load is mostly waiting: of {s.load_threads} "
            f"threads, {s.pool} hold a connection (and queue on their workflow) while the other "
            f"{s.load_threads - s.pool} wait for one, so a call takes about threads ÷ tx/s "
            f"(Little's law): p50 {pct('exec.load', 50):,.1f} ms, p99 "
            f"{pct('exec.load', 99):,.1f} ms; the floor's {pct('commit.load', 50):,.1f} / "
            f"{pct('commit.load', 99):,.1f} ms. "
            f"`adaptive` retried {per_call('exec.load'):.3f} times per call ({retried('exec.load')}"
            "): the first collisions on each workflow, after which the client queues that "
            f"workflow's callers on an advisory lock; {failed('exec.load')} calls failed.")
        out.append(
            f"- Without queueing (`hot_row_lock=\"never\"`): {tps('exec_never.load'):,.0f} tx/s, "
            f"{per_call('exec_never.load'):.2f} retries per call ({retried('exec_never.load')}), "
            f"{failed('exec_never.load')} calls that exhausted their {attempts} attempts, p99 "
            f"{pct('exec_never.load', 99):,.0f} ms. NOWAIT turns each collision into an "
            "immediate 55P03 (and a caller whose snapshot predates the last update into 40001): "
            "each costs a whole attempt (the client builds and sends the transaction, the "
            "server starts it and answers), "
            f"{cpu_ms('exec_never.load'):.2f} ms of CPU per committed launch against "
            f"{cpu_ms('exec.load'):.2f} with queueing, and the client then waits at least the "
            "55P03 `retry_after_ms` (50 ms) before the next attempt, however soon the workflow "
            "is free again.")
        out.append(
            f"- The application-level way: {tps('exec_raw.load'):,.0f} tx/s "
            f"({ratio('exec_raw.load', 'commit.load', lambda run: run.tps):.2f}× the floor), "
            f"{per_call('exec_raw.load'):.2f} retries per call ({retried('exec_raw.load')}), "
            f"{failed('exec_raw.load')} failed, p99 {pct('exec_raw.load', 99):,.0f} ms. Each "
            "attempt holds a pooled connection for six round trips and the workflow's row lock "
            "from the second to the last; every other caller of that workflow that gets a "
            "connection meanwhile fails at once and backs off, so the row often stands idle "
            "while its callers sleep (the machine's CPU is "
            f"{cores('exec_raw.load'):.2f} cores busy, {cpu_ms('exec_raw.load'):.2f} ms per "
            f"launch, {client_ms('exec_raw.load'):.2f} ms of it in Python).")
        return out


def machine_ms(cpu: Cpu, run: Run) -> float:
    """Busy CPU of the whole machine per committed call, ms."""
    return cpu.busy_s / run.committed * 1000.0


def process_ms(cpu: Cpu, run: Run) -> float:
    """CPU of the bench process (client side) per committed call, ms."""
    return cpu.process_s / run.committed * 1000.0


def server_ms(cpu: Cpu, run: Run) -> float:
    """CPU of the pool's server backends per committed call, ms."""
    return cpu.server_s / run.committed * 1000.0


def checks_cell(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"


def codes_cell(codes: Counter[str]) -> str:
    if not codes:
        return "none"
    order = sorted(codes, key=lambda c: (RETRY_CODES.index(c) if c in RETRY_CODES else 9, c))
    return ", ".join(f"{codes[c]:,} × {c}" for c in order)
