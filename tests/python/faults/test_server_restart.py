"""The server restarted, stopped fast and crashed while many writers run.

On the package's own cluster (never the shared one): eight threads share one Client and
keep calling track_campaign_cost and execute_campaign_atomically while the server is
restarted (`pg_ctl restart -m fast`), stopped with `-m immediate` (a crash: crash recovery
at the next start) and started again, and stopped with `-m fast` and started again.  The
client is never restarted: after each outage its callers carry on, and after the last one
every thread completes calls again.  Afterwards the invariants hold exactly and the sums
equal what the callers were told succeeded; nothing a caller was told is lost in the crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from campaigndb import Client

from .support import OwnServer, Writers, assert_invariants

THREADS = 8


def _postmaster_start(dsn: str) -> Any:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        assert row is not None
        return row[0]


def test_writers_survive_restarts_and_crashes(
    own_server: OwnServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="campaigndb")

    def stop_start(mode: str, down_s: float = 0.3) -> Callable[[], None]:
        def outage() -> None:
            own_server.stop(mode)
            time.sleep(down_s)  # callers meet a server that is not there at all
            own_server.start_again()
        return outage

    outages: list[Callable[[], None]] = [
        lambda: own_server.restart("fast"),
        stop_start("immediate"),
        stop_start("fast"),
        lambda: own_server.restart("immediate"),
        stop_start("fast", down_s=3.0),  # longer than the pool's first reconnect delays
    ]
    log_start = own_server.server.logfile.stat().st_size
    started_at = [_postmaster_start(own_server.dsn)]
    recovery_s: list[float] = []
    with Client(own_server.dsn, pool_min_size=THREADS, pool_max_size=THREADS,
                pool_timeout_s=20, connect_timeout_s=2, retry_attempts=10,
                retry_base_s=0.01, retry_max_s=0.5) as db:
        workspace = db.create_workspace("restarted").workspace_id
        campaigns = [db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": f"restarted {n}"}, []).campaign_id
            for n in range(3)]
        flows = [db.register_n8n_workflow(workspace, f"restarted-{n}", f"Restarted {n}",
                                          "email").workflow_id for n in range(3)]
        writers = Writers(db, workspace, campaigns, flows, THREADS).start()
        try:
            for outage in outages:
                # Writers are busy before each outage, and every one of them completes
                # calls after it: the same client recovered.
                writers.wait_for([c + 5 for c in writers.calls], timeout_s=60)
                outage()
                back = time.monotonic()
                started_at.append(_postmaster_start(own_server.dsn))
                before = sum(writers.successes)
                while sum(writers.successes) == before and time.monotonic() < back + 60:
                    time.sleep(0.01)
                recovery_s.append(round(time.monotonic() - back, 2))
            writers.wait_for([c + 5 for c in writers.calls], timeout_s=60)
        finally:
            writers.stop()
        retries = db.stats.total_retries()

    assert writers.errors == []
    # Each outage really happened: a new postmaster every time, two crash recoveries.
    assert len(set(started_at)) == len(outages) + 1, started_at
    with open(own_server.server.logfile, errors="replace") as log:
        log.seek(log_start)
        assert log.read().count("automatic recovery in progress") == 2
    seen = {getattr(r, "sqlstate", None) for r in caplog.records
            if getattr(r, "operation", None)}
    # The client saw the outages (connection lost, admin shutdown, crash, cannot connect
    # now, no connection in time) and retried them.
    assert seen & {"08006", "08001", "57P01", "57P02", "57P03"}, seen
    assert retries > 0
    ledger = writers.ledger
    assert ledger.refused_cost_keys == set() and ledger.refused_execution_ids == set()
    assert writers.told_successes() == sum(writers.calls)
    with psycopg.connect(own_server.dsn, autocommit=True) as raw:
        assert_invariants(raw, ledger)
    print(f"restarts: {sum(writers.calls)} calls, {retries} retries, "
          f"{sum(writers.replays)} replayed answers, {ledger.recalls} calls repeated, "
          f"sqlstates {sorted(s for s in seen if s)}, first success after each start "
          f"{recovery_s} s")
