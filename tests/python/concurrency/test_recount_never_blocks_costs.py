"""Issue 14, item 8: a statistics recount never holds the campaign row while it counts, so
track_campaign_cost (which updates that row) does not wait for it, while recounts of one
campaign still queue behind each other and each equals a fresh count (docs/limits.md).

Waiting is shown without timing: the second session runs with a short lock_timeout, so a
call that would wait fails with 55P03 instead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.concurrency


@pytest.fixture()
def campaign(raw: psycopg.Connection[Any], workspace: uuid.UUID) -> str:
    row = raw.execute(
        "SELECT create_campaign_with_coverage(jsonb_build_object('workspace_id', %s::text,"
        " 'name', 'recount'), '[\"10001\"]') ->> 'campaign_id'", [str(workspace)]).fetchone()
    assert row is not None
    raw.execute("SELECT insert_businesses_batch(%s, '10001', (SELECT jsonb_agg(jsonb_build_object("
                "'place_id', 'p' || g, 'name', 'B' || g, 'email', CASE WHEN g %% 2 = 0 "
                "THEN 'b' || g || '@example.com' END)) FROM generate_series(1, 50) g))",
                [row[0]])
    raw.execute("SELECT update_campaign_statistics(%s)", [row[0]])  # figures now current
    return str(row[0])


@pytest.fixture()
def recounting(dsn: str, campaign: str) -> Iterator[psycopg.Connection[Any]]:
    """A session inside a recount's transaction: the recount ran and has not committed."""
    with psycopg.connect(dsn) as conn:
        answer = conn.execute("SELECT update_campaign_statistics(%s)", [campaign]).fetchone()
        assert answer is not None and answer[0]["success"], answer
        yield conn
        conn.rollback()


def other_session(dsn: str, sql: str, params: list[Any]) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '200ms'")
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None


def test_cost_tracking_does_not_wait_for_a_recount_in_progress(
        dsn: str, campaign: str, recounting: psycopg.Connection[Any]) -> None:
    # the figures are unchanged since the last recount, so this recount wrote nothing
    answer = other_session(
        dsn, "SELECT track_campaign_cost(%s, 'gmaps', 1, 0.25, '{}')", [campaign])
    assert answer["success"], answer


def test_recounts_of_one_campaign_queue(
        dsn: str, campaign: str, recounting: psycopg.Connection[Any]) -> None:
    answer = other_session(dsn, "SELECT update_campaign_statistics(%s)", [campaign])
    assert answer["error_code"] == "55P03", answer


def test_a_recount_equals_a_fresh_count(raw: psycopg.Connection[Any], campaign: str) -> None:
    answer = raw.execute("SELECT update_campaign_statistics(%s)", [campaign]).fetchone()
    assert answer is not None
    stored = raw.execute("SELECT total_businesses, total_emails FROM campaigndb.campaigns"
                         " WHERE id = %s", [campaign]).fetchone()
    fresh = raw.execute("SELECT count(*), count(*) FILTER (WHERE email <> '')"
                        " FROM campaigndb.gmaps_businesses WHERE campaign_id = %s",
                        [campaign]).fetchone()
    assert stored == fresh == (50, 25)
    assert (answer[0]["total_businesses"], answer[0]["total_emails"]) == (50, 25)
