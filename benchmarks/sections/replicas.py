"""Read replicas: the cost of routing a read to a streaming standby, of the read-your-writes
LSN check, and of waiting for replay after a write (docs/benchmarks.md, "Read replicas").
On one 2-core machine the standby shares the CPU: the figures are overheads, not scale-out."""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable

import harness as h
from psycopg.conninfo import conninfo_to_dict

from campaigndb import Client
from campaigndb_dev import testing
from campaigndb_dev.embedded import EmbeddedServer
from campaigndb_dev.standby import Standby

CALLS = (400, 100)
READ = "get_database_health_metrics"
_standby: Standby | None = None


def replica_dsn(dsn: str) -> str:
    """The bench database on a standby of the test cluster (built once, stopped at exit)."""
    global _standby
    if _standby is None:
        _standby = Standby(EmbeddedServer(testing.test_cluster()))
        if _standby.exists():
            _standby.down(destroy=True)
        _standby.up()
        atexit.register(_standby.down, destroy=True, mode="immediate")
    return testing.dsn_for(str(conninfo_to_dict(dsn)["dbname"]), _standby.url())


def timed(calls: int, step: Callable[[], object]) -> h.Run:
    for _ in range(10):
        step()
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        step()
        latencies.append(time.perf_counter() - t)
    return h.Run(latencies, time.perf_counter() - started, calls)


def measure(b: h.Bench, seed: int) -> None:
    calls = b.n(CALLS)
    replica = replica_dsn(b.dsn)
    with Client(b.dsn, pool_min_size=1, pool_max_size=2) as primary, \
            Client(b.dsn, replica_dsns=replica, pool_min_size=1, pool_max_size=2) as routed:
        b.record("replicas.primary", timed(calls, lambda: primary.call(READ)))
        b.record("replicas.routed", timed(calls, lambda: routed.call(READ)))
        routed.create_workspace("replicas lsn")  # from now on every read checks the LSN
        b.record("replicas.lsn", timed(calls, lambda: routed.call(READ)))

        def write(db: Client) -> Callable[[], object]:
            return lambda: db.call("create_workspace", p_name="bench replicas")

        def write_read(db: Client) -> Callable[[], object]:
            step = write(db)
            return lambda: (step(), db.call(READ))

        b.record("replicas.write.primary", timed(calls, write(primary)))
        b.record("replicas.write.routed", timed(calls, write(routed)))
        b.record("replicas.rw.primary", timed(calls, write_read(primary)))
        b.record("replicas.rw.routed", timed(calls, write_read(routed)))


P50 = h.Col("p50 ms", h.spread(lambda r: r.pct(50), 3))
P99 = h.Col("p99 ms", h.spread(lambda r: r.pct(99), 3))
X = h.Col("p50 × floor", h.vs_floor(lambda r: r.pct(50)))
SECTION = h.Section(
    name="replicas",
    title="Read replicas: routing, the LSN check and the read-your-writes wait",
    about="One caller, one standby of the test cluster on the same machine. Reads "
          f"(`{READ}`) at the primary alone, routed to the standby, and routed after a write "
          "(each read first checks the standby replayed it); writes with and without the "
          "commit-LSN read; a write followed by a read, which waits for replay.",
    measure=measure,
    tables=[h.Table([P50, P99, X], [
        h.Row("replicas.primary", "read at the primary, no replicas configured (floor)"),
        h.Row("replicas.routed", "read routed to the standby, no prior write",
              "replicas.primary"),
        h.Row("replicas.lsn", "read routed to the standby after a write (LSN check)",
              "replicas.primary"),
        h.Row("replicas.write.primary", "`create_workspace`, no replicas (floor)"),
        h.Row("replicas.write.routed", "`create_workspace` + the commit-LSN read",
              "replicas.write.primary"),
        h.Row("replicas.rw.primary", "write then read, primary alone (floor)"),
        h.Row("replicas.rw.routed", "write then read on the standby (waits for replay)",
              "replicas.rw.primary"),
    ])],
)
