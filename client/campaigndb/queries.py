"""Every SQL string the client sends, in one place.

A test resolves each API function below with `to_regprocedure` against a migrated database,
so Python and SQL cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from uuid import UUID

from psycopg import sql


class Isolation(StrEnum):
    READ_COMMITTED = "READ COMMITTED"
    REPEATABLE_READ = "REPEATABLE READ"
    SERIALIZABLE = "SERIALIZABLE"


@dataclass(frozen=True)
class FunctionSpec:
    """How the client calls one API function."""

    name: str
    #: parameter name -> PostgreSQL type, in declaration order
    params: dict[str, str]
    isolation: Isolation
    signature: str
    read_only: bool = False
    #: the parameter whose value keys the pre-snapshot advisory lock (SERIALIZABLE hot rows)
    hot_row_param: str | None = None
    #: the parameter that carries the idempotency key, and the key inside it when it is JSON
    idempotency_param: str | None = None
    idempotency_json_key: str | None = None
    required: frozenset[str] = field(default_factory=frozenset)
    #: "envelope": returns one jsonb envelope; "table": returns rows (RETURNS TABLE);
    #: "scalar": returns one value (answered as the envelope's "id")
    returns: str = "envelope"

    def call_sql(self, given: tuple[str, ...]) -> str:
        """SELECT public.fn(p_a => %(p_a)s::type, ...) for the parameters given (cached)."""
        args = tuple((n, self.params[n]) for n in self.params if n in given)
        return _call_sql(self.name, args, self.returns == "table")


@lru_cache(maxsize=256)
def _call_sql(name: str, args: tuple[tuple[str, str], ...], table: bool = False) -> str:
    # Names and types come from FUNCTIONS (identifiers checked below), never from callers;
    # values travel as %(name)s placeholders.  Rendered once per shape: composing psycopg
    # sql objects on every call cost more than the server's work for a small call.
    for identifier in (name, *(n for n, _ in args)):
        if not identifier.isidentifier():
            raise ValueError(f"not an identifier: {identifier!r}")
    rendered = ", ".join(f"{n} => %({n})s::{t}" for n, t in args)
    if table:
        return f"SELECT * FROM public.{name}({rendered})"
    return f"SELECT public.{name}({rendered})"


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            name="create_workspace",
            params={"p_name": "text", "p_workspace_id": "uuid"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.create_workspace(text, uuid)",
            idempotency_param="p_workspace_id",
            required=frozenset({"p_name"}),
        ),
        FunctionSpec(
            name="create_campaign_with_coverage",
            params={"p_campaign_data": "jsonb", "p_zip_codes": "jsonb"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.create_campaign_with_coverage(jsonb, jsonb)",
            idempotency_param="p_campaign_data",
            idempotency_json_key="id",
            required=frozenset({"p_campaign_data", "p_zip_codes"}),
        ),
        FunctionSpec(
            name="track_campaign_cost",
            params={
                "p_campaign_id": "uuid",
                "p_service": "varchar",
                "p_items_processed": "integer",
                "p_cost_usd": "numeric",
                "p_metadata": "jsonb",
                "p_idempotency_key": "text",
            },
            isolation=Isolation.SERIALIZABLE,
            signature="public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)",
            hot_row_param="p_campaign_id",
            idempotency_param="p_idempotency_key",
            required=frozenset(
                {"p_campaign_id", "p_service", "p_items_processed", "p_cost_usd", "p_metadata"}
            ),
        ),
        # The lead-generation writes below are idempotent by nature (an upsert, a recount,
        # values set rather than added): a retry after an ambiguous commit applies nothing
        # twice, so they carry no idempotency key.
        FunctionSpec(
            name="insert_businesses_batch",
            params={"p_campaign_id": "uuid", "p_zip_code": "varchar", "p_businesses": "jsonb"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.insert_businesses_batch(uuid, varchar, jsonb)",
            required=frozenset({"p_campaign_id", "p_zip_code", "p_businesses"}),
        ),
        FunctionSpec(
            name="update_campaign_statistics",
            params={"p_campaign_id": "uuid"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.update_campaign_statistics(uuid)",
            required=frozenset({"p_campaign_id"}),
        ),
        FunctionSpec(
            name="update_coverage_status",
            params={"p_campaign_id": "uuid", "p_zip_code": "varchar",
                    "p_businesses_found": "integer", "p_emails_found": "integer",
                    "p_actual_cost": "numeric", "p_status": "text"},
            isolation=Isolation.READ_COMMITTED,
            signature=(
                "public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)"
            ),
            required=frozenset({"p_campaign_id", "p_zip_code", "p_businesses_found",
                                "p_emails_found", "p_actual_cost"}),
        ),
        FunctionSpec(
            name="update_email_verification",
            params={"p_business_id": "uuid", "p_email": "varchar",
                    "p_verification_data": "jsonb"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.update_email_verification(uuid, varchar, jsonb)",
            required=frozenset({"p_business_id", "p_email", "p_verification_data"}),
        ),
        FunctionSpec(
            name="update_enrichment_batch",
            params={"p_enrichment_type": "varchar", "p_enrichments": "jsonb"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.update_enrichment_batch(varchar, jsonb)",
            required=frozenset({"p_enrichment_type", "p_enrichments"}),
        ),
        FunctionSpec(
            name="get_businesses_for_enrichment",
            params={"p_campaign_id": "uuid", "p_enrichment_type": "varchar",
                    "p_limit": "integer", "p_offset": "integer", "p_after_id": "uuid"},
            isolation=Isolation.READ_COMMITTED,
            read_only=True,
            returns="table",
            signature="public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)",
            required=frozenset({"p_campaign_id", "p_enrichment_type", "p_limit", "p_offset"}),
        ),
        FunctionSpec(
            name="register_n8n_workflow",
            params={"p_workspace_id": "uuid", "p_n8n_workflow_id": "text", "p_name": "text",
                    "p_campaign_type": "text", "p_deployment_status": "text"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.register_n8n_workflow(uuid, text, text, text, text)",
            required=frozenset({"p_workspace_id", "p_n8n_workflow_id", "p_name",
                                "p_campaign_type"}),
        ),
        FunctionSpec(
            name="execute_campaign_atomically",
            params={"p_workspace_id": "uuid", "p_workspace_n8n_workflow_id": "uuid",
                    "p_campaign_approval_session_id": "uuid", "p_campaign_name": "text",
                    "p_campaign_type": "text", "p_execution_config": "jsonb",
                    "p_execution_id": "uuid"},
            isolation=Isolation.REPEATABLE_READ,
            signature=("public.execute_campaign_atomically("
                       "uuid, uuid, uuid, text, text, jsonb, uuid)"),
            hot_row_param="p_workspace_n8n_workflow_id",
            idempotency_param="p_execution_id",
            required=frozenset({"p_workspace_id", "p_workspace_n8n_workflow_id",
                                "p_campaign_approval_session_id", "p_campaign_name",
                                "p_campaign_type"}),
        ),
        FunctionSpec(
            name="complete_campaign_execution",
            params={"p_execution_id": "uuid", "p_status": "text", "p_result": "jsonb",
                    "p_error_message": "text"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.complete_campaign_execution(uuid, text, jsonb, text)",
            required=frozenset({"p_execution_id", "p_status"}),
        ),
        FunctionSpec(
            name="validate_campaign_execution_constraints",
            params={"p_workspace_id": "uuid", "p_workspace_n8n_workflow_id": "uuid",
                    "p_campaign_type": "text"},
            isolation=Isolation.READ_COMMITTED,
            read_only=True,
            signature="public.validate_campaign_execution_constraints(uuid, uuid, text)",
            required=frozenset({"p_workspace_id", "p_workspace_n8n_workflow_id",
                                "p_campaign_type"}),
        ),
        FunctionSpec(
            name="get_campaign_execution_metrics",
            params={"p_workspace_id": "uuid", "p_since": "timestamptz"},
            isolation=Isolation.READ_COMMITTED,
            read_only=True,
            signature="public.get_campaign_execution_metrics(uuid, timestamptz)",
            required=frozenset({"p_workspace_id"}),
        ),
        FunctionSpec(
            name="record_transaction_metric",
            params={"p_operation_name": "varchar", "p_campaign_id": "uuid",
                    "p_duration_ms": "integer", "p_success": "boolean",
                    "p_error_message": "text", "p_retry_count": "integer",
                    "p_isolation_level": "varchar", "p_metric_id": "uuid"},
            isolation=Isolation.READ_COMMITTED,
            returns="scalar",
            signature=("public.record_transaction_metric("
                       "varchar, uuid, integer, boolean, text, integer, varchar, uuid)"),
            # the row's id, chosen by the client: a retry after a lost reply stores nothing
            idempotency_param="p_metric_id",
            required=frozenset({"p_operation_name", "p_campaign_id", "p_duration_ms",
                                "p_success"}),
        ),
        # Reporting: each call's collection_log row carries the idempotency key, so a retry
        # after an ambiguous commit answers the first result instead of logging twice.
        FunctionSpec(
            name="upsert_daily_kpi_batch",
            params={"p_rows": "jsonb", "p_source": "text", "p_idempotency_key": "text"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.upsert_daily_kpi_batch(jsonb, text, text)",
            idempotency_param="p_idempotency_key",
            required=frozenset({"p_rows", "p_source"}),
        ),
        FunctionSpec(
            name="aggregate_monthly_kpis",
            params={"p_month": "date", "p_campaign_id": "uuid", "p_idempotency_key": "text"},
            isolation=Isolation.READ_COMMITTED,
            signature="public.aggregate_monthly_kpis(date, uuid, text)",
            idempotency_param="p_idempotency_key",
            required=frozenset({"p_month"}),
        ),
        FunctionSpec(
            name="get_database_health_metrics",
            params={},
            isolation=Isolation.READ_COMMITTED,
            read_only=True,
            signature="public.get_database_health_metrics()",
        ),
    )
}

#: Advisory-lock namespace of the pre-snapshot hot-row lock (the two-int4 form keeps it
#: apart from single-bigint advisory locks other applications may take).
HOT_ROW_LOCK_NAMESPACE = 0x43444201

# Statements around the call, as plain text: every value in them is an int or a uuid the
# client validated, so they are formatted here without quoting concerns.
BEGIN = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = sql.SQL("ROLLBACK")
UNLOCK_ALL = sql.SQL("SELECT pg_catalog.pg_advisory_unlock_all()")
RESOLVE_FUNCTION = "SELECT pg_catalog.to_regprocedure(%s)::text"


def begin(isolation: Isolation, read_only: bool = False) -> str:
    return f"BEGIN ISOLATION LEVEL {isolation.value}{' READ ONLY' if read_only else ''}"


def set_local_statement_timeout(ms: int) -> str:
    return f"SET LOCAL statement_timeout = {int(ms)}"


def set_local_workspace(workspace_id: UUID | str) -> str:
    return f"SET LOCAL campaigndb.workspace_id = '{UUID(str(workspace_id))}'"


def hot_row_lock(key: int) -> str:
    return f"SELECT pg_catalog.pg_advisory_lock({HOT_ROW_LOCK_NAMESPACE}, {int(key)})"


def hot_row_unlock(key: int) -> str:
    return f"SELECT pg_catalog.pg_advisory_unlock({HOT_ROW_LOCK_NAMESPACE}, {int(key)})"
