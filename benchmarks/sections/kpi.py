"""The KPI roll-up: a month of daily rows for 1,000 campaigns loaded through
`upsert_daily_kpi_batch` against COPY, then rolled up by `aggregate_monthly_kpis` against the
same aggregation as a plain INSERT … SELECT … GROUP BY, whose summaries must be identical
(docs/benchmarks.md, "KPI roll-up")."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import harness as h
import psycopg
from fixtures import OTHER, WHOLE, kpi_rows, profile, stage
from psycopg.types.json import Jsonb

from campaigndb import CampaignDBError, Client, json_dumps

MONTH, CAMPAIGNS, DAYS, BATCH, AGGREGATE_RUNS = date(2026, 10, 1), 1000, 30, 10_000, (3, 2)
ROWS = CAMPAIGNS * DAYS * 2
COLUMNS = ("campaign_id, period_type, period_start, impressions, clicks, spend, conversions,"
           " revenue, ctr, cpc, conversion_rate, roas, days_reported")
COMPARED = ("impressions", "clicks", "spend", "conversions", "revenue", "ctr", "cpc",
            "conversion_rate", "roas", "days_reported")
FIELDS = ("campaign_id", "kpi_date", "platform", "impressions", "clicks", "spend", "conversions",
          "revenue")


def aggregation(where: str = "") -> str:
    """The month's summaries in campaign_summaries' columns, the ratios as the function defines
    them (NULL against a zero, 6 decimals); `where` narrows the rows (`AND …` on d)."""
    return (
        "SELECT d.campaign_id, 'month', %(month)s::date, sum(d.impressions), sum(d.clicks),"
        " sum(d.spend), sum(d.conversions), sum(d.revenue),"
        " round(sum(d.clicks)::numeric / NULLIF(sum(d.impressions), 0), 6),"
        " round(sum(d.spend) / NULLIF(sum(d.clicks), 0), 6),"
        " round(sum(d.conversions)::numeric / NULLIF(sum(d.clicks), 0), 6),"
        " round(sum(d.revenue) / NULLIF(sum(d.spend), 0), 6), count(DISTINCT d.kpi_date)"
        " FROM campaigndb.daily_kpi_data AS d WHERE d.kpi_date >= %(month)s::date"
        f" AND d.kpi_date < %(month)s::date + interval '1 month'{where} GROUP BY d.campaign_id"
    )


def summary_insert(where: str = "") -> str:
    """The floor: the aggregation as one plain INSERT … SELECT … GROUP BY."""
    return f"INSERT INTO campaigndb.campaign_summaries ({COLUMNS}) {aggregation(where)}"


def summary_differences(where: str = "") -> str:
    """How many stored summaries of the month (narrowed like the aggregation) differ from a
    fresh aggregation, in any column."""
    return (
        f"SELECT count(*) FROM (SELECT {COLUMNS} FROM campaigndb.campaign_summaries AS s"
        " WHERE s.period_type = 'month' AND s.period_start = %(month)s::date"
        f"{where.replace('d.', 's.')}) AS s FULL JOIN ({aggregation(where)}) AS f ({COLUMNS})"
        " USING (campaign_id) WHERE (" + ", ".join(f"s.{c}" for c in COMPARED)
        + ") IS DISTINCT FROM (" + ", ".join(f"f.{c}" for c in COMPARED) + ")"
    )


# the function's writes as plain SQL: the upsert (without its validation) and the log row
UPSERT = (
    "INSERT INTO campaigndb.daily_kpi_data AS d (campaign_id, kpi_date, platform, impressions,"
    " clicks, spend, conversions, revenue, source) SELECT r.campaign_id, r.kpi_date, r.platform,"
    " r.impressions, r.clicks, r.spend, r.conversions, r.revenue, %s FROM jsonb_to_recordset("
    "%s::jsonb) AS r(campaign_id uuid, kpi_date date, platform text, impressions bigint,"
    " clicks bigint, spend numeric, conversions bigint, revenue numeric)"
    " ON CONFLICT (campaign_id, kpi_date, platform) DO UPDATE SET"
    " impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, spend = EXCLUDED.spend,"
    " conversions = EXCLUDED.conversions, revenue = EXCLUDED.revenue, source = EXCLUDED.source,"
    " updated_at = now() WHERE (EXCLUDED.impressions, EXCLUDED.clicks, EXCLUDED.spend,"
    " EXCLUDED.conversions, EXCLUDED.revenue) IS DISTINCT FROM (d.impressions, d.clicks,"
    " d.spend, d.conversions, d.revenue)"
)
LOG = ("INSERT INTO campaigndb.collection_log (job, period, status, rows_affected, finished_at)"
       " VALUES (%s, %s, 'succeeded', %s, now())")
TOTALS = ("SELECT campaign_id::text, sum(impressions), sum(clicks), sum(spend),"
          " sum(conversions), sum(revenue), count(DISTINCT kpi_date), count(*)"
          " FROM campaigndb.daily_kpi_data WHERE campaign_id = ANY(%s) GROUP BY campaign_id")
SNAPSHOT = ("SELECT campaign_id::text, " + ", ".join(COMPARED) + " FROM "
            "campaigndb.campaign_summaries WHERE period_type = 'month' AND period_start = %s"
            " ORDER BY campaign_id")
Totals = tuple[Any, ...]


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Totals]:
    """Per campaign: the sums of every measure, the days with rows and the row count."""
    acc: dict[str, list[Any]] = {}
    days: dict[str, set[str]] = {}
    for row in rows:
        t = acc.setdefault(row["campaign_id"], [0, 0, Decimal(0), 0, Decimal(0), 0])
        for k, f in enumerate(("impressions", "clicks", "spend", "conversions", "revenue")):
            t[k] += Decimal(row[f]) if f in ("spend", "revenue") else row[f]
        t[5] += 1
        days.setdefault(row["campaign_id"], set()).add(row["kpi_date"])
    return {c: (*t[:5], len(days[c]), t[5]) for c, t in acc.items()}


def table_check(b: h.Bench, expected: dict[str, Totals]) -> str:
    got = {row[0]: tuple(row[1:]) for row in b.admin.execute(TOTALS, (list(expected),))}
    wrong = [c for c, t in expected.items() if got.get(c) != t]
    return f"{len(wrong)} of {len(expected)} campaigns differ from the rows sent" if wrong else ""


def summaries_check(snapshot: Sequence[tuple[Any, ...]], expected: dict[str, Totals]) -> str:
    got = {row[0]: (*row[1:6], row[10]) for row in snapshot}
    wrong = [c for c, t in expected.items() if got.get(c) != t[:6]]
    extra = len(set(got) - set(expected))
    return f"{len(wrong)} summaries differ from the rows' sums, {extra} unexpected" \
        if wrong or extra else ""


def load(b: h.Bench, key: str, write: Callable[[], str], expected: dict[str, Totals]) -> None:
    b.admin.execute("TRUNCATE campaigndb.daily_kpi_data")
    started = time.perf_counter()
    problem = write()
    elapsed = time.perf_counter() - started
    check = "; ".join(x for x in (problem, table_check(b, expected)) if x)
    b.record(key, h.Run([elapsed], elapsed, ROWS, check=check))


def measure(b: h.Bench, r: int) -> None:
    workspace = b.workspace(f"kpi r{r}")
    campaigns = b.bare_campaigns(workspace, CAMPAIGNS, "kpi")
    rng = random.Random((r + 1) * 53)
    rows = [row for c in campaigns for row in kpi_rows(rng, c, MONTH, DAYS)]
    chunks = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    expected = totals(rows)
    with b.client(1) as client, b.bare() as conn:
        def copy() -> str:
            with conn.cursor() as cur, cur.copy(
                    "COPY campaigndb.daily_kpi_data (" + ", ".join(FIELDS) + ", source)"
                    " FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*[row[f] for f in FIELDS], "bench"))
            conn.commit()
            return ""

        def raw() -> str:
            upserted = 0
            for chunk in chunks:
                upserted += conn.execute(UPSERT, ("bench", Jsonb(chunk, dumps=json_dumps)))\
                    .rowcount
                conn.execute(LOG, ("upsert_daily_kpi_batch", MONTH.isoformat()[:7], len(chunk)))
                conn.commit()
            return "" if upserted == ROWS else f"upserted {upserted}"

        def through_client() -> str:
            calls, upserted = [], 0
            for chunk in chunks:
                started = time.perf_counter()
                upserted += client.upsert_daily_kpi_batch(chunk, "bench").upserted
                calls.append(time.perf_counter() - started)
            b.res["kpi.load.call"].append(h.Run(calls, sum(calls), len(calls)))
            return "" if upserted == ROWS else f"upserted {upserted}"

        loads = [("kpi.load.copy", copy), ("kpi.load.raw", raw), ("kpi.load.client",
                                                                 through_client)]
        turn = r % len(loads)
        for key, write in loads[turn:] + loads[:turn]:
            load(b, key, write, expected)
        for k in range(b.n(AGGREGATE_RUNS)):
            snapshots = {}
            for way in ("floor", "client") if (r + k) % 2 else ("client", "floor"):
                snapshots[way] = aggregate(b, way, conn, client, expected)
            if snapshots["client"] != snapshots["floor"]:
                b.res["kpi.agg.client"][-1].check = "the function's summaries differ from the " \
                                                    "plain INSERT … SELECT's"
        where(b, chunks[0])


def aggregate(b: h.Bench, way: str, conn: psycopg.Connection[Any], client: Client,
              expected: dict[str, Totals]) -> list[tuple[Any, ...]]:
    started = time.perf_counter()
    try:
        if way == "floor":
            conn.execute("DELETE FROM campaigndb.campaign_summaries WHERE period_type = 'month'"
                         " AND period_start = %(month)s::date", {"month": MONTH})
            written = conn.execute(summary_insert(), {"month": MONTH}).rowcount
            conn.commit()
        else:
            written = client.aggregate_monthly_kpis(MONTH).summaries_written
    except CampaignDBError as exc:
        written = -1
        print(f"  kpi: {exc}")
    elapsed = time.perf_counter() - started
    snapshot = [tuple(row) for row in b.admin.execute(SNAPSHOT, (MONTH,)).fetchall()]
    check = "; ".join(x for x in (summaries_check(snapshot, expected), "" if written == len(
        expected) else f"{written} summaries written") if x)
    b.record(f"kpi.agg.{way}", h.Run([elapsed], elapsed, len(expected), check=check))
    return snapshot


def where(b: h.Bench, rows: list[dict[str, Any]]) -> None:
    """One call's time inside the server: the function alone, its input already there, into an
    emptied table; once as it is, once with auto_explain timing its statements."""
    call = ("SELECT public.upsert_daily_kpi_batch((SELECT doc FROM bench_input), 'bench',"
            " 'bench-profile-' || gen_random_uuid())")
    with b.bare(autocommit=True) as conn:
        stage(conn, rows)
        b.admin.execute("TRUNCATE campaigndb.daily_kpi_data")
        started = time.perf_counter()
        answer = conn.execute(call).fetchone()
        elapsed = time.perf_counter() - started
        ok = bool(answer and answer[0].get("upserted") == len(rows))
        b.res["kpi.part.server"].append(h.Run([elapsed], elapsed, len(rows),
                                            check="" if ok else f"{answer}"))
        b.admin.execute("TRUNCATE campaigndb.daily_kpi_data")
        for label, seconds in (profile(conn, call, ()) or {}).items():
            b.res[f"kpi.stmt.{label}"].append(h.Run([seconds], seconds, 1))


def parts(res: h.Results) -> list[h.Row]:
    whole = f"kpi.stmt.{WHOLE}"
    keys = [k for k in res if k.startswith("kpi.stmt.") and len(res[k]) == len(res.get(whole, []))]
    keys.sort(key=lambda k: (k == whole, k.endswith(OTHER), -res[k][0].wall))
    return [h.Row("kpi.part.server", "the function alone, without auto_explain")] + [
        h.Row(k, k[9:] if k in (whole, f"kpi.stmt.{OTHER}") else f"… the statement {k[9:]}",
            whole) for k in keys]


RUNS = h.Col("rows × runs", lambda c: f"{c.runs[0].committed:,} × {len(c.runs)}")
SECTION = h.Section(
    name="kpi",
    title=f"KPI roll-up: a month of daily rows for {CAMPAIGNS:,} campaigns",
    about=f"{CAMPAIGNS:,} campaigns × {DAYS} days × 2 platforms of daily rows loaded into an "
          "emptied table three ways (the order rotating by repeat), each checked against the "
          "rows sent, then rolled up into monthly summaries two ways, alternating; the "
          "function's summaries must equal the plain INSERT … SELECT's, column for column.",
    measure=measure,
    tables=[
        h.Table([RUNS, h.TIME, h.RPS, h.TIME_X, h.RPS_X, h.FLOOR, h.CHECK], [
            h.Row("kpi.load.copy", f"COPY of {ROWS:,} daily rows into daily_kpi_data, one "
                                 "transaction (floor)"),
            h.Row("kpi.load.client", f"`upsert_daily_kpi_batch`, the same rows in calls of "
                                   f"{BATCH:,}", "kpi.load.copy"),
            h.Row("kpi.load.raw", "raw SQL: the function's two writes (`INSERT … SELECT FROM "
                                "jsonb_to_recordset … ON CONFLICT DO UPDATE`, the collection_log "
                                f"row) without its validation, transactions of {BATCH:,}",
                "kpi.load.copy"),
            h.Row("kpi.agg.floor", f"plain `DELETE` + `INSERT … SELECT … GROUP BY` of the month: "
                                 f"{CAMPAIGNS:,} summaries (floor)"),
            h.Row("kpi.agg.client", f"`aggregate_monthly_kpis(p_month => '{MONTH}')`: "
                                  f"{CAMPAIGNS:,} summaries", "kpi.agg.floor"),
        ]),
        h.Table([h.Col("calls × repeats", lambda c: f"{len(c.runs[0].latencies)} × {len(c.runs)}"),
               h.Col("p50 ms", h.spread(lambda r: r.pct(50), 1))],
              [h.Row("kpi.load.call", f"one `upsert_daily_kpi_batch` call of {BATCH:,} rows")]),
        h.Table([h.Col("ms", h.spread(lambda r: r.ms, 1)),
                 h.Col("share of the call", h.SHARE.cell)],
              parts, f"Where the time of one call of {BATCH:,} rows goes"),
    ],
    goals=[h.Goal("KPI roll-up: `aggregate_monthly_kpis` writes the same summaries as the plain "
                "`INSERT … SELECT … GROUP BY` (every column), both equal the sums of the rows "
                "sent, and every load stored exactly the rows sent", h.exact(
                    "kpi.agg.client", "kpi.agg.floor", "kpi.load.client", "kpi.load.copy",
                    "kpi.load.raw"),
                lambda v: v == 1, every=True, per=" loads and roll-ups exact")],
)
