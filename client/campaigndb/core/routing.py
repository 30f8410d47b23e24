"""Where a call goes when replica DSNs are configured (no I/O; see docs/replicas.md).

Reads are the functions declared `read_only=True` (those campaigndb_readonly may execute);
everything else, and every transaction, goes to the primary.  After a write the client
remembers the primary's WAL position; a later read uses a replica only once that replica
has replayed it (checked with REPLAY_CAUGHT_UP, polled up to a bound), else the primary.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from campaigndb.core.declare import FunctionSpec

#: read on the primary in the same connection right after a write commits
WRITE_LSN = "SELECT pg_catalog.pg_current_wal_insert_lsn()::text"
#: on a replica: still a standby, has it replayed %s, and how far behind it is (seconds)
REPLAY_CAUGHT_UP = (
    "SELECT pg_catalog.pg_is_in_recovery(),"
    " coalesce(pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn, false),"
    " coalesce(extract(epoch FROM pg_catalog.now()"
    " - pg_catalog.pg_last_xact_replay_timestamp()), 0)::float8")
#: on a replica, without a write to wait for
REPLICA_STATE = (
    "SELECT pg_catalog.pg_is_in_recovery(),"
    " coalesce(extract(epoch FROM pg_catalog.now()"
    " - pg_catalog.pg_last_xact_replay_timestamp()), 0)::float8")


class Target(StrEnum):
    PRIMARY = "primary"
    REPLICA = "replica"


class ReplicaState(StrEnum):
    UP = "up"
    DOWN = "down"
    LAGGING = "lagging"
    PROMOTED = "promoted"


class WriteToReplica(RuntimeError):
    """A write was about to be sent to a replica: the router never does that."""


@dataclass
class Replica:
    dsn: str
    state: ReplicaState = ReplicaState.UP
    lag_s: float = 0.0
    #: monotonic time before which the replica stays out of rotation
    retry_at: float = 0.0

    def usable(self, now: float) -> bool:
        return self.state is ReplicaState.UP or now >= self.retry_at


@dataclass
class Router:
    """Routing decision and read-your-writes state shared by the sync and async clients."""

    replicas: list[Replica]
    max_lag_s: float = 5.0
    retry_after_s: float = 10.0
    #: how long a read waits for a replica to replay the caller's last write
    wait_s: float = 0.2
    poll_s: float = 0.01
    #: WAL position of the last write through this client (text pg_lsn), None before any
    last_write_lsn: str | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_dsns(cls, dsns: list[str], **options: float) -> Router:
        return cls([Replica(d) for d in dsns], **options)  # type: ignore[arg-type]

    def target(self, spec: FunctionSpec | None, *, read_from_primary: bool = False) -> Target:
        """Replica only for a declared read, with replicas configured and none forced."""
        if spec is None or not spec.read_only or read_from_primary or not self.replicas:
            return Target.PRIMARY
        return Target.REPLICA

    def pick(self, spec: FunctionSpec) -> Replica | None:
        """Next usable replica, round robin; None: read from the primary."""
        if not spec.read_only:
            raise WriteToReplica(f"{spec.name} is not a read function")
        now = time.monotonic()
        with self._lock:
            start = next(self._turn)
        for i in range(len(self.replicas)):
            replica = self.replicas[(start + i) % len(self.replicas)]
            if replica.usable(now):
                return replica
        return None

    def wrote(self, lsn: str | None) -> None:
        if lsn is not None:
            with self._lock:
                self.last_write_lsn = lsn

    def observed(self, replica: Replica, *, in_recovery: bool, lag_s: float) -> bool:
        """Record a replica's state; False when it must leave rotation."""
        replica.lag_s = lag_s
        if not in_recovery:
            return self.failed(replica, ReplicaState.PROMOTED)
        if lag_s > self.max_lag_s:
            return self.failed(replica, ReplicaState.LAGGING)
        replica.state = ReplicaState.UP
        return True

    def failed(self, replica: Replica, state: ReplicaState = ReplicaState.DOWN) -> bool:
        replica.state = state
        replica.retry_at = time.monotonic() + self.retry_after_s
        return False

    def health(self) -> list[dict[str, object]]:
        return [{"dsn_host": _host(r.dsn), "state": str(r.state), "lag_s": r.lag_s}
                for r in self.replicas]


def _host(dsn: str) -> str:
    """The DSN without its password, for reports."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    parts = conninfo_to_dict(dsn)
    parts.pop("password", None)
    return make_conninfo("", **{k: str(v) for k, v in parts.items()})


def router_from_settings(dsns: str, *, max_lag_s: float, wait_s: float,
                         retry_after_s: float) -> Router | None:
    """A Router for comma-separated replica DSNs; None when there are none."""
    replicas = [Replica(d.strip()) for d in dsns.split(",") if d.strip()]
    if not replicas:
        return None
    return Router(replicas, max_lag_s=max_lag_s, wait_s=wait_s, retry_after_s=retry_after_s)
