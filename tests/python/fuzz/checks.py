"""What every answer must look like, a cheap fingerprint of the database, and the plain-SQL
way of calling a function."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    create_model,
    model_validator,
)

from campaigndb import FunctionSpec
from campaigndb.core.sqlstates import SQLSTATES

#: The contract's SQLSTATE table (docs/contract.md section 1; campaigndb/sqlstates.py, which a
#: test keeps equal to campaigndb.error_codes).
TABLE_CODES = frozenset(SQLSTATES)


def _is_uuid(value: str) -> str:
    uuid.UUID(value)
    return value


def _in_table(code: str) -> str:
    if code not in TABLE_CODES:
        raise ValueError(f"SQLSTATE {code} is not in the contract's table")
    return code


Uuid = Annotated[StrictStr, AfterValidator(_is_uuid)]
Count = Annotated[StrictInt, Field(ge=0)]
Number = StrictInt | StrictFloat | Decimal
SqlState = Annotated[StrictStr, Field(pattern=r"^[0-9A-Z]{5}$")]
TableCode = Annotated[SqlState, AfterValidator(_in_table)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorDetail(_Strict):
    constraint: StrictStr | None = None
    column: StrictStr | None = None
    table: StrictStr | None = None
    detail: StrictStr | None = None
    hint: StrictStr | None = None


class EnvelopeShape(BaseModel):
    """docs/contract.md section 1: four keys always present, with these types; optional failure
    keys; a failure names its error; a success carries none."""

    model_config = ConfigDict(strict=True, extra="allow")

    success: StrictBool
    error: StrictStr | None
    error_code: SqlState | None
    retry_recommended: StrictBool
    retry_after_ms: Count | None = None
    error_detail: ErrorDetail | None = None

    @model_validator(mode="after")
    def coherent(self) -> EnvelopeShape:
        if self.success:
            assert self.error is None and self.error_code is None, "success with an error"
            assert not self.retry_recommended, "success with retry_recommended"
        else:
            assert self.error and self.error_code, "failure without error and error_code"
        if self.retry_after_ms is not None:
            assert self.retry_recommended, "retry_after_ms without retry_recommended"
        return self


def _success(name: str, **fields: Any) -> type[BaseModel]:
    return create_model(name, __config__=ConfigDict(strict=True, extra="allow"), **fields)


class Violation(_Strict):
    code: StrictStr
    message: StrictStr


class Failure(_Strict):
    index: Count
    business_id: Any
    error_code: TableCode
    error: StrictStr


class Connections(_Strict):
    total: Count
    active: Count
    idle: Count
    idle_in_transaction: Count
    max: Count
    usage_pct: Number


_VERDICTS = Literal["valid", "invalid", "risky", "unknown", "catch_all", "disposable"]

#: The documented success fields of each envelope function (docs/contract.md section 3,
#: docs/functions.md).
SUCCESS: dict[str, type[BaseModel]] = {
    "create_workspace": _success("CreateWorkspace", workspace_id=(Uuid, ...),
                                 replayed=(StrictBool, ...)),
    "create_campaign_with_coverage": _success("CreateCampaign", campaign_id=(Uuid, ...),
                                              zip_count=(Count, ...),
                                              replayed=(StrictBool, ...)),
    "track_campaign_cost": _success("TrackCost", cost_id=(Uuid, ...),
                                    new_total_cost=(Number, ...), replayed=(StrictBool, ...)),
    "insert_businesses_batch": _success("InsertBusinesses", inserted=(Count, ...),
                                        updated=(Count, ...), skipped=(Count, ...)),
    "update_campaign_statistics": _success(
        "Statistics", total_businesses=(Count, ...), total_emails=(Count, ...),
        total_facebook_pages=(Count, ...), total_linkedin_profiles=(Count, ...)),
    "update_coverage_status": _success(
        "Coverage", zip_code=(StrictStr, ...),
        status=(Literal["completed", "scraping", "failed", "skipped", "pending"], ...)),
    "update_enrichment_batch": _success("Enrichment", updated=(Count, ...), failed=(Count, ...),
                                        failures=(list[Failure], ...)),
    "update_email_verification": _success("Verification",
                                          verification_status=(_VERDICTS, ...)),
    "register_n8n_workflow": _success("Workflow", workflow_id=(Uuid, ...),
                                      replayed=(StrictBool, ...)),
    "execute_campaign_atomically": _success(
        "Execution", execution_id=(Uuid, ...), execution_status=(StrictStr, ...),
        total_executions=(Count, ...), replayed=(StrictBool, ...)),
    "complete_campaign_execution": _success(
        "Completion", execution_status=(Literal["completed", "failed"], ...),
        duration_ms=(Count, ...)),
    "validate_campaign_execution_constraints": _success(
        "Validation", valid=(StrictBool, ...), violations=(list[Violation], ...)),
    "get_campaign_execution_metrics": _success(
        "Metrics", total=(Count, ...), pending=(Count, ...), running=(Count, ...),
        completed=(Count, ...), failed=(Count, ...), success_rate=(Number | None, ...),
        avg_duration_ms=(Number | None, ...), p95_duration_ms=(Number | None, ...),
        peak_concurrent=(Count, ...)),
    "get_database_health_metrics": _success(
        "Health", connections=(Connections, ...), cache_hit_ratio=(Number | None, ...),
        database_size_bytes=(Count, ...), longest_transaction_s=(Number, ...),
        waiting_locks=(Count, ...), deadlocks=(Count, ...)),
    "upsert_daily_kpi_batch": _success("KpiBatch", upserted=(Count, ...),
                                       collection_log_id=(Count, ...),
                                       replayed=(StrictBool, ...)),
    "aggregate_monthly_kpis": _success("KpiMonth", summaries_written=(Count, ...),
                                       collection_log_id=(Count, ...),
                                       replayed=(StrictBool, ...)),
}

#: The columns get_businesses_for_enrichment returns (docs/contract.md: "TABLE of business rows").
BUSINESS_COLUMNS = ("id", "campaign_id", "zip_code", "place_id", "name", "address", "city",
                    "state", "phone", "website", "category", "email", "facebook_url",
                    "linkedin_url", "email_verification_status")


def check_envelope(name: str, envelope: Any, *, allowed_codes: frozenset[str]) -> None:
    """A well-formed envelope; a failure's code is in the contract's table or among
    `allowed_codes` (SQLSTATEs of casts that failed before the function ran); a success has
    the function's documented fields."""
    assert isinstance(envelope, dict), f"{name} answered {type(envelope).__name__}, not an object"
    shape = EnvelopeShape.model_validate(envelope)
    if not shape.success:
        assert shape.error_code in TABLE_CODES | allowed_codes, (
            f"{name} answered SQLSTATE {shape.error_code}, not in the contract's table: "
            f"{shape.error}")
        return
    if name in SUCCESS:
        SUCCESS[name].model_validate(envelope)
    if name == "update_enrichment_batch":
        assert envelope["failed"] == len(envelope["failures"])
    if name == "validate_campaign_execution_constraints":
        assert envelope["valid"] == (envelope["violations"] == [])


def check_business_rows(rows: list[dict[str, Any]], args: dict[str, Any]) -> None:
    """get_businesses_for_enrichment: the documented columns; the campaign's rows only; at
    most p_limit; in id order after p_after_id."""
    campaign = uuid.UUID(str(args["p_campaign_id"]))
    assert len(rows) <= int(args["p_limit"])
    ids = []
    for row in rows:
        assert tuple(row) == BUSINESS_COLUMNS
        assert isinstance(row["id"], uuid.UUID) and row["campaign_id"] == campaign
        assert isinstance(row["place_id"], str) and isinstance(row["name"], str)
        ids.append(row["id"])
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    if args.get("p_after_id") and ids:
        assert ids[0] > uuid.UUID(str(args["p_after_id"]))


# -- a fingerprint of the database ----------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """One query: row count and sum of row hashes of every table of schema campaigndb."""

    query: sql.Composed
    tables: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Fingerprint({len(self.tables)} tables)"

    def take(self, conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
        return conn.execute(self.query).fetchall()


def fingerprint_of(conn: psycopg.Connection[Any]) -> Fingerprint:
    """The fingerprint of the database `conn` is connected to."""
    tables = [row[0] for row in conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class AS c"
        " JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'campaigndb' AND c.relkind IN ('r', 'p') ORDER BY c.relname")]
    assert tables, "no campaigndb tables"
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {name}, count(*), COALESCE(sum(hashtext(t::text)::bigint), 0)"
                " FROM campaigndb.{table} AS t").format(
            name=sql.Literal(table), table=sql.Identifier(table))
        for table in tables)
    return Fingerprint(query, tuple(tables))


# -- calling a function through plain SQL -------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one call produced: rows (an envelope, a table, a uuid) or a raised error."""

    rows: list[Any] | None = None
    columns: tuple[str, ...] = ()
    sqlstate: str | None = None
    message: str = ""


def sql_value(spec: FunctionSpec, name: str, value: Any) -> Any:
    """A value as plain psycopg binds it (a str for a jsonb parameter is JSON text)."""
    if spec.params[name] == "jsonb" and not isinstance(value, str | None):
        return Jsonb(value)
    return value


def call_statement(spec: FunctionSpec, args: dict[str, Any]) -> sql.Composed:
    """SELECT public.fn(p_a => %s::type, ...), or SELECT * FROM for a table function."""
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}::{}").format(sql.Identifier(name), sql.Placeholder(),
                                       sql.SQL(spec.params[name]))
        for name in spec.params if name in args)
    template = ("SELECT * FROM public.{}({})" if spec.returns == "table"
                else "SELECT public.{}({})")
    return sql.SQL(template).format(sql.Identifier(spec.name), named)


def call_sql(conn: psycopg.Connection[Any], spec: FunctionSpec, args: dict[str, Any],
             binding: str | None) -> Answer:
    values = [sql_value(spec, name, args[name]) for name in spec.params if name in args]
    try:
        with conn.transaction():
            if binding is not None:
                conn.execute("SELECT pg_catalog.set_config('campaigndb.workspace_id', %s, true)",
                             [binding])
            cursor = conn.execute(call_statement(spec, args), values)
            columns = tuple(column.name for column in cursor.description or ())
            return Answer(rows=cursor.fetchall(), columns=columns)
    except psycopg.Error as exc:
        assert exc.sqlstate is not None, f"{spec.name}: driver error {exc!r}"
        return Answer(sqlstate=exc.sqlstate, message=str(exc))


def cast_errors(conn: psycopg.Connection[Any], spec: FunctionSpec, args: dict[str, Any],
                cursor_class: type[psycopg.Cursor[Any]] = psycopg.Cursor) -> frozenset[str]:
    """The SQLSTATEs of the arguments that PostgreSQL cannot cast to their parameter's type
    on their own (each `SELECT %s::type` alone, bound as `cursor_class` binds it)."""
    codes = set()
    for name, value in args.items():
        try:
            with cursor_class(conn) as cursor:
                cursor.execute(sql.SQL("SELECT {}::{}").format(
                    sql.Placeholder(), sql.SQL(spec.params[name])), [sql_value(spec, name, value)])
        except psycopg.Error as exc:
            assert exc.sqlstate is not None, f"{spec.name}.{name}: driver error {exc!r}"
            codes.add(exc.sqlstate)
    return frozenset(codes)
