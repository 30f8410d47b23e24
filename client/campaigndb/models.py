"""Pydantic models in and out of the typed client methods."""

from __future__ import annotations

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
