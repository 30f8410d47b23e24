"""Backends terminated under load: nothing lost, nothing doubled.

Six threads share one Client and call track_campaign_cost and execute_campaign_atomically
on two campaigns and two workflows (hot rows: 40001, 55P03 and the pre-snapshot queue are in
play too) while another thread keeps terminating the client's backends with
pg_terminate_backend, while they run a call.  Every logical call carries one key; a caller
told "retryable failure" calls again with the same key, as docs/contract.md section 1
advises.  Afterwards the invariants hold exactly, and the sums equal what callers were told.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import psycopg

from campaigndb import Client

from .support import Writers, assert_invariants

THREADS, CALLS, KILLS = 6, 30, 40


def _killer(dsn: str, app: str, kills: dict[str, int], done: threading.Event) -> None:
    """Terminate one of the client's backends every 15-45 ms, a busy one (running a call)
    when there is one, until KILLS busy backends are gone."""
    try:
        rng = random.Random(7)
        with psycopg.connect(dsn, autocommit=True) as conn:
            while kills["busy"] < KILLS:
                rows = conn.execute(
                    "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s"
                    " AND datname = current_database() AND pid <> pg_backend_pid()",
                    [app]).fetchall()
                busy = [pid for pid, state in rows if state != "idle"]
                idle = [pid for pid, state in rows if state == "idle"]
                if busy:
                    pid, kind = rng.choice(busy), "busy"
                elif idle and rng.random() < 0.05:
                    pid, kind = rng.choice(idle), "idle"
                else:
                    time.sleep(0.001)
                    continue
                terminated = conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
                if terminated == (True,):
                    kills[kind] += 1
                time.sleep(rng.uniform(0.015, 0.045))
    finally:
        done.set()  # also when this thread fails: the test must not wait forever


def test_terminated_backends_lose_and_double_nothing(
    dsn: str, workspace: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    app = f"faults-kill-{uuid.uuid4().hex[:8]}"
    kills = {"busy": 0, "idle": 0}
    killed = threading.Event()
    with Client(dsn, pool_min_size=4, pool_max_size=4, application_name=app,
                retry_attempts=10, retry_base_s=0.002, retry_max_s=0.1) as db:
        campaigns = [db.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": f"killed {n}"}, []).campaign_id
            for n in range(2)]
        flows = [db.register_n8n_workflow(workspace, f"killed-{n}-{app}", f"Killed {n}",
                                          "email").workflow_id for n in range(2)]
        writers = Writers(db, workspace, campaigns, flows, THREADS).start()
        killer = threading.Thread(target=_killer, args=(dsn, app, kills, killed))
        killer.start()
        try:
            killed.wait(120)
            writers.wait_for([CALLS] * THREADS, timeout_s=120)
        finally:
            writers.stop()
            killer.join()
        retries = db.stats.total_retries()

    assert writers.errors == []
    # The fault really happened, many times, in the middle of calls, and was retried.
    assert kills["busy"] == KILLS, kills
    assert retries >= KILLS // 2, (retries, kills)
    # Some kills landed after the server committed and before the client read the reply:
    # the retry with the same key was answered replayed: true instead of applying again.
    assert sum(writers.replays) >= 1, "no ambiguous commit was produced"
    # Every call was valid: none may be refused; each was applied exactly once.
    ledger = writers.ledger
    assert ledger.refused_cost_keys == set() and ledger.refused_execution_ids == set()
    assert writers.told_successes() == sum(writers.calls) >= THREADS * CALLS
    assert_invariants(raw, ledger)
    print(f"terminated: {sum(writers.calls)} calls, kills {kills}, {retries} retries, "
          f"{sum(writers.replays)} replayed answers, {ledger.recalls} calls repeated")
