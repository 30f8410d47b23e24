"""Hot rows: which calls queue before their snapshot instead of colliding (no I/O here)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from campaigndb.core.declare import FunctionSpec

L = TypeVar("L")


def hot_row_key(value: Any) -> int:
    """The int4 advisory-lock key for a campaign (or workflow) id."""
    raw = value.bytes if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).bytes
    return int.from_bytes(raw[:4], "big", signed=True)


class HotRows:
    """Hot rows (a campaign, a workflow) that recently saw a 40001 or 55P03 in this process.

    For a while afterwards, snapshot-isolated calls on that row (SERIALIZABLE
    track_campaign_cost, REPEATABLE READ execute_campaign_atomically) queue on a
    pre-snapshot advisory lock instead of colliding (README: "SERIALIZABLE without the
    retry storm"); an uncontended row pays nothing for it.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], float] = {}
        self._turns: dict[int, Any] = {}

    def turn(self, key: int, new_lock: Callable[[], L]) -> L:
        """Behind PgBouncer, where no session advisory lock can be held: the in-process
        lock (a threading.Lock, or an asyncio.Lock for the async client) on which this
        process's callers of hot row `key` take turns, so that each one's snapshot follows
        the previous one's commit.  Callers in other processes still rely on retries."""
        with self._lock:
            turn = self._turns.get(key)
            if turn is None:
                if len(self._turns) > 10_000:
                    # forget idle rows (a caller that fetched one just now and loses it
                    # here only misses one turn: retries keep every call correct)
                    self._turns = {k: v for k, v in self._turns.items() if v.locked()}
                turn = self._turns[key] = new_lock()
            return cast(L, turn)

    @staticmethod
    def _key(spec: FunctionSpec, params: dict[str, Any]) -> tuple[str, str]:
        return (spec.name, str(params.get(spec.hot_row_param or "")))

    def mark(self, spec: FunctionSpec, params: dict[str, Any]) -> None:
        with self._lock:
            if len(self._until) > 10_000:
                now = time.monotonic()
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[self._key(spec, params)] = time.monotonic() + self.ttl_s

    def is_hot(self, spec: FunctionSpec, params: dict[str, Any]) -> bool:
        until = self._until.get(self._key(spec, params))
        return until is not None and until > time.monotonic()
