"""The reporting and observability functions: daily KPIs, monthly summaries, transaction
metrics, database health.

Declared as in `leadgen` (`campaigndb.core.declare`); the SQL is
`sql/functions/<name>.sql`.  Each reporting call's collection_log row carries its
idempotency key, so a retry after an ambiguous commit answers the first result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from campaigndb.core.declare import ArrayLimit, declare
from campaigndb.core.exceptions import Envelope
from campaigndb.core.functions.common import Input, Result, given, text


class KpiRow(Input):
    """One day of one platform's figures for upsert_daily_kpi_batch (plain dicts are accepted
    too, and checked by the server)."""

    campaign_id: uuid.UUID
    kpi_date: date
    platform: str = Field(min_length=1, max_length=32)
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    spend: Decimal = Field(ge=0)
    conversions: int = Field(ge=0)
    revenue: Decimal = Field(ge=0)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class KpiUpserted(Result):
    first_date: date | None = None
    last_date: date | None = None
    upserted: int
    inserted: int
    replayed: bool = False
    updated: int
    unchanged: int
    collection_log_id: int


@declare("upsert_daily_kpi_batch(p_rows jsonb, p_source text, p_idempotency_key text = NULL)",
         KpiUpserted.model_validate, idempotency="p_idempotency_key",
         limits=(ArrayLimit("p_rows", 10_000, hint="send the rows in several batches"),))
def upsert_daily_kpi_batch(
    rows: Sequence[KpiRow | Mapping[str, Any]],
    source: str,
    *,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Upsert daily KPI rows on (campaign_id, kpi_date, platform) and log the batch in
    collection_log, both in one transaction; at most 10,000 rows per call."""
    return given({"p_rows": [r.to_json() if isinstance(r, KpiRow) else r for r in rows],
                  "p_source": source}, p_idempotency_key=idempotency_key)


class KpisAggregated(Result):
    summaries_written: int
    summaries_replaced: int
    month: date
    campaign_id: uuid.UUID | None = None
    collection_log_id: int
    replayed: bool = False


@declare("aggregate_monthly_kpis(p_month date, p_campaign_id uuid = NULL, "
         "p_idempotency_key text = NULL)",
         KpisAggregated.model_validate, idempotency="p_idempotency_key")
def aggregate_monthly_kpis(
    month: date,
    campaign_id: uuid.UUID | str | None = None,
    *,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Replace one month's campaign_summaries (every campaign, or one) with the totals and
    ratios of its daily KPI rows, and log the run, all or nothing."""
    return given({"p_month": month, "p_campaign_id": text(campaign_id)},
                 p_idempotency_key=idempotency_key)


def _id(envelope: Envelope) -> uuid.UUID:
    return uuid.UUID(str(envelope["id"]))


@declare("record_transaction_metric(p_operation_name varchar, p_campaign_id uuid, "
         "p_duration_ms integer, p_success boolean, p_error_message text = NULL, "
         "p_retry_count integer = NULL, p_isolation_level varchar = NULL, "
         "p_metric_id uuid = NULL)", _id, returns="scalar", idempotency="p_metric_id")
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
) -> dict[str, Any]:
    """Store one measurement in transaction_metrics; returns its id (`metric_id`,
    generated when omitted, makes retries safe: the row's id, chosen by the client)."""
    return given({"p_operation_name": operation_name, "p_campaign_id": text(campaign_id),
                  "p_duration_ms": duration_ms, "p_success": success,
                  "p_error_message": error_message, "p_retry_count": retry_count,
                  "p_isolation_level": isolation_level}, p_metric_id=text(metric_id))


class ConnectionCounts(Result):
    total: int
    active: int
    idle: int
    idle_in_transaction: int
    max: int
    usage_pct: Decimal


class DatabaseHealth(Result):
    connections: ConnectionCounts
    cache_hit_ratio: Decimal | None
    database_size_bytes: int
    longest_transaction_s: Decimal
    waiting_locks: int
    deadlocks: int


@declare("get_database_health_metrics()", DatabaseHealth.model_validate, read_only=True)
def get_database_health_metrics() -> dict[str, Any]:
    """Connections, cache hit ratio, size, longest transaction, waiting locks, deadlocks."""
    return {}
