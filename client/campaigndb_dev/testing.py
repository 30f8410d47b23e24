"""Throwaway databases for the test suites and the benchmark harness.

With CAMPAIGNDB_DSN (or DATABASE_URL) set, databases are created on that server; otherwise
on the embedded cluster named "test" (apart from the demo's "default" one), "test-pg18"
under CAMPAIGNDB_PG_MAJOR=18.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb.settings import Settings
from campaigndb_dev.embedded import EmbeddedServer

TEST_CLUSTER = "test"


def test_cluster() -> str:
    """The embedded test cluster's name: "test", or "test-pg<N>" under CAMPAIGNDB_PG_MAJOR=N
    (each major its own cluster: a data directory runs on its own major only)."""
    major = os.environ.get("CAMPAIGNDB_PG_MAJOR", "").strip()
    return f"{TEST_CLUSTER}-pg{major}" if major else TEST_CLUSTER


def server_dsn() -> str:
    """A DSN on the server the tests use (its configured database, or the embedded one)."""
    configured = Settings().dsn
    if configured:
        return configured
    return EmbeddedServer(test_cluster()).up()


def dsn_for(database: str, base: str | None = None) -> str:
    """The same server as `base` (default: server_dsn()), another database."""
    params = conninfo_to_dict(base or server_dsn())
    params["dbname"] = database
    return make_conninfo("", **params)


def admin_connect(base: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn_for("postgres", base), autocommit=True)


def drop_database(name: str, base: str | None = None) -> None:
    with admin_connect(base) as conn:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(statement.format(sql.Identifier(name)))


def create_database(name: str, template: str | None = None, base: str | None = None) -> str:
    """A fresh database `name` (dropped first if it exists) on base's server (default:
    server_dsn()), empty or cloned from `template`; its DSN."""
    drop_database(name, base)
    with admin_connect(base) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        conn.execute(statement)
    return dsn_for(name, base)


def migrate(dsn: str, revision: str = "head", *, down: bool = False) -> None:
    """alembic upgrade (or downgrade) against dsn, in this process."""
    from alembic import command
    from alembic.config import Config

    from campaigndb.migrations import alembic_ini

    config = Config(str(alembic_ini()))
    config.attributes["dsn"] = dsn
    config.attributes["configure_logger"] = False  # this process keeps its own logging
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


def migrated_database(name: str) -> str:
    dsn = create_database(name)
    migrate(dsn)
    return dsn


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}"


#: Per workflow of `%s` (a list of workflow ids): id, total_executions, the executions
#: counted, their `campaign_execution_started` audit rows, their distinct execution numbers.
#: The invariant of docs/contract.md (section 2) holds when the four numbers agree.
WORKFLOW_COUNTS_SQL = (
    "SELECT w.id, w.total_executions,"
    " (SELECT count(*) FROM campaigndb.n8n_campaign_executions e"
    "   WHERE e.workspace_n8n_workflow_id = w.id),"
    " (SELECT count(*) FROM campaigndb.workflow_deployment_history h"
    "   WHERE h.workflow_id = w.id AND h.event_type = 'campaign_execution_started'),"
    " (SELECT count(DISTINCT execution_number) FROM campaigndb.n8n_campaign_executions e"
    "   WHERE e.workspace_n8n_workflow_id = w.id)"
    " FROM campaigndb.workspace_n8n_workflows w WHERE w.id = ANY(%s)")
