"""Citus's failed commit on a worker (XX000, no SQLSTATE of its own) is retried as the
serialization failure it is; any other XX000 is not (docs/scale-out.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from campaigndb.core.errors import envelope_from_exception, sqlstate_of
from campaigndb.core.retry import is_retryable_failure


def _raised(raw: psycopg.Connection[Any], message: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        raw.execute(f"DO $$ BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'XX000'; END $$")
    return caught.value


def test_citus_commit_failure_is_retryable(raw: psycopg.Connection[Any]) -> None:
    exc = _raised(raw, "could not commit transaction for shard 102008 on at least one "
                       "active node")
    assert exc.sqlstate == "XX000"
    assert sqlstate_of(exc) == "40001"
    assert is_retryable_failure(exc)
    envelope = envelope_from_exception(exc)
    assert envelope["error_code"] == "40001" and envelope["retry_recommended"] is True


def test_other_internal_errors_stay_final(raw: psycopg.Connection[Any]) -> None:
    exc = _raised(raw, "could not commit, for another reason")
    assert sqlstate_of(exc) == "XX000"
    assert not is_retryable_failure(exc)
    assert envelope_from_exception(exc)["retry_recommended"] is False
