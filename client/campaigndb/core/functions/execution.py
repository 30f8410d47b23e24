"""The campaign-execution functions: n8n workflows, executions, their checks and metrics.

Declared as in `leadgen` (`campaigndb.core.declare`); the SQL is
`sql/functions/<name>.sql`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from campaigndb.core.declare import Isolation, declare
from campaigndb.core.functions.common import Result, given, text


class WorkflowRegistered(Result):
    workflow_id: uuid.UUID
    updated: bool = False  # an existing registration changed
    replayed: bool = False


@declare("register_n8n_workflow(p_workspace_id uuid, p_n8n_workflow_id text, p_name text, "
         "p_campaign_type text, p_deployment_status text = NULL)",
         WorkflowRegistered.model_validate)
def register_n8n_workflow(
    workspace_id: uuid.UUID | str,
    n8n_workflow_id: str,
    name: str,
    campaign_type: str,
    deployment_status: str = "active",
) -> dict[str, Any]:
    """Register (or update) a workspace's n8n workflow."""
    return {"p_workspace_id": str(workspace_id), "p_n8n_workflow_id": n8n_workflow_id,
            "p_name": name, "p_campaign_type": campaign_type,
            "p_deployment_status": deployment_status}


class ExecutionStarted(Result):
    execution_id: uuid.UUID
    execution_status: str
    total_executions: int
    replayed: bool = False


@declare("execute_campaign_atomically(p_workspace_id uuid, p_workspace_n8n_workflow_id uuid, "
         "p_campaign_approval_session_id uuid, p_campaign_name text, p_campaign_type text, "
         "p_execution_config jsonb = NULL, p_execution_id uuid = NULL)",
         ExecutionStarted.model_validate, isolation=Isolation.REPEATABLE_READ,
         hot_row="p_workspace_n8n_workflow_id", idempotency="p_execution_id")
def execute_campaign_atomically(
    workspace_id: uuid.UUID | str,
    workflow_id: uuid.UUID | str,
    campaign_approval_session_id: uuid.UUID | str | None,
    campaign_name: str,
    campaign_type: str,
    execution_config: Mapping[str, Any] | None = None,
    *,
    execution_id: uuid.UUID | str | None = None,
) -> dict[str, Any]:
    """Record an execution, bump the workflow's counter and audit it, atomically
    (REPEATABLE READ; `execution_id`, generated when omitted, makes retries safe)."""
    return given({"p_workspace_id": str(workspace_id),
                  "p_workspace_n8n_workflow_id": str(workflow_id),
                  "p_campaign_approval_session_id": text(campaign_approval_session_id),
                  "p_campaign_name": campaign_name, "p_campaign_type": campaign_type,
                  "p_execution_config": dict(execution_config or {})},
                 p_execution_id=text(execution_id))


class ExecutionCompleted(Result):
    execution_id: uuid.UUID
    execution_status: str
    duration_ms: int | None
    replayed: bool = False


@declare("complete_campaign_execution(p_execution_id uuid, p_status text, p_result jsonb = NULL,"
         " p_error_message text = NULL)", ExecutionCompleted.model_validate)
def complete_campaign_execution(
    execution_id: uuid.UUID | str,
    status: str,
    result: Mapping[str, Any] | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    """Finish a pending or running execution as completed or failed."""
    return {"p_execution_id": str(execution_id), "p_status": status,
            "p_result": dict(result) if result is not None else None,
            "p_error_message": error_message}


class Violation(Result):
    code: str
    message: str


class ExecutionValidation(Result):
    valid: bool
    violations: list[Violation]


@declare("validate_campaign_execution_constraints(p_workspace_id uuid, "
         "p_workspace_n8n_workflow_id uuid, p_campaign_type text)",
         ExecutionValidation.model_validate, read_only=True)
def validate_campaign_execution_constraints(
    workspace_id: uuid.UUID | str, workflow_id: uuid.UUID | str, campaign_type: str
) -> dict[str, Any]:
    """Would execute_campaign_atomically accept this launch?  (No writes.)"""
    return {"p_workspace_id": str(workspace_id),
            "p_workspace_n8n_workflow_id": str(workflow_id), "p_campaign_type": campaign_type}


class ExecutionMetrics(Result):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    success_rate: Decimal | None
    avg_duration_ms: Decimal | None
    p95_duration_ms: Decimal | None
    peak_concurrent: int


@declare("get_campaign_execution_metrics(p_workspace_id uuid, p_since timestamptz = NULL)",
         ExecutionMetrics.model_validate, read_only=True)
def get_campaign_execution_metrics(
    workspace_id: uuid.UUID | str, since: datetime | None = None
) -> dict[str, Any]:
    """Counts, success rate, average and p95 duration, peak concurrency since `since`."""
    return given({"p_workspace_id": str(workspace_id)}, p_since=since)
