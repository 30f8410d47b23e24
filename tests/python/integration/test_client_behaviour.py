"""Client behaviour against the real server: retries, recovery, binding, SQL strings."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from campaigndb import FUNCTIONS, Client, PermissionDenied
from campaigndb.core.hotrows import HotRows
from campaigndb.core.sqlstates import SQLSTATES
from campaigndb.core.statements import RESOLVE_FUNCTION


def test_every_client_function_resolves(raw: psycopg.Connection[Any]) -> None:
    for spec in FUNCTIONS.values():
        resolved = raw.execute(RESOLVE_FUNCTION, [spec.signature]).fetchone()
        assert resolved is not None and resolved[0] is not None, spec.signature
        args = raw.execute(
            "SELECT coalesce(proargnames[1:pronargs], %s), pronargs - pronargdefaults"
            " FROM pg_proc WHERE oid = to_regprocedure(%s)",
            [[], spec.signature],
        ).fetchone()
        assert args is not None and list(args[0]) == list(spec.params), spec.name
        # the declaration's `= NULL` marks exactly the parameters the SQL gives a default
        assert set(spec.params) - spec.required == set(list(spec.params)[args[1]:]), spec.name


def test_sqlstate_table_matches_the_database(raw: psycopg.Connection[Any]) -> None:
    rows = raw.execute(
        "SELECT sqlstate, condition_name, retry_recommended, retry_after_ms, raised_in"
        " FROM campaigndb.error_codes"
    ).fetchall()
    in_sql = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    in_python = {k: (v.condition_name, v.retry_recommended, v.retry_after_ms, v.raised_in)
                 for k, v in SQLSTATES.items()}
    assert in_sql == in_python


def test_pooled_connections_do_not_prepare(client: Client) -> None:
    with client.pool.connection() as conn:
        assert conn.prepare_threshold is None
        assert conn.autocommit is True


def _hold_campaign_lock(dsn: str, campaign: uuid.UUID, locked: threading.Event,
                        release: threading.Event) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE campaigndb.campaigns SET total_cost = total_cost WHERE id = %s",
                     [campaign])
        locked.set()
        release.wait(10)
        conn.commit()


def test_serialization_failure_is_retried_on_the_same_pool(dsn: str, campaign: uuid.UUID) -> None:
    """A caller queued on the campaign row fails with 40001 when the holder commits; the
    client rolls back, retries with the same key and succeeds, and the connection (with
    server-side prepares off) stays usable: no "prepared statement does not exist"."""
    with Client(dsn, pool_min_size=1, pool_max_size=1, hot_row_lock="never") as db:
        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=_hold_campaign_lock,
                                  args=(dsn, campaign, locked, release))
        holder.start()
        assert locked.wait(10)
        result: list[Any] = []
        caller = threading.Thread(
            target=lambda: result.append(db.track_campaign_cost(campaign, "gmaps", 1, "2.5")))
        caller.start()
        time.sleep(0.3)  # the call is now waiting for the row lock
        release.set()
        holder.join()
        caller.join()
        assert result and result[0].new_total_cost >= 2.5
        assert db.stats.retries.get("track_campaign_cost", 0) >= 1
        for _ in range(5):  # the same pooled connection keeps working
            db.track_campaign_cost(campaign, "gmaps", 1, "0.5")
        with db.pool.connection() as conn:
            row = conn.execute("SELECT 1").fetchone()
            assert row == (1,)
        assert HotRows  # the 40001 marked the campaign hot: next calls queue first
        assert db._hot_rows.is_hot(db._specs["track_campaign_cost"],
                                   {"p_campaign_id": str(campaign)})


class CommitThenLoseConnection(Client):
    """The server commits, then the connection is lost before the answer is read.

    Fault injection at the client boundary: the first attempt's transaction really commits
    on the real server; the client then sees a connection error, as after a network drop
    between COMMIT and its reply, and must retry without applying the write twice."""

    dropped = 0

    def _run(self, conn: psycopg.Connection[Any], run: Any) -> Any:
        envelope = super()._run(conn, run)
        if self.dropped == 0:
            self.dropped += 1
            conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return envelope


@pytest.mark.parametrize("function", ["track_campaign_cost", "create_campaign_with_coverage",
                                      "create_workspace"])
def test_retry_after_an_ambiguous_commit_applies_once(
    dsn: str, workspace: uuid.UUID, campaign: uuid.UUID, raw: psycopg.Connection[Any],
    function: str,
) -> None:
    params: dict[str, Any] = {
        "track_campaign_cost": {"p_campaign_id": str(campaign), "p_service": "gmaps",
                                "p_items_processed": 1, "p_cost_usd": 7, "p_metadata": {}},
        "create_campaign_with_coverage": {
            "p_campaign_data": {"workspace_id": str(workspace), "name": "retried"},
            "p_zip_codes": ["30001"]},
        "create_workspace": {"p_name": "retried workspace"},
    }[function]
    before = raw.execute(
        "SELECT (SELECT count(*) FROM campaigndb.gmaps_api_costs),"
        " (SELECT count(*) FROM campaigndb.campaigns),"
        " (SELECT count(*) FROM campaigndb.workspaces)").fetchone()
    with CommitThenLoseConnection(dsn, pool_min_size=1, pool_max_size=2) as db:
        envelope = db.call(function, **params)
        assert db.dropped == 1
        assert db.stats.retries.get(function) == 1
    assert envelope["success"] is True and envelope["replayed"] is True, envelope
    after = raw.execute(
        "SELECT (SELECT count(*) FROM campaigndb.gmaps_api_costs),"
        " (SELECT count(*) FROM campaigndb.campaigns),"
        " (SELECT count(*) FROM campaigndb.workspaces)").fetchone()
    assert before is not None and after is not None
    assert sum(after) - sum(before) == 1  # exactly one row written, once


def test_workspace_binding_refuses_other_workspaces(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    other = client.create_workspace("someone else").workspace_id
    total_before = raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                               [campaign]).fetchone()
    with pytest.raises(PermissionDenied):
        client.bound(other).track_campaign_cost(campaign, "gmaps", 1, "1")
    envelope = client.bound(other).call(
        "create_campaign_with_coverage",
        p_campaign_data={"workspace_id": str(client.create_workspace("third").workspace_id),
                         "name": "x"}, p_zip_codes=[])
    assert envelope["error_code"] == "42501"
    assert raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                       [campaign]).fetchone() == total_before


def test_binding_never_leaks_to_the_next_user_of_a_connection(
    dsn: str, workspace: uuid.UUID, campaign: uuid.UUID
) -> None:
    with Client(dsn, pool_min_size=1, pool_max_size=1) as db:
        bound = db.bound(workspace)
        assert bound.track_campaign_cost(campaign, "gmaps", 1, "1").new_total_cost > 0
        with db.pool.connection() as conn:
            row = conn.execute(
                "SELECT current_setting('campaigndb.workspace_id', true)").fetchone()
        assert row is not None and row[0] in (None, "")


def test_statement_timeout_applies(dsn: str) -> None:
    with Client(dsn, statement_timeout_ms=50, pool_min_size=0, pool_max_size=1) as db, \
            db.pool.connection() as conn, pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(1)")
