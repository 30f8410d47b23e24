"""The health monitor and the metrics recorder against the real server; the CLI."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import psycopg
import psycopg_pool
import pytest
from typer.testing import CliRunner

from campaigndb import Client, HealthMonitor, HealthStatus, Thresholds
from campaigndb.cli import app


def test_monitor_check_against_the_server(client: Client) -> None:
    report = HealthMonitor(client).check()
    assert report.status is HealthStatus.HEALTHY, report
    assert {c.name for c in report.checks} >= {"pool_usage", "avg_query_ms", "cache_hit_ratio"}


def test_scheduled_checks_call_back_on_change_and_stop(client: Client) -> None:
    monitor = HealthMonitor(client, Thresholds(avg_query_ms=(0.0, 1e9, 1e9)))
    changes: list[tuple[Any, Any]] = []
    changed = threading.Event()

    def on_change(previous: Any, current: Any) -> None:
        changes.append((previous, current))
        changed.set()

    monitor.start(0.05, on_change)
    try:
        assert changed.wait(10)
    finally:
        monitor.stop()
    # every latency is >= 0 ms, so the strict threshold makes the first report DEGRADED
    assert changes[0][0] is None and changes[0][1].status is HealthStatus.DEGRADED
    assert len(changes) == 1  # the status never changed again
    assert monitor.last is not None
    with pytest.raises(RuntimeError):
        monitor.start(1, on_change)
        monitor.start(1, on_change)
    monitor.stop()


def test_record_transaction_metric(client: Client, campaign: uuid.UUID,
                                   raw: psycopg.Connection[Any]) -> None:
    envelope = client.call("record_transaction_metric", p_operation_name="nightly_kpi",
                           p_campaign_id=str(campaign), p_duration_ms=123, p_success=True,
                           p_retry_count=2, p_isolation_level="READ COMMITTED")
    assert envelope["success"] is True
    row = raw.execute("SELECT operation_name, campaign_id, duration_ms, retry_count"
                      " FROM campaigndb.transaction_metrics WHERE id = %s",
                      [envelope["id"]]).fetchone()
    assert row == ("nightly_kpi", campaign, 123, 2)
    bad = client.call("record_transaction_metric", p_operation_name="x", p_campaign_id=None,
                      p_duration_ms=-1, p_success=True)
    assert bad["error_code"] == "22023"


def test_the_recorder_records_every_call(dsn: str, campaign: uuid.UUID,
                                         raw: psycopg.Connection[Any]) -> None:
    before = raw.execute("SELECT count(*) FROM campaigndb.transaction_metrics"
                         " WHERE operation_name = 'track_campaign_cost'").fetchone()
    with Client(dsn, record_metrics=True, metrics_flush_interval_s=0.05) as db:
        for _ in range(25):
            db.track_campaign_cost(campaign, "gmaps", 1, "0.01")
        db.call("track_campaign_cost", p_campaign_id=str(campaign), p_service="gmaps",
                p_items_processed=1, p_cost_usd=-1, p_metadata={})
    after = raw.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT success),"
        " count(*) FILTER (WHERE campaign_id = %s AND isolation_level = 'SERIALIZABLE')"
        " FROM campaigndb.transaction_metrics WHERE operation_name = 'track_campaign_cost'",
        [campaign]).fetchone()
    assert before is not None and after is not None
    assert after[0] - before[0] == 26 and after[1] >= 1 and after[2] >= 26


def test_cli_health_and_call(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNDB_DSN", dsn)
    runner = CliRunner()
    healthy = runner.invoke(app, ["health", "--json"])
    assert healthy.exit_code == 0, healthy.output
    assert '"status": "HEALTHY"' in healthy.output
    created = runner.invoke(app, ["call", "create_workspace", "name=From the CLI", "--json"])
    assert created.exit_code == 0 and '"success":true' in created.output
    refused = runner.invoke(app, ["call", "create_workspace", "p_name= "])
    assert refused.exit_code == 1 and "23502" in refused.output


def test_a_malformed_campaign_id_does_not_lose_the_batch(dsn: str, campaign: uuid.UUID,
                                                         raw: psycopg.Connection[Any]) -> None:
    """A call with a p_campaign_id that is no uuid is recorded without a campaign; before,
    its text reached the flush and failed the whole batch, valid rows included."""
    op = "WHERE operation_name = 'update_campaign_statistics'"
    before = raw.execute(f"SELECT count(*) FROM campaigndb.transaction_metrics {op}").fetchone()
    with psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=2, open=True) as pool, \
            Client(dsn, pool=pool, record_metrics=True) as db:
        db.call("update_campaign_statistics", p_campaign_id="not-a-uuid")
        db.update_campaign_statistics(campaign)
        recorder = db.recorder
    # the client closed its recorder although the pool was the caller's
    assert recorder is not None and recorder.failed_flushes == 0 and recorder.dropped == 0
    after = raw.execute(
        f"SELECT count(*), count(campaign_id) FROM campaigndb.transaction_metrics {op}"
    ).fetchone()
    assert before is not None and after is not None
    assert after[0] - before[0] == 2 and after[1] >= 1


def test_record_transaction_metric_with_an_id_is_stored_once(
        client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]) -> None:
    metric_id = uuid.uuid4()
    first = client.record_transaction_metric("retried_op", campaign, 12, True,
                                             metric_id=metric_id)
    again = client.record_transaction_metric("retried_op", campaign, 12, True,
                                             metric_id=metric_id)
    assert first == again == metric_id
    rows = raw.execute("SELECT count(*) FROM campaigndb.transaction_metrics WHERE id = %s",
                       [metric_id]).fetchone()
    assert rows == (1,)
    other = client.call("record_transaction_metric", p_operation_name="retried_op",
                        p_campaign_id=str(campaign), p_duration_ms=13, p_success=True,
                        p_metric_id=str(metric_id))
    assert other["success"] is False and other["error_code"] == "23505"


def test_record_transaction_metrics_keeps_known_campaigns_only(
        client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]) -> None:
    other_ws = client.create_workspace("metrics elsewhere").workspace_id
    other = client.create_campaign_with_coverage(
        {"workspace_id": other_ws, "name": "elsewhere"}, ["10001"]).campaign_id
    own_ws = raw.execute("SELECT workspace_id FROM campaigndb.campaigns WHERE id = %s",
                         [campaign]).fetchone()
    assert own_ws is not None
    op = f"batch-{uuid.uuid4().hex[:8]}"
    batch = [{"operation_name": op, "campaign_id": c and str(c), "duration_ms": 3, "success": True,
              "retry_count": 0, "created_at": 1_700_000_000.5}
             for c in (campaign, other, uuid.uuid4(), None)]
    with raw.transaction():
        raw.execute("SELECT set_config('campaigndb.workspace_id', %s, true)", [str(own_ws[0])])
        written = raw.execute("SELECT public.record_transaction_metrics(%s::jsonb)",
                              [json.dumps(batch)]).fetchone()
    assert written == (4,)
    stored = raw.execute("SELECT campaign_id FROM campaigndb.transaction_metrics"
                         " WHERE operation_name = %s ORDER BY campaign_id NULLS LAST",
                         [op]).fetchall()
    # its own campaign kept; another workspace's (bound session), an unknown one and none: NULL
    assert stored == [(campaign,), (None,), (None,), (None,)]
    for bad, code in (('{"not": "an array"}', "22023"),
                      (json.dumps([batch[0]] * 10_001), "54000")):
        with pytest.raises(psycopg.Error) as refused:
            raw.execute("SELECT public.record_transaction_metrics(%s::jsonb)", [bad])
        assert refused.value.sqlstate == code
