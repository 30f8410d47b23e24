"""The benchmark harness: runs, statistics, the shared context, and sections declared as data.

A `Section` declares what it measures (`measure`, one repeat), the tables its scenarios fill
(`Table` of `Row`s under `Col`umns: a row names the results key it shows and the key of its
floor), its goals (`Goal`), the seeds' expectations it answers (`Seed`) and its comparisons
(`Compare`).  bench.py runs every section's `measure` once per repeat and builds BENCHMARKS.md
from the declarations alone.  docs/benchmarks.md says how to add a section.

Over 350 lines on purpose: it is the one module a section imports (`import harness as h`).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
import psycopg_pool
from psycopg_pool import ConnectionPool

from campaigndb import Client, Settings


# -- one repeat of one measurement ------------------------------------------------------------
@dataclass
class Run:
    """Per-call latencies (s), wall time (s), calls (or rows) committed, and what went wrong."""

    latencies: list[float]
    wall: float
    committed: int
    retries: int = 0
    failed: int = 0
    check: str | None = None  # None: not checked; "": exact; otherwise what was wrong
    extra: dict[str, float] = field(default_factory=dict)  # per-run figures (CPU, rows ...)

    @property
    def tps(self) -> float:
        return self.committed / self.wall if self.wall > 0 else 0.0

    @property
    def ms(self) -> float:
        return self.wall * 1000.0

    @property
    def worst(self) -> float:
        return max(self.latencies, default=math.nan) * 1000.0

    def pct(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, ms."""
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1] * 1000.0 if ordered \
            else math.nan


Results = dict[str, list[Run]]


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan)
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        if math.isnan(self.median):
            return "–"
        f = f"{{:,.{digits}f}}{unit}"
        if self.low == self.high:
            return f.format(self.median)
        return f"{f.format(self.median)} [{f.format(self.low)}–{f.format(self.high)}]"


def ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """Per-repeat ratios: figure ÷ floor of the same repeat."""
    return [n / d if d else math.inf for n, d in zip(num, den, strict=False)]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def value(i: int) -> Decimal:
    """The amount call i sends: four decimals, exact in numeric and in Decimal."""
    return Decimal((i * 7919 + 13) % 999_999 + 1).scaleb(-4)


# -- CPU time of a run -----------------------------------------------------------------------
def cpu_ticks(pids: Sequence[int]) -> tuple[float, float, float]:
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
            server += (int(fields[11]) + int(fields[12])) / hz
        except (OSError, ValueError, IndexError):
            server = math.nan
    return busy, time.process_time(), server


# -- running callers -------------------------------------------------------------------------
# An attempt: (target, call number, rng) -> (committed?, retries)
Attempt = Callable[[Any, int, random.Random], tuple[bool, int]]
Ledger = list[tuple[Any, int]]


def measure(threads: int, targets: Sequence[Any], calls: int, attempt: Attempt, *,
            rotate: bool = False, seed: int = 1,
            pids: Sequence[int] | None = None) -> tuple[Run, Ledger]:
    """`calls` calls from `threads` threads released together by a Barrier.  Call k of thread t
    goes to targets[t % n], or targets[(t + k) % n] with `rotate`.  With `pids` (the pool's
    backends) the run's CPU time per committed call goes into run.extra."""
    counts = split(calls, threads)
    starts = [sum(counts[:t]) for t in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ledgers: list[Ledger] = [[] for _ in range(threads)]
    retries, failed = [0] * threads, [0] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def body(t: int) -> None:
        rng = random.Random(seed * 100_003 + t)
        clock = time.perf_counter
        barrier.wait()
        try:
            for k in range(counts[t]):
                target = targets[(t + k if rotate else t) % len(targets)]
                started = clock()
                ok, tries = attempt(target, starts[t] + k, rng)
                latencies[t].append(clock() - started)
                retries[t] += tries
                if ok:
                    ledgers[t].append((target, starts[t] + k))
                else:
                    failed[t] += 1
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    workers = [threading.Thread(target=body, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    before = cpu_ticks(pids or ())
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    after = cpu_ticks(pids or ())
    if errors:
        raise errors[0]
    ledger = [entry for per in ledgers for entry in per]
    run = Run([x for per in latencies for x in per], wall, len(ledger), sum(retries),
              sum(failed))
    if pids is not None and run.committed:
        busy, process, server = (b - a for a, b in zip(before, after, strict=True))
        per_call = 1000.0 / run.committed
        run.extra.update(cores=busy / wall, machine_ms=busy * per_call,
                         process_ms=process * per_call, server_ms=server * per_call,
                         busy_s=busy, process_s=process, server_s=server)
    return run, ledger


def interleave(ways: dict[str, Callable[[int], object]], calls: int, warmup: int = 0, *,
               units: int = 1, turn: int = 0) -> dict[str, Run]:
    """Call i of every way, one after another, the order rotating with i (and `turn`); each
    call timed alone; what a call returns, when a non-empty str, is what was wrong."""
    names = list(ways)
    timings: dict[str, list[float]] = {name: [] for name in names}
    problems: dict[str, list[str]] = {name: [] for name in names}
    clock = time.perf_counter
    for i in range(warmup + calls):
        k = (i + turn) % len(names)
        for name in names[k:] + names[:k]:
            started = clock()
            problem = ways[name](i)
            elapsed = clock() - started
            if problem and isinstance(problem, str):
                problems[name].append(f"{name} call {i}: {problem}")
            if i >= warmup:
                timings[name].append(elapsed)
    return {name: Run(timings[name], sum(timings[name]), len(timings[name]) * units,
                      check="; ".join(problems[name][:2])) for name in names}


@contextmanager
def quiet() -> Iterator[None]:
    """The client logs every failed call; some calls fail on purpose."""
    log = logging.getLogger("campaigndb")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


# -- the shared context --------------------------------------------------------------------------
FLOOR_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.floor (
    id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0, total numeric NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70)
"""
FLOOR_UPDATE = (
    "UPDATE bench.floor SET n = n + 1, total = total + %s, updated_at = now() WHERE id = %s"
)
CHECK_CAMPAIGNS = """
SELECT c.id::text, c.total_cost, COALESCE(s.total, 0), COALESCE(s.n, 0)
  FROM campaigndb.campaigns AS c
  LEFT JOIN LATERAL (SELECT sum(k.cost_usd) AS total, count(*) AS n
                       FROM campaigndb.gmaps_api_costs AS k WHERE k.campaign_id = c.id) AS s
         ON true
 WHERE c.id = ANY(%s::uuid[])
"""
POOL_CAP = 20  # pools are sized to the thread count, up to this (the client's default max)


class Bench:
    """What every section measures with: the database, a setup client, fixtures, checks."""

    def __init__(self, dsn: str, quick: bool) -> None:
        self.dsn = dsn
        self.quick = quick
        self.settings = Settings()
        self.res: Results = defaultdict(list)
        self.admin = psycopg.connect(dsn, autocommit=True)
        self.admin.execute(FLOOR_SCHEMA)
        self.setup = Client(dsn, pool_min_size=1, pool_max_size=2,
                            application_name="campaigndb-bench-setup")
        self._next_row = 0

    def close(self) -> None:
        self.setup.close()
        self.admin.close()

    def n(self, sizes: tuple[int, int]) -> int:
        """(full, quick): the one for this run's mode."""
        return sizes[1] if self.quick else sizes[0]

    def record(self, key: str, run: Run) -> None:
        self.res[key].append(run)
        mark = f"  CHECK FAILED: {run.check}" if run.check else ""
        print(f"  {key:<30} {run.committed:>7,} {run.wall:8.2f}s p50 {run.pct(50):9.3f} ms "
              f"p99 {run.pct(99):9.3f} ms retries {run.retries} failed {run.failed}{mark}",
              flush=True)

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.admin.execute(sql, params).fetchone()
        return row[0] if row else None

    def run(self, threads: int, targets: Sequence[Any], calls: int, attempt: Attempt,
            **options: Any) -> tuple[Run, Ledger]:
        return measure(threads, targets, calls, attempt, **options)

    def measure_warm(self, threads: int, attempt: Attempt, targets: Sequence[Any],
                     per_thread: int) -> None:
        """Untimed calls on other targets: every pooled connection has run the statements."""
        measure(threads, targets, threads * per_thread, attempt, seed=0)

    def case(self, key: str, threads: int, targets: Sequence[Any], calls: int, attempt: Attempt,
             seed: int, *, warm: Sequence[Any] = (), warm_calls: int = 0,
             check: Callable[[Sequence[Any], Ledger], str] | None = None,
             stats: Client | None = None, **options: Any) -> Run:
        """Warm up on `warm` (untimed), measure, check the ledger, take the client's retries,
        record."""
        if warm:
            measure(threads, warm, warm_calls or threads * 2, attempt, seed=0)
        if stats is not None:
            stats.stats.reset()
        run, ledger = measure(threads, targets, calls, attempt, seed=seed, **options)
        if stats is not None:
            run.retries = stats.stats.total_retries()
        if check is not None:
            run.check = check(targets, ledger)
        self.record(key, run)
        return run

    # -- fixtures ------------------------------------------------------------------------------
    def workspace(self, label: str) -> str:
        return str(self.setup.create_workspace(f"bench {label}").workspace_id)

    def campaigns(self, count: int, label: str, workspace: str | None = None) -> list[str]:
        """`count` new campaigns (one ZIP code each), created through the client."""
        workspace = workspace or self.workspace(label)
        return [str(self.setup.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": f"bench {label} {i}"}, ["10001"]).campaign_id)
            for i in range(count)]

    def bare_campaigns(self, workspace: str, count: int, label: str) -> list[Any]:
        """`count` campaigns in one INSERT (no coverage)."""
        return [row[0] for row in self.admin.execute(
            "INSERT INTO campaigndb.campaigns (workspace_id, name) SELECT %s, %s || g"
            " FROM generate_series(1, %s) AS g RETURNING id",
            (workspace, f"bench {label} ", count)).fetchall()]

    def floor_rows(self, count: int) -> list[int]:
        ids = list(range(self._next_row + 1, self._next_row + count + 1))
        self._next_row += count
        with self.admin.cursor() as cur:
            cur.executemany("INSERT INTO bench.floor (id) VALUES (%s)", [(i,) for i in ids])
        return ids

    # -- checks: zero lost or doubled updates ------------------------------------------------
    def check_campaigns(self, targets: Sequence[Any], ledger: Ledger) -> str:
        """total_cost = Σ cost rows = Σ sent, one row per committed call (exact, Decimal)."""
        sent: dict[str, list[Decimal]] = {str(t): [] for t in targets}
        for target, i in ledger:
            sent[str(target)].append(value(i))
        rows = self.admin.execute(CHECK_CAMPAIGNS, (list(sent),)).fetchall()
        problems = [f"{len(sent) - len(rows)} campaign(s) missing"] if len(rows) != len(sent) \
            else []
        for campaign, total, rows_sum, count in rows:
            want = sum(sent[campaign], Decimal(0))
            if not total == rows_sum == want or count != len(sent[campaign]):
                problems.append(f"campaign {campaign[:8]}: total_cost {total}, rows {rows_sum} "
                                f"({count}), sent {want} ({len(sent[campaign])} calls)")
        return "; ".join(problems)

    def check_floor(self, targets: Sequence[Any], ledger: Ledger) -> str:
        sent: dict[Any, list[Decimal]] = {t: [] for t in targets}
        for target, i in ledger:
            sent[target].append(value(i))
        rows = self.admin.execute("SELECT id, n, total FROM bench.floor WHERE id = ANY(%s)",
                                  (list(sent),)).fetchall()
        return "; ".join(f"row {row}: n {n} total {total}, sent {len(sent[row])}"
                         for row, n, total in rows
                         if n != len(sent[row]) or total != sum(sent[row], Decimal(0)))

    # -- connections -----------------------------------------------------------------------------
    @contextmanager
    def pool(self, threads: int, *, prepare: bool = False,
             cap: int = POOL_CAP) -> Iterator[ConnectionPool]:
        size = min(threads, cap)
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "campaigndb-bench"}
        if not prepare:
            kwargs["prepare_threshold"] = None
        pool = ConnectionPool(self.dsn, min_size=size, max_size=size, kwargs=kwargs,
                              open=True, name="bench")
        try:
            pool.wait(timeout=60)
            yield pool
        finally:
            pool.close()

    @contextmanager
    def client(self, size: int, **options: Any) -> Iterator[Client]:
        client = Client(self.dsn, pool_min_size=size, pool_max_size=size,
                        application_name="campaigndb-bench", **options)
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    def bare(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, application_name="campaigndb-bench-bare", **kwargs)

    def backends(self, expected: int) -> list[int]:
        """The pids of the open bench pool's backends, when the server runs on this machine."""
        pids: list[int] = []
        for _ in range(40):  # the previous pool's backends may still be exiting
            pids = [int(row[0]) for row in self.admin.execute(
                "SELECT pid FROM pg_catalog.pg_stat_activity WHERE datname ="
                " pg_catalog.current_database() AND application_name = 'campaigndb-bench'"
                " AND backend_type = 'client backend'").fetchall()]
            if len(pids) == expected:
                break
            time.sleep(0.05)
        ok = len(pids) == expected and all(os.path.exists(f"/proc/{p}/stat") for p in pids)
        return pids if ok else []


# -- declarations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """A table row: the results key it shows, its label, the key of its floor (same repeat)."""

    key: str
    label: str
    floor: str | None = None
    cells: tuple[str, ...] = ()  # fixed cells for the table's `fixed` columns


@dataclass(frozen=True)
class Cell:
    runs: list[Run]
    floor: list[Run] | None
    row: Row
    res: Results
    floor_label: str = "–"


@dataclass(frozen=True)
class Col:
    header: str
    cell: Callable[[Cell], str]


@dataclass(frozen=True)
class Table:
    columns: Sequence[Col]
    rows: Sequence[Row] | Callable[[Results], Sequence[Row]]  # rows known only after the run
    title: str = ""  # a sub-heading under the section's
    about: str = ""


@dataclass(frozen=True)
class Goal:
    """A goal: judged on the median of `values` (one per repeat or run), or on every value
    with `every`; `shown` replaces the measured cell."""

    text: str
    values: Callable[[Results], list[float]]
    ok: Callable[[float], bool]
    unit: str = "×"
    digits: int = 2
    every: bool = False
    per: str = ""
    shown: Callable[[Results], str] | None = None


@dataclass(frozen=True)
class Seed:
    """One of the seeds' expectations and the figure of this run that answers it."""

    seed: str
    expectation: str
    ours: str
    values: Callable[[Results], list[float]]
    ok: Callable[[float], bool] | None  # None: no figure to meet
    unit: str = " ms"
    digits: int = 1


@dataclass(frozen=True)
class Compare:
    label: str
    num: Callable[[Results], list[float]]
    den: Callable[[Results], list[float]]


@dataclass
class Section:
    name: str  # for --only
    title: str
    about: str  # what it measures, briefly (docs/benchmarks.md says more)
    measure: Callable[[Bench, int], None]  # one repeat
    tables: Sequence[Table] = ()
    goals: Sequence[Goal] = ()
    seeds: Sequence[Seed] = ()
    compare: Sequence[Compare] = ()


# -- cells and values the declarations use ---------------------------------------------------
def p(key: str, q: float) -> Callable[[Results], list[float]]:
    return lambda res: [run.pct(q) for run in res.get(key, [])]


def of(key: str, f: Callable[[Run], float]) -> Callable[[Results], list[float]]:
    return lambda res: [f(run) for run in res.get(key, [])]


def over(num: Callable[[Results], list[float]],
         den: Callable[[Results], list[float]]) -> Callable[[Results], list[float]]:
    return lambda res: ratios(num(res), den(res))


def tps(key: str) -> Callable[[Results], list[float]]:
    return of(key, lambda r: r.tps)


def worst(key: str) -> Callable[[Results], list[float]]:
    return of(key, lambda r: r.worst)


def exact(*keys: str) -> Callable[[Results], list[float]]:
    """1 for each run of `keys` whose check passed (or was not made), 0 for each that failed."""
    return lambda res: [0.0 if run.check else 1.0 for key in keys for run in res.get(key, [])]


def spread(f: Callable[[Run], float], digits: int = 2, unit: str = "") -> Callable[[Cell], str]:
    return lambda c: Spread.of([f(run) for run in c.runs]).fmt(digits, unit)


def vs_floor(f: Callable[[Run], float], digits: int = 2) -> Callable[[Cell], str]:
    """The per-repeat ratio against the row's floor, "1 (floor)" on a floor row."""
    def cell(c: Cell) -> str:
        if c.floor is None:
            return "1 (floor)"
        return Spread.of(ratios([f(r) for r in c.runs], [f(r) for r in c.floor])).fmt(digits, "×")
    return cell


def against(header: str, other: Callable[[Row], str], num: Callable[[Row], str] | None = None,
            f: Callable[[Run], float] = lambda r: r.pct(50), digits: int = 2) -> Col:
    """Per-repeat ratio of the row's runs (or those of `num`) to those of another key."""
    def cell(c: Cell) -> str:
        top = c.res.get(num(c.row), []) if num else c.runs
        bottom = c.res.get(other(c.row), [])
        if not top or not bottom:
            return "–"
        return Spread.of(ratios([f(r) for r in top], [f(r) for r in bottom])).fmt(digits, "×")
    return Col(header, cell)


def shown(header: str, key: Callable[[Row], str], f: Callable[[Run], float],
          digits: int = 3) -> Col:
    """Another key's figure on the row (e.g. the raw SQL way beside the client's)."""
    return Col(header, lambda c: Spread.of([f(r) for r in c.res.get(key(c.row), [])])
               .fmt(digits))


def fixed(i: int, header: str) -> Col:
    return Col(header, lambda c: c.row.cells[i] if i < len(c.row.cells) else "–")


def checks(runs: Sequence[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    bad = [run.check for run in checked if run.check]
    if not checked:
        return "–"
    return f"**FAIL** ({bad[0]})" if bad else f"pass ({len(checked)}/{len(checked)})"


def retries_cell(c: Cell) -> str:
    committed = sum(run.committed for run in c.runs)
    retries = sum(run.retries for run in c.runs)
    return f"{retries / committed:.3f} ({retries:,} total)" if committed else "–"


CALLS = Col("calls × repeats", lambda c: f"{c.runs[0].committed + c.runs[0].failed:,} × "
                                          f"{len(c.runs)}")
P50 = Col("p50 ms", spread(lambda r: r.pct(50), 3))
P99 = Col("p99 ms", spread(lambda r: r.pct(99), 3))
P50_X = Col("p50 ÷ floor", vs_floor(lambda r: r.pct(50)))
P99_X = Col("p99 ÷ floor", vs_floor(lambda r: r.pct(99)))
TPS = Col("tx/s", spread(lambda r: r.tps, 0))
TPS_X = Col("tx/s ÷ floor", vs_floor(lambda r: r.tps))
TIME = Col("time ms", spread(lambda r: r.ms, 1))
TIME_X = Col("time ÷ floor", vs_floor(lambda r: r.ms))
RPS = Col("rows/s", spread(lambda r: r.tps, 0))
RPS_X = Col("rows/s ÷ floor", vs_floor(lambda r: r.tps))
WORST = Col("slowest ms", spread(lambda r: r.worst, 2))
RETRIES = Col("retries per committed call", retries_cell)
FAILED = Col("failed calls", lambda c: f"{sum(run.failed for run in c.runs):,}")
FLOOR = Col("floor", lambda c: c.floor_label)
CHECK = Col("check", lambda c: checks(c.runs))
SHARE = Col("share of the floor", lambda c: Spread.of(ratios(
    [r.wall * 100 for r in c.runs], [r.wall for r in c.floor or []])).fmt(0, " %"))


# -- the machine ---------------------------------------------------------------------------------
def machine_facts() -> dict[str, str]:
    facts = {"cores": str(os.cpu_count()), "cpu": platform.processor() or platform.machine(),
             "memory": "unknown", "os": f"{platform.system()} {platform.release()}",
             "python": platform.python_version(),
             "psycopg": f"{psycopg.__version__} (libpq {psycopg.pq.version()}, "
                        f"{psycopg.pq.__impl__} implementation)",
             "psycopg_pool": psycopg_pool.__version__,
             "load": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    for path, prefix, key in (("/proc/cpuinfo", "model name", "cpu"),
                              ("/proc/meminfo", "MemTotal:", "memory")):
        try:
            with open(path) as handle:
                line = next((x for x in handle if x.startswith(prefix)), "")
        except OSError:
            continue
        if line and key == "cpu":
            facts[key] = line.split(":", 1)[1].strip()
        elif line:
            facts[key] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return facts


def server_facts(conn: psycopg.Connection[Any]) -> dict[str, str]:
    names = ("fsync", "synchronous_commit", "wal_sync_method", "shared_buffers",
             "max_connections", "max_pred_locks_per_transaction")
    row = conn.execute("SELECT pg_catalog.version(), " + ", ".join(
        f"pg_catalog.current_setting('{n}')" for n in names)).fetchone()
    assert row is not None
    return {"version": str(row[0]), "settings": ", ".join(
        f"{n}={v}" for n, v in zip(names, row[1:], strict=True))}
