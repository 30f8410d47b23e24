"""Configuration: `CAMPAIGNDB_*` environment variables, overridable in code.

>>> Settings(pool_max_size=5).pool_max_size
5
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the client, the CLI and alembic read from the environment."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNDB_", extra="ignore", frozen=True)

    dsn: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CAMPAIGNDB_DSN", "DATABASE_URL", "dsn"),
        description="PostgreSQL URL (required: `campaigndb db up` starts a local one)",
    )
    # Pool (defaults of docs/contract.md, section 5)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=20, ge=1)
    pool_max_idle_s: float = Field(default=30.0, gt=0, description="idle connection timeout")
    pool_timeout_s: float = Field(default=30.0, gt=0, description="wait for a free connection")
    connect_timeout_s: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    application_name: str = "campaigndb"
    # Retries (tenacity): exponential backoff with full jitter
    retry_attempts: int = Field(default=8, ge=1)
    retry_base_s: float = Field(default=0.005, ge=0)
    retry_max_s: float = Field(default=1.0, ge=0)
    # Take a per-campaign session advisory lock before a SERIALIZABLE call's snapshot, so
    # that callers of one campaign queue instead of failing with 40001 (see README,
    # "SERIALIZABLE without the retry storm"): "adaptive" does it for hot_row_ttl_s after a
    # 40001 on that campaign, "always" on every call, "never" not at all.
    hot_row_lock: Literal["adaptive", "always", "never"] = "adaptive"
    hot_row_ttl_s: float = Field(default=2.0, ge=0)
    # Behind PgBouncer in transaction pooling mode: no session state at all.  No startup
    # `options` (PgBouncer refuses them): statement_timeout is set per transaction (SET
    # LOCAL) by every call and run_transaction; no hot-row advisory session lock (a hot
    # row's callers in one process take turns on an in-process lock instead, callers in
    # other processes rely on retries); the workspace binding is SET LOCAL as always;
    # server-side prepared statements are off in any mode (prepare_threshold=None).
    pgbouncer: bool = False
    # Bind every transaction to one workspace (SET LOCAL campaigndb.workspace_id).
    workspace_id: str | None = None
    # A signed workspace token (campaigndb.mint_token), sent with SET LOCAL in each transaction.
    workspace_token: str | None = None
    # Record every call's duration, outcome and retries in transaction_metrics (batched in
    # the background; see campaigndb.recorder).
    record_metrics: bool = False
    metrics_flush_interval_s: float = Field(default=1.0, gt=0)
    # Read replicas (docs/replicas.md): comma-separated DSNs of streaming standbys that the
    # read-only functions are routed to; empty: everything goes to the primary.
    replica_dsns: str = ""
    replica_max_lag_s: float = Field(default=5.0, gt=0)
    replica_wait_s: float = Field(default=0.2, ge=0, description="read-your-writes wait")
    replica_retry_after_s: float = Field(default=10.0, gt=0)


class MissingDsn(ValueError):
    """No database was named: the library never starts one by itself."""


def resolve_dsn(settings: Settings | None = None) -> str:
    """The configured DSN; without one, a clear error (never a server started here)."""
    settings = settings or Settings()
    if settings.dsn:
        return settings.dsn
    raise MissingDsn(
        "no database configured: pass a DSN (Client(dsn)) or set CAMPAIGNDB_DSN (or "
        "DATABASE_URL); for a local development server run `campaigndb db up` and use the "
        "URL it prints")
