"""What `Client(record_metrics=True)` costs: `track_campaign_cost` from 10 threads on 10
campaigns, a new client per run, metrics off, on, on, off in every repeat (docs/benchmarks.md,
"Transaction metrics")."""

from __future__ import annotations

import math
import time

import harness as h

from sections.hot_row import cost_attempt

THREADS, PER_THREAD, WARMUP, GOAL = 10, 300, 2, 0.95
OFF, ON = "metrics_off.10x10", "metrics_on.10x10"
ROWS = "SELECT count(*) FROM campaigndb.transaction_metrics"
BY_CAMPAIGN = (
    "SELECT campaign_id::text, count(*) FILTER (WHERE operation_name = 'track_campaign_cost'),"
    " count(*) FROM campaigndb.transaction_metrics WHERE campaign_id = ANY(%s::uuid[])"
    " GROUP BY campaign_id"
)


def case(b: h.Bench, key: str, on: bool, seed: int) -> None:
    campaigns = b.campaigns(THREADS + 1, f"{key} s{seed}")
    warm, targets = campaigns[0], campaigns[1:]
    before = int(b.scalar(ROWS))
    with b.client(THREADS, record_metrics=on) as client:
        attempt = cost_attempt(client)
        b.measure_warm(THREADS, attempt, [warm], WARMUP)
        client.stats.reset()
        run, ledger = b.run(THREADS, targets, THREADS * PER_THREAD, attempt, seed=seed)
        run.retries = client.stats.total_retries()
        recorder = client.recorder
        run.extra["in_run"] = int(b.scalar(ROWS)) - before
        closing = time.perf_counter()
        client.close()  # the context manager closes it again: a no-op
        run.extra["close_s"] = time.perf_counter() - closing
    calls = {warm: THREADS * WARMUP, **dict(zip(targets, h.split(THREADS * PER_THREAD, THREADS),
                                                strict=True))}
    run.extra["calls"] = sum(calls.values())
    run.extra["added"] = added = int(b.scalar(ROWS)) - before
    problems = [b.check_campaigns(targets, ledger)]
    if added != (run.extra["calls"] if on else 0):
        problems.append(f"{added} transaction_metrics rows added for {run.extra['calls']:,.0f} "
                        "calls")
    rows = {c: (ours, total) for c, ours, total in b.admin.execute(
        BY_CAMPAIGN, (list(calls),)).fetchall()}
    problems += [f"campaign {c[:8]}: {rows.get(c, (0, 0))} rows for {n} calls"
                 for c, n in calls.items() if rows.get(c, (0, 0)) != ((n, n) if on else (0, 0))]
    if on and (recorder is None or recorder.dropped or recorder.failed_flushes):
        problems.append("the recorder is missing or dropped measurements")
    run.check = "; ".join(x for x in problems if x)[:300]
    b.record(key, run)


def measure(b: h.Bench, r: int) -> None:
    # off, on, on, off: each side gets the same positions within the repeat (the runs before
    # one leave dead rows, autovacuum and checkpoint work behind)
    for key, on in ((OFF, False), (ON, True), (ON, True), (OFF, False)):
        case(b, key, on, r + 1)


def on_off(res: h.Results) -> list[float]:
    """Per repeat: both metrics-on runs' throughput over both metrics-off runs'."""
    ons, offs = res.get(ON, []), res.get(OFF, [])
    out = []
    for i in range(0, min(len(ons), len(offs)) - 1, 2):
        off = offs[i].tps + offs[i + 1].tps
        out.append((ons[i].tps + ons[i + 1].tps) / off if off else math.inf)
    return out


SECTION = h.Section(
    name="metrics",
    title=f"Transaction-metrics recording ({THREADS} threads on {THREADS} campaigns, pool of "
          f"{THREADS})",
    about="`track_campaign_cost` through a new `Client` per run, metrics off, on, on, off in "
          "each repeat; on ÷ off is both on runs' throughput over both off runs' in the same "
          "repeat. Rows are counted from before the client opened to after its close.",
    measure=measure,
    tables=[h.Table([h.CALLS, h.TPS,
                   h.Col("on ÷ off", lambda c: "1 (reference)" if c.row.key == OFF
                       else h.Spread.of(on_off(c.res)).fmt(3, "×")),
                   h.P50,
                   h.P99, h.RETRIES, h.FAILED,
                   h.Col("transaction_metrics rows added / calls made", lambda c: (
                       f"{sum(r.extra['added'] for r in c.runs):,.0f} / "
                       f"{sum(r.extra['calls'] for r in c.runs):,.0f}")),
                   h.Col("of which in the table when the run ended", lambda c: (
                       f"{sum(r.extra['in_run'] for r in c.runs):,.0f}")),
                   h.Col("`Client.close()` s", h.spread(lambda r: r.extra["close_s"])),
                   h.Col("check (totals, one metric row per call)", lambda c: h.checks(c.runs))], [
        h.Row(OFF, "`record_metrics=False`"), h.Row(ON, "`record_metrics=True`")])],
    goals=[
        h.Goal(f"metrics on ≥ {GOAL:g} × metrics off (`track_campaign_cost` tx/s, {THREADS} "
             f"threads on {THREADS} campaigns, `record_metrics=True` ÷ `False`)", on_off,
             lambda v: v >= GOAL, digits=3),
        h.Goal("metrics on: one transaction_metrics row per call, on its campaign (after the "
             "client's close); metrics off: none",
             h.exact(ON, OFF),
             lambda v: v == 1, every=True, per=" runs exact"),
    ],
)
