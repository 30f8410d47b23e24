"""The retry policy: exponential backoff with full jitter, never shorter than the answer's
retry_after_ms; tenacity's arguments for a call (retried on its envelope) and for a
transaction (retried on the exception an attempt raised), the same for Retrying and
AsyncRetrying."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from tenacity import (
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from campaigndb.core.errors import envelope_from_exception, sqlstate_of
from campaigndb.core.exceptions import CampaignDBError, TransactionTimeout
from campaigndb.core.sqlstates import is_retryable


class RetryWait(wait_random_exponential):
    """Exponential backoff with full jitter, never shorter than the answer's retry_after_ms
    (an envelope, or the failure a run_transaction attempt raised)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = super().__call__(retry_state)
        outcome = retry_state.outcome
        after = None
        if outcome is not None and not outcome.failed:
            after = (outcome.result() or {}).get("retry_after_ms")
        elif outcome is not None:
            failure = outcome.exception()
            if isinstance(failure, CampaignDBError):
                after = failure.envelope.get("retry_after_ms")
            elif isinstance(failure, psycopg.Error):
                after = envelope_from_exception(failure).get("retry_after_ms")
        if after:
            delay = max(delay, min(float(after) / 1000.0, float(self.max)))
        return float(delay)


def is_retryable_failure(exc: BaseException) -> bool:
    """Whether a failed transaction attempt is rerun: a retryable SQLSTATE raised anywhere
    (COMMIT included), a lost connection, or a step whose envelope recommends a retry."""
    if isinstance(exc, CampaignDBError):
        return exc.retryable and not isinstance(exc, TransactionTimeout)
    if isinstance(exc, psycopg.Error):
        code = sqlstate_of(exc)
        if code is None:
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return is_retryable(code)
    return False


def call_policy(attempts: int, base_s: float, max_s: float,
                log_retry: Callable[[RetryCallState], None]) -> dict[str, Any]:
    """A call: retried while its envelope recommends it; the last envelope is the answer."""
    return {
        "stop": stop_after_attempt(attempts),
        "wait": RetryWait(multiplier=base_s, max=max_s),
        "retry": retry_if_result(lambda answer: bool(answer.get("retry_recommended"))),
        "before_sleep": log_retry,
        "retry_error_callback": lambda state: state.outcome.result() if state.outcome else {},
    }


def transaction_policy(attempts: int, base_s: float, max_s: float, multiplier: float,
                       log_retry: Callable[[RetryCallState], None]) -> dict[str, Any]:
    """A transaction: the whole callback rerun on a retryable failure; the last failure is
    raised."""
    return {
        "stop": stop_after_attempt(attempts),
        "wait": RetryWait(multiplier=base_s, max=max_s, exp_base=multiplier),
        "retry": retry_if_exception(is_retryable_failure),
        "before_sleep": log_retry,
        "reraise": True,
    }
