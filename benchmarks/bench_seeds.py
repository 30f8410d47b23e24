"""The seeds' own expectations beside ours: the part of bench.py that builds that table, and
the few measurements only it needs.

The expectations come from the design documents the project was made from
(/work/shared/seeds/*.txt, listed by their first digits: 000 campaign execution, 002
transaction management, 003 the stored functions, 004 the resilience layer; 001, the KPI
roll-up, names no timing).  Most are judged on figures other parts measure (bench.py,
bench_functions.py, bench_leadgen.py, bench_execution.py, bench_metrics.py); this part adds,
in each repeat:

- a failed call and its rollback: `insert_businesses_batch` of 10,000 businesses whose last
  row in place_id order breaks the table's rating check, so the function has inserted the
  9,999 before it and undoes them; checked: the envelope says 23514 and the campaign holds
  no business;
- `HealthMonitor.check()` (the database's health metrics, the pool's statistics, the
  thresholds), after 3 untimed checks;
- `classify()` of a real failure envelope and of a real `CampaignDBError`, alternating.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import uuid4

import psycopg
from bench_execution import ExecutionBench
from bench_leadgen import ZIP, businesses
from bench_report import Run, Spread, Table

from campaigndb import CampaignDBError, Client, HealthMonitor, classify


@dataclass(frozen=True)
class SeedSizes:
    failed_batches: int  # failing 10,000-business calls per repeat
    failed_rows: int
    health_checks: int  # timed checks per repeat
    classify_calls: int  # timed classifications per repeat


SEEDS_FULL = SeedSizes(failed_batches=2, failed_rows=10_000, health_checks=30,
                       classify_calls=2000)
SEEDS_QUICK = SeedSizes(failed_batches=1, failed_rows=10_000, health_checks=10,
                        classify_calls=1000)


@contextmanager
def quiet() -> Iterator[None]:
    """The client logs every failed call; these fail on purpose."""
    log = logging.getLogger("campaigndb")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def below(limit: float) -> Callable[[float], bool]:
    return lambda value: value < limit


class Host(Protocol):
    dsn: str
    admin: psycopg.Connection[Any]
    setup: Client
    results: dict[str, list[Run]]


EXEC_ALL_AT_ONCE = "exec_all.load"  # the load test's launches, every one from its own thread


class SeedsBench:
    def __init__(self, host: Host, sizes: SeedSizes, stats_rows: int,
                 execution: ExecutionBench, metrics_ratios: Callable[[], list[float]]) -> None:
        self.host = host
        self.sizes = sizes
        self.execution = execution
        self.metrics_ratios = metrics_ratios  # bench_metrics' per-repeat on ÷ off
        self.stats_rows = stats_rows  # businesses update_campaign_statistics counts

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = Client(self.host.dsn, pool_min_size=1, pool_max_size=2,
                        application_name="campaigndb-bench-seeds")
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    def record(self, key: str, run: Run) -> None:
        self.host.results[key].append(run)
        mark = "" if run.check in (None, "") else f"  CHECK FAILED: {run.check}"
        print(f"  {key:<28} {len(run.latencies):>7,} calls p50 {run.pct(50):8.3f} ms "
              f"max {max(run.latencies) * 1000:8.3f} ms{mark}", flush=True)

    def repeat(self, r: int) -> None:
        s = self.sizes
        seed = r + 1
        clock = time.perf_counter
        workspace = self.host.setup.create_workspace(f"bench seeds r{r}").workspace_id
        with self.client() as client, quiet():
            # a failed call: 9,999 rows inserted, then the last breaks a check; all undone
            times: list[float] = []
            problems: list[str] = []
            for k in range(s.failed_batches):
                campaign = self.host.setup.create_campaign_with_coverage(
                    {"workspace_id": workspace, "name": f"seeds failed {k}"}, [ZIP]).campaign_id
                rows = sorted(businesses(seed * 61 + k, s.failed_rows),
                              key=lambda row: str(row["place_id"]))
                rows[-1] = {**rows[-1], "place_id": "zzzz-last-" + uuid4().hex, "rating": 7.5}
                started = clock()
                envelope = client.call("insert_businesses_batch", p_campaign_id=str(campaign),
                                       p_zip_code=ZIP, p_businesses=rows)
                times.append(clock() - started)
                row = self.host.admin.execute(
                    "SELECT count(*) FROM campaigndb.gmaps_businesses WHERE campaign_id = %s",
                    (campaign,)).fetchone()
                left = row[0] if row else -1
                if envelope.get("success") or envelope.get("error_code") != "23514" or left:
                    problems.append(f"answer {envelope.get('error_code')}, {left} rows left")
            self.record("seed.failed_batch", Run(times, sum(times), len(times),
                                                 check="; ".join(problems)))

            monitor = HealthMonitor(client)
            checks: list[float] = []
            for i in range(3 + s.health_checks):
                started = clock()
                monitor.check()
                if i >= 3:
                    checks.append(clock() - started)
            self.record("seed.health", Run(checks, sum(checks), len(checks)))

            envelope = client.call("track_campaign_cost", p_campaign_id=str(uuid4()),
                                   p_service="gmaps", p_items_processed=1, p_cost_usd=1,
                                   p_metadata={})
            try:
                client.track_campaign_cost(uuid4(), "gmaps", 1, 1)
                error: Any = None
            except CampaignDBError as exc:
                error = exc
            failures: list[Any] = [envelope, error]
            wrong = [f"{type(f).__name__} classified {classify(f).sqlstate}" for f in failures
                     if f is None or classify(f).sqlstate != "P0002"]
            spent: list[float] = []
            for i in range(s.classify_calls):
                failure = failures[i % 2]
                started = clock()
                classify(failure)
                spent.append(clock() - started)
            self.record("seed.classify", Run(spent, sum(spent), len(spent),
                                             check="; ".join(wrong)))

        # "1000+ concurrent campaign executions": 1,000 threads, one launch each, released
        # together (bench_execution's load test, with as many threads as launches)
        launches = self.execution.sizes.load_calls
        self.execution.client_case(EXEC_ALL_AT_ONCE, seed, threads=launches)

    # -- the table -----------------------------------------------------------------------------
    def sections(self) -> list[str]:
        res = self.host.results

        def worst(key: str) -> list[float]:
            return [max(run.latencies) * 1000 for run in res.get(key, []) if run.latencies]

        def pct(key: str, q: float) -> list[float]:
            return [run.pct(q) for run in res.get(key, []) if run.latencies]

        table = Table(["seed", "their expectation", "our measurement", "measured (median "
                       "[min–max] of repeats)", "repeats meeting it", "status"])

        def row(seed: str, expectation: str, what: str, values: list[float], unit: str,
                ok: Callable[[float], bool] | None, digits: int = 1) -> None:
            if not values:
                table.add(seed, expectation, what, "not measured", "–", "not measured")
                return
            spread = Spread.of(values)
            shown = (spread.fmt(digits, unit) if spread.low != spread.high
                     else f"{spread.median:,.{digits}f}{unit} in every repeat")
            if ok is None:
                table.add(seed, expectation, what, shown, "–", "– (no figure to meet)")
                return
            hits = sum(1 for v in values if ok(v))
            table.add(seed, expectation, what, shown, f"{hits}/{len(values)}",
                      "met" if ok(spread.median) else "**not met**")

        under = (  # function, the seed's words, limit in ms, the call we time
            ("create_campaign_with_coverage", "under 500 ms (for 100 ZIP codes)", 500,
             "100 ZIP codes"),
            ("insert_businesses_batch", "under 1 s (for 50 businesses)", 1000,
             "50 new businesses"),
            ("update_campaign_statistics", "under 200 ms", 200,
             f"a campaign of {self.stats_rows:,} businesses"),
            ("track_campaign_cost", "under 100 ms (critical path)", 100, "one cost"),
            ("update_coverage_status", "under 50 ms", 50, "one ZIP code"),
            ("update_enrichment_batch", "under 1 s (for 50 enrichments)", 1000,
             "50 enrichments"),
            ("update_email_verification", "under 50 ms", 50, "one verdict"),
        )
        for function, words, limit, shape in under:
            row("003", f"`{function}` {words}",
                f"slowest call through `Client`, {shape}, one caller",
                worst(f"fn.{function}.client"), " ms", below(limit))
        row("003", "`get_businesses_for_enrichment` under 500 ms (100 businesses)",
            "slowest call through `Client`, a page of 100 at offset 0 of a 100,000-business "
            "campaign", worst("lg.page.off0.client"), " ms", lambda v: v < 500)
        row("003", "`track_campaign_cost` under 100 ms; \"100 concurrent cost tracking "
            "operations\"", "p99 with 100 concurrent callers, a campaign each, pool of 20",
            pct("conc.client.100x20", 99), " ms", lambda v: v < 100)
        row("003", "the same", "p99 with 100 concurrent callers all on one campaign, pool of "
            "20", pct("client.100x1", 99), " ms", lambda v: v < 100)
        row("003", "performance test: \"1,000 businesses batch insert\" (no time stated)",
            "`insert_businesses_batch` of 10,000 new businesses, end to end",
            [run.wall * 1000 for run in res.get("lg.batch.client", [])], " ms", None, 0)
        row("003", "performance test: \"10,000 ZIP codes campaign creation\" (no time stated)",
            "`create_campaign_with_coverage` with 10,000 ZIP codes, end to end",
            [run.wall * 1000 for run in res.get("lg.coverage.client", [])], " ms", None, 0)
        keys = [k for k in res if k.startswith("fn.") and k.endswith(".client")]
        fn_p99 = [max(v) for v in zip(*(pct(k, 99) for k in keys), strict=True)] if keys else []
        row("000", "\"sub-200 ms database operation performance for production workloads\"",
            "the highest p99 of every write function through `Client`, one caller",
            fn_p99, " ms", lambda v: v < 200)
        row("000", "the same, under load", "`execute_campaign_atomically` p99, 1,000 launches "
            "from 200 threads through a pool of 20 on 3 workflows", pct("exec.load", 99),
            " ms", lambda v: v < 200)
        at_once = res.get(EXEC_ALL_AT_ONCE, [])
        row("000", "\"1000+ concurrent campaign executions\" (load test)",
            f"`execute_campaign_atomically` from {self.execution.sizes.load_calls:,} threads "
            "released together, one launch each, through a pool of 20 on 3 workflows: failed "
            "calls, plus 1 for a run whose invariants (counter = rows = calls, audit rows, "
            "execution numbers) do not hold",
            [float(run.failed + (1 if run.check else 0)) for run in at_once], "", below(0.5),
            0)
        row("000", "the same", "p99 of those launches", pct(EXEC_ALL_AT_ONCE, 99), " ms",
            None, 0)
        row("002", "\"< 5% performance impact from monitoring\"", "`track_campaign_cost` tx/s "
            "with `record_metrics=True` ÷ without, 10 threads on 10 campaigns (the "
            "transaction-metrics section's per-repeat ratio)", self.metrics_ratios(), "×",
            lambda v: v >= 0.95, 3)
        conc = res.get("conc.client.100x20", [])
        row("002", "\"Support 50+ concurrent campaign operations\"", "failed calls and "
            "lost/doubled updates with 100 concurrent `track_campaign_cost` callers (a "
            "campaign each): failed calls, plus 1 for a run whose totals are not exact",
            [float(run.failed + (1 if run.check else 0)) for run in conc], "", below(0.5), 0)
        row("002", "\"< 1 second rollback time for failed operations\"",
            "slowest failed `insert_businesses_batch` of 10,000 (9,999 rows written, then a "
            "check violation undoes them), call to answer", worst("seed.failed_batch"), " ms",
            lambda v: v < 1000, 0)
        row("004", "`classifyDatabaseError()` under 1 ms", "p99 of `classify()` of a failure "
            "envelope or a `CampaignDBError`", pct("seed.classify", 99), " ms",
            lambda v: v < 1, 4)
        row("004", "`performHealthCheck()` about 200 ms", "slowest `HealthMonitor.check()`",
            worst("seed.health"), " ms", lambda v: v <= 200)
        row("004", "scheduled health checks under 5 ms per minute", "`HealthMonitor.start("
            "interval_s=60)`: one check per minute, so the median time of one check per minute",
            pct("seed.health", 50), " ms", lambda v: v < 5, 2)

        def overhead(function: str) -> list[float]:
            """Per repeat: how much longer the client's p50 is than the floor's, in %."""
            client, floor = pct(f"fn.{function}.client", 50), pct(f"fn.{function}.pipe", 50)
            return [(c / f - 1) * 100 for c, f in zip(client, floor, strict=True)]

        row("004", "a single insert: ~50 ms plain, ~65 ms in their transaction wrapper "
            "(+30 %): their measurement, not a target",
            "`create_workspace` through `Client` against the same INSERT as raw SQL in one "
            "round trip, p50: extra time", overhead("create_workspace"), " %", None, 0)
        row("004", "a 5-step operation: ~250 ms plain, ~260 ms in a transaction (+4 %): their "
            "measurement", "`execute_campaign_atomically` (4 statements) through `Client` "
            "against the same statements as raw SQL in one round trip, p50: extra time",
            overhead("execute_campaign_atomically"), " %", None, 0)
        return [
            "## The seeds' expectations beside ours",
            "",
            "The timings the design documents expected (/work/shared/seeds/: 000 campaign "
            "execution, 002 transaction management, 003 the stored functions, 004 the "
            "resilience layer; 001 names none), each beside the figure of this run that "
            "answers it. A limit is judged on the median over the repeats of the figure "
            "named (the slowest call, or a percentile); \"repeats meeting it\" counts each "
            "repeat. The two rows from 004 marked \"their measurement\" are figures the "
            "seed reports from its own system (another stack, another machine), shown for "
            "scale only.",
            "",
            table.markdown(),
        ]

    def measured(self) -> list[str]:
        s = self.sizes
        return [
            f"- **the seeds' extras**: {s.failed_batches} failing `insert_businesses_batch` "
            f"call(s) per repeat of {s.failed_rows:,} businesses through `Client.call` (each into "
            "a new campaign; the row last in place_id order has rating 7.5 against the "
            "table's check of 0 to 5), timed to the envelope, then the campaign's rows counted "
            f"(must be 0); {s.health_checks} `HealthMonitor.check()` per repeat after 3 "
            f"untimed ones, on a client with a pool of 2; {s.classify_calls:,} `classify()` "
            "calls per repeat, alternating a failure envelope and a `CampaignDBError` from "
            "real calls on an unknown campaign (both must classify as P0002).",
        ]
