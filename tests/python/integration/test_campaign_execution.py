"""Campaign execution (n8n) through the client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from campaigndb import (
    CheckViolation,
    Client,
    Duplicate,
    InvalidInput,
    InvalidState,
    NotFound,
    PermissionDenied,
    ReferenceNotFound,
)


@pytest.fixture()
def workflow(client: Client, workspace: uuid.UUID) -> uuid.UUID:
    return client.register_n8n_workflow(workspace, f"n8n-{uuid.uuid4().hex[:8]}",
                                        "Cold e-mail", "email").workflow_id


def test_register_is_idempotent_and_updates(client: Client, workspace: uuid.UUID,
                                            raw: psycopg.Connection[Any]) -> None:
    first = client.register_n8n_workflow(workspace, "wf-1", "Outreach", "email")
    again = client.register_n8n_workflow(workspace, "wf-1", "Outreach", "email")
    changed = client.register_n8n_workflow(workspace, "wf-1", "Outreach v2", "email", "paused")
    assert first.workflow_id == again.workflow_id == changed.workflow_id
    assert (first.replayed, again.replayed, changed.updated) == (False, True, True)
    events = [r[0] for r in raw.execute(
        "SELECT event_type FROM campaigndb.workflow_deployment_history WHERE workflow_id = %s"
        " ORDER BY id", [first.workflow_id])]
    assert events == ["workflow_registered", "workflow_updated"]
    with pytest.raises(CheckViolation):
        client.register_n8n_workflow(workspace, "wf-2", "Fax", "fax")
    with pytest.raises(ReferenceNotFound):
        client.register_n8n_workflow(uuid.uuid4(), "wf-3", "Nowhere", "email")


def test_execute_is_atomic_and_counted(client: Client, workspace: uuid.UUID,
                                       workflow: uuid.UUID, raw: psycopg.Connection[Any]) -> None:
    session = uuid.uuid4()
    started = client.execute_campaign_atomically(workspace, workflow, session, "Spring",
                                                 "email", {"batch": 1})
    assert (started.execution_status, started.total_executions, started.replayed) == (
        "pending", 1, False)
    second = client.execute_campaign_atomically(workspace, workflow, session, "Summer", "email")
    assert second.total_executions == 2
    row = raw.execute(
        "SELECT w.total_executions, w.last_executed_at IS NOT NULL,"
        " (SELECT count(*) FROM campaigndb.n8n_campaign_executions e"
        "   WHERE e.workspace_n8n_workflow_id = w.id),"
        " (SELECT count(*) FROM campaigndb.workflow_deployment_history h"
        "   WHERE h.workflow_id = w.id AND h.event_type = 'campaign_execution_started')"
        " FROM campaigndb.workspace_n8n_workflows w WHERE w.id = %s", [workflow]).fetchone()
    assert row == (2, True, 2, 2)


def test_execution_id_is_an_idempotency_key(client: Client, workspace: uuid.UUID,
                                            workflow: uuid.UUID) -> None:
    key = uuid.uuid4()
    first = client.execute_campaign_atomically(workspace, workflow, None, "Once", "email",
                                               execution_id=key)
    again = client.execute_campaign_atomically(workspace, workflow, None, "Once", "email",
                                               execution_id=key)
    assert again.replayed and again.execution_id == first.execution_id == key
    assert again.total_executions == first.total_executions
    with pytest.raises(Duplicate):
        client.execute_campaign_atomically(workspace, workflow, None, "Twice", "email",
                                           execution_id=key)


def test_execute_errors(client: Client, workspace: uuid.UUID, workflow: uuid.UUID) -> None:
    with pytest.raises(CheckViolation):
        client.execute_campaign_atomically(workspace, workflow, None, "X", "carrier-pigeon")
    with pytest.raises(NotFound):
        client.execute_campaign_atomically(workspace, uuid.uuid4(), None, "X", "email")
    other = client.create_workspace("other").workspace_id
    with pytest.raises(NotFound):  # the workflow is in another workspace
        client.execute_campaign_atomically(other, workflow, None, "X", "email")
    with pytest.raises(InvalidInput):
        client.execute_campaign_atomically(workspace, workflow, None, "  ", "email")
    paused = client.register_n8n_workflow(workspace, "paused-flow", "Paused", "email",
                                          "paused").workflow_id
    with pytest.raises(InvalidState):
        client.execute_campaign_atomically(workspace, paused, None, "X", "email")


def test_busy_workflow_answers_55p03_and_the_client_retries(
    client: Client, dsn: str, workspace: uuid.UUID, workflow: uuid.UUID
) -> None:
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT 1 FROM campaigndb.workspace_n8n_workflows WHERE id = %s"
                       " FOR UPDATE", [workflow])
        busy = client.call("execute_campaign_atomically", p_workspace_id=str(workspace),
                           p_workspace_n8n_workflow_id=str(workflow),
                           p_campaign_approval_session_id=None,
                           p_campaign_name="blocked", p_campaign_type="email")
    # Every attempt found the row locked: the envelope says so and recommends a retry.
    assert busy["error_code"] == "55P03" and busy["retry_recommended"] is True
    assert busy["retry_after_ms"] > 0
    done = client.execute_campaign_atomically(workspace, workflow, None, "free", "email")
    assert done.execution_status == "pending"


def test_complete_transitions(client: Client, workspace: uuid.UUID, workflow: uuid.UUID,
                              raw: psycopg.Connection[Any]) -> None:
    execution = client.execute_campaign_atomically(workspace, workflow, None, "C", "email")
    done = client.complete_campaign_execution(execution.execution_id, "completed", {"sent": 40})
    assert done.execution_status == "completed" and done.duration_ms is not None
    assert client.complete_campaign_execution(execution.execution_id, "completed",
                                              {"sent": 40}).replayed
    with pytest.raises(InvalidState):
        client.complete_campaign_execution(execution.execution_id, "failed", None, "late")
    with pytest.raises(InvalidInput):
        client.complete_campaign_execution(execution.execution_id, "running")
    with pytest.raises(NotFound):
        client.complete_campaign_execution(uuid.uuid4(), "completed")
    metric = raw.execute(
        "SELECT operation_name, success, duration_ms FROM campaigndb.transaction_metrics"
        " WHERE operation_name = 'campaign_execution:email' ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    assert metric == ("campaign_execution:email", True, done.duration_ms)


def test_validate_and_metrics(client: Client, workspace: uuid.UUID, workflow: uuid.UUID) -> None:
    ok = client.validate_campaign_execution_constraints(workspace, workflow, "email")
    assert ok.valid and ok.violations == []
    bad = client.validate_campaign_execution_constraints(workspace, uuid.uuid4(), "telegram")
    assert not bad.valid
    assert {v.code for v in bad.violations} == {"workflow_not_found", "unknown_campaign_type"}
    ws = client.create_workspace("metrics").workspace_id
    flow = client.register_n8n_workflow(ws, "m", "M", "sms").workflow_id
    ids = [client.execute_campaign_atomically(ws, flow, None, f"m{i}", "sms").execution_id
           for i in range(4)]
    client.complete_campaign_execution(ids[0], "completed")
    client.complete_campaign_execution(ids[1], "completed")
    client.complete_campaign_execution(ids[2], "failed", None, "n8n said no")
    metrics = client.get_campaign_execution_metrics(ws)
    assert (metrics.total, metrics.pending, metrics.completed, metrics.failed) == (4, 1, 2, 1)
    assert metrics.success_rate is not None and round(float(metrics.success_rate), 4) == 0.6667
    assert metrics.p95_duration_ms is not None and metrics.peak_concurrent >= 1
    assert client.get_campaign_execution_metrics(
        ws, datetime.now(UTC) - timedelta(seconds=0.001)).total <= 4
    # p_since in the future: an empty window, not an error (issue 14)
    future = client.get_campaign_execution_metrics(ws, datetime.now(UTC) + timedelta(days=1))
    assert (future.total, future.pending, future.completed, future.peak_concurrent) == (0, 0, 0, 0)
    assert future.success_rate is None


def test_database_health(client: Client) -> None:
    health = client.get_database_health_metrics()
    assert health.connections.total >= 1 and health.connections.max >= health.connections.total
    assert 0 <= float(health.connections.usage_pct) <= 100
    assert health.database_size_bytes > 0 and health.deadlocks >= 0
    assert health.cache_hit_ratio is None or 0 <= float(health.cache_hit_ratio) <= 1


def test_binding_covers_execution(client: Client, workspace: uuid.UUID,
                                  workflow: uuid.UUID) -> None:
    other = client.bound(client.create_workspace("intruder").workspace_id)
    with pytest.raises(PermissionDenied):
        other.execute_campaign_atomically(workspace, workflow, None, "x", "email")
    with pytest.raises(PermissionDenied):
        other.get_campaign_execution_metrics(workspace)
