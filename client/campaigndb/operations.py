"""The typed operations, written once for the sync and the async client.

Each function turns typed arguments into a `Request` (the API function's name, its named
parameters, and how to read a successful envelope into a model).  `Client` and
`AsyncClient` expose each one as a method of the same name and signature
(`sync_method` / `async_method`), so the two clients cannot drift apart.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from campaigndb.errors import Envelope
from campaigndb.models import (
    BatchResult,
    Business,
    BusinessRow,
    CampaignCreated,
    CampaignData,
    CampaignStatistics,
    CostTracked,
    CoverageUpdated,
    DatabaseHealth,
    EmailVerified,
    Enrichment,
    EnrichmentResult,
    ExecutionCompleted,
    ExecutionMetrics,
    ExecutionStarted,
    ExecutionValidation,
    KpiRow,
    KpisAggregated,
    KpiUpserted,
    WorkflowRegistered,
    WorkspaceCreated,
    ZipCode,
)

R = TypeVar("R")
P = ParamSpec("P")


@dataclass(frozen=True)
class Request(Generic[R]):
    name: str
    params: dict[str, Any]
    parse: Callable[[Envelope], R]


class _SyncCaller(Protocol):
    def _typed(self, name: str, **params: Any) -> Envelope: ...


class _AsyncCaller(Protocol):
    async def _typed(self, name: str, **params: Any) -> Envelope: ...


SC = TypeVar("SC", bound=_SyncCaller)
AC = TypeVar("AC", bound=_AsyncCaller)


def sync_method(op: Callable[P, Request[R]]) -> Callable[Concatenate[SC, P], R]:
    @functools.wraps(op)
    def method(self: SC, /, *args: P.args, **kwargs: P.kwargs) -> R:
        request = op(*args, **kwargs)
        return request.parse(self._typed(request.name, **request.params))

    return method


def async_method(op: Callable[P, Request[R]]) -> Callable[Concatenate[AC, P], Awaitable[R]]:
    @functools.wraps(op)
    async def method(self: AC, /, *args: P.args, **kwargs: P.kwargs) -> R:
        request = op(*args, **kwargs)
        return request.parse(await self._typed(request.name, **request.params))

    return method


def _s(value: uuid.UUID | str | None) -> str | None:
    return str(value) if value is not None else None


def _decimal(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def create_workspace(name: str, *,
                     workspace_id: uuid.UUID | str | None = None) -> Request[WorkspaceCreated]:
    """Create a workspace; `workspace_id` (generated when omitted) makes retries safe."""
    params: dict[str, Any] = {"p_name": name}
    if workspace_id is not None:
        params["p_workspace_id"] = str(workspace_id)
    return Request("create_workspace", params, WorkspaceCreated.model_validate)


def create_campaign_with_coverage(
    campaign: CampaignData | Mapping[str, Any],
    zip_codes: Sequence[str | ZipCode | Mapping[str, Any]],
) -> Request[CampaignCreated]:
    """Create a campaign and its ZIP coverage in one transaction."""
    data = campaign if isinstance(campaign, CampaignData) else CampaignData.model_validate(
        campaign)
    zips: list[Any] = [z.model_dump(mode="python", exclude_none=True) if isinstance(z, ZipCode)
                       else z for z in zip_codes]
    return Request("create_campaign_with_coverage",
                   {"p_campaign_data": data.to_json(), "p_zip_codes": zips},
                   CampaignCreated.model_validate)


def track_campaign_cost(
    campaign_id: uuid.UUID | str,
    service: str,
    items_processed: int,
    cost_usd: Decimal | int | str,
    metadata: Mapping[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
) -> Request[CostTracked]:
    """Record an API cost and add it to the campaign's total (SERIALIZABLE)."""
    params: dict[str, Any] = {
        "p_campaign_id": str(campaign_id), "p_service": service,
        "p_items_processed": items_processed, "p_cost_usd": _decimal(cost_usd),
        "p_metadata": dict(metadata or {}),
    }
    if idempotency_key is not None:
        params["p_idempotency_key"] = idempotency_key
    return Request("track_campaign_cost", params, CostTracked.model_validate)


def insert_businesses_batch(
    campaign_id: uuid.UUID | str,
    zip_code: str | None,
    businesses: Sequence[Business | Mapping[str, Any]],
) -> Request[BatchResult]:
    """Upsert scraped businesses (dedup on place_id); counts inserted/updated/skipped.

    Plain dicts go to the server as they are (no per-row validation in Python: the
    function checks every element and fails the whole batch on a wrong type).
    """
    rows = [b.model_dump(mode="python", exclude_none=True) if isinstance(b, Business) else b
            for b in businesses]
    return Request("insert_businesses_batch",
                   {"p_campaign_id": str(campaign_id), "p_zip_code": zip_code,
                    "p_businesses": rows}, BatchResult.model_validate)


def update_campaign_statistics(campaign_id: uuid.UUID | str) -> Request[CampaignStatistics]:
    """Recompute a campaign's totals from its rows, under the campaign's row lock."""
    return Request("update_campaign_statistics", {"p_campaign_id": str(campaign_id)},
                   CampaignStatistics.model_validate)


def update_coverage_status(
    campaign_id: uuid.UUID | str,
    zip_code: str,
    businesses_found: int,
    emails_found: int,
    actual_cost: Decimal | int | str,
    status: str = "completed",
) -> Request[CoverageUpdated]:
    """Record the outcome of scraping one ZIP code of a campaign."""
    return Request("update_coverage_status", {
        "p_campaign_id": str(campaign_id), "p_zip_code": zip_code,
        "p_businesses_found": businesses_found, "p_emails_found": emails_found,
        "p_actual_cost": _decimal(actual_cost), "p_status": status,
    }, CoverageUpdated.model_validate)


def update_email_verification(
    business_id: uuid.UUID | str,
    email: str | None,
    verification_data: Mapping[str, Any],
) -> Request[EmailVerified]:
    """Store an e-mail verifier's verdict ({"status": "valid", ...}) on a business."""
    return Request("update_email_verification", {
        "p_business_id": str(business_id), "p_email": email,
        "p_verification_data": dict(verification_data),
    }, EmailVerified.model_validate)


def update_enrichment_batch(
    enrichment_type: str,
    enrichments: Sequence[Enrichment | Mapping[str, Any]],
) -> Request[EnrichmentResult]:
    """Apply Facebook or LinkedIn findings; bad elements are reported, the rest apply."""
    rows = [e.model_dump(mode="json", exclude_none=True) if isinstance(e, Enrichment) else e
            for e in enrichments]
    return Request("update_enrichment_batch",
                   {"p_enrichment_type": enrichment_type, "p_enrichments": rows},
                   EnrichmentResult.model_validate)


def _rows(envelope: Envelope) -> list[BusinessRow]:
    return [BusinessRow.model_validate(row) for row in envelope["rows"]]


def get_businesses_for_enrichment(
    campaign_id: uuid.UUID | str,
    enrichment_type: str,
    limit: int = 100,
    offset: int = 0,
    *,
    after_id: uuid.UUID | str | None = None,
) -> Request[list[BusinessRow]]:
    """One page of the campaign's businesses that still need `enrichment_type`."""
    params: dict[str, Any] = {"p_campaign_id": str(campaign_id),
                              "p_enrichment_type": enrichment_type,
                              "p_limit": limit, "p_offset": offset}
    if after_id is not None:
        params["p_after_id"] = str(after_id)
    return Request("get_businesses_for_enrichment", params, _rows)


def register_n8n_workflow(
    workspace_id: uuid.UUID | str,
    n8n_workflow_id: str,
    name: str,
    campaign_type: str,
    deployment_status: str = "active",
) -> Request[WorkflowRegistered]:
    """Register (or update) a workspace's n8n workflow."""
    return Request("register_n8n_workflow", {
        "p_workspace_id": str(workspace_id), "p_n8n_workflow_id": n8n_workflow_id,
        "p_name": name, "p_campaign_type": campaign_type,
        "p_deployment_status": deployment_status,
    }, WorkflowRegistered.model_validate)


def execute_campaign_atomically(
    workspace_id: uuid.UUID | str,
    workflow_id: uuid.UUID | str,
    campaign_approval_session_id: uuid.UUID | str | None,
    campaign_name: str,
    campaign_type: str,
    execution_config: Mapping[str, Any] | None = None,
    *,
    execution_id: uuid.UUID | str | None = None,
) -> Request[ExecutionStarted]:
    """Record an execution, bump the workflow's counter and audit it, atomically
    (REPEATABLE READ; `execution_id`, generated when omitted, makes retries safe)."""
    params: dict[str, Any] = {
        "p_workspace_id": str(workspace_id),
        "p_workspace_n8n_workflow_id": str(workflow_id),
        "p_campaign_approval_session_id": _s(campaign_approval_session_id),
        "p_campaign_name": campaign_name,
        "p_campaign_type": campaign_type,
        "p_execution_config": dict(execution_config or {}),
    }
    if execution_id is not None:
        params["p_execution_id"] = str(execution_id)
    return Request("execute_campaign_atomically", params, ExecutionStarted.model_validate)


def complete_campaign_execution(
    execution_id: uuid.UUID | str,
    status: str,
    result: Mapping[str, Any] | None = None,
    error_message: str | None = None,
) -> Request[ExecutionCompleted]:
    """Finish a pending or running execution as completed or failed."""
    return Request("complete_campaign_execution", {
        "p_execution_id": str(execution_id), "p_status": status,
        "p_result": dict(result) if result is not None else None,
        "p_error_message": error_message,
    }, ExecutionCompleted.model_validate)


def validate_campaign_execution_constraints(
    workspace_id: uuid.UUID | str, workflow_id: uuid.UUID | str, campaign_type: str
) -> Request[ExecutionValidation]:
    """Would execute_campaign_atomically accept this launch?  (No writes.)"""
    return Request("validate_campaign_execution_constraints", {
        "p_workspace_id": str(workspace_id), "p_workspace_n8n_workflow_id": str(workflow_id),
        "p_campaign_type": campaign_type,
    }, ExecutionValidation.model_validate)


def get_campaign_execution_metrics(
    workspace_id: uuid.UUID | str, since: datetime | None = None
) -> Request[ExecutionMetrics]:
    """Counts, success rate, average and p95 duration, peak concurrency since `since`."""
    params: dict[str, Any] = {"p_workspace_id": str(workspace_id)}
    if since is not None:
        params["p_since"] = since
    return Request("get_campaign_execution_metrics", params, ExecutionMetrics.model_validate)


def _id(envelope: Envelope) -> uuid.UUID:
    return uuid.UUID(str(envelope["id"]))


def record_transaction_metric(
    operation_name: str,
    campaign_id: uuid.UUID | str | None,
    duration_ms: int,
    success: bool,
    error_message: str | None = None,
    retry_count: int = 0,
    isolation_level: str | None = None,
    *,
    metric_id: uuid.UUID | str | None = None,
) -> Request[uuid.UUID]:
    """Store one measurement in transaction_metrics; returns its id (`metric_id`,
    generated when omitted, makes retries safe)."""
    params: dict[str, Any] = {
        "p_operation_name": operation_name, "p_campaign_id": _s(campaign_id),
        "p_duration_ms": duration_ms, "p_success": success, "p_error_message": error_message,
        "p_retry_count": retry_count, "p_isolation_level": isolation_level,
    }
    if metric_id is not None:
        params["p_metric_id"] = str(metric_id)
    return Request("record_transaction_metric", params, _id)


def upsert_daily_kpi_batch(
    rows: Sequence[KpiRow | Mapping[str, Any]],
    source: str,
    *,
    idempotency_key: str | None = None,
) -> Request[KpiUpserted]:
    """Upsert daily KPI rows on (campaign_id, kpi_date, platform) and log the batch in
    collection_log, both in one transaction; at most 10,000 rows per call."""
    params: dict[str, Any] = {
        "p_rows": [r.to_json() if isinstance(r, KpiRow) else r for r in rows],
        "p_source": source,
    }
    if idempotency_key is not None:
        params["p_idempotency_key"] = idempotency_key
    return Request("upsert_daily_kpi_batch", params, KpiUpserted.model_validate)


def aggregate_monthly_kpis(
    month: date,
    campaign_id: uuid.UUID | str | None = None,
    *,
    idempotency_key: str | None = None,
) -> Request[KpisAggregated]:
    """Replace one month's campaign_summaries (every campaign, or one) with the totals and
    ratios of its daily KPI rows, and log the run, all or nothing."""
    params: dict[str, Any] = {"p_month": month, "p_campaign_id": _s(campaign_id)}
    if idempotency_key is not None:
        params["p_idempotency_key"] = idempotency_key
    return Request("aggregate_monthly_kpis", params, KpisAggregated.model_validate)


def get_database_health_metrics() -> Request[DatabaseHealth]:
    """Connections, cache hit ratio, size, longest transaction, waiting locks, deadlocks."""
    return Request("get_database_health_metrics", {}, DatabaseHealth.model_validate)
