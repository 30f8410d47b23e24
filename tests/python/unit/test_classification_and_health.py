"""Classification table and health grading: pure logic, exhaustively."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool
import pytest

from campaigndb import (
    Category,
    Duplicate,
    HealthStatus,
    RecoveryAction,
    Thresholds,
    classify,
)
from campaigndb.core.sqlstates import SQLSTATES
from campaigndb.observe.health import evaluate

EXPECTED = {
    "22023": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "22P02": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "22003": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "22007": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "23502": (Category.CONSTRAINT_VIOLATION, False, RecoveryAction.FIX_DATA),
    "23503": (Category.CONSTRAINT_VIOLATION, False, RecoveryAction.FIX_DATA),
    "23505": (Category.CONSTRAINT_VIOLATION, False, RecoveryAction.FIX_DATA),
    "23514": (Category.CONSTRAINT_VIOLATION, False, RecoveryAction.FIX_DATA),
    "P0002": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "55000": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "54000": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "54001": (Category.QUERY, False, RecoveryAction.FIX_DATA),
    "42501": (Category.PERMISSION, False, RecoveryAction.CHECK_PERMISSIONS),
    "40001": (Category.TRANSACTION_CONFLICT, True, RecoveryAction.RETRY),
    "40P01": (Category.TRANSACTION_CONFLICT, True, RecoveryAction.RETRY),
    "55P03": (Category.TRANSACTION_CONFLICT, True, RecoveryAction.RETRY),
    "57014": (Category.TIMEOUT, True, RecoveryAction.RETRY),
    "08000": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "08001": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "08003": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "08004": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "08006": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "08007": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "53300": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "57P01": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "57P02": (Category.CONNECTION, True, RecoveryAction.RETRY),
    "57P03": (Category.CONNECTION, True, RecoveryAction.RETRY),
}


def test_the_table_covers_every_known_sqlstate() -> None:
    assert set(EXPECTED) == set(SQLSTATES)


@pytest.mark.parametrize("sqlstate", sorted(EXPECTED))
def test_classification_of_every_sqlstate(sqlstate: str) -> None:
    envelope = {"success": False, "error": "x", "error_code": sqlstate,
                "retry_recommended": SQLSTATES[sqlstate].retry_recommended}
    result = classify(envelope)
    assert (result.category, result.retryable, result.recovery_action) == EXPECTED[sqlstate]
    assert result.user_message


def test_unknown_and_non_database_errors() -> None:
    assert classify({"success": False, "error_code": "XX000"}).category is Category.UNKNOWN
    assert classify({"success": False, "error_code": "XX000"}).recovery_action is (
        RecoveryAction.CONTACT_ADMIN)
    assert classify(ValueError("no")).category is Category.UNKNOWN
    lost = classify(psycopg.OperationalError("server closed the connection"))
    assert (lost.category, lost.retryable) == (Category.CONNECTION, True)
    waited = classify(psycopg_pool.PoolTimeout("busy"))
    assert waited.category is Category.CONNECTION and waited.retryable


def test_user_message_names_the_constraint_and_column() -> None:
    error = Duplicate({"success": False, "error": "dup", "error_code": "23505",
                       "retry_recommended": False,
                       "error_detail": {"constraint": "gmaps_api_costs_idempotency_key_key",
                                        "column": "idempotency_key"}})
    result = classify(error)
    assert result.constraint == "gmaps_api_costs_idempotency_key_key"
    assert result.column == "idempotency_key"
    assert "gmaps_api_costs_idempotency_key_key" in result.user_message
    assert "idempotency_key" in result.user_message


def test_a_server_error_class_is_classified_from_its_sqlstate() -> None:
    result = classify(psycopg.errors.DeadlockDetected("deadlock"))
    assert (result.sqlstate, result.category, result.retryable) == (
        "40P01", Category.TRANSACTION_CONFLICT, True)


def healthy_server(**overrides: Any) -> dict[str, Any]:
    server: dict[str, Any] = {
        "success": True, "connections": {"usage_pct": 10}, "cache_hit_ratio": 0.999,
        "longest_transaction_s": 1, "waiting_locks": 0}
    server.update(overrides)
    return server


POOL = {"pool_size": 10, "pool_available": 9, "pool_max": 20}


@pytest.mark.parametrize(
    ("server", "pool", "latency", "status", "check"),
    [
        (healthy_server(), POOL, 5.0, HealthStatus.HEALTHY, None),
        (healthy_server(), POOL, 150.0, HealthStatus.DEGRADED, "avg_query_ms"),
        (healthy_server(), POOL, 600.0, HealthStatus.UNHEALTHY, "avg_query_ms"),
        (healthy_server(), POOL, 5000.0, HealthStatus.CRITICAL, "avg_query_ms"),
        (healthy_server(cache_hit_ratio=0.93), POOL, 5.0, HealthStatus.DEGRADED,
         "cache_hit_ratio"),
        (healthy_server(cache_hit_ratio=0.5), POOL, 5.0, HealthStatus.CRITICAL,
         "cache_hit_ratio"),
        (healthy_server(), {"pool_size": 20, "pool_available": 5, "pool_max": 20}, 5.0,
         HealthStatus.DEGRADED, "pool_usage"),
        (healthy_server(), {"pool_size": 20, "pool_available": 0, "pool_max": 20}, 5.0,
         HealthStatus.CRITICAL, "pool_usage"),
        (healthy_server(connections={"usage_pct": 90}), POOL, 5.0, HealthStatus.UNHEALTHY,
         "server_connection_usage"),
        (healthy_server(longest_transaction_s=400), POOL, 5.0, HealthStatus.UNHEALTHY,
         "longest_transaction_s"),
        (healthy_server(waiting_locks=60), POOL, 5.0, HealthStatus.UNHEALTHY, "waiting_locks"),
        ({"success": False, "error": "down"}, POOL, None, HealthStatus.CRITICAL, "database"),
    ],
)
def test_health_grading(server: dict[str, Any], pool: dict[str, int], latency: float | None,
                        status: HealthStatus, check: str | None) -> None:
    report = evaluate(server, pool, latency, Thresholds())
    assert report.status is status
    worst = [c.name for c in report.checks if c.status is status and status > 0]
    if check is None:
        assert report.recommendations == []
    else:
        assert check in worst and report.recommendations


def test_thresholds_are_configurable() -> None:
    strict = Thresholds(avg_query_ms=(1.0, 2.0, 3.0))
    assert evaluate(healthy_server(), POOL, 2.5, strict).status is HealthStatus.UNHEALTHY


@pytest.mark.parametrize("sqlstate", sorted(SQLSTATES))
def test_each_condition_name_is_psycopgs(sqlstate: str) -> None:
    """The table's names are PostgreSQL's (psycopg's own error classes carry them)."""
    cls = psycopg.errors.lookup(sqlstate)
    expected = "".join(part.capitalize() for part in SQLSTATES[sqlstate].condition_name.split("_"))
    assert cls.__name__.lower() == expected.lower()


def test_an_unreachable_server_is_one_check_without_pool_advice() -> None:
    lost = {"success": False, "error": "cannot connect to the database: Connection refused",
            "error_code": "08001", "retry_recommended": True,
            "recovery": "check network / check DSN"}
    # every connection of the pool is being re-made: 100 % "in use"
    report = evaluate(lost, {"pool_size": 4, "pool_available": 0, "pool_max": 4}, 30_000.0,
                      Thresholds())
    assert report.status is HealthStatus.CRITICAL
    assert [check.name for check in report.checks] == ["database"]
    advice = str(report.checks[0].recommendation)
    assert advice.startswith("unreachable: cannot connect") and "pool" not in advice
