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
from campaigndb_dev.cli import app


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


def test_record_transaction_metrics_ids_are_unique_time_ordered_uuidv7(
        raw: psycopg.Connection[Any]) -> None:
    """One clock read and one random draw per batch (revision 0006): the ids still carry the
    UUIDv7 layout, ascend in the batch's order and never repeat, also across batches written
    in the same millisecond."""
    op = f"ids-{uuid.uuid4().hex[:8]}"
    batch = [{"operation_name": op, "duration_ms": i, "success": True} for i in range(2_000)]
    now_ms = raw.execute("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                         ).fetchone()
    with raw.transaction():  # two batches, one transaction: as close together as they come
        for _ in range(2):
            written = raw.execute("SELECT public.record_transaction_metrics(%s::jsonb)",
                                  [json.dumps(batch)]).fetchone()
            assert written == (2_000,)
    rows = raw.execute(
        "SELECT id::text, duration_ms,"
        "       ('x' || replace(left(id::text, 13), '-', ''))::bit(48)::bigint"
        "  FROM campaigndb.transaction_metrics WHERE operation_name = %s ORDER BY id",
        [op]).fetchall()
    assert now_ms is not None and len(rows) == 4_000
    assert len({id_ for id_, _, _ in rows}) == 4_000
    assert all(id_[14] == "7" and id_[19] in "89ab" for id_, _, _ in rows)  # version, variant
    # the id's 48-bit prefix is the Unix millisecond of the flush
    assert all(0 <= ms - now_ms[0] < 60_000 for _, _, ms in rows)
    # each batch shares its first 23 characters (clock and random bits) and, in id order,
    # its rows come in the order they were sent
    by_batch: dict[str, list[int]] = {}
    for id_, duration, _ in rows:
        by_batch.setdefault(id_[:23], []).append(duration)
    assert list(by_batch.values()) == [list(range(2_000))] * 2


def test_the_recorder_flush_commits_asynchronously_and_leaves_no_session_state(
        dsn: str, raw: psycopg.Connection[Any]) -> None:
    """The flush is one message, BEGIN; SET LOCAL synchronous_commit = off; SELECT; COMMIT:
    its rows are committed when it returns, and the connection is back to its defaults."""
    op = f"flush-{uuid.uuid4().hex[:8]}"
    with Client(dsn, record_metrics=True, metrics_flush_interval_s=3600) as db:
        recorder = db.recorder
        assert recorder is not None
        for i in range(3):
            recorder.record(op, duration_ms=i, success=True)
        assert recorder.flush() == 3
        conn = recorder._conn
        assert conn is not None
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        setting = conn.execute("SHOW synchronous_commit").fetchone()
        assert setting == (raw.execute("SHOW synchronous_commit").fetchone() or ("",))
        assert setting != ("off",)
        stored = raw.execute("SELECT count(*) FROM campaigndb.transaction_metrics"
                             " WHERE operation_name = %s", [op]).fetchone()
        assert stored == (3,)


def test_a_failed_flush_is_counted_and_the_next_one_reconnects(
        dsn: str, raw: psycopg.Connection[Any], failing_trigger: Any) -> None:
    """A flush the server refuses (a trigger raising part-way, as a full disk or a bug
    would) drops that batch, counted, rolls back all of it, and the next flush works on a
    new connection."""
    op = f"refused-{uuid.uuid4().hex[:8]}"
    failing_trigger("transaction_metrics", after_rows=1)  # a flush's 2nd row fails
    with Client(dsn, record_metrics=True, metrics_flush_interval_s=3600) as db:
        recorder = db.recorder
        assert recorder is not None
        for duration in (12, 13, 14):
            recorder.record(op, duration_ms=duration, success=True)
        assert recorder.flush() == 0
        assert (recorder.failed_flushes, recorder.dropped) == (1, 3)
        assert recorder._conn is None  # closed: its transaction was left open
        recorder.record(op, duration_ms=15, success=True)
        assert recorder.flush() == 1
        assert recorder._conn is not None
        assert recorder._conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    stored = raw.execute("SELECT duration_ms FROM campaigndb.transaction_metrics"
                         " WHERE operation_name = %s", [op]).fetchall()
    assert stored == [(15,)]


def test_record_transaction_metrics_takes_arrays_as_objects(
        client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]) -> None:
    """The positional form the recorder sends stores what the object form stores; trailing
    values may be left out."""
    op = f"arrays-{uuid.uuid4().hex[:8]}"
    as_arrays = [[op, str(campaign), 7, True, None, 2, "SERIALIZABLE", 1_700_000_000.25],
                 [op, str(uuid.uuid4()), -3, False, "it failed", None, None, None],
                 [op, None, 1, True]]
    as_objects = [dict(zip(("operation_name", "campaign_id", "duration_ms", "success",
                            "error_message", "retry_count", "isolation_level", "created_at"),
                           element, strict=False)) for element in as_arrays]
    stored = []
    for batch in (as_arrays, as_objects):
        written = raw.execute("SELECT public.record_transaction_metrics(%s::jsonb)",
                              [json.dumps(batch)]).fetchone()
        assert written == (3,)
        stored.append(raw.execute(
            "SELECT operation_name, campaign_id, duration_ms, success, error_message,"
            "       retry_count, isolation_level, created_at = to_timestamp(1700000000.25),"
            "       created_at > now() - interval '1 minute'"
            "  FROM campaigndb.transaction_metrics WHERE operation_name = %s"
            " ORDER BY id DESC LIMIT 3", [op]).fetchall()[::-1])
    assert stored[0] == stored[1] == [
        (op, campaign, 7, True, None, 2, "SERIALIZABLE", True, False),
        (op, None, 0, False, "it failed", 0, None, False, True),  # unknown campaign: none
        (op, None, 1, True, None, 0, None, False, True),
    ]


@pytest.mark.parametrize(("batch", "code", "says"), [
    ([["op", None, 1, True], {"operation_name": "op", "duration_ms": 1, "success": True}],
     "22023", "element 1 is not an array"),
    ([{"operation_name": "op", "duration_ms": 1, "success": True}, ["op", None, 1, True]],
     "22023", "element 1 is not an object"),
    ([["op", None, 1]], "22023", "element 0 is not an array of 4 to 8"),
    ([["op", None, 1, True, None, 0, None, 1.0, "extra"]], "22023", "element 0"),
    ([["op", None, 1, True], 5], "22023", "element 1"),
    ([["op", "not-a-uuid", 1, True]], "22P02", "uuid"),
    ([["op", None, "soon", True]], "22P02", "integer"),
    ([["op", None, 1, None]], "23502", "success"),
    ([[None, None, 1, True]], "23502", "operation_name"),
])
def test_record_transaction_metrics_refuses_a_malformed_batch_whole(
        raw: psycopg.Connection[Any], batch: list[Any], code: str, says: str) -> None:
    before = raw.execute("SELECT count(*) FROM campaigndb.transaction_metrics").fetchone()
    good = ["op", None, 1, True] if isinstance(batch[0], list) else {
        "operation_name": "op", "duration_ms": 1, "success": True}
    with pytest.raises(psycopg.Error) as refused:
        raw.execute("SELECT public.record_transaction_metrics(%s::jsonb)",
                    [json.dumps([good, *batch] if code != "22023" else batch)])
    assert refused.value.sqlstate == code
    assert says in str(refused.value)
    after = raw.execute("SELECT count(*) FROM campaigndb.transaction_metrics").fetchone()
    assert after == before


def test_the_recorder_keeps_a_message_with_a_nul(dsn: str, raw: psycopg.Connection[Any]) -> None:
    """jsonb refuses \\u0000: one such error message used to fail its whole flush."""
    op = f"nul-{uuid.uuid4().hex[:8]}"
    with Client(dsn, record_metrics=True, metrics_flush_interval_s=3600) as db:
        recorder = db.recorder
        assert recorder is not None
        recorder.record(op, duration_ms=1, success=False, error_message="before\x00after")
        recorder.record(op, duration_ms=2, success=True)
        assert recorder.flush() == 2 and recorder.failed_flushes == 0
    stored = raw.execute("SELECT error_message FROM campaigndb.transaction_metrics"
                         " WHERE operation_name = %s ORDER BY duration_ms", [op]).fetchall()
    assert stored == [("before\ufffdafter",), (None,)]
