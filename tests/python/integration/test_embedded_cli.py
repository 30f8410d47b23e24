"""The embedded server through the CLI: up, status, url, down, on a cluster of its own."""

from __future__ import annotations

import json
import os
import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from campaigndb_dev.cli import app
from campaigndb_dev.embedded import EmbeddedServer, project_root


@pytest.fixture()
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # under the project folder: pytest's tmp_path is closed to the server's user when root
    monkeypatch.setenv("CAMPAIGNDB_EMBEDDED_DIR", str(project_root() / ".campaigndb" / "cli"))
    name = f"clitest{os.getpid()}"
    yield name
    EmbeddedServer(name).down(destroy=True)
    shutil.rmtree(EmbeddedServer(name).home, ignore_errors=True)


def test_unreachable_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root the server runs as another user, who cannot enter pytest's private tmp_path:
    `db up` must say so instead of failing inside initdb."""
    tmp_path.parent.chmod(0o700)
    monkeypatch.setenv("CAMPAIGNDB_EMBEDDED_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["db", "up", "--name", "closed"])
    try:
        if os.geteuid() == 0:
            assert result.exit_code == 1
            assert "is not reachable by user" in " ".join(result.output.split())
        else:  # an ordinary user runs the server itself, in its own folder
            assert result.exit_code == 0, result.output
    finally:
        EmbeddedServer("closed").down(destroy=True)


def test_db_up_status_url_down(cluster: str) -> None:
    runner = CliRunner()
    up = runner.invoke(app, ["db", "up", "--name", cluster])
    assert up.exit_code == 0, up.output
    url = up.output.strip().splitlines()[-1]
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("campaigndb",)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert pid is not None
        # read while the connection is open: its backend exits when it closes
        owner = pwd.getpwuid(os.stat(f"/proc/{pid[0]}").st_uid).pw_name
    assert owner != "root"  # PostgreSQL never runs as root: an unprivileged user is used

    status = runner.invoke(app, ["db", "status", "--name", cluster])
    assert status.exit_code == 0 and json.loads(status.output)["running"] is True
    assert runner.invoke(app, ["db", "url", "--name", cluster]).output.strip() == url
    assert runner.invoke(app, ["db", "up", "--name", cluster]).output.strip() == url  # idempotent

    down = runner.invoke(app, ["db", "down", "--name", cluster])
    assert down.exit_code == 0
    assert runner.invoke(app, ["db", "status", "--name", cluster]).exit_code == 3
    assert runner.invoke(app, ["db", "url", "--name", cluster]).exit_code == 3
