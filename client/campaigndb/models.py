"""Pydantic models in and out of the typed client methods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """The answer every API function gives (CONTRACT.md section 1)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    success: bool
    error: str | None = None
    error_code: str | None = None
    retry_recommended: bool = False
    retry_after_ms: int | None = None
    error_detail: dict[str, Any] | None = None


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WorkspaceCreated(_Result):
    workspace_id: UUID
    replayed: bool = False


class ZipCode(BaseModel):
    """One ZIP code of a campaign's coverage, with its estimated scraping cost."""

    model_config = ConfigDict(frozen=True)

    zip_code: str
    estimated_cost: Decimal | None = None


class CampaignData(BaseModel):
    """p_campaign_data of create_campaign_with_coverage."""

    model_config = ConfigDict(frozen=True)

    workspace_id: UUID
    name: str
    id: UUID | None = Field(default=None, description="client-chosen id: the idempotency key")
    status: str | None = None
    search_query: str | None = None
    location: str | None = None
    keywords: list[str] | None = None
    settings: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class CampaignCreated(_Result):
    campaign_id: UUID
    zip_count: int
    replayed: bool = False


class CostTracked(_Result):
    cost_id: UUID
    new_total_cost: Decimal
    replayed: bool = False


class Business(BaseModel):
    """One scraped business for insert_businesses_batch (plain dicts are accepted too)."""

    model_config = ConfigDict(frozen=True)

    place_id: str
    name: str
    address: str | None = None
    city: str | None = None
    state: str | None = None
    phone: str | None = None
    website: str | None = None
    category: str | None = None
    rating: Decimal | None = None
    reviews_count: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    email: str | None = None
    facebook_url: str | None = None
    linkedin_url: str | None = None
    raw_data: dict[str, Any] | None = None


class BatchResult(_Result):
    inserted: int
    updated: int
    skipped: int


class CampaignStatistics(_Result):
    total_businesses: int
    total_emails: int
    total_facebook_pages: int
    total_linkedin_profiles: int


class CoverageUpdated(_Result):
    zip_code: str
    status: str


class EmailVerified(_Result):
    business_id: UUID
    verification_status: str


class Enrichment(BaseModel):
    """One element of update_enrichment_batch."""

    model_config = ConfigDict(frozen=True)

    business_id: UUID
    url: str | None = None
    data: dict[str, Any] | None = None


class EnrichmentFailure(_Result):
    index: int
    business_id: str | None = None
    error_code: str
    error: str


class EnrichmentResult(_Result):
    updated: int
    failed: int
    failures: list[EnrichmentFailure]


class BusinessRow(_Result):
    """A row of get_businesses_for_enrichment."""

    id: UUID
    campaign_id: UUID
    zip_code: str | None = None
    place_id: str
    name: str
    address: str | None = None
    city: str | None = None
    state: str | None = None
    phone: str | None = None
    website: str | None = None
    category: str | None = None
    email: str | None = None
    facebook_url: str | None = None
    linkedin_url: str | None = None
    email_verification_status: str


class WorkflowRegistered(_Result):
    workflow_id: UUID
    replayed: bool = False
    updated: bool = False


class ExecutionStarted(_Result):
    execution_id: UUID
    execution_status: str
    total_executions: int
    replayed: bool = False


class ExecutionCompleted(_Result):
    execution_id: UUID
    execution_status: str
    duration_ms: int | None
    replayed: bool = False


class Violation(_Result):
    code: str
    message: str


class ExecutionValidation(_Result):
    valid: bool
    violations: list[Violation]


class ExecutionMetrics(_Result):
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    success_rate: Decimal | None
    avg_duration_ms: Decimal | None
    p95_duration_ms: Decimal | None
    peak_concurrent: int


class ConnectionCounts(_Result):
    total: int
    active: int
    idle: int
    idle_in_transaction: int
    max: int
    usage_pct: Decimal


class DatabaseHealth(_Result):
    connections: ConnectionCounts
    cache_hit_ratio: Decimal | None
    database_size_bytes: int
    longest_transaction_s: Decimal
    waiting_locks: int
    deadlocks: int


class KpiRow(BaseModel):
    """One day of one platform's figures for upsert_daily_kpi_batch (plain dicts are accepted
    too, and checked by the server)."""

    model_config = ConfigDict(frozen=True)

    campaign_id: UUID
    kpi_date: date
    platform: str = Field(min_length=1, max_length=32)
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    spend: Decimal = Field(ge=0)
    conversions: int = Field(ge=0)
    revenue: Decimal = Field(ge=0)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class KpiUpserted(_Result):
    upserted: int
    inserted: int
    updated: int
    unchanged: int
    first_date: date | None = None
    last_date: date | None = None
    collection_log_id: int
    replayed: bool = False


class KpisAggregated(_Result):
    summaries_written: int
    summaries_replaced: int
    month: date
    campaign_id: UUID | None = None
    collection_log_id: int
    replayed: bool = False
