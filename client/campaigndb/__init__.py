"""campaigndb: atomic PL/pgSQL functions for campaign data, and their typed Python client."""

from campaigndb.client import CallStats, Client
from campaigndb.errors import (
    BatchTooLarge,
    CampaignDBError,
    CheckViolation,
    Duplicate,
    InvalidInput,
    InvalidState,
    NotFound,
    PermissionDenied,
    ReferenceNotFound,
    RetriesExhausted,
    envelope_from_exception,
)
from campaigndb.models import (
    CampaignCreated,
    CampaignData,
    CostTracked,
    Envelope,
    WorkspaceCreated,
    ZipCode,
)
from campaigndb.queries import FUNCTIONS, Isolation
from campaigndb.settings import Settings

__all__ = [
    "FUNCTIONS",
    "BatchTooLarge",
    "CallStats",
    "CampaignCreated",
    "CampaignData",
    "CampaignDBError",
    "CheckViolation",
    "Client",
    "CostTracked",
    "Duplicate",
    "Envelope",
    "InvalidInput",
    "InvalidState",
    "Isolation",
    "NotFound",
    "PermissionDenied",
    "ReferenceNotFound",
    "RetriesExhausted",
    "Settings",
    "WorkspaceCreated",
    "ZipCode",
    "envelope_from_exception",
]
