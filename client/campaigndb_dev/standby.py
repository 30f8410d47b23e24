"""A streaming standby of an embedded cluster (pg_basebackup -R over loopback).

It lives beside its primary under `.campaigndb/<primary>-standby`, runs as the same
unprivileged user, and replays the primary's WAL (initdb's default pg_hba trusts loopback
replication; wal_level=replica and max_wal_senders are PostgreSQL's defaults).
"""

from __future__ import annotations

from pathlib import Path

from campaigndb_dev.embedded import SUPERUSER, EmbeddedError, EmbeddedServer, RunAs


class Standby(EmbeddedServer):
    def __init__(self, primary: EmbeddedServer) -> None:
        super().__init__(f"{primary.name}-standby")
        self.home = primary.home.parent / self.name
        self.datadir = self.home / "pgdata"
        self.state_file = self.home / "server.json"
        self.logfile = self.home / "server.log"
        self.primary = primary

    def _initdb(self, bindir: Path, runas: RunAs) -> None:
        """The data directory is a base backup of the running primary, set to follow it."""
        port = self.primary.port
        if port is None or not self.primary.is_running():
            raise EmbeddedError(f"primary {self.primary.name!r} is not running")
        result = runas.run(
            [str(bindir / "pg_basebackup"), "-D", str(self.datadir), "-R", "-X", "stream",
             "-c", "fast", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER],
        )
        if result.returncode != 0:
            raise EmbeddedError(f"pg_basebackup failed: {result.stderr or result.stdout}")

    def _ensure_database(self) -> None:
        """A standby is read-only: its databases are the primary's."""

    def up(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        return super().up()
