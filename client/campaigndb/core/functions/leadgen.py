"""The lead-generation functions: workspaces, campaigns, costs, businesses, enrichment.

Each API function is declared once (`campaigndb.core.declare`): its SQL signature, how the
client runs it, the typed arguments and the model of its answer, side by side.  The SQL is
`sql/functions/<name>.sql`.  The writes without an idempotency key are idempotent by
nature (an upsert, a recount, values set rather than added): a retry after an ambiguous
commit applies nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from campaigndb.core.declare import ArrayLimit, Isolation, declare
from campaigndb.core.exceptions import Envelope
from campaigndb.core.functions.common import Input, Result, decimal, given, text


class WorkspaceCreated(Result):
    workspace_id: uuid.UUID
    replayed: bool = False


@declare("create_workspace(p_name text, p_workspace_id uuid = NULL)",
         WorkspaceCreated.model_validate, idempotency="p_workspace_id")
def create_workspace(name: str, *, workspace_id: uuid.UUID | str | None = None
                     ) -> dict[str, Any]:
    """Create a workspace; `workspace_id` (generated when omitted) makes retries safe."""
    return given({"p_name": name}, p_workspace_id=text(workspace_id))


class ZipCode(Input):
    """One ZIP code of a campaign's coverage, with its estimated scraping cost."""

    zip_code: str
    estimated_cost: Decimal | None = None


class CampaignData(Input):
    """p_campaign_data of create_campaign_with_coverage."""

    workspace_id: uuid.UUID
    name: str
    id: uuid.UUID | None = Field(default=None,
                                 description="client-chosen id: the idempotency key")
    status: str | None = None
    search_query: str | None = None
    location: str | None = None
    keywords: list[str] | None = None
    settings: dict[str, Any] | None = None


class CampaignCreated(Result):
    campaign_id: uuid.UUID
    zip_count: int
    replayed: bool = False


@declare("create_campaign_with_coverage(p_campaign_data jsonb, p_zip_codes jsonb)",
         CampaignCreated.model_validate, idempotency="p_campaign_data.id",
         limits=(ArrayLimit("p_zip_codes", 50_000, noun="ZIP codes",
                            hint="split the ZIP codes over several campaigns"),
                 ArrayLimit("p_campaign_data.keywords", 1_000, noun="keywords",
                            per_call=False, column="keywords")))
def create_campaign_with_coverage(
    campaign: CampaignData | Mapping[str, Any],
    zip_codes: Sequence[str | ZipCode | Mapping[str, Any]],
) -> dict[str, Any]:
    """Create a campaign and its ZIP coverage in one transaction.  A plain mapping goes to
    the server as it is, so that it answers exactly as `call` does (an unknown field: 22023)."""
    data = campaign.to_json() if isinstance(campaign, CampaignData) else dict(campaign)
    zips = [z.model_dump(mode="python", exclude_none=True) if isinstance(z, ZipCode) else z
            for z in zip_codes]
    return {"p_campaign_data": data, "p_zip_codes": zips}


class CostTracked(Result):
    cost_id: uuid.UUID
    new_total_cost: Decimal
    replayed: bool = False


@declare("track_campaign_cost(p_campaign_id uuid, p_service varchar, p_items_processed integer,"
         " p_cost_usd numeric, p_metadata jsonb, p_idempotency_key text = NULL)",
         CostTracked.model_validate, isolation=Isolation.SERIALIZABLE, hot_row="p_campaign_id",
         idempotency="p_idempotency_key")
def track_campaign_cost(
    campaign_id: uuid.UUID | str, service: str, items_processed: int,
    cost_usd: Decimal | int | str, metadata: Mapping[str, Any] | None = None,
    *, idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Record an API cost and add it to the campaign's total (SERIALIZABLE)."""
    return given({"p_campaign_id": str(campaign_id), "p_service": service,
                  "p_items_processed": items_processed, "p_cost_usd": decimal(cost_usd),
                  "p_metadata": dict(metadata or {})}, p_idempotency_key=idempotency_key)


class Listing(BaseModel):
    """What a scraped business and a stored one share."""

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


class Business(Listing, Input):
    """One scraped business for insert_businesses_batch (plain dicts are accepted too)."""

    rating: Decimal | None = None
    reviews_count: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    raw_data: dict[str, Any] | None = None


class BatchResult(Result):
    inserted: int
    updated: int
    skipped: int


@declare("insert_businesses_batch(p_campaign_id uuid, p_zip_code varchar, "
         "p_businesses jsonb)", BatchResult.model_validate,
         limits=(ArrayLimit("p_businesses", 25_000,
                            hint="send the businesses in several batches"),))
def insert_businesses_batch(
    campaign_id: uuid.UUID | str,
    zip_code: str | None,
    businesses: Sequence[Business | Mapping[str, Any]],
) -> dict[str, Any]:
    """Upsert scraped businesses (dedup on place_id); counts inserted/updated/skipped.

    Plain dicts go to the server as they are (no per-row validation in Python: the
    function checks every element and fails the whole batch on a wrong type).
    """
    rows = [b.model_dump(mode="python", exclude_none=True) if isinstance(b, Business) else b
            for b in businesses]
    return {"p_campaign_id": str(campaign_id), "p_zip_code": zip_code, "p_businesses": rows}


class CampaignStatistics(Result):
    total_businesses: int
    total_emails: int
    total_facebook_pages: int
    total_linkedin_profiles: int


@declare("update_campaign_statistics(p_campaign_id uuid)", CampaignStatistics.model_validate)
def update_campaign_statistics(campaign_id: uuid.UUID | str) -> dict[str, Any]:
    """Recompute a campaign's totals from its rows, under the campaign's row lock."""
    return {"p_campaign_id": str(campaign_id)}


class CoverageUpdated(Result):
    zip_code: str
    status: str


@declare("update_coverage_status(p_campaign_id uuid, p_zip_code varchar, "
         "p_businesses_found integer, p_emails_found integer, p_actual_cost numeric, "
         "p_status text = NULL)", CoverageUpdated.model_validate)
def update_coverage_status(
    campaign_id: uuid.UUID | str,
    zip_code: str,
    businesses_found: int,
    emails_found: int,
    actual_cost: Decimal | int | str,
    status: str = "completed",
) -> dict[str, Any]:
    """Record the outcome of scraping one ZIP code of a campaign."""
    return {"p_campaign_id": str(campaign_id), "p_zip_code": zip_code,
            "p_businesses_found": businesses_found, "p_emails_found": emails_found,
            "p_actual_cost": decimal(actual_cost), "p_status": status}


class EmailVerified(Result):
    business_id: uuid.UUID
    verification_status: str


@declare("update_email_verification(p_business_id uuid, p_email varchar, "
         "p_verification_data jsonb)", EmailVerified.model_validate)
def update_email_verification(
    business_id: uuid.UUID | str,
    email: str | None,
    verification_data: Mapping[str, Any],
) -> dict[str, Any]:
    """Store an e-mail verifier's verdict ({"status": "valid", ...}) on a business."""
    return {"p_business_id": str(business_id), "p_email": email,
            "p_verification_data": dict(verification_data)}


class Enrichment(Input):
    """One element of update_enrichment_batch."""

    business_id: uuid.UUID
    url: str | None = None
    data: dict[str, Any] | None = None


class EnrichmentFailure(Result):
    index: int
    business_id: str | None = None
    error_code: str
    error: str


class EnrichmentResult(Result):
    updated: int
    failed: int
    failures: list[EnrichmentFailure]


@declare("update_enrichment_batch(p_enrichment_type varchar, p_enrichments jsonb)",
         EnrichmentResult.model_validate,
         limits=(ArrayLimit("p_enrichments", 10_000,
                            hint="send the enrichments in several batches"),))
def update_enrichment_batch(
    enrichment_type: str,
    enrichments: Sequence[Enrichment | Mapping[str, Any]],
) -> dict[str, Any]:
    """Apply Facebook or LinkedIn findings; bad elements are reported, the rest apply."""
    rows = [e.to_json() if isinstance(e, Enrichment) else e for e in enrichments]
    return {"p_enrichment_type": enrichment_type, "p_enrichments": rows}


class BusinessRow(Listing, Result):
    """A row of get_businesses_for_enrichment."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    zip_code: str | None = None
    email_verification_status: str


#: one validation of the whole page (a fifth cheaper than a model_validate per row;
#: model_construct is slower still: it runs in Python)
_PAGE = TypeAdapter(list[BusinessRow])


def _rows(envelope: Envelope) -> list[BusinessRow]:
    return _PAGE.validate_python(envelope["rows"])


@declare("get_businesses_for_enrichment(p_campaign_id uuid, p_enrichment_type varchar, "
         "p_limit integer, p_offset integer, p_after_id uuid = NULL)",
         _rows, read_only=True, returns="table")
def get_businesses_for_enrichment(
    campaign_id: uuid.UUID | str,
    enrichment_type: str,
    limit: int = 100,
    offset: int = 0,
    *,
    after_id: uuid.UUID | str | None = None,
) -> dict[str, Any]:
    """One page of the campaign's businesses that still need `enrichment_type`."""
    return given({"p_campaign_id": str(campaign_id), "p_enrichment_type": enrichment_type,
                  "p_limit": limit, "p_offset": offset}, p_after_id=text(after_id))

