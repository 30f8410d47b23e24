"""The pytest plugin users get (campaigndb_dev.pytest_plugin, entry point pytest11): a
user's example test run through pytest in a folder of its own, and the fixtures used
directly here (this suite has the plugin through the same entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from campaigndb import AsyncClient, Client

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "test_my_scraper.py"
#: the user's pytest config of docs/testing-your-code.md
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def test_each_test_gets_a_migrated_database_of_its_own(campaigndb_dsn: str) -> None:
    with psycopg.connect(campaigndb_dsn) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
        assert conn.execute("SELECT count(*) FROM campaigndb.workspaces").fetchone() == (0,)


def test_the_client_is_bound_to_that_database(campaigndb_client: Client,
                                              campaigndb_dsn: str) -> None:
    created = campaigndb_client.create_workspace("plugin")
    with psycopg.connect(campaigndb_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM campaigndb.workspaces WHERE id = %s",
                            [created.workspace_id]).fetchone() == (1,)


def test_a_users_example_test_passes(tmp_path: Path) -> None:
    """The documented example, copied into a folder without this repository's conftest."""
    (tmp_path / EXAMPLE.name).write_text(EXAMPLE.read_text())
    (tmp_path / "pytest.ini").write_text(PYTEST_INI)
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGNDB_DSN", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "error",
         str(tmp_path / EXAMPLE.name)],  # the plugin comes through its entry point
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


@pytest.mark.asyncio
async def test_the_async_client_is_bound_to_that_database(
        campaigndb_async_client: AsyncClient, campaigndb_dsn: str) -> None:
    created = await campaigndb_async_client.create_workspace("async plugin")
    with psycopg.connect(campaigndb_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM campaigndb.workspaces WHERE id = %s",
                            [created.workspace_id]).fetchone() == (1,)


def test_the_template_is_marked_a_template_and_each_test_gets_a_clone(
        campaigndb_server_dsn: str, campaigndb_template: str, campaigndb_dsn: str) -> None:
    from campaigndb_dev.testing import dsn_for

    clone = psycopg.conninfo.conninfo_to_dict(campaigndb_dsn)["dbname"]
    with psycopg.connect(dsn_for("postgres", campaigndb_server_dsn)) as conn:
        rows = dict(conn.execute("SELECT datname, datistemplate FROM pg_database"
                                 " WHERE datname IN (%s, %s)", [campaigndb_template, clone]))
    assert rows == {campaigndb_template: True, clone: False}
