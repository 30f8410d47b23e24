"""1,000 campaign launches from 200 threads through a pool of 20 on three workflows."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from campaigndb import Client
from campaigndb_dev.testing import WORKFLOW_COUNTS_SQL

pytestmark = pytest.mark.concurrency


def test_thousand_executions_all_succeed_and_add_up(
    dsn: str, workspace: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    threads, per_thread = 200, 5
    with Client(dsn, pool_min_size=20, pool_max_size=20, pool_timeout_s=60) as db:
        flows = [db.register_n8n_workflow(workspace, f"busy-{i}", f"Busy {i}", "email")
                 .workflow_id for i in range(3)]
        barrier = threading.Barrier(threads)
        failures: list[BaseException] = []
        started: list[uuid.UUID] = []
        lock = threading.Lock()

        def launcher(n: int) -> None:
            barrier.wait()
            for k in range(per_thread):
                try:
                    result = db.execute_campaign_atomically(
                        workspace, flows[(n + k) % 3], uuid.uuid4(), f"launch {n}-{k}", "email")
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    with lock:
                        failures.append(exc)
                else:
                    with lock:
                        started.append(result.execution_id)

        workers = [threading.Thread(target=launcher, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    assert failures == []
    assert len(started) == len(set(started)) == threads * per_thread
    rows = raw.execute(
        WORKFLOW_COUNTS_SQL, [flows]).fetchall()
    assert sum(r[1] for r in rows) == threads * per_thread
    for _, total, executions, audits, numbers in rows:
        assert total == executions == audits == numbers  # 1..n, each number once
