"""How every connection is configured (JSON adapters, startup options) and the pools' sizes:
the same for the sync and the async pool (campaigndb.sync.pool, campaigndb.aio.pool)."""

from __future__ import annotations

import json
import weakref
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads

from campaigndb.settings import Settings


def _json_default(value: Any) -> Any:
    # json cannot write a Decimal; integral values stay exact, others become the shortest
    # float that reads back as the same decimal (exact for every value with <= 15 digits).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def json_dumps(value: Any) -> str:
    """JSON for jsonb parameters: orjson (a 10,000-business batch is megabytes of JSON, and
    json.dumps alone took longer than the server's upsert of it).  What orjson refuses but
    JSON allows (integers beyond 64 bits, nesting beyond 255 levels, lone surrogates) goes
    through the standard library instead; what neither can write raises TypeError,
    ValueError or RecursionError."""
    try:
        return orjson.dumps(value, default=_json_default,
                            option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=_json_default, ensure_ascii=True)
# numbers in envelopes are numerics (money): read them as Decimal, never as float.  One
# decoder for every answer: json.loads with an argument builds a new JSONDecoder per call
# (3.5 against 1.6 us for an envelope).
_DECODER = json.JSONDecoder(parse_float=Decimal)


def json_loads(data: bytes | bytearray | memoryview | str) -> Any:
    """A jsonb value as psycopg hands it over (UTF-8 bytes) -> Python, decimals exact."""
    return _DECODER.decode(data if isinstance(data, str) else bytes(data).decode())


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "autocommit": True,  # the client writes BEGIN ... COMMIT itself, pipelined
        # Server-side prepared statements off: a pipeline aborted by 40001 can leave
        # psycopg's prepared-statement cache out of step with the server ("prepared statement
        # _pg3_N does not exist"), and PgBouncer in transaction mode cannot keep them.
        "prepare_threshold": None,
        "connect_timeout": max(1, round(settings.connect_timeout_s)),
        "application_name": settings.application_name,
    }
    if not settings.pgbouncer:
        kwargs["options"] = f"-c statement_timeout={settings.statement_timeout_ms}"
    return kwargs


def configure_connection(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """JSON in and out (the adapters' calls are not I/O: shared by both pools)."""
    set_json_dumps(json_dumps, conn)
    set_json_loads(json_loads, conn)


#: Run before a connection goes back to the pool: a session-level SET inside a transaction
#: (a binding, a statement_timeout, a search_path) must not reach the next caller.
#: DISCARD ALL reverts to the session defaults, which keep the startup options (the
#: client's statement_timeout); prepared statements are off, so nothing else is lost.
#: Behind PgBouncer (transaction mode) session state is the bouncer's (server_reset_query).
#: Only connections that ran the caller's own SQL (Transaction.execute / .connection) are
#: reset, by run_transaction itself before it gives the connection back: the API functions
#: set nothing beyond their transaction.  Not psycopg_pool's `reset` callback: with one,
#: the pool hands *every* returned connection to a worker thread, and the next checkout
#: waits for that thread (about 0.2 ms on every call, measured; docs/client.md).
RESET_SQL = "DISCARD ALL"
_touched: weakref.WeakSet[Any] = weakref.WeakSet()


def mark_touched(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """The caller's own SQL ran on `conn`: reset it before it goes back to the pool."""
    _touched.add(conn)


def reset_if_touched(conn: psycopg.Connection[Any]) -> None:
    """DISCARD ALL on a connection the caller's SQL ran on; a connection that cannot be
    reset is closed (the pool then discards it)."""
    if conn not in _touched:
        return
    _touched.discard(conn)
    if conn.closed:
        return
    try:
        conn.execute(RESET_SQL)
    except psycopg.Error:
        conn.close()


async def reset_if_touched_async(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn not in _touched:
        return
    _touched.discard(conn)
    if conn.closed:
        return
    try:
        await conn.execute(RESET_SQL)
    except psycopg.Error:
        await conn.close()


def pool_options(settings: Settings) -> dict[str, Any]:
    """Sizes, timeouts and connection arguments: the same for the sync and async pools."""
    return {
        "min_size": min(settings.pool_min_size, settings.pool_max_size),
        "max_size": settings.pool_max_size,
        "max_idle": settings.pool_max_idle_s,
        "timeout": settings.pool_timeout_s,
        "kwargs": connection_kwargs(settings),
    }


class ConnectWatch:
    """What a pool's own connection attempts last met (its workers connect in the
    background, where a failure reaches no caller): the last failure, cleared by the next
    success.  While it is set, a checkout waits at most connect_timeout before it asks the
    server directly why (campaigndb.sync.pool.checkout)."""

    def __init__(self) -> None:
        self.last_error: BaseException | None = None

    def failed(self, exc: BaseException) -> None:
        self.last_error = exc

    def succeeded(self) -> None:
        self.last_error = None


#: the watch of each pool this package made (a pool of the caller's has none)
_watches: weakref.WeakKeyDictionary[Any, ConnectWatch] = weakref.WeakKeyDictionary()


def watch_of(pool: Any) -> ConnectWatch | None:
    return _watches.get(pool)


def watch(pool: Any, connect_watch: ConnectWatch) -> None:
    _watches[pool] = connect_watch


def first_wait_s(settings: Settings) -> float:
    """How long a checkout waits for the pool while its connection attempts fail."""
    return min(settings.pool_timeout_s, settings.connect_timeout_s)
