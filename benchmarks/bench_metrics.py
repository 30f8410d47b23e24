"""The transaction-metrics part of bench.py: what `Client(record_metrics=True)` costs.

With `record_metrics=True` the client appends one measurement per call to an in-memory buffer
and a background thread writes the buffer to campaigndb.transaction_metrics (one
`record_transaction_metrics` call per flush, on a connection of its own; see
campaigndb.recorder).  The goal (the issue): throughput with metrics on ≥ 0.95 × throughput
with metrics off.

Each repeat (called from bench.py, before the 10 × 10 case) runs the same workload four
times, metrics off, on, on, off (ABBA: drift between repeats cancels in the per-repeat ratio,
and each side gets the same positions within the repeat):
`track_campaign_cost` from 10 threads on 10 new campaigns, one per thread, through a new
`Client` with a pool of 10 (min = max), warmed, then released by a `threading.Barrier`; the
client is closed after the run (its recorder flushes what it still holds).  After every run
bench.py's lost/doubled check runs on the campaigns, and this part checks transaction_metrics:
exactly one new row per call the client made (warm-up calls included), on the campaign it was
made on, with metrics on; no new row with metrics off; nothing dropped by the recorder.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from bench_report import Run, Spread, Table

from campaigndb import Client

OPERATION = "track_campaign_cost"
GOAL = 0.95  # metrics on ≥ GOAL × metrics off (tx/s, same repeat)
OFF, ON = "metrics_off.10x10", "metrics_on.10x10"

ROWS = "SELECT count(*) FROM campaigndb.transaction_metrics"
ROWS_BY_CAMPAIGN = """
SELECT campaign_id::text, count(*) FILTER (WHERE operation_name = %s), count(*)
  FROM campaigndb.transaction_metrics
 WHERE campaign_id = ANY(%s::uuid[])
 GROUP BY campaign_id
"""

# as bench.py's: (target, amount, items_processed, metadata, rng) -> (committed?, retries)
Attempt = Callable[[Any, Decimal, int, dict[str, Any], random.Random], tuple[bool, int]]
Check = Callable[[dict[Any, list[Decimal]]], str]
Measure = Callable[[int, Sequence[Any], int, Attempt, Check | None, int], Run]


@dataclass(frozen=True)
class MetricsSizes:
    threads: int  # threads, one campaign each (pool = threads)
    calls_per_thread: int
    warmup: int  # untimed calls per thread before each timed run (on another campaign)


METRICS_FULL = MetricsSizes(threads=10, calls_per_thread=300, warmup=2)
METRICS_QUICK = MetricsSizes(threads=10, calls_per_thread=300, warmup=2)


@dataclass
class RowCheck:
    """transaction_metrics after one run: rows added against calls the client made."""

    calls: int  # calls the client made (warm-up and timed)
    rows: int  # rows transaction_metrics gained from before the client opened to after close
    flushed_in_run: int  # of those, rows already in the table when the timed run ended
    close_s: float  # Client.close(): the recorder's last flush and the pool's close
    problem: str  # "" when exact


class Host(Protocol):
    """What bench.py's Bench lends this part."""

    admin: psycopg.Connection[Any]
    results: dict[str, list[Run]]

    def campaigns(self, count: int, label: str) -> list[str]: ...

    def client(self, threads: int, **options: Any) -> AbstractContextManager[Client]: ...

    def check_campaigns(self, expected: dict[Any, list[Decimal]]) -> str: ...

    def record(self, key: str, run: Run) -> None: ...


class MetricsBench:
    def __init__(self, host: Host, sizes: MetricsSizes, measure: Measure,
                 client_attempt: Callable[[Client], Attempt]) -> None:
        self.host = host
        self.sizes = sizes
        self.measure = measure
        self.client_attempt = client_attempt
        self.rows: dict[str, list[RowCheck]] = {OFF: [], ON: []}

    def count(self) -> int:
        row = self.host.admin.execute(ROWS).fetchone()
        return int(row[0]) if row else 0

    # -- one repeat: off, on, on, off ------------------------------------------------------
    def repeat(self, r: int) -> None:
        # ABBA: a run's position matters on this machine (the runs before it leave dead rows,
        # autovacuum and checkpoint work behind), and "off then on" charged all of that to
        # metrics; off, on, on, off gives both sides the same positions within each repeat.
        seed = r + 1
        for key, on in ((OFF, False), (ON, True), (ON, True), (OFF, False)):
            self.case(key, on, seed)

    def case(self, key: str, on: bool, seed: int) -> None:
        s = self.sizes
        campaigns = self.host.campaigns(s.threads + 1, f"{key} s{seed}")
        warm, targets = campaigns[0], campaigns[1:]
        before = self.count()
        with self.host.client(s.threads, record_metrics=on) as client:
            attempt = self.client_attempt(client)
            self.measure(s.threads, [warm], s.threads * s.warmup, attempt, None, 0)
            client.stats.reset()
            run = self.measure(s.threads, targets, s.threads * s.calls_per_thread, attempt,
                               self.host.check_campaigns, seed)
            run.retries = client.stats.total_retries()
            recorder = client.recorder
            flushed = self.count() - before
            closing = time.perf_counter()
            client.close()  # the context manager closes it again: a no-op for a closed pool
            close_s = time.perf_counter() - closing
        self.host.record(key, run)
        calls = {warm: s.threads * s.warmup}
        for target, count in zip(targets, split(s.threads * s.calls_per_thread, s.threads),
                                 strict=True):
            calls[target] = count
        check = self.check(on, calls, before, recorder, flushed, close_s)
        self.rows[key].append(check)
        print(f"  {'':<20} transaction_metrics +{check.rows:,} rows for {check.calls:,} calls "
              f"({check.flushed_in_run:,} in the table when the run ended, "
              f"close {check.close_s:.2f}s)"
              f"{'  CHECK FAILED: ' + check.problem if check.problem else ''}", flush=True)

    def check(self, on: bool, calls: dict[str, int], before: int, recorder: Any,
              flushed: int, close_s: float) -> RowCheck:
        made = sum(calls.values())
        added = self.count() - before
        problems = []
        expected = made if on else 0
        if added != expected:
            problems.append(f"{added} rows added, {expected} expected")
        rows = {campaign: (ours, total) for campaign, ours, total in self.host.admin.execute(
            ROWS_BY_CAMPAIGN, (OPERATION, list(calls))).fetchall()}
        for campaign, count in calls.items():
            ours, total = rows.get(campaign, (0, 0))
            want = count if on else 0
            if ours != want or total != want:
                problems.append(f"campaign {campaign[:8]}: {ours} {OPERATION} rows "
                                f"({total} in all) for {count} calls")
        if recorder is not None and (recorder.dropped or recorder.failed_flushes):
            problems.append(f"recorder dropped {recorder.dropped} in "
                            f"{recorder.failed_flushes} failed flushes")
        if on and recorder is None:
            problems.append("record_metrics=True gave a client without a recorder")
        return RowCheck(made, added, flushed, close_s, "; ".join(problems[:5]))

    def failed(self) -> bool:
        return any(check.problem for checks in self.rows.values() for check in checks)

    # -- the report ----------------------------------------------------------------------------
    def ratios(self) -> list[float]:
        res = self.host.results
        # per repeat: both metrics-on runs' throughput over both metrics-off runs'
        ons, offs = res[ON], res[OFF]
        ratios = []
        for i in range(0, min(len(ons), len(offs)) - 1, 2):
            off_tps = offs[i].tps + offs[i + 1].tps
            ratios.append((ons[i].tps + ons[i + 1].tps) / off_tps if off_tps else math.inf)
        return ratios

    def goal_rows(self) -> list[list[str]]:
        ratios = self.ratios()
        spread = Spread.of(ratios)
        hits = sum(1 for v in ratios if v >= GOAL)
        checks = self.rows[ON] + self.rows[OFF]
        exact = sum(1 for check in checks if not check.problem)
        return [
            [f"metrics on ≥ {GOAL:g} × metrics off (`track_campaign_cost` tx/s, "
             f"{self.shape()}, `record_metrics=True` ÷ `False`)", spread.fmt(3, "×"),
             f"{hits}/{len(ratios)}", "met" if spread.median >= GOAL else "**not met**"],
            ["metrics on: one transaction_metrics row per call, on its campaign (after the "
             "client's close); metrics off: none",
             f"{exact}/{len(checks)} runs exact", f"{exact}/{len(checks)}",
             "met" if exact == len(checks) else "**not met**"],
        ]

    def shape(self) -> str:
        s = self.sizes
        return f"{s.threads} threads on {s.threads} campaigns, pool of {s.threads}"

    def sections(self) -> list[str]:
        res = self.host.results
        table = Table(["measurement", "calls × repeats", "tx/s", "on ÷ off", "p50 ms per call",
                       "p99 ms per call", "retries per committed call", "failed calls",
                       "lost/doubled check", "transaction_metrics rows added (all repeats)",
                       "of which in the table when the run ended", "`Client.close()` s"])
        for key, label in ((OFF, "`record_metrics=False`"), (ON, "`record_metrics=True`")):
            runs = res[key]
            checks = self.rows[key]
            committed = sum(run.committed for run in runs)
            retries = sum(run.retries for run in runs)
            made = sum(check.calls for check in checks)
            added = sum(check.rows for check in checks)
            bad = [check.problem for check in checks if check.problem]
            table.add(
                label, f"{runs[0].committed + runs[0].failed:,} × {len(runs)}",
                Spread.of([run.tps for run in runs]).fmt(0),
                "1 (reference)" if key == OFF else Spread.of(self.ratios()).fmt(3, "×"),
                Spread.of([run.pct(50) for run in runs]).fmt(2),
                Spread.of([run.pct(99) for run in runs]).fmt(2),
                f"{retries / committed:.3f} ({retries:,} total)" if committed else "–",
                sum(run.failed for run in runs), checks_cell(runs),
                f"{added:,} for {made:,} calls: "
                + (f"**FAIL** ({bad[0]})" if bad else f"exact ({len(checks)}/{len(checks)})"),
                f"{sum(check.flushed_in_run for check in checks):,}",
                Spread.of([check.close_s for check in checks]).fmt(2))
        per_repeat = ", ".join(f"{v:.3f}" for v in self.ratios())
        return [
            f"## Transaction-metrics recording ({self.shape()})",
            "",
            f"`track_campaign_cost` through a new `Client` per run, metrics off, on, on, off in "
            f"each repeat; on ÷ off is the two on runs' throughput over the two off runs', "
            f"within each repeat (per repeat: {per_repeat}). "
            "Rows added are counted from before the client opened to after its close, warm-up "
            "calls included.",
            "",
            table.markdown(),
        ]

    def measured(self) -> list[str]:
        s = self.sizes
        return [
            f"- **transaction-metrics recording**: `track_campaign_cost` from {s.threads} "
            f"threads, {s.calls_per_thread} calls each, thread t on campaign t of {s.threads} "
            f"new ones, released by a `threading.Barrier`; four runs in every repeat, each "
            f"through a new client: `Client(dsn, record_metrics=False)`, `True`, `True`, "
            f"`False` (same call plan, same seed), each with a pool of {s.threads} (min = max), "
            f"opened and warmed ({s.warmup} untimed calls per thread on another campaign), and "
            "closed after its run (the recorder's last flush: not in the timed run). Throughput "
            "is committed calls ÷ wall time from the release to the last thread's end; the goal "
            "is judged on the median of the per-repeat ratios (both on runs' tx/s ÷ both off "
            "runs'). After each run: "
            "bench.py's lost/doubled check on the 10 campaigns, and `count(*)` of "
            "campaigndb.transaction_metrics before the client opened and after it closed, which "
            "must differ by the calls it made (metrics on) or by nothing (metrics off), with "
            f"each campaign holding one `{OPERATION}` row per call made on it and the recorder "
            "reporting nothing dropped.",
        ]

    def notes(self) -> list[str]:
        res = self.host.results
        ratios = self.ratios()
        if not ratios:
            return []
        off = Spread.of([run.tps for run in res[OFF]]).median
        on = Spread.of([run.tps for run in res[ON]]).median
        median = Spread.of(ratios).median
        in_run = sum(check.flushed_in_run for check in self.rows[ON])
        made = sum(check.calls for check in self.rows[ON])
        offs = [run.tps for run in res[OFF]]
        off_range = (max(offs) - min(offs)) / off if off else math.nan
        return [
            f"- Transaction metrics: {self.shape()} reach {off:,.0f} tx/s with "
            f"`record_metrics=False` and {on:,.0f} tx/s with `record_metrics=True`; the "
            f"per-repeat ratio on ÷ off has median {median:.3f} (goal ≥ {GOAL:g}; "
            f"{sum(1 for v in ratios if v >= GOAL)} of {len(ratios)} repeats at or above it). "
            f"{in_run:,} of the {made:,} rows were in the table when the runs ended (the "
            "recorder writes in the background while calls run), the rest were written when "
            "the client closed. Each run lasts a few seconds on a machine whose "
            f"{os.cpu_count()} cores client and server share: the metrics-off runs alone "
            f"differ by {off_range:.0%} of their median from the slowest to the fastest "
            f"repeat, against the {1 - GOAL:.0%} the goal allows, so one repeat's ratio says "
            "little; the goal is judged on the median over the repeats.",
        ]


def split(total: int, parts: int) -> list[int]:
    """As bench.py's: how `measure` spreads `total` calls over `parts` threads."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def checks_cell(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"
