"""The command line as scripts use it: exit codes, one-line errors, no log noise unless -v,
alembic's relative revisions as positional REV, `python -m campaigndb`, --version."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import campaigndb
from campaigndb_dev.testing import create_database, drop_database, unique_name

CLI = str(Path(sys.executable).parent / "campaigndb")


def run(*args: str, dsn: str | None = None, cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGNDB_DSN", "DATABASE_URL")}
    if dsn:
        env["CAMPAIGNDB_DSN"] = dsn
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def empty_dsn() -> Iterator[str]:
    name = unique_name("campaigndb_cli")
    yield create_database(name)
    drop_database(name)


def deployed(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def test_version() -> None:
    assert campaigndb.__version__ != "0+unknown"
    for command in ([CLI, "--version"], [sys.executable, "-m", "campaigndb", "--version"]):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"campaigndb {campaigndb.__version__}"


@pytest.mark.parametrize("args", [
    ["call", "create_workspace", "not-a-pair"],
    ["call", "create_workspace", "p_nosuch=1"],
    ["call", "nosuch_function"],
    ["migrate", "downgrade"],
    ["nosuch-command"],
])
def test_usage_errors_are_one_line_with_exit_2(args: list[str]) -> None:
    result = run(*args, dsn="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cannot_connect_is_exit_4() -> None:
    for args in (["call", "create_workspace", "p_name=x"], ["migrate", "current"]):
        result = run(*args, dsn="postgresql://nobody@127.0.0.1:1/none")
        assert result.returncode == 4, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_relative_revisions_and_progress_lines(empty_dsn: str) -> None:
    up = run("migrate", "upgrade", "head", dsn=empty_dsn, cwd=Path("/"))
    assert up.returncode == 0, up.stderr
    assert "Running upgrade  -> 0001_foundation" in up.stderr  # alembic's own progress
    head = deployed(empty_dsn)
    assert head is not None
    down = run("migrate", "downgrade", "-1", dsn=empty_dsn)
    assert down.returncode == 0, down.stderr
    previous = deployed(empty_dsn)
    assert previous not in (None, head)
    assert run("migrate", "upgrade", "+1", dsn=empty_dsn).returncode == 0
    assert deployed(empty_dsn) == head
    assert run("migrate", "downgrade", "base", dsn=empty_dsn).returncode == 0
    assert deployed(empty_dsn) is None
    assert run("migrate", "upgrade", dsn=empty_dsn).returncode == 0  # default: head
    assert deployed(empty_dsn) == head


def test_a_rejected_call_is_exit_1_and_quiet_unless_verbose(empty_dsn: str) -> None:
    assert run("migrate", "upgrade", "head", dsn=empty_dsn).returncode == 0
    quiet = run("call", "create_workspace", "p_name=", dsn=empty_dsn)
    assert quiet.returncode == 1
    assert '"success": false' in quiet.stdout
    assert quiet.stderr == ""
    loud = run("-v", "call", "create_workspace", "p_name=", dsn=empty_dsn)
    assert loud.returncode == 1
    assert "WARNING [campaigndb] call failed" in loud.stderr
    done = run("call", "create_workspace", "p_name=scripted", dsn=empty_dsn)
    assert done.returncode == 0 and '"success": true' in done.stdout


def test_migrations_come_from_the_package_not_the_working_directory(
        empty_dsn: str, tmp_path: Path) -> None:
    """A folder with an alembic.ini and a migrations/ of its own: `campaigndb migrate` run
    inside it still uses the installed package's migrations, never the decoy's env.py."""
    marker = tmp_path / "decoy-ran"
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    for args in (["migrate", "current"], ["migrate", "upgrade", "head"]):
        result = run(*args, dsn=empty_dsn, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert deployed(empty_dsn) is not None
    # the decoy is a working alembic project: run directly, its env.py does run
    subprocess.run([sys.executable, "-m", "alembic", "current"], cwd=tmp_path,
                   capture_output=True, text=True)
    assert marker.exists()
