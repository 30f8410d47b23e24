"""campaigndb: atomic PL/pgSQL functions for campaign data, and their typed Python client.

The public API, nothing else.  Where things live: `core/` (no I/O: the declarations of the
API functions, the SQLSTATE table, the retry policy, every SQL statement), `sync/` and
`aio/` (the I/O of the two clients), `observe/` (statistics, metrics, health, Prometheus),
`settings.py`.  The development kit (embedded server, CLI, test helpers) is the separate
package `campaigndb_dev`.
"""

import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from campaigndb.aio.client import AsyncClient
from campaigndb.aio.transaction import AsyncTransaction
from campaigndb.core.classification import Classification, classify
from campaigndb.core.connection import json_dumps
from campaigndb.core.declare import FUNCTIONS, FunctionSpec, Isolation
from campaigndb.core.errors import envelope_from_exception
from campaigndb.core.exceptions import (
    BatchTooLarge,
    CampaignDBError,
    CheckViolation,
    ConnectFailed,
    Duplicate,
    Envelope,
    InvalidInput,
    InvalidState,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    ReferenceNotFound,
    RetriesExhausted,
    StepFailed,
    TransactionTimeout,
)
from campaigndb.core.functions.execution import (
    ExecutionCompleted,
    ExecutionMetrics,
    ExecutionStarted,
    ExecutionValidation,
    Violation,
    WorkflowRegistered,
)
from campaigndb.core.functions.leadgen import (
    BatchResult,
    Business,
    BusinessRow,
    CampaignCreated,
    CampaignData,
    CampaignStatistics,
    CostTracked,
    CoverageUpdated,
    EmailVerified,
    Enrichment,
    EnrichmentFailure,
    EnrichmentResult,
    WorkspaceCreated,
    ZipCode,
)
from campaigndb.core.functions.reporting import (
    DatabaseHealth,
    KpiRow,
    KpisAggregated,
    KpiUpserted,
)
from campaigndb.core.sqlstates import SQLSTATES, Category, RecoveryAction
from campaigndb.core.tokens import mint_token
from campaigndb.observe.health import HealthMonitor, HealthReport, HealthStatus, Thresholds
from campaigndb.observe.stats import CallStats
from campaigndb.settings import MissingDsn, Settings
from campaigndb.sync.client import Client
from campaigndb.sync.transaction import Transaction

__all__ = [
    "FUNCTIONS",
    "SQLSTATES",
    "AsyncClient",
    "AsyncTransaction",
    "BatchResult",
    "BatchTooLarge",
    "ConnectFailed",
    "Business",
    "BusinessRow",
    "CallStats",
    "CampaignCreated",
    "CampaignData",
    "CampaignDBError",
    "CampaignStatistics",
    "Category",
    "CheckViolation",
    "Classification",
    "Client",
    "CostTracked",
    "CoverageUpdated",
    "DatabaseHealth",
    "Duplicate",
    "EmailVerified",
    "Enrichment",
    "EnrichmentFailure",
    "EnrichmentResult",
    "Envelope",
    "ExecutionCompleted",
    "ExecutionMetrics",
    "ExecutionStarted",
    "ExecutionValidation",
    "FunctionSpec",
    "HealthMonitor",
    "HealthReport",
    "HealthStatus",
    "InvalidInput",
    "InvalidState",
    "Isolation",
    "KpiRow",
    "KpisAggregated",
    "KpiUpserted",
    "MissingDsn",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "RecoveryAction",
    "ReferenceNotFound",
    "RetriesExhausted",
    "Settings",
    "StepFailed",
    "Thresholds",
    "Transaction",
    "TransactionTimeout",
    "Violation",
    "WorkflowRegistered",
    "WorkspaceCreated",
    "ZipCode",
    "classify",
    "envelope_from_exception",
    "json_dumps",
    "mint_token",
]

try:
    __version__ = _distribution_version("campaigndb")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

# A library configures no logging: without this, Python's last-resort handler prints every
# WARNING (each rejected call) on stderr.  Applications (or `campaigndb -v`) add handlers.
logging.getLogger("campaigndb").addHandler(logging.NullHandler())
