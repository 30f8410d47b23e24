"""Pure logic: the SQLSTATE table, envelopes from exceptions, typed errors, settings, waits."""

from __future__ import annotations

import uuid

import psycopg
import psycopg_pool
import pytest
from tenacity import RetryCallState

from campaigndb.core import errors, exceptions
from campaigndb.core.declare import FUNCTIONS
from campaigndb.core.hotrows import hot_row_key as _hot_row_key
from campaigndb.core.retry import RetryWait as _RetryWait
from campaigndb.core.sqlstates import SQLSTATES, is_retryable, retry_after_ms
from campaigndb.core.statements import call_sql as _call_sql
from campaigndb.settings import Settings

CONTRACT_RETRYABLE = {"40001", "40P01", "55P03", "57014", "53300", "57P01", "57P02", "57P03"}
CONTRACT_FINAL = {"22023", "22P02", "22003", "22007", "23502", "23503", "23505", "23514",
                  "P0002", "55000", "54000", "42501",
                  "54001"}  # beyond the contract's table: JSON nested to the stack limit


@pytest.mark.parametrize("sqlstate", sorted(CONTRACT_RETRYABLE))
def test_contract_retryable(sqlstate: str) -> None:
    assert is_retryable(sqlstate)
    assert (retry_after_ms(sqlstate) or 0) > 0


@pytest.mark.parametrize("sqlstate", sorted(CONTRACT_FINAL))
def test_contract_not_retryable(sqlstate: str) -> None:
    assert not is_retryable(sqlstate)
    assert retry_after_ms(sqlstate) is None


def test_connection_class_is_retryable_and_unknowns_are_not() -> None:
    assert is_retryable("08P01")
    assert not is_retryable("XX000") and not is_retryable(None) and not is_retryable("")
    assert set(SQLSTATES) == CONTRACT_RETRYABLE | CONTRACT_FINAL | {
        "08000", "08001", "08003", "08004", "08006", "08007"}


def test_envelope_from_a_server_error_class() -> None:
    envelope = errors.envelope_from_exception(psycopg.errors.SerializationFailure("conflict"))
    assert envelope["error_code"] == "40001" and envelope["retry_recommended"] is True
    assert envelope["retry_after_ms"] == 10 and envelope["success"] is False


def test_envelope_from_connection_loss_and_pool_timeout() -> None:
    lost = errors.envelope_from_exception(psycopg.OperationalError("server closed"))
    assert lost["error_code"] == "08006" and lost["retry_recommended"]
    waited = errors.envelope_from_exception(psycopg_pool.PoolTimeout("no connection"))
    assert waited["error_code"] == "08001" and "no database connection" in waited["error"]


def test_typed_exceptions() -> None:
    def make(code: str, retry: bool = False) -> exceptions.CampaignDBError:
        return errors.exception_for({"success": False, "error": "x", "error_code": code,
                                     "retry_recommended": retry,
                                     "error_detail": {"constraint": "c", "column": "k"}})

    assert isinstance(make("23505"), exceptions.Duplicate)
    assert isinstance(make("22P02"), exceptions.InvalidInput)
    assert isinstance(make("P0002"), exceptions.NotFound)
    assert isinstance(make("42501"), exceptions.PermissionDenied)
    assert isinstance(make("40001", True), exceptions.RetriesExhausted)
    assert type(make("XX000")) is exceptions.CampaignDBError
    assert make("23505").constraint == "c" and make("23505").column == "k"


def test_settings_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CAMPAIGNDB_DSN", "DATABASE_URL", "CAMPAIGNDB_POOL_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.pool_max_size, settings.pool_max_idle_s, settings.connect_timeout_s,
            settings.statement_timeout_ms) == (20, 30.0, 10.0, 30_000)
    assert settings.dsn is None


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGNDB_DSN", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("CAMPAIGNDB_POOL_MAX_SIZE", "7")
    assert Settings().dsn == "postgresql://u@h/db"
    assert Settings().pool_max_size == 7
    monkeypatch.setenv("CAMPAIGNDB_DSN", "postgresql://x@y/z")
    assert Settings().dsn == "postgresql://x@y/z"  # CAMPAIGNDB_DSN wins


def test_retry_wait_honours_retry_after() -> None:
    wait = _RetryWait(multiplier=0.0001, max=1.0)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = 1
    state.set_result({"retry_recommended": True, "retry_after_ms": 500})
    assert 0.5 <= wait(state) <= 1.0
    state.set_result({"retry_recommended": True, "retry_after_ms": 50_000})
    assert wait(state) <= 1.0  # never beyond the configured maximum


def test_call_sql_uses_named_arguments_and_casts() -> None:
    spec = FUNCTIONS["track_campaign_cost"]
    text = spec.call_sql(("p_campaign_id", "p_cost_usd"))
    assert text == ("SELECT public.track_campaign_cost(p_campaign_id => %(p_campaign_id)s::uuid,"
                    " p_cost_usd => %(p_cost_usd)s::numeric)")
    with pytest.raises(ValueError):
        _call_sql("x; DROP TABLE y", ())


def test_hot_row_key_is_stable_int4() -> None:
    value = uuid.UUID("12345678-0000-0000-0000-000000000000")
    assert _hot_row_key(value) == _hot_row_key(str(value)) == 0x12345678
    assert -(2**31) <= _hot_row_key(uuid.uuid4()) < 2**31


def _policy(**settings: object) -> dict[str, object]:
    from campaigndb.core.retry import call_policy

    given = Settings(dsn="postgresql://nobody@127.0.0.1:1/none", **settings)  # type: ignore[arg-type]
    return call_policy(given.retry_attempts, given.retry_base_s, given.retry_max_s,
                       lambda state: None)


def test_retry_policy_stops_after_the_configured_attempts() -> None:
    from tenacity import Retrying

    calls: list[int] = []

    def always_busy() -> dict[str, object]:
        calls.append(1)
        return {"success": False, "error_code": "55P03", "retry_recommended": True,
                "retry_after_ms": 0}

    policy = _policy(retry_attempts=4, retry_base_s=0.0, retry_max_s=0.0)
    answer = Retrying(**policy)(always_busy)  # type: ignore[arg-type]
    assert len(calls) == 4 and answer["error_code"] == "55P03"  # the last answer, not a raise


def test_retry_policy_does_not_retry_final_answers() -> None:
    from tenacity import Retrying

    calls: list[int] = []

    def duplicate() -> dict[str, object]:
        calls.append(1)
        return {"success": False, "error_code": "23505", "retry_recommended": False}

    Retrying(**_policy(retry_attempts=5))(duplicate)  # type: ignore[arg-type]
    assert len(calls) == 1


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 12])
def test_backoff_is_jittered_exponential_and_capped(attempt: int) -> None:
    wait = _RetryWait(multiplier=0.01, max=0.5)
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_result({"retry_recommended": True})
    delays = [wait(state) for _ in range(200)]
    assert all(0 <= d <= min(0.5, 0.01 * 2 ** attempt) + 1e-9 for d in delays)
    assert len({round(d, 6) for d in delays}) > 50  # full jitter: spread, not one value


def test_an_unknown_outcome_is_its_own_retryable_error_with_the_key() -> None:
    from campaigndb import FUNCTIONS, OutcomeUnknown, RetriesExhausted
    from campaigndb.core.calls import outcome_unknown
    from campaigndb.core.errors import exception_for
    from campaigndb.core.sqlstates import is_connection_loss

    last = {"success": False, "error": "server closed the connection", "error_code": "08006",
            "retry_recommended": True}
    keyed = outcome_unknown(
        FUNCTIONS["track_campaign_cost"], {"p_idempotency_key": "k-1"}, last)
    assert (keyed["error_code"], keyed["retry_recommended"], keyed["idempotency_key"]) == (
        "08007", True, "k-1")
    assert "p_idempotency_key (k-1)" in keyed["error"] and "08006" in str(keyed["error_detail"])
    in_json = outcome_unknown(
        FUNCTIONS["create_campaign_with_coverage"], {"p_campaign_data": {"id": "c-1"}}, last)
    assert in_json["idempotency_key"] == "c-1" and "p_campaign_data.id" in in_json["error"]
    keyless = outcome_unknown(
        FUNCTIONS["update_campaign_statistics"], {"p_campaign_id": "x"}, last)
    assert "idempotency_key" not in keyless and "idempotent by nature" in keyless["error"]
    error = exception_for(keyed, "track_campaign_cost")
    assert isinstance(error, OutcomeUnknown) and isinstance(error, RetriesExhausted)
    assert error.idempotency_key == "k-1"
    assert [is_connection_loss(c) for c in ("08006", "08001", "57P01", "57014", "40001", None)] \
        == [True, True, True, False, False, False]


def test_no_dsn_is_a_clear_error_and_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Library code never starts a server: without a DSN the client says what to set."""
    from campaigndb import AsyncClient, Client, MissingDsn

    monkeypatch.delenv("CAMPAIGNDB_DSN", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for make in (Client, AsyncClient):
        with pytest.raises(MissingDsn) as raised:
            make()
        message = str(raised.value)
        assert "CAMPAIGNDB_DSN" in message and "DATABASE_URL" in message
        assert "campaigndb db up" in message


def test_recovery_statements_are_one_list_for_both_clients() -> None:
    from campaigndb.core import statements

    assert statements.recovery(True, True) == [statements.ROLLBACK, statements.UNLOCK_ALL]
    assert statements.recovery(False, True) == [statements.UNLOCK_ALL]
    assert statements.recovery(True, False) == [statements.ROLLBACK]
    assert statements.recovery(False, False) == []


def test_declarations_parse_their_signature() -> None:
    from campaigndb.core.declare import parse_signature

    assert parse_signature("f(p_a uuid, p_b text = NULL)") == (
        "f", {"p_a": "uuid", "p_b": "text"}, frozenset({"p_a"}))
    assert parse_signature("g()") == ("g", {}, frozenset())
    with pytest.raises(ValueError):
        parse_signature("not a signature")
