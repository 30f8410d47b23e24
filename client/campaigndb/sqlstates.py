"""The SQLSTATE table of CONTRACT.md section 1, the Python half.

`campaigndb.error_codes` holds the same rows in the database; a test requires the two to be
equal, so the retryable set has one definition that SQL and Python are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RaisedIn = Literal["function", "propagated", "client"]


@dataclass(frozen=True)
class SqlState:
    sqlstate: str
    condition_name: str
    retry_recommended: bool
    retry_after_ms: int | None
    raised_in: RaisedIn
    meaning: str


_ROWS: tuple[SqlState, ...] = (
    SqlState("22023", "invalid_parameter_value", False, None, "function", "invalid input value"),
    SqlState("22P02", "invalid_text_representation", False, None, "function",
             "bad text representation"),
    SqlState("22003", "numeric_value_out_of_range", False, None, "function", "value out of range"),
    SqlState("22007", "invalid_datetime_format", False, None, "function", "bad date or time"),
    SqlState("23502", "not_null_violation", False, None, "function", "required value missing"),
    SqlState("23503", "foreign_key_violation", False, None, "function",
             "referenced row does not exist"),
    SqlState("23505", "unique_violation", False, None, "function",
             "duplicate, or an idempotency key reused with different parameters"),
    SqlState("23514", "check_violation", False, None, "function",
             "check constraint (e.g. unknown campaign type)"),
    SqlState("P0002", "no_data_found", False, None, "function", "the named object does not exist"),
    SqlState("55000", "object_not_in_prerequisite_state", False, None, "function",
             "object not in the required state"),
    SqlState("54000", "program_limit_exceeded", False, None, "function",
             "batch larger than the documented limit"),
    SqlState("54001", "statement_too_complex", False, None, "function",
             "input nested too deeply (the server's stack depth limit)"),
    SqlState("42501", "insufficient_privilege", False, None, "function",
             "caller may not act on that workspace"),
    SqlState("40001", "serialization_failure", True, 10, "propagated",
             "serialization failure: retry the whole transaction"),
    SqlState("40P01", "deadlock_detected", True, 10, "propagated",
             "deadlock detected: retry the whole transaction"),
    SqlState("55P03", "lock_not_available", True, 50, "function", "lock not available (NOWAIT)"),
    SqlState("57014", "query_canceled", True, 100, "propagated", "statement timeout or cancelled"),
    SqlState("08000", "connection_exception", True, 100, "client", "connection problem"),
    SqlState("08001", "sqlclient_unable_to_establish_sqlconnection", True, 100, "client",
             "could not connect"),
    SqlState("08003", "connection_does_not_exist", True, 100, "client",
             "connection does not exist"),
    SqlState("08004", "sqlserver_rejected_establishment_of_sqlconnection", True, 100, "client",
             "server rejected the connection"),
    SqlState("08006", "connection_failure", True, 100, "client", "connection lost"),
    SqlState("08007", "transaction_resolution_unknown", True, 100, "client",
             "connection lost during COMMIT"),
    SqlState("53300", "too_many_connections", True, 500, "client", "server at max_connections"),
    SqlState("57P01", "admin_shutdown", True, 500, "client", "server shutting down"),
    SqlState("57P02", "crash_shutdown", True, 500, "client", "server crashed"),
    SqlState("57P03", "cannot_connect_now", True, 500, "client",
             "server not yet accepting connections"),
)

SQLSTATES: dict[str, SqlState] = {row.sqlstate: row for row in _ROWS}

#: SQLSTATE classes retried whatever the exact code (connection exceptions).
RETRYABLE_CLASSES = frozenset({"08"})


def is_retryable(sqlstate: str | None) -> bool:
    if not sqlstate:
        return False
    row = SQLSTATES.get(sqlstate)
    if row is not None:
        return row.retry_recommended
    return sqlstate[:2] in RETRYABLE_CLASSES


def retry_after_ms(sqlstate: str | None) -> int | None:
    row = SQLSTATES.get(sqlstate or "")
    if row is not None and row.retry_recommended:
        return row.retry_after_ms
    return 100 if is_retryable(sqlstate) else None
