"""Reporting through the client, plain SQL and the CLI: upsert_daily_kpi_batch and
aggregate_monthly_kpis, including failures injected part-way (no split data)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from campaigndb import Client, InvalidInput, KpiRow, NotFound
from campaigndb_dev.cli import app

OCTOBER = date(2026, 10, 1)

SUMMARY = """
SELECT campaign_id::text, impressions, clicks, spend, conversions, revenue, ctr, cpc,
       conversion_rate, roas, days_reported
  FROM campaigndb.campaign_summaries
 WHERE period_type = 'month' AND period_start = %s AND campaign_id = ANY(%s::uuid[])
 ORDER BY campaign_id
"""
FLOOR = """
SELECT campaign_id::text, sum(impressions)::bigint, sum(clicks)::bigint, sum(spend),
       sum(conversions)::bigint, sum(revenue),
       round(sum(clicks)::numeric / NULLIF(sum(impressions), 0), 6),
       round(sum(spend) / NULLIF(sum(clicks), 0), 6),
       round(sum(conversions)::numeric / NULLIF(sum(clicks), 0), 6),
       round(sum(revenue) / NULLIF(sum(spend), 0), 6),
       count(DISTINCT kpi_date)::integer
  FROM campaigndb.daily_kpi_data
 WHERE kpi_date >= %s AND kpi_date < %s::date + interval '1 month'
   AND campaign_id = ANY(%s::uuid[])
 GROUP BY campaign_id ORDER BY campaign_id
"""
LOG_ROWS = "SELECT count(*) FROM campaigndb.collection_log"


def month_rows(campaign: uuid.UUID, month: date = OCTOBER, days: int = 31,
               platforms: tuple[str, ...] = ("facebook", "google"), scale: int = 1
               ) -> list[dict[str, Any]]:
    rows = []
    for day in range(days):
        for p, platform in enumerate(platforms):
            rows.append({"campaign_id": str(campaign),
                         "kpi_date": (month + timedelta(days=day)).isoformat(),
                         "platform": platform, "impressions": (1000 + day) * scale,
                         "clicks": (10 + p + day % 7) * scale,
                         "spend": str(Decimal("2.5") * (day + 1) * scale),
                         "conversions": (day % 3) * scale,
                         "revenue": str(Decimal("7.25") * (day % 5) * scale)})
    return rows


def count(raw: psycopg.Connection[Any], query: str, *args: Any) -> int:
    row = raw.execute(query, args or None).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture()
def campaigns(client: Client, workspace: uuid.UUID) -> list[uuid.UUID]:
    return [client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": f"kpi {i}"}, ["10001"]).campaign_id
        for i in range(3)]


# -- upsert ---------------------------------------------------------------------------
def test_upsert_inserts_updates_and_leaves_unchanged_rows(
        client: Client, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any]) -> None:
    rows = month_rows(campaigns[0], days=3)
    first = client.upsert_daily_kpi_batch(rows, "facebook-ads")
    assert (first.upserted, first.inserted, first.updated, first.unchanged) == (6, 6, 0, 0)
    assert (first.first_date, first.last_date) == (OCTOBER, OCTOBER + timedelta(days=2))
    rows[0] = {**rows[0], "clicks": 999}
    second = client.upsert_daily_kpi_batch(rows, "facebook-ads")
    assert (second.upserted, second.inserted, second.updated, second.unchanged) == (1, 0, 1, 5)
    assert second.collection_log_id != first.collection_log_id
    stored = raw.execute(
        "SELECT clicks, source FROM campaigndb.daily_kpi_data"
        " WHERE campaign_id = %s AND kpi_date = %s AND platform = 'facebook'",
        [campaigns[0], OCTOBER]).fetchone()
    assert stored == (999, "facebook-ads")
    log = raw.execute(
        "SELECT job, period, status, rows_affected, source, workspace_id IS NOT NULL,"
        " finished_at >= started_at FROM campaigndb.collection_log WHERE id = %s",
        [second.collection_log_id]).fetchone()
    assert log == ("upsert_daily_kpi_batch", "2026-10-01..2026-10-03", "succeeded", 1,
                   "facebook-ads", True, True)


def test_typed_rows_and_numeric_forms(client: Client, campaigns: list[uuid.UUID],
                                      raw: psycopg.Connection[Any]) -> None:
    row = KpiRow(campaign_id=campaigns[1], kpi_date=date(2026, 9, 30), platform=" LinkedIn ",
                 impressions=10, clicks=2, spend=Decimal("1.23456"), conversions=1,
                 revenue=Decimal("10"))
    result = client.upsert_daily_kpi_batch([row], "typed")
    assert result.inserted == 1
    stored = raw.execute(
        "SELECT platform, spend, revenue FROM campaigndb.daily_kpi_data"
        " WHERE campaign_id = %s AND kpi_date = '2026-09-30'", [campaigns[1]]).fetchone()
    assert stored == ("linkedin", Decimal("1.2346"), Decimal("10.0000"))


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"kpi_date": "2026-02-30"}, "22007", "p_rows[1].kpi_date"),
    ({"clicks": -1}, "22023", "p_rows[1].clicks"),
    ({"clicks": 1.5}, "22023", "p_rows[1].clicks"),
    ({"spend": "ten"}, "22023", "p_rows[1].spend"),
    ({"revenue": 1e11}, "22003", "p_rows[1].revenue"),
    ({"campaign_id": "not-a-uuid"}, "22P02", "p_rows[1].campaign_id"),
    ({"platform": ""}, "22023", "p_rows[1].platform"),
    ({"impresions": 5}, "22023", "unknown key 'impresions'"),
    ({"campaign_id": str(uuid.UUID(int=7))}, "P0002", "not found"),
])
def test_a_bad_field_fails_the_whole_batch(
        client: Client, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any],
        change: dict[str, Any], code: str, words: str) -> None:
    rows = month_rows(campaigns[2], days=2, platforms=("x",))
    rows[1] = {**rows[1], **change}
    before = (count(raw, "SELECT count(*) FROM campaigndb.daily_kpi_data"),
              count(raw, LOG_ROWS))
    envelope = client.call("upsert_daily_kpi_batch", p_rows=rows, p_source="bad")
    assert envelope["success"] is False and envelope["error_code"] == code
    assert words in envelope["error"]
    assert envelope["retry_recommended"] is False
    assert (count(raw, "SELECT count(*) FROM campaigndb.daily_kpi_data"),
            count(raw, LOG_ROWS)) == before


def test_missing_metric_and_duplicate_rows_are_refused(client: Client,
                                                       campaigns: list[uuid.UUID]) -> None:
    rows = month_rows(campaigns[0], days=1, platforms=("x",))
    missing = {k: v for k, v in rows[0].items() if k != "revenue"}
    with pytest.raises(InvalidInput) as refused:
        client.upsert_daily_kpi_batch([missing], "s")
    assert refused.value.envelope["error_code"] == "23502"
    assert "p_rows[0].revenue is required" in str(refused.value)
    twin = {**rows[0], "platform": " X "}
    envelope = client.call("upsert_daily_kpi_batch", p_rows=[rows[0], twin], p_source="s")
    assert envelope["error_code"] == "23505" and "p_rows[0] and p_rows[1]" in envelope["error"]


def test_a_retry_with_the_same_key_logs_once(client: Client, campaigns: list[uuid.UUID],
                                              raw: psycopg.Connection[Any]) -> None:
    rows = month_rows(campaigns[1], days=2)
    first = client.upsert_daily_kpi_batch(rows, "s", idempotency_key="kpi-retry-1")
    logs = count(raw, LOG_ROWS)
    again = client.upsert_daily_kpi_batch(rows, "s", idempotency_key="kpi-retry-1")
    assert again.replayed and again.collection_log_id == first.collection_log_id
    assert again.upserted == first.upserted
    assert count(raw, LOG_ROWS) == logs
    other = client.call("upsert_daily_kpi_batch", p_rows=rows[:1], p_source="s",
                        p_idempotency_key="kpi-retry-1")
    assert other["error_code"] == "23505"


# -- aggregate -------------------------------------------------------------------------
def test_aggregate_equals_the_plain_group_by_and_reruns_replace(
        client: Client, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any]) -> None:
    ids = [str(c) for c in campaigns[:2]]
    for c in campaigns[:2]:
        client.upsert_daily_kpi_batch(month_rows(c), "s")
    # rows just outside October do not count
    client.upsert_daily_kpi_batch(
        month_rows(campaigns[0], month=date(2026, 9, 30), days=1)
        + month_rows(campaigns[0], month=date(2026, 11, 1), days=1), "s")
    result = client.aggregate_monthly_kpis(date(2026, 10, 17))
    assert result.month == OCTOBER and result.summaries_written >= 2
    expected = raw.execute(FLOOR, [OCTOBER, OCTOBER, ids]).fetchall()
    assert raw.execute(SUMMARY, [OCTOBER, ids]).fetchall() == expected
    assert [r[10] for r in expected] == [31, 31]
    again = client.aggregate_monthly_kpis(OCTOBER)
    assert again.summaries_replaced == result.summaries_written
    assert again.summaries_written == result.summaries_written
    assert raw.execute(SUMMARY, [OCTOBER, ids]).fetchall() == expected
    assert count(raw, "SELECT count(*) FROM campaigndb.campaign_summaries"
                      " WHERE period_start = %s AND campaign_id = ANY(%s::uuid[])",
                 OCTOBER, ids) == 2


def test_division_by_zero_gives_null_ratios(client: Client, campaigns: list[uuid.UUID],
                                            raw: psycopg.Connection[Any]) -> None:
    month = date(2026, 6, 1)
    client.upsert_daily_kpi_batch([{
        "campaign_id": str(campaigns[2]), "kpi_date": "2026-06-05", "platform": "zero",
        "impressions": 0, "clicks": 0, "spend": 0, "conversions": 0, "revenue": 0}], "s")
    client.aggregate_monthly_kpis(month, campaigns[2])
    ratios = raw.execute("SELECT ctr, cpc, conversion_rate, roas FROM campaigndb.campaign_summaries"
                         " WHERE campaign_id = %s AND period_start = %s",
                         [campaigns[2], month]).fetchone()
    assert ratios == (None, None, None, None)


def test_one_campaign_scope_leaves_the_others(client: Client, campaigns: list[uuid.UUID],
                                              raw: psycopg.Connection[Any]) -> None:
    month = date(2026, 7, 1)
    for c in campaigns:
        client.upsert_daily_kpi_batch(month_rows(c, month=month, days=2), "s")
    client.aggregate_monthly_kpis(month)
    before = raw.execute("SELECT campaign_id, computed_at FROM campaigndb.campaign_summaries"
                         " WHERE period_start = %s ORDER BY 1", [month]).fetchall()
    only = client.aggregate_monthly_kpis(month, campaigns[0])
    assert (only.summaries_written, only.summaries_replaced) == (1, 1)
    after = raw.execute("SELECT campaign_id, computed_at FROM campaigndb.campaign_summaries"
                        " WHERE period_start = %s ORDER BY 1", [month]).fetchall()
    changed = {a[0] for a, b in zip(before, after, strict=True) if a != b}
    assert changed == {campaigns[0]}
    with pytest.raises(NotFound):
        client.aggregate_monthly_kpis(month, uuid.UUID(int=9))


def test_concurrent_runs_for_one_month_serialise_and_agree(
        dsn: str, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any]) -> None:
    month = date(2026, 8, 1)
    ids = [str(c) for c in campaigns]
    with Client(dsn, pool_min_size=4, pool_max_size=4) as db:
        for c in campaigns:
            db.upsert_daily_kpi_batch(month_rows(c, month=month), "s")
        barrier = threading.Barrier(4)
        answers: list[Any] = []

        def run() -> None:
            barrier.wait()
            for _ in range(5):
                answers.append(db.aggregate_monthly_kpis(month))

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(answers) == 20
    written = {a.summaries_written for a in answers}
    assert len(written) == 1
    # every run after the first replaced exactly what the previous one wrote: serialised
    assert sorted(a.summaries_replaced for a in answers).count(0) <= 1
    assert raw.execute(SUMMARY, [month, ids]).fetchall() == raw.execute(
        FLOOR, [month, month, ids]).fetchall()
    assert count(raw, "SELECT count(*) FROM campaigndb.campaign_summaries"
                      " WHERE period_start = %s", month) == written.pop()


# -- failures injected part-way: nothing split, nothing logged ---------------------------
def test_failed_aggregation_leaves_previous_summaries_and_is_reported(
        dsn: str, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any],
        failing_trigger: Any, caplog: pytest.LogCaptureFixture) -> None:
    month = date(2026, 5, 1)
    with Client(dsn, record_metrics=True, metrics_flush_interval_s=0.05) as db:
        for c in campaigns:
            db.upsert_daily_kpi_batch(month_rows(c, month=month, days=4), "s")
        db.aggregate_monthly_kpis(month)
        previous = raw.execute("SELECT * FROM campaigndb.campaign_summaries"
                               " WHERE period_start = %s ORDER BY campaign_id", [month]).fetchall()
        assert len(previous) == 3
        # new figures, so that a split result would show
        db.upsert_daily_kpi_batch(month_rows(campaigns[0], month=month, days=4, scale=3), "s")
        logs = count(raw, LOG_ROWS)
        failing_trigger("campaign_summaries", after_rows=1)  # the 2nd summary fails
        with caplog.at_level(logging.WARNING, logger="campaigndb"):
            envelope = db.call("aggregate_monthly_kpis", p_month=month)
    assert envelope["success"] is False and envelope["error_code"] == "XX000"
    assert "injected failure after 1 rows" in envelope["error"]
    assert raw.execute("SELECT * FROM campaigndb.campaign_summaries WHERE period_start = %s"
                       " ORDER BY campaign_id", [month]).fetchall() == previous
    assert count(raw, LOG_ROWS) == logs
    assert any("aggregate_monthly_kpis" in r.getMessage() and "XX000" in r.getMessage()
               for r in caplog.records)
    recorded = raw.execute(
        "SELECT success, error_message FROM campaigndb.transaction_metrics"
        " WHERE operation_name = 'aggregate_monthly_kpis' ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    assert recorded is not None and recorded[0] is False and "injected" in recorded[1]


def test_failed_log_write_saves_no_daily_rows(client: Client, campaigns: list[uuid.UUID],
                                              raw: psycopg.Connection[Any],
                                              failing_trigger: Any) -> None:
    rows = month_rows(campaigns[1], month=date(2026, 4, 1), days=5)
    before = count(raw, "SELECT count(*) FROM campaigndb.daily_kpi_data")
    failing_trigger("collection_log", after_rows=0)
    envelope = client.call("upsert_daily_kpi_batch", p_rows=rows, p_source="s")
    assert envelope["success"] is False and envelope["error_code"] == "XX000"
    assert count(raw, "SELECT count(*) FROM campaigndb.daily_kpi_data") == before


# -- plain SQL and the CLI ----------------------------------------------------------------
def test_plain_sql_callers_get_the_same_envelopes(raw: psycopg.Connection[Any],
                                                  campaigns: list[uuid.UUID]) -> None:
    rows = month_rows(campaigns[2], month=date(2026, 3, 1), days=2)
    row = raw.execute("SELECT upsert_daily_kpi_batch(p_rows => %s::jsonb, p_source => 'psql')",
                      [json.dumps(rows)]).fetchone()
    assert row is not None and row[0]["success"] is True and row[0]["upserted"] == 4
    row = raw.execute("SELECT aggregate_monthly_kpis(p_month => '2026-03-01',"
                      " p_campaign_id => %s)", [campaigns[2]]).fetchone()
    assert row is not None and row[0]["summaries_written"] == 1


def test_cli_upserts_json_and_csv_files_and_aggregates(
        dsn: str, campaigns: list[uuid.UUID], raw: psycopg.Connection[Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNDB_DSN", dsn)
    month = date(2026, 2, 1)
    runner = CliRunner()
    as_json = tmp_path / "facebook.json"
    as_json.write_text(json.dumps(month_rows(campaigns[0], month=month, days=3)))
    done = runner.invoke(app, ["kpi", "upsert", str(as_json), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["upserted"] == 6
    as_csv = tmp_path / "google.csv"
    lines = ["campaign_id,kpi_date,platform,impressions,clicks,spend,conversions,revenue"]
    lines += [f"{campaigns[1]},2026-02-0{d},google,{100 * d},{d},{d}.50,1,9.99" for d in (1, 2)]
    as_csv.write_text("\n".join(lines) + "\n")
    done = runner.invoke(app, ["kpi", "upsert", str(as_csv), "--source", "gads", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["upserted"] == 2
    assert raw.execute("SELECT sum(spend), min(source) FROM campaigndb.daily_kpi_data"
                       " WHERE campaign_id = %s", [campaigns[1]]).fetchone() == (
        Decimal("4.0000"), "gads")
    # a bad row in a batched file: the batch fails, the exit status says so
    lines.append(f"{campaigns[1]},2026-02-31,google,1,1,1,1,1")
    as_csv.write_text("\n".join(lines) + "\n")
    failed = runner.invoke(app, ["kpi", "upsert", str(as_csv), "--batch-size", "2", "--json"])
    assert failed.exit_code == 1
    assert '"error_code":"22007"' in failed.stdout and '"batch_first_row":2' in failed.stdout
    aggregated = runner.invoke(app, ["kpi", "aggregate", "--month", "2026-02", "--json"])
    assert aggregated.exit_code == 0, aggregated.output
    assert json.loads(aggregated.stdout)["summaries_written"] == 2
    refused = runner.invoke(app, ["kpi", "aggregate", "--month", "February"])
    assert refused.exit_code == 2


def test_async_client_has_the_reporting_methods(dsn: str, campaigns: list[uuid.UUID]) -> None:
    from campaigndb import AsyncClient

    async def scenario() -> tuple[int, int, uuid.UUID | None]:
        async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as db:
            done = await db.upsert_daily_kpi_batch(
                month_rows(campaigns[0], month=date(2026, 1, 1), days=2), "async")
            summary = await db.aggregate_monthly_kpis(date(2026, 1, 1), campaigns[0])
            return done.upserted, summary.summaries_written, summary.campaign_id

    assert asyncio.run(scenario()) == (4, 1, campaigns[0])
