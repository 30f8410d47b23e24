"""A throwaway PgBouncer (Debian's `pgbouncer`) in front of a local PostgreSQL, for tests.

It listens on a free loopback port, pools in transaction mode (by default) with a small
server pool per database, forwards every database name to the server it fronts (`* =`),
and keeps its configuration and log in a temporary folder that `stop()` removes.
PgBouncer refuses to run as root, so when we are root it runs as the same unprivileged
account as the embedded server (campaigndb_dev.embedded.RunAs).

Written by hand because no maintained Python library starts a PgBouncer process: what is
here is the configuration file, a subprocess and a readiness wait.

>>> with PgBouncer(backend_port=5432, pool_size=5) as bouncer:    # doctest: +SKIP
...     url = bouncer.url("campaigndb")     # postgresql://postgres@127.0.0.1:<port>/campaigndb
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb_dev.embedded import SUPERUSER, RunAs, free_port

INSTALL_HINT = "install it with `apt-get install pgbouncer` (scripts/install-test-deps.sh does)"


class PgBouncerError(RuntimeError):
    """PgBouncer is missing, or could not be started."""


def find_pgbouncer() -> str:
    """The pgbouncer binary: $CAMPAIGNDB_PGBOUNCER_BIN, PATH, or Debian's /usr/sbin."""
    for candidate in (os.environ.get("CAMPAIGNDB_PGBOUNCER_BIN"), shutil.which("pgbouncer"),
                      "/usr/sbin/pgbouncer"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise PgBouncerError(f"pgbouncer not found; {INSTALL_HINT}")


class PgBouncer:
    """One PgBouncer process; `start()`/`stop()` or use it as a context manager."""

    def __init__(
        self,
        backend_port: int,
        backend_host: str = "127.0.0.1",
        *,
        pool_size: int = 5,
        pool_mode: Literal["transaction", "session", "statement"] = "transaction",
        max_client_conn: int = 1000,
        user: str = SUPERUSER,
    ) -> None:
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.pool_size = pool_size
        self.pool_mode = pool_mode
        self.max_client_conn = max_client_conn
        self.user = user
        self.port: int | None = None
        self.home: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def in_front_of(cls, dsn: str, **options: Any) -> PgBouncer:
        """A PgBouncer for the server (host and port) of `dsn`."""
        params = conninfo_to_dict(dsn)
        return cls(int(params.get("port") or 5432), str(params.get("host") or "127.0.0.1"),
                   user=str(params.get("user") or SUPERUSER), **options)

    # -- configuration -------------------------------------------------------------
    def config_text(self, port: int, home: Path) -> str:
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(port),
            "unix_socket_dir": "",  # loopback TCP only
            "pool_mode": self.pool_mode,
            "default_pool_size": str(self.pool_size),
            "min_pool_size": "0",
            "reserve_pool_size": "0",  # the pool never grows past pool_size
            "max_client_conn": str(self.max_client_conn),
            # The servers it fronts here trust loopback connections; trust still requires
            # the user name to be listed in auth_file.
            "auth_type": "trust",
            "auth_file": str(home / "userlist.txt"),
            "admin_users": self.user,
            "stats_users": self.user,
            "logfile": str(home / "pgbouncer.log"),
            "pidfile": str(home / "pgbouncer.pid"),
            "log_connections": "0",
            "log_disconnections": "0",
            # A database dropped by a test fixture (DROP DATABASE ... WITH (FORCE)) must not
            # leave a pool that keeps trying to reconnect to it.
            "server_login_retry": "1",
            "autodb_idle_timeout": "60",
        }
        lines = ["[databases]",
                 f"* = host={self.backend_host} port={self.backend_port}",
                 "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    # -- lifecycle -----------------------------------------------------------------
    def start(self, timeout_s: float = 15.0) -> PgBouncer:
        if self._process is not None:
            return self
        binary = find_pgbouncer()
        runas = RunAs.resolve()
        # /tmp is open to the unprivileged account (pytest's tmp_path is not, when root).
        home = Path(tempfile.mkdtemp(prefix="campaigndb-pgbouncer-"))
        self.home = home
        port = free_port()
        (home / "pgbouncer.ini").write_text(self.config_text(port, home))
        (home / "userlist.txt").write_text(f'"{self.user}" ""\n')
        runas.chown(home)
        extra: dict[str, Any] = {}
        if runas.uid is not None:
            extra = {"user": runas.uid, "group": runas.gid, "extra_groups": []}
        with open(home / "stderr.log", "wb") as stderr:
            self._process = subprocess.Popen(
                [binary, str(home / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                stdout=stderr, stderr=stderr, **extra)
        self.port = port
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        assert self._process is not None and self.port is not None
        while True:
            if self._process.poll() is not None:
                raise PgBouncerError(f"pgbouncer exited with {self._process.returncode}:\n"
                                     f"{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise PgBouncerError(f"pgbouncer did not listen within {timeout_s} s:\n"
                                         f"{self.log_tail()}") from None
                time.sleep(0.05)

    def log_tail(self, chars: int = 4000) -> str:
        if self.home is None:
            return ""
        text = ""
        for name in ("stderr.log", "pgbouncer.log"):
            path = self.home / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text[-chars:]

    def stop(self) -> None:
        """Shut PgBouncer down at once (SIGTERM: its clients are cut) and remove its folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- addresses -----------------------------------------------------------------
    def url(self, database: str) -> str:
        if self.port is None:
            raise PgBouncerError("pgbouncer is not started")
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def route(self, dsn: str) -> str:
        """`dsn` (a database on the fronted server) as reached through this PgBouncer."""
        if self.port is None:
            raise PgBouncerError("pgbouncer is not started")
        params = conninfo_to_dict(dsn)
        params.update(host="127.0.0.1", port=str(self.port), user=self.user)
        return make_conninfo("", **params)

    def show(self, what: str) -> list[dict[str, Any]]:
        """`SHOW <what>` on the admin console (POOLS, STATS, SERVERS, CLIENTS, ...).

        The console speaks only the simple query protocol, which psycopg's ClientCursor uses.
        """
        if not what.replace("_", "").isalnum():
            raise ValueError(f"not a SHOW subject: {what!r}")
        with psycopg.connect(self.url("pgbouncer"), autocommit=True) as conn, \
                psycopg.ClientCursor(conn) as cursor:
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
