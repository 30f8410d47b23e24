"""The one SQLSTATE table: what each code means to a caller.

Each row carries what the SQL seed `campaigndb.error_codes` holds (condition name,
retryable, retry_after_ms, where it is raised; a test keeps the two equal) and what only the
client needs: the category, the recovery action and the exception class.  Codes outside
the table are read by their class (the first two characters).  Errors, classification and
the clients all read it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from campaigndb.core.exceptions import (
    BatchTooLarge,
    CampaignDBError,
    CheckViolation,
    Duplicate,
    InvalidInput,
    InvalidState,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    ReferenceNotFound,
    RetriesExhausted,
)

RaisedIn = Literal["function", "propagated", "client"]


class Category(StrEnum):
    CONSTRAINT_VIOLATION = "constraint_violation"
    CONNECTION = "connection"
    TRANSACTION_CONFLICT = "transaction_conflict"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    QUERY = "query"
    UNKNOWN = "unknown"


class RecoveryAction(StrEnum):
    RETRY = "retry"
    FIX_DATA = "fix_data"
    CHECK_NETWORK = "check_network"
    CHECK_PERMISSIONS = "check_permissions"
    CONTACT_ADMIN = "contact_admin"


#: the action for a category when the failure is final (a retryable one: RETRY)
ACTIONS = {
    Category.TRANSACTION_CONFLICT: RecoveryAction.RETRY,
    Category.TIMEOUT: RecoveryAction.RETRY,
    Category.CONNECTION: RecoveryAction.CHECK_NETWORK,
    Category.CONSTRAINT_VIOLATION: RecoveryAction.FIX_DATA,
    Category.PERMISSION: RecoveryAction.CHECK_PERMISSIONS,
    Category.QUERY: RecoveryAction.FIX_DATA,
    Category.UNKNOWN: RecoveryAction.CONTACT_ADMIN,
}


@dataclass(frozen=True)
class SqlState:
    sqlstate: str
    condition_name: str
    retry_recommended: bool
    retry_after_ms: int | None
    raised_in: RaisedIn
    meaning: str
    category: Category
    exception: type[CampaignDBError]

    @property
    def recovery_action(self) -> RecoveryAction:
        return RecoveryAction.RETRY if self.retry_recommended else ACTIONS[self.category]


_Q, _C, _K = Category.QUERY, Category.CONSTRAINT_VIOLATION, Category.CONNECTION
_T, _X = Category.TRANSACTION_CONFLICT, RetriesExhausted
_ROWS: tuple[SqlState, ...] = (
    SqlState("22023", "invalid_parameter_value", False, None, "function",
             "invalid input value", _Q, InvalidInput),
    SqlState("22P02", "invalid_text_representation", False, None, "function",
             "bad text representation", _Q, InvalidInput),
    SqlState("22003", "numeric_value_out_of_range", False, None, "function",
             "value out of range", _Q, InvalidInput),
    SqlState("22007", "invalid_datetime_format", False, None, "function",
             "bad date or time", _Q, InvalidInput),
    SqlState("23502", "not_null_violation", False, None, "function",
             "required value missing", _C, InvalidInput),
    SqlState("23503", "foreign_key_violation", False, None, "function",
             "referenced row does not exist", _C, ReferenceNotFound),
    SqlState("23505", "unique_violation", False, None, "function",
             "duplicate, or an idempotency key reused with different parameters", _C,
             Duplicate),
    SqlState("23514", "check_violation", False, None, "function",
             "check constraint (e.g. unknown campaign type)", _C, CheckViolation),
    SqlState("P0002", "no_data_found", False, None, "function",
             "the named object does not exist", _Q, NotFound),
    SqlState("55000", "object_not_in_prerequisite_state", False, None, "function",
             "object not in the required state", _Q, InvalidState),
    SqlState("54000", "program_limit_exceeded", False, None, "function",
             "batch larger than the documented limit", _Q, BatchTooLarge),
    SqlState("54001", "statement_too_complex", False, None, "function",
             "input nested too deeply (the server's stack depth limit)", _Q, CampaignDBError),
    SqlState("42501", "insufficient_privilege", False, None, "function",
             "caller may not act on that workspace", Category.PERMISSION, PermissionDenied),
    SqlState("40001", "serialization_failure", True, 10, "propagated",
             "serialization failure: retry the whole transaction", _T, _X),
    SqlState("40P01", "deadlock_detected", True, 10, "propagated",
             "deadlock detected: retry the whole transaction", _T, _X),
    SqlState("55P03", "lock_not_available", True, 50, "function",
             "lock not available (NOWAIT)", _T, _X),
    SqlState("57014", "query_canceled", True, 100, "propagated",
             "statement timeout or cancelled", Category.TIMEOUT, _X),
    SqlState("08000", "connection_exception", True, 100, "client", "connection problem", _K, _X),
    SqlState("08001", "sqlclient_unable_to_establish_sqlconnection", True, 100, "client",
             "could not connect", _K, _X),
    SqlState("08003", "connection_does_not_exist", True, 100, "client",
             "connection does not exist", _K, _X),
    SqlState("08004", "sqlserver_rejected_establishment_of_sqlconnection", True, 100,
             "client", "server rejected the connection", _K, _X),
    SqlState("08006", "connection_failure", True, 100, "client", "connection lost", _K, _X),
    SqlState("08007", "transaction_resolution_unknown", True, 100, "client",
             "connection lost during COMMIT", _K, OutcomeUnknown),
    SqlState("53300", "too_many_connections", True, 500, "client",
             "server at max_connections", _K, _X),
    SqlState("57P01", "admin_shutdown", True, 500, "client", "server shutting down", _K, _X),
    SqlState("57P02", "crash_shutdown", True, 500, "client", "server crashed", _K, _X),
    SqlState("57P03", "cannot_connect_now", True, 500, "client",
             "server not yet accepting connections", _K, _X),
)

SQLSTATES: dict[str, SqlState] = {row.sqlstate: row for row in _ROWS}

#: Codes outside the table, by class: (category, retryable, retry_after_ms, exception).
CLASSES: dict[str, tuple[Category, bool, int | None, type[CampaignDBError]]] = {
    "08": (_K, True, 100, _X),
    "22": (_Q, False, None, InvalidInput),
    "23": (_C, False, None, CampaignDBError),
    "42": (_Q, False, None, CampaignDBError),
    "P0": (_Q, False, None, CampaignDBError),
    "54": (_Q, False, None, CampaignDBError),
    "55": (_Q, False, None, CampaignDBError),
    "2B": (_Q, False, None, CampaignDBError),
    "0A": (_Q, False, None, CampaignDBError),
}


def lookup(sqlstate: str | None) -> SqlState:
    """The row for a code: its own, else one built from its class, else UNKNOWN."""
    code = sqlstate or ""
    row = SQLSTATES.get(code)
    if row is not None:
        return row
    category, retryable, after, exception = CLASSES.get(
        code[:2], (Category.UNKNOWN, False, None, CampaignDBError))
    return SqlState(code, "", retryable, after, "client", "", category, exception)


def is_retryable(sqlstate: str | None) -> bool:
    return bool(sqlstate) and lookup(sqlstate).retry_recommended


def retry_after_ms(sqlstate: str | None) -> int | None:
    row = lookup(sqlstate)
    return row.retry_after_ms if row.retry_recommended else None


def is_connection_loss(sqlstate: str | None) -> bool:
    """The connection went away (class 08, or the server shutting the session down): a
    message already sent may or may not have been applied."""
    return bool(sqlstate) and (str(sqlstate).startswith("08")
                               or sqlstate in ("57P01", "57P02", "57P03"))
