"""The KPI roll-up part of bench.py: a month of daily rows for 1,000 campaigns, loaded through
`upsert_daily_kpi_batch` against COPY, then aggregated by `aggregate_monthly_kpis` against the
same aggregation written as a plain `INSERT ... SELECT ... GROUP BY` in one transaction.

Each repeat (called from bench.py at the end of the repeat):

- 1,000 new campaigns (one INSERT, not timed) and their daily rows for 30 days of the month
  on 2 platforms (60,000 rows, as an ads collector reports them, a few days with no
  impressions or no clicks so that every ratio meets a zero);
- the rows loaded three ways into an emptied daily_kpi_data, the order rotating from repeat
  to repeat: COPY in one transaction on a bare connection (the floor);
  `Client.upsert_daily_kpi_batch` in batches of the function's limit (10,000 rows); and the
  function's two writes as plain SQL (the upsert from one JSON parameter, the collection_log
  row) in a transaction per batch, without its validation; after each load the table is
  checked against the rows sent (per campaign: the sums of every measure, the days and the
  row count);
- the month rolled up two ways, alternating: `Client.aggregate_monthly_kpis(month)` and the
  floor, `DELETE` of the month's summaries then `INSERT INTO campaign_summaries ... SELECT
  ... GROUP BY campaign_id` in one transaction on a bare connection.  After every run the
  month's summaries are read back: their totals must equal the sums of the rows sent
  (computed in Python, exactly), and the function's summaries must equal the floor's, every
  column (totals, ratios, days reported).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

import psycopg
from bench_leadgen import NOTICE, OTHER, STATEMENT_MIN_MS, statement_label
from bench_report import Run, Spread, Table, paired_ratio
from psycopg.types.json import Jsonb

from campaigndb import CampaignDBError, Client
from campaigndb.pool import json_dumps

MONTH = date(2026, 10, 1)
PLATFORMS = ("google_ads", "facebook_ads")
SOURCE = "bench"


@dataclass(frozen=True)
class KpiSizes:
    campaigns: int
    days: int  # days of the month with rows (x the platforms)
    batch: int  # rows per upsert_daily_kpi_batch call (the function's limit)
    aggregate_runs: int  # runs per repeat of each way of the roll-up


KPI_FULL = KpiSizes(campaigns=1000, days=30, batch=10_000, aggregate_runs=3)
KPI_QUICK = KpiSizes(campaigns=1000, days=30, batch=10_000, aggregate_runs=2)

# -- SQL --------------------------------------------------------------------------------------
SUMMARY_COLUMNS = ("campaign_id, period_type, period_start, impressions, clicks, spend,"
                   " conversions, revenue, ctr, cpc, conversion_rate, roas, days_reported")
COMPARED = ("impressions", "clicks", "spend", "conversions", "revenue", "ctr", "cpc",
            "conversion_rate", "roas", "days_reported")


def aggregation(where: str = "") -> str:
    """The month's summary rows, in campaign_summaries' columns; `where` narrows the rows
    (an `AND ...` on `d`).  Parameters: %(month)s, and whatever `where` names.  The ratios
    are defined as the function documents them: NULL against a zero, rounded to 6
    decimals (the same summaries, or the two could not be compared)."""
    return (
        "SELECT d.campaign_id, 'month', %(month)s::date, sum(d.impressions), sum(d.clicks),"
        " sum(d.spend), sum(d.conversions), sum(d.revenue),"
        " round(sum(d.clicks)::numeric / NULLIF(sum(d.impressions), 0), 6),"
        " round(sum(d.spend) / NULLIF(sum(d.clicks), 0), 6),"
        " round(sum(d.conversions)::numeric / NULLIF(sum(d.clicks), 0), 6),"
        " round(sum(d.revenue) / NULLIF(sum(d.spend), 0), 6),"
        " count(DISTINCT d.kpi_date)"
        " FROM campaigndb.daily_kpi_data AS d"
        " WHERE d.kpi_date >= %(month)s::date"
        " AND d.kpi_date < %(month)s::date + interval '1 month'"
        f"{where} GROUP BY d.campaign_id"
    )


def summary_insert(where: str = "") -> str:
    """The floor: the aggregation as one plain INSERT ... SELECT ... GROUP BY."""
    return f"INSERT INTO campaigndb.campaign_summaries ({SUMMARY_COLUMNS}) {aggregation(where)}"


def summary_differences(where: str = "") -> str:
    """How many of the month's stored summaries (narrowed like the aggregation: `where` on
    `d`, the same condition on `s`) differ from a fresh aggregation, in any column."""
    stored = where.replace("d.", "s.")
    return (
        f"SELECT count(*) FROM (SELECT {SUMMARY_COLUMNS} FROM campaigndb.campaign_summaries AS s"
        " WHERE s.period_type = 'month' AND s.period_start = %(month)s::date"
        f"{stored}) AS s FULL JOIN ({aggregation(where)}) AS f ({SUMMARY_COLUMNS})"
        " USING (campaign_id) WHERE (" + ", ".join(f"s.{c}" for c in COMPARED)
        + ") IS DISTINCT FROM (" + ", ".join(f"f.{c}" for c in COMPARED) + ")"
    )


# the function's writes as plain SQL: the upsert (without its validation) and the log row
UPSERT_KPI = (
    "INSERT INTO campaigndb.daily_kpi_data AS d (campaign_id, kpi_date, platform, impressions,"
    " clicks, spend, conversions, revenue, source)"
    " SELECT r.campaign_id, r.kpi_date, r.platform, r.impressions, r.clicks, r.spend,"
    " r.conversions, r.revenue, %s"
    " FROM jsonb_to_recordset(%s::jsonb) AS r(campaign_id uuid, kpi_date date, platform text,"
    " impressions bigint, clicks bigint, spend numeric, conversions bigint, revenue numeric)"
    " ON CONFLICT (campaign_id, kpi_date, platform) DO UPDATE SET"
    " impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, spend = EXCLUDED.spend,"
    " conversions = EXCLUDED.conversions, revenue = EXCLUDED.revenue, source = EXCLUDED.source,"
    " updated_at = now() WHERE (EXCLUDED.impressions, EXCLUDED.clicks, EXCLUDED.spend,"
    " EXCLUDED.conversions, EXCLUDED.revenue) IS DISTINCT FROM (d.impressions, d.clicks,"
    " d.spend, d.conversions, d.revenue)"
)
LOG_COLLECTION = (
    "INSERT INTO campaigndb.collection_log (job, period, status, rows_affected, finished_at)"
    " VALUES (%s, %s, 'succeeded', %s, now())"
)
PROFILE_CALL = (
    "SELECT public.upsert_daily_kpi_batch((SELECT doc FROM bench_kpi_input), %s,"
    " 'bench-profile-' || gen_random_uuid())"
)
WHOLE = "the whole call (auto_explain on)"

DELETE_MONTH = (
    "DELETE FROM campaigndb.campaign_summaries WHERE period_type = 'month'"
    " AND period_start = %(month)s::date"
)
SNAPSHOT = (
    "SELECT campaign_id, " + ", ".join(COMPARED) + " FROM campaigndb.campaign_summaries"
    " WHERE period_type = 'month' AND period_start = %s ORDER BY campaign_id"
)
TABLE_TOTALS = (
    "SELECT campaign_id, sum(impressions), sum(clicks), sum(spend), sum(conversions),"
    " sum(revenue), count(DISTINCT kpi_date), count(*) FROM campaigndb.daily_kpi_data"
    " WHERE campaign_id = ANY(%s) GROUP BY campaign_id"
)
COPY_ROWS = (
    "COPY campaigndb.daily_kpi_data (campaign_id, kpi_date, platform, impressions, clicks,"
    " spend, conversions, revenue, source) FROM STDIN"
)
CAMPAIGNS_FOR = (
    "INSERT INTO campaigndb.campaigns (workspace_id, name)"
    " SELECT %s, %s || g FROM generate_series(1, %s) AS g RETURNING id"
)
KPI_FUNCTIONS_PRESENT = (
    "SELECT to_regprocedure('public.aggregate_monthly_kpis(date, uuid, text)') IS NOT NULL"
    " AND to_regprocedure('public.upsert_daily_kpi_batch(jsonb, text, text)') IS NOT NULL"
)

FIELDS = ("campaign_id", "kpi_date", "platform", "impressions", "clicks", "spend", "conversions",
          "revenue")


def kpi_rows(rng: random.Random, campaign_id: Any, month: date,
             days: int) -> list[dict[str, Any]]:
    """One campaign's daily rows for `days` days of `month` on each platform, as an ads
    collector reports them: about 3 % of the days without impressions, 5 % without clicks
    (so every ratio meets a zero), money with four decimals."""
    rows = []
    for day in range(days):
        for platform in PLATFORMS:
            impressions = 0 if rng.random() < 0.03 else rng.randint(100, 50_000)
            clicks = (0 if impressions == 0 or rng.random() < 0.05
                      else rng.randint(1, max(1, impressions // 20)))
            spend = Decimal(rng.randint(1, 50_000_000)).scaleb(-4) if clicks else Decimal(0)
            conversions = rng.randint(0, clicks // 5) if clicks else 0
            revenue = (Decimal(rng.randint(1, 90_000_000)).scaleb(-4) if conversions
                       else Decimal(0))
            rows.append({"campaign_id": str(campaign_id),
                         "kpi_date": (month + timedelta(days=day)).isoformat(),
                         "platform": platform, "impressions": impressions, "clicks": clicks,
                         "spend": str(spend), "conversions": conversions,
                         "revenue": str(revenue)})
    return rows


Totals = tuple[int, int, Decimal, int, Decimal, int, int]  # sums, days, rows


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Totals]:
    """Per campaign: the sums of every measure, the days with rows and the row count."""
    acc: dict[str, list[Any]] = {}
    days: dict[str, set[str]] = {}
    for row in rows:
        t = acc.setdefault(row["campaign_id"], [0, 0, Decimal(0), 0, Decimal(0), 0, 0])
        t[0] += row["impressions"]
        t[1] += row["clicks"]
        t[2] += Decimal(row["spend"])
        t[3] += row["conversions"]
        t[4] += Decimal(row["revenue"])
        t[6] += 1
        days.setdefault(row["campaign_id"], set()).add(row["kpi_date"])
    return {c: (t[0], t[1], t[2], t[3], t[4], len(days[c]), t[6]) for c, t in acc.items()}


def table_problems(admin: psycopg.Connection[Any], expected: dict[str, Totals]) -> str:
    """daily_kpi_data against the rows sent, per campaign ("" when exact)."""
    got = {str(row[0]): tuple(row[1:]) for row in admin.execute(
        TABLE_TOTALS, (list(expected),)).fetchall()}
    wrong = [c for c, t in expected.items() if got.get(c) != t]
    return "" if not wrong else (f"{len(wrong)} of {len(expected)} campaigns differ from the "
                                 f"rows sent (first {wrong[0][:8]}: {got.get(wrong[0])} vs "
                                 f"{expected[wrong[0]]})")


def summary_problems(snapshot: Sequence[tuple[Any, ...]], expected: dict[str, Totals]) -> str:
    """The month's summaries against the sums of the rows sent ("" when exact)."""
    got = {str(row[0]): row for row in snapshot}
    wrong = [c for c, t in expected.items()
             if c not in got or (got[c][1], got[c][2], got[c][3], got[c][4], got[c][5],
                                 got[c][10]) != (t[0], t[1], t[2], t[3], t[4], t[5])]
    extra = len(set(got) - set(expected))
    if not wrong and not extra:
        return ""
    return f"{len(wrong)} summaries differ from the rows' sums, {extra} unexpected"


class Host(Protocol):
    """What bench.py's Bench lends this part."""

    dsn: str
    admin: psycopg.Connection[Any]
    setup: Client
    results: dict[str, list[Run]]


class KpiBench:
    def __init__(self, host: Host, sizes: KpiSizes) -> None:
        self.host = host
        self.sizes = sizes
        self.available = True
        self.rows_per_load = sizes.campaigns * sizes.days * len(PLATFORMS)
        self.profiled = True  # False once auto_explain could not be loaded
        # per roll-up run: "" when the function's summaries equal the floor's, else how not
        self.same: list[str] = []
        # statements inside one upsert_daily_kpi_batch call: label -> one total per repeat
        self.statements: dict[str, list[float]] = {}

    def record(self, key: str, run: Run) -> None:
        self.host.results[key].append(run)
        mark = "" if run.check in (None, "") else f"  CHECK FAILED: {run.check}"
        print(f"  {key:<28} {run.committed:>7,} rows {run.wall * 1000:9.1f} ms "
              f"{run.tps:10,.0f} rows/s{mark}", flush=True)

    @contextmanager
    def client(self) -> Iterator[Client]:
        client = Client(self.host.dsn, pool_min_size=1, pool_max_size=1,
                        application_name="campaigndb-bench-kpi")
        try:
            client.pool.wait(timeout=60)
            yield client
        finally:
            client.close()

    # -- one repeat --------------------------------------------------------------------------
    def repeat(self, r: int) -> None:
        row = self.host.admin.execute(KPI_FUNCTIONS_PRESENT).fetchone()
        self.available = bool(row and row[0])
        if not self.available:
            print("  kpi: upsert_daily_kpi_batch / aggregate_monthly_kpis not deployed: skipped",
                  flush=True)
            return
        s = self.sizes
        seed = r + 1
        workspace = self.host.setup.create_workspace(f"bench kpi r{r}").workspace_id
        campaigns = [row[0] for row in self.host.admin.execute(
            CAMPAIGNS_FOR, (workspace, "kpi ", s.campaigns)).fetchall()]
        rng = random.Random(seed * 53)
        rows = [row for c in campaigns for row in kpi_rows(rng, c, MONTH, s.days)]
        expected = totals(rows)
        with self.client() as client, psycopg.connect(
                self.host.dsn, application_name="campaigndb-bench-kpi") as conn:
            loads: list[Callable[[], None]] = [
                lambda: self.load_copy(conn, rows, expected),
                lambda: self.load_raw(conn, rows, expected),
                lambda: self.load_client(client, rows, expected),
            ]
            turn = r % len(loads)  # rotate the order from repeat to repeat
            for load in loads[turn:] + loads[:turn]:
                self.host.admin.execute("TRUNCATE campaigndb.daily_kpi_data")
                load()
            for k in range(s.aggregate_runs):
                snapshots: dict[str, list[tuple[Any, ...]]] = {}
                for way in ("floor", "client") if (r + k) % 2 else ("client", "floor"):
                    snapshots[way] = (self.aggregate_floor(conn, expected) if way == "floor"
                                      else self.aggregate_client(client, expected))
                differ = sum(1 for a, b in zip(snapshots["client"], snapshots["floor"],
                                               strict=False) if a != b)
                same = ("" if snapshots["client"] == snapshots["floor"] else
                        f"the function's {len(snapshots['client'])} summaries against the "
                        f"floor's {len(snapshots['floor'])}: {differ} rows differ")
                self.same.append(same)
                if same:
                    print(f"  kpi.same CHECK FAILED: {same}", flush=True)
        self.profile(rows[:s.batch])

    def profile(self, rows: Sequence[dict[str, Any]]) -> None:
        """Where one call's time goes: the function alone, its input already on the server
        (a temp table, stored uncompressed), into an emptied table, once as it is and once
        with auto_explain timing the statements inside it (at least STATEMENT_MIN_MS)."""
        with psycopg.connect(self.host.dsn, autocommit=True,
                             application_name="campaigndb-bench-kpi") as conn:
            notices: list[str] = []
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            try:
                conn.execute("LOAD 'auto_explain'")
                conn.execute("SET auto_explain.log_nested_statements = on")
            except psycopg.Error:
                self.profiled = False
                return
            conn.execute("CREATE TEMP TABLE bench_kpi_input (doc jsonb)")
            conn.execute("ALTER TABLE bench_kpi_input ALTER doc SET STORAGE EXTERNAL")
            conn.execute("INSERT INTO bench_kpi_input VALUES (%s)",
                         (Jsonb(list(rows), dumps=json_dumps),))
            for profile in (False, True):
                self.host.admin.execute("TRUNCATE campaigndb.daily_kpi_data")
                conn.execute("SET auto_explain.log_min_duration = "
                             f"{STATEMENT_MIN_MS if profile else -1}")
                conn.execute(f"SET client_min_messages = {'log' if profile else 'notice'}")
                notices.clear()
                started = time.perf_counter()
                row = conn.execute(PROFILE_CALL, (SOURCE,)).fetchone()
                elapsed = time.perf_counter() - started
                conn.execute("SET client_min_messages = notice")
                answer = row[0] if row else None
                ok = isinstance(answer, dict) and answer.get("upserted") == len(rows)
                if not profile:
                    self.host.results["kpi.part.server"].append(
                        Run([elapsed], elapsed, len(rows), check="" if ok else f"{answer}"))
                    continue
                parts: dict[str, float] = {}
                whole = 0.0
                for message in notices:
                    match = NOTICE.search(message)
                    if not match:
                        continue
                    seconds = float(match.group(1)) / 1000
                    if match.group(2).lstrip().startswith("SELECT public."):
                        whole = seconds
                    else:
                        label = statement_label(match.group(2))
                        parts[label] = parts.get(label, 0.0) + seconds
                if whole:
                    parts[OTHER] = whole - sum(parts.values())
                    parts[WHOLE] = whole
                for label, seconds in parts.items():
                    self.statements.setdefault(label, []).append(seconds)

    def load_copy(self, conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]],
                  expected: dict[str, Totals]) -> None:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(COPY_ROWS) as copy:
            for row in rows:
                copy.write_row((*[row[f] for f in FIELDS], SOURCE))
        conn.commit()
        elapsed = time.perf_counter() - started
        self.record("kpi.load.copy", Run([elapsed], elapsed, len(rows),
                                         check=table_problems(self.host.admin, expected)))

    def load_raw(self, conn: psycopg.Connection[Any], rows: Sequence[dict[str, Any]],
                 expected: dict[str, Totals]) -> None:
        """The function's two writes as plain SQL, a transaction per batch like its calls."""
        batch = self.sizes.batch
        started = time.perf_counter()
        upserted = 0
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            upserted += conn.execute(UPSERT_KPI, (SOURCE, Jsonb(chunk, dumps=json_dumps))).rowcount
            conn.execute(LOG_COLLECTION, ("upsert_daily_kpi_batch", MONTH.isoformat()[:7],
                                          len(chunk)))
            conn.commit()
        elapsed = time.perf_counter() - started
        table = table_problems(self.host.admin, expected)
        problems = [f"upserted {upserted} of {len(rows)}"] if upserted != len(rows) else []
        self.record("kpi.load.raw", Run([elapsed], elapsed, len(rows),
                                        check="; ".join(problems + ([table] if table else []))))

    def load_client(self, client: Client, rows: Sequence[dict[str, Any]],
                    expected: dict[str, Totals]) -> None:
        batch = self.sizes.batch
        chunks = [rows[i:i + batch] for i in range(0, len(rows), batch)]
        upserted = 0
        problems: list[str] = []
        calls: list[float] = []
        started = time.perf_counter()
        for chunk in chunks:
            began = time.perf_counter()
            try:
                upserted += client.upsert_daily_kpi_batch(chunk, SOURCE).upserted
            except CampaignDBError as exc:
                problems.append(f"{exc.sqlstate}: {exc}")
            calls.append(time.perf_counter() - began)
        elapsed = time.perf_counter() - started
        if upserted != len(rows):
            problems.append(f"upserted {upserted} of {len(rows)}")
        table = table_problems(self.host.admin, expected)
        self.record("kpi.load.client", Run([elapsed], elapsed, len(rows),
                                           check="; ".join(problems + ([table] if table else []))))
        self.host.results["kpi.load.call"].append(Run(calls, sum(calls), len(calls)))

    def snapshot(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.host.admin.execute(SNAPSHOT, (MONTH,)).fetchall()]

    def aggregate_floor(self, conn: psycopg.Connection[Any],
                        expected: dict[str, Totals]) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        conn.execute(DELETE_MONTH, {"month": MONTH})
        written = conn.execute(summary_insert(), {"month": MONTH}).rowcount
        conn.commit()
        elapsed = time.perf_counter() - started
        snapshot = self.snapshot()
        problems = [f"{written} summaries written"] if written != len(expected) else []
        sums = summary_problems(snapshot, expected)
        self.record("kpi.agg.floor", Run([elapsed], elapsed, len(expected),
                                         check="; ".join(problems + ([sums] if sums else []))))
        return snapshot

    def aggregate_client(self, client: Client,
                         expected: dict[str, Totals]) -> list[tuple[Any, ...]]:
        problems: list[str] = []
        started = time.perf_counter()
        try:
            written = client.aggregate_monthly_kpis(MONTH).summaries_written
        except CampaignDBError as exc:
            written = -1
            problems.append(f"{exc.sqlstate}: {exc}")
        elapsed = time.perf_counter() - started
        snapshot = self.snapshot()
        if written != len(expected):
            problems.append(f"{written} summaries written")
        sums = summary_problems(snapshot, expected)
        self.record("kpi.agg.client", Run([elapsed], elapsed, len(expected),
                                          check="; ".join(problems + ([sums] if sums else []))))
        return snapshot

    # -- the report --------------------------------------------------------------------------
    def goal_rows(self) -> list[list[str]]:
        if not self.same:
            return []
        res = self.host.results
        sums = [run for key in ("kpi.agg.client", "kpi.agg.floor", "kpi.load.client",
                                "kpi.load.copy", "kpi.load.raw") for run in res.get(key, [])]
        bad = [same for same in self.same if same] + [run.check for run in sums if run.check]
        runs = len(self.same)
        return [["KPI roll-up: `aggregate_monthly_kpis` writes the same summaries as the plain "
                 "`INSERT … SELECT … GROUP BY` (every column), both equal the sums of the rows "
                 "sent, and every load stored exactly the rows sent",
                 f"{runs - sum(1 for x in self.same if x)}/{runs} roll-ups identical; "
                 f"{len(sums) - sum(1 for r in sums if r.check)}/{len(sums)} loads and "
                 "roll-ups exact",
                 f"{runs - sum(1 for x in self.same if x)}/{runs}",
                 "met" if not bad else "**not met**"]]

    def sections(self) -> list[str]:
        res = self.host.results
        s = self.sizes
        if not res.get("kpi.load.client"):
            return ["## KPI roll-up", "",
                    "Not measured: `upsert_daily_kpi_batch` and `aggregate_monthly_kpis` were "
                    "not deployed in the benchmark database."]

        def ms(key: str) -> list[float]:
            return [run.wall * 1000 for run in res.get(key, [])]

        def rps(key: str) -> list[float]:
            return [run.tps for run in res.get(key, [])]

        table = Table(["measurement", "rows × runs", "time ms", "rows/s", "time ÷ floor",
                       "rows/s ÷ floor", "floor", "check"])
        n = self.rows_per_load
        for key, label, floor, floor_name in (
            ("kpi.load.copy", f"COPY of {n:,} daily rows into daily_kpi_data, one transaction "
             "(floor)", None, "–"),
            ("kpi.load.client", f"`upsert_daily_kpi_batch`, the same {n:,} rows in "
             f"{-(-n // s.batch)} calls of {s.batch:,}", "kpi.load.copy", "COPY, same rows"),
            ("kpi.load.raw", f"raw SQL: the function's two writes (`INSERT … SELECT FROM "
             "jsonb_to_recordset … ON CONFLICT DO UPDATE`, the collection_log row) without its "
             f"validation, the same rows in {-(-n // s.batch)} transactions of {s.batch:,}",
             "kpi.load.copy", "COPY, same rows"),
            ("kpi.agg.floor", f"plain `DELETE` + `INSERT … SELECT … GROUP BY` of the month, one "
             f"transaction: {s.campaigns:,} summaries from {n:,} rows (floor)", None, "–"),
            ("kpi.agg.client", f"`aggregate_monthly_kpis(p_month => '{MONTH.isoformat()}')`: "
             f"{s.campaigns:,} summaries from {n:,} rows", "kpi.agg.floor",
             "plain INSERT … SELECT"),
        ):
            runs = res.get(key, [])
            if not runs:
                continue
            per = f"{runs[0].committed:,} × {len(runs)}"
            if floor is None:
                table.add(label, per, Spread.of(ms(key)).fmt(1), Spread.of(rps(key)).fmt(0),
                          "1 (floor)", "1 (floor)", floor_name, _check(runs))
            else:
                table.add(label, per, Spread.of(ms(key)).fmt(1), Spread.of(rps(key)).fmt(0),
                          paired_ratio(ms(key), ms(floor)).fmt(2, "×"),
                          paired_ratio(rps(key), rps(floor)).fmt(2, "×"), floor_name,
                          _check(runs))
        same = self.same
        bad = [x for x in same if x]
        parts = Table(["part of one `upsert_daily_kpi_batch` call of "
                       f"{s.batch:,} rows, into an empty table", "ms", "share of the call"])
        whole = self.statements.get(WHOLE, [])
        if whole:
            for label, values in sorted(self.statements.items(),
                                        key=lambda kv: (kv[0] == WHOLE, kv[0] == OTHER,
                                                        -Spread.of(kv[1]).median)):
                if len(values) != len(whole):  # not in every repeat: a one-off slow check
                    continue
                shares = [100 * v / w for v, w in zip(values, whole, strict=True)]
                name = (label if label in (WHOLE, OTHER)
                        else f"… the statement {label}")
                parts.add(name, Spread.of([v * 1000 for v in values]).fmt(1),
                          Spread.of(shares).fmt(0, " %"))
        plain = [run.wall * 1000 for run in res.get("kpi.part.server", [])]
        breakdown = [
            "",
            f"Where the time of one call goes: the function alone, its {s.batch:,}-row input "
            f"already on the server (without auto_explain: {Spread.of(plain).fmt(1)} ms), "
            f"then with auto_explain timing the statements inside it (those of at least "
            f"{STATEMENT_MIN_MS} ms).",
            "",
            parts.markdown(),
        ] if whole and plain else []
        return [
            "## KPI roll-up: a month of daily rows for "
            f"{s.campaigns:,} campaigns",
            "",
            f"{s.campaigns:,} campaigns × {s.days} days × {len(PLATFORMS)} platforms of daily "
            "rows, loaded and then rolled up into monthly summaries, each against its floor "
            "in the same repeat. The function's summaries equal the floor's in "
            f"{len(same) - len(bad)} of {len(same)} runs"
            + (f" (**first difference: {bad[0]}**)" if bad else "") + ".",
            "",
            table.markdown(),
            *breakdown,
        ]

    def measured(self) -> list[str]:
        s = self.sizes
        return [
            f"- **KPI roll-up**: {s.campaigns:,} new campaigns per repeat (one INSERT), "
            f"{s.days} days × {len(PLATFORMS)} platforms of rows each (impressions, clicks, "
            "spend and revenue with four decimals, conversions; about 3 % of the days without "
            "impressions and 5 % without clicks, so that every ratio meets a zero). Loads: into "
            "an emptied daily_kpi_data (TRUNCATE before each), the order rotating by repeat; "
            "COPY with `write_row` from the same dicts in one transaction on a bare connection; "
            f"the client in calls of {s.batch:,} rows (the function's limit), one after "
            "another; raw SQL on a bare connection, per batch of as many rows: the function's "
            "`INSERT INTO daily_kpi_data … SELECT … FROM jsonb_to_recordset(%s) ON CONFLICT (…) "
            "DO UPDATE … WHERE the figures differ` and an INSERT of the collection_log row, "
            "committed; after each load the table's per-campaign sums, days and row counts must "
            f"equal the rows sent. Roll-up: {s.aggregate_runs} run(s) per repeat of each way, "
            "alternating, each replacing the month's summaries; the floor is `DELETE FROM "
            "campaigndb.campaign_summaries WHERE period_type = 'month' AND period_start = "
            f"'{MONTH.isoformat()}'` then `INSERT INTO campaigndb.campaign_summaries (…) SELECT "
            "campaign_id, 'month', date, sum(impressions), sum(clicks), sum(spend), "
            "sum(conversions), sum(revenue), clicks ÷ impressions, spend ÷ clicks, conversions "
            "÷ clicks, revenue ÷ spend (each with NULLIF against a zero and rounded to 6 "
            "decimals, as the function defines them), count(DISTINCT "
            "kpi_date) FROM campaigndb.daily_kpi_data WHERE kpi_date in the month GROUP BY "
            "campaign_id`, committed, on a bare connection (without the function's "
            "collection_log row). After every run the month's summaries are read back and "
            "compared with the rows' sums (exact, in Python) and with the other way's.",
        ]

    def notes(self) -> list[str]:
        res = self.host.results
        if not res.get("kpi.load.client") or not res.get("kpi.agg.client"):
            return []

        def med(key: str) -> float:
            return Spread.of([run.wall * 1000 for run in res[key]]).median

        def ratio(a: str, b: str) -> float:
            return paired_ratio([run.wall for run in res[a]],
                                [run.wall for run in res[b]]).median

        calls = [x * 1000 for run in res.get("kpi.load.call", []) for x in run.latencies]
        return [
            f"- KPI roll-up: loading {self.rows_per_load:,} daily rows takes "
            f"{med('kpi.load.copy'):,.0f} ms by COPY and {med('kpi.load.client'):,.0f} ms through "
            f"`upsert_daily_kpi_batch` ({ratio('kpi.load.client', 'kpi.load.copy'):.2f}× COPY's "
            f"time; a call of {self.sizes.batch:,} rows takes "
            f"{Spread.of(calls).median if calls else float('nan'):,.0f} ms at the median); the "
            f"same writes as plain SQL without the function's checks take "
            f"{med('kpi.load.raw'):,.0f} ms ({ratio('kpi.load.raw', 'kpi.load.copy'):.2f}× "
            "COPY's)." + self.inside() + " "
            f"Rolling the month up into {self.sizes.campaigns:,} summaries takes "
            f"{med('kpi.agg.floor'):,.0f} ms as a plain INSERT … SELECT and "
            f"{med('kpi.agg.client'):,.0f} ms through `aggregate_monthly_kpis` "
            f"({ratio('kpi.agg.client', 'kpi.agg.floor'):.2f}× the floor's time).",
        ]


    def inside(self) -> str:
        """The biggest statements inside one call, from the profile (medians)."""
        whole = self.statements.get(WHOLE, [])
        if not whole:
            return ""
        biggest = sorted(((Spread.of(v).median * 1000, label)
                          for label, v in self.statements.items()
                          if label not in (WHOLE, OTHER) and len(v) == len(whole)),
                         reverse=True)[:2]
        def named(label: str) -> str:
            if "p.problem" in label:  # the function's validation query
                return label + ", the check of every element before anything is written,"
            return label

        return (f" Inside one call of {self.sizes.batch:,} rows (the function alone, "
                f"{Spread.of(whole).median * 1000:,.0f} ms with auto_explain): "
                + "; ".join(f"{named(label)} {value:,.0f} ms" for value, label in biggest)
                + ".")


def _check(runs: list[Run]) -> str:
    checked = [run for run in runs if run.check is not None]
    if not checked:
        return "–"
    bad = [run.check for run in checked if run.check]
    return f"pass ({len(checked)}/{len(checked)})" if not bad else f"**FAIL** ({bad[0]})"
