"""Tools for the fault tests: the exact invariants of docs/contract.md section 2, a PostgreSQL
wire-protocol proxy that loses the reply to a COMMIT, a server of our own that may be
restarted or crashed, and a ledger of what callers were told."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import CampaignDBError, Client, Isolation, RetriesExhausted
from campaigndb_dev.embedded import EmbeddedServer, RunAs
from campaigndb_dev.testing import dsn_for, migrate

# -- the invariants ------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the callers were told succeeded, per campaign and per workflow (thread-safe)."""

    costs: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    executions: Counter[uuid.UUID] = field(default_factory=Counter)
    cost_keys: set[str] = field(default_factory=set)
    execution_ids: set[uuid.UUID] = field(default_factory=set)
    #: logical calls told a non-retryable failure (they must have written nothing)
    refused_cost_keys: set[str] = field(default_factory=set)
    refused_execution_ids: set[uuid.UUID] = field(default_factory=set)
    #: times a caller had to call again (same key) because the client gave up retrying
    recalls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cost(self, campaign: uuid.UUID, amount: Decimal, key: str) -> None:
        with self._lock:
            self.costs[campaign] = self.costs.get(campaign, Decimal(0)) + amount
            self.cost_keys.add(key)

    def execution(self, workflow: uuid.UUID, execution_id: uuid.UUID) -> None:
        with self._lock:
            self.executions[workflow] += 1
            self.execution_ids.add(execution_id)

    def recalled(self) -> None:
        with self._lock:
            self.recalls += 1


def assert_invariants(conn: psycopg.Connection[Any], ledger: Ledger | None = None) -> None:
    """docs/contract.md section 2, exactly, over the whole database; with a ledger, also: what
    was applied is what the callers were told succeeded, no more and no less."""
    drift = conn.execute(
        "SELECT c.id, c.total_cost, COALESCE(k.total, 0) FROM campaigndb.campaigns c"
        " LEFT JOIN (SELECT campaign_id, sum(cost_usd) AS total FROM campaigndb.gmaps_api_costs"
        "            GROUP BY campaign_id) k ON k.campaign_id = c.id"
        " WHERE c.total_cost IS DISTINCT FROM COALESCE(k.total, 0)").fetchall()
    assert drift == [], f"campaigns.total_cost differs from the sum of its cost rows: {drift}"
    drift = conn.execute(
        "SELECT w.id, w.total_executions, COALESCE(e.n, 0)"
        " FROM campaigndb.workspace_n8n_workflows w"
        " LEFT JOIN (SELECT workspace_n8n_workflow_id AS id, count(*) AS n"
        "            FROM campaigndb.n8n_campaign_executions GROUP BY 1) e ON e.id = w.id"
        " WHERE w.total_executions IS DISTINCT FROM COALESCE(e.n, 0)").fetchall()
    assert drift == [], f"total_executions differs from the count of executions: {drift}"
    doubled = conn.execute(
        "SELECT campaign_id, place_id, count(*) FROM campaigndb.gmaps_businesses"
        " GROUP BY campaign_id, place_id HAVING count(*) > 1").fetchall()
    assert doubled == [], f"businesses sharing (campaign_id, place_id): {doubled}"
    if ledger is None:
        return
    if ledger.costs:
        rows = conn.execute(
            "SELECT c.id, c.total_cost, (SELECT count(*) FROM campaigndb.gmaps_api_costs k"
            "  WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c WHERE c.id = ANY(%s)",
            [list(ledger.costs)]).fetchall()
        assert {r[0]: r[1] for r in rows} == ledger.costs, "cost lost or doubled"
        assert sum(r[2] for r in rows) == len(ledger.cost_keys), "cost rows != told successes"
    if ledger.executions:
        rows = conn.execute(
            "SELECT w.id, w.total_executions FROM campaigndb.workspace_n8n_workflows w"
            " WHERE w.id = ANY(%s)", [list(ledger.executions)]).fetchall()
        assert {r[0]: r[1] for r in rows} == dict(ledger.executions), "execution lost or doubled"
        audits = conn.execute(
            "SELECT count(*) FROM campaigndb.workflow_deployment_history"
            " WHERE workflow_id = ANY(%s) AND event_type = 'campaign_execution_started'",
            [list(ledger.executions)]).fetchone()
        assert audits == (sum(ledger.executions.values()),), "audit rows != told successes"
    if ledger.refused_cost_keys:
        written = conn.execute(
            "SELECT count(*) FROM campaigndb.gmaps_api_costs"
            " WHERE idempotency_key = ANY(%s)", [list(ledger.refused_cost_keys)]).fetchone()
        assert written == (0,), "a call answered success: false wrote its cost row"
    if ledger.refused_execution_ids:
        written = conn.execute(
            "SELECT count(*) FROM campaigndb.n8n_campaign_executions WHERE id = ANY(%s)",
            [list(ledger.refused_execution_ids)]).fetchone()
        assert written == (0,), "a call answered success: false wrote its execution"


# -- writers under fire ---------------------------------------------------------------------


class Writers:
    """Threads that share one Client and, until stopped, take turns at track_campaign_cost,
    execute_campaign_atomically and (with `transactions`) both in one run_transaction, on a
    few campaigns and workflows (hot rows on purpose).  Each logical call has one key; a
    caller answered "retryable failure" (RetriesExhausted: the outcome may be unknown) calls
    again with the same key, as docs/contract.md section 1 advises, for up to `give_up_s`.  `ledger`
    records what each caller was told."""

    def __init__(self, db: Client, workspace: uuid.UUID, campaigns: list[uuid.UUID],
                 flows: list[uuid.UUID], threads: int, give_up_s: float = 90.0,
                 transactions: bool = True) -> None:
        self.db, self.workspace, self.campaigns, self.flows = db, workspace, campaigns, flows
        self.transactions = transactions
        self.give_up_s = give_up_s
        self.ledger = Ledger()
        self.calls = [0] * threads
        self.replays = [0] * threads
        self.successes = [0] * threads
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(n,)) for n in range(threads)]

    def start(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for(self, at_least: list[int], timeout_s: float) -> None:
        """Until every thread has made at least at_least[n] calls (or an error)."""
        deadline = time.monotonic() + timeout_s
        while any(c < m for c, m in zip(self.calls, at_least, strict=True)) and not self.errors:
            assert time.monotonic() < deadline, f"writers stalled at {self.calls}"
            time.sleep(0.01)

    def _retrying(self, call: Callable[[], Any]) -> tuple[Any, CampaignDBError | None]:
        give_up = time.monotonic() + self.give_up_s
        while True:
            try:
                return call(), None
            except RetriesExhausted as exc:
                if time.monotonic() > give_up:
                    raise AssertionError(f"still failing after {self.give_up_s}s") from exc
                self.ledger.recalled()
            except CampaignDBError as exc:
                return None, exc

    def _cost(self, n: int, rng: random.Random) -> None:
        campaign = rng.choice(self.campaigns)
        amount = Decimal(rng.randint(1, 10**6)) / Decimal(10**4)
        key = f"fault-{uuid.uuid4()}"
        result, refused = self._retrying(lambda: self.db.track_campaign_cost(
            campaign, "gmaps", 1, amount, idempotency_key=key))
        if refused is not None:
            self.ledger.refused_cost_keys.add(key)
            return
        self.ledger.cost(campaign, amount, key)
        self.successes[n] += 1
        self.replays[n] += bool(result.replayed)

    def _launch(self, n: int, rng: random.Random) -> None:
        flow = rng.choice(self.flows)
        execution = uuid.uuid4()
        result, refused = self._retrying(lambda: self.db.execute_campaign_atomically(
            self.workspace, flow, None, "under fire", "email", execution_id=execution))
        if refused is not None:
            self.ledger.refused_execution_ids.add(execution)
            return
        self.ledger.execution(flow, execution)
        self.successes[n] += 1
        self.replays[n] += bool(result.replayed)

    def _transaction(self, n: int, rng: random.Random) -> None:
        """A cost and a launch in one run_transaction (SERIALIZABLE, no hot-row queue):
        a lost commit reruns the callback, whose steps reuse their keys and replay."""
        campaign, flow = rng.choice(self.campaigns), rng.choice(self.flows)
        amount = Decimal(rng.randint(1, 10**6)) / Decimal(10**4)
        answers: list[tuple[Any, Any]] = []

        def body(tx: Any) -> None:
            cost = tx.call("track_campaign_cost", p_campaign_id=str(campaign),
                           p_service="gmaps", p_items_processed=1, p_cost_usd=amount,
                           p_metadata={})
            launch = tx.call("execute_campaign_atomically", p_workspace_id=str(self.workspace),
                             p_workspace_n8n_workflow_id=str(flow),
                             p_campaign_approval_session_id=None,
                             p_campaign_name="in one transaction", p_campaign_type="email")
            answers.append((cost, launch))

        try:
            self.db.run_transaction(body, isolation=Isolation.SERIALIZABLE, attempts=30,
                                    base_s=0.002, max_s=0.1, name="fault-transaction")
        except CampaignDBError as exc:
            # Its steps' keys are internal to that run_transaction call: a caller cannot
            # ask again safely, so giving up here is a failure of the test.
            raise AssertionError(f"run_transaction gave up, outcome unknown: {exc}") from exc
        cost, launch = answers[-1]
        self.ledger.cost(campaign, amount, f"cost-id-{cost['cost_id']}")
        self.ledger.execution(flow, uuid.UUID(str(launch["execution_id"])))
        self.successes[n] += 1
        self.replays[n] += bool(cost["replayed"]) + bool(launch["replayed"])

    def _work(self, n: int) -> None:
        rng = random.Random(n)
        kinds = [self._cost, self._launch] + ([self._transaction] if self.transactions else [])
        try:
            while not self._stop.is_set():
                kinds[(n + self.calls[n]) % len(kinds)](n, rng)
                self.calls[n] += 1
        except BaseException as exc:  # noqa: BLE001 - the test asserts errors == []
            self.errors.append(exc)

    def told_successes(self) -> int:
        """Logical calls answered success (a transaction counts once)."""
        return sum(self.successes)


# -- the proxy -----------------------------------------------------------------------------

# Hand-written because no maintained library does this: generic fault proxies (toxiproxy,
# a separate Go binary, not on PyPI) cut connections by time or bytes, but cannot tell which
# bytes are the server's reply to the message that carried COMMIT.  This proxy knows just
# enough of the PostgreSQL v3 protocol to frame messages: an untyped startup packet, then
# typed messages (one type byte, an int32 length that counts itself, the body).

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return bytes(data)


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    """One typed message: (type byte, the whole message as sent)."""
    header = _recv_exact(sock, 5)
    (length,) = struct.unpack("!i", header[1:])
    return header[:1], header + _recv_exact(sock, length - 4)


@dataclass
class Sabotage:
    """One reply the proxy swallowed: the query it answered and what the server said."""

    query: str
    replies: list[bytes] = field(default_factory=list)

    @property
    def server_committed(self) -> bool:
        """The swallowed reply holds CommandComplete "COMMIT" and no ErrorResponse."""
        tags = [m[5:-1] for m in self.replies if m[:1] == b"C"]
        errors = [m for m in self.replies if m[:1] == b"E"]
        return b"COMMIT" in tags and not errors


class CommitReplyDropper:
    """A loopback TCP proxy in front of a PostgreSQL server.

    Bytes are forwarded both ways unchanged, except for the Query (simple protocol) or
    Parse (extended protocol) message that `arm(marker)` designates (the next one holding
    both COMMIT and `marker`): the proxy forwards it to the server, reads the server's whole
    reply to it (up to ReadyForQuery), swallows it and closes both sides.  The server has
    executed and committed the transaction; the client never learns it: exactly an
    ambiguous commit.
    """

    def __init__(self, target_dsn: str) -> None:
        params = conninfo_to_dict(target_dsn)
        self.target = (str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432))
        self.target_dsn = target_dsn
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._armed: list[str] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.sabotaged: list[Sabotage] = []
        self.connections = 0
        self._spawn(self._accept_loop)

    def dsn(self, base: str | None = None) -> str:
        """`base` (default: the target's DSN) reached through the proxy."""
        params = conninfo_to_dict(base or self.target_dsn)
        params.update(host="127.0.0.1", port=str(self.port), sslmode="disable",
                      gssencmode="disable")
        return make_conninfo("", **params)

    def arm(self, marker: str) -> None:
        with self._lock:
            self._armed.append(marker)

    def armed(self) -> int:
        with self._lock:
            return len(self._armed)

    def _take(self, query: str) -> bool:
        if "COMMIT" not in query:
            return False
        with self._lock:
            for index, marker in enumerate(self._armed):
                if marker in query:
                    del self._armed[index]
                    return True
        return False

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._track(client)
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            self._track(server)
            with self._lock:
                self.connections += 1
            state: dict[str, Sabotage | None] = {"drop": None}
            self._spawn(self._client_to_server, client, server, state)
            self._spawn(self._server_to_client, server, client, state)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _client_to_server(self, client: socket.socket, server: socket.socket,
                          state: dict[str, Sabotage | None]) -> None:
        try:
            while True:  # the startup packet, after any encryption request we decline
                (length,) = struct.unpack("!i", _recv_exact(client, 4))
                body = _recv_exact(client, length - 4)
                (code,) = struct.unpack("!i", body[:4])
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    client.sendall(b"N")
                    continue
                server.sendall(struct.pack("!i", length) + body)
                break
            while True:
                kind, message = _read_message(client)
                query = None
                if kind == b"Q":  # simple protocol: Query(text)
                    query = message[5:-1].decode("utf-8", "replace")
                elif kind == b"P":  # extended protocol: Parse(statement name, text, ...)
                    query = message[5:].split(b"\0", 2)[1].decode("utf-8", "replace")
                if query is not None and self._take(query):
                    # Marked before forwarding: the reply can only come after it, and it
                    # ends with the next ReadyForQuery (after Sync, in the extended protocol).
                    state["drop"] = Sabotage(query)
                server.sendall(message)
        except (OSError, ConnectionError, struct.error):
            self._close(client, server)

    def _server_to_client(self, server: socket.socket, client: socket.socket,
                          state: dict[str, Sabotage | None]) -> None:
        try:
            while True:
                kind, message = _read_message(server)
                sabotage = state["drop"]
                if sabotage is None:
                    client.sendall(message)
                    continue
                sabotage.replies.append(message)
                if kind == b"Z":  # ReadyForQuery: the reply is complete; lose it
                    with self._lock:
                        self.sabotaged.append(sabotage)
                    self._close(client, server)
                    return
        except (OSError, ConnectionError, struct.error):
            self._close(client, server)

    def close(self) -> None:
        self._close(self._listener)  # shutdown() wakes the accept() that close() would not
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        self._close(*sockets)
        for thread in threads:
            thread.join(5)


# -- a server of our own -------------------------------------------------------------------


class OwnServer:
    """An embedded cluster for the faults package alone (never the shared "test" one): it
    is restarted, stopped with -m immediate and filled to max_connections."""

    DATABASE = "faults"

    def __init__(self, max_connections: int) -> None:
        self.server = EmbeddedServer(f"faults-{os.getpid()}")
        self.max_connections = max_connections
        self.dsn = ""

    def start(self) -> str:
        self.server.up()
        with psycopg.connect(self.server.url("postgres"), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(self.max_connections)}")
            conn.execute(f"CREATE DATABASE {self.DATABASE}")
        self.restart("fast")  # max_connections needs a restart
        self.dsn = dsn_for(self.DATABASE, self.server.url("postgres"))
        migrate(self.dsn)
        return self.dsn

    def _pg_ctl(self, *args: str) -> None:
        state = json.loads(self.server.state_file.read_text())
        # -l: a started server writes to its log, not to our pipes (which would never close
        # while the server runs, so run() would never return).
        log = ["-l", str(self.server.logfile)] if args[0] in ("start", "restart") else []
        result = RunAs.resolve().run(
            [str(Path(state["bindir"]) / "pg_ctl"), *args, "-w", "-t", "60",
             "-D", str(self.server.datadir), *log])
        assert result.returncode == 0, f"pg_ctl {args}: {result.stdout}{result.stderr}"

    def restart(self, mode: str) -> None:
        """pg_ctl restart: same port, same options (postmaster.opts)."""
        self._pg_ctl("restart", "-m", mode)

    def stop(self, mode: str) -> None:
        self._pg_ctl("stop", "-m", mode)

    def start_again(self) -> None:
        port = self.server.port
        self._pg_ctl("start", "-o", f"-p {port} -k {self.server.datadir}")

    def destroy(self) -> None:
        self.server.down(destroy=True, mode="immediate")
        shutil.rmtree(self.server.home, ignore_errors=True)
