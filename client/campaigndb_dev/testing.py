"""Throwaway databases for the test suites and the benchmark harness.

With CAMPAIGNDB_DSN (or DATABASE_URL) set, databases are created on that server; otherwise
on the embedded cluster named "test" (apart from the demo's "default" one), "test-pg18"
under CAMPAIGNDB_PG_MAJOR=18.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb.settings import Settings
from campaigndb_dev.embedded import EmbeddedServer

if TYPE_CHECKING:
    from pytest_postgresql.janitor import DatabaseJanitor

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


def janitor(name: str, base: str | None = None, *, template: str | None = None,
            as_template: bool = False) -> DatabaseJanitor:
    """pytest-postgresql's DatabaseJanitor for database `name` on base's server (default:
    server_dsn()): `init()` creates it (cloned from `template`), `drop()` ends its sessions
    and drops it, `load(callable)` fills it."""
    from pytest_postgresql.janitor import DatabaseJanitor  # the [testing] extra

    params = conninfo_to_dict(base or server_dsn())
    # a part the DSN leaves out stays None: psycopg omits it, so libpq's default applies
    # (PGHOST, PGPORT, PGUSER, PGPASSWORD, the socket), as for the DSN itself
    return DatabaseJanitor(user=cast(str, params.get("user")),
                           password=cast("str | None", params.get("password")),
                           host=cast(str, params.get("host")),
                           port=cast(str, params.get("port")), dbname=name,
                           template_dbname=template, as_template=as_template)


def drop_database(name: str, base: str | None = None, *, as_template: bool = False) -> None:
    janitor(name, base, as_template=as_template).drop()


def create_database(name: str, template: str | None = None, base: str | None = None, *,
                    as_template: bool = False) -> str:
    """A fresh database `name` (dropped first if it exists) on base's server (default:
    server_dsn()), empty or cloned from `template`; its DSN."""
    fresh = janitor(name, base, template=template, as_template=as_template)
    fresh.drop()
    fresh.init()
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


def migrated_database(name: str, base: str | None = None, *,
                      as_template: bool = False) -> str:
    """A fresh database `name` with the schema deployed (`alembic upgrade head`, as the
    janitor's load step); `as_template`: marked a template, to be cloned."""
    fresh = janitor(name, base, as_template=as_template)
    fresh.drop()
    fresh.init()
    fresh.load(partial(_load_schema, base))
    return dsn_for(name, base)


def _load_schema(base: str | None, *, dbname: str, **_: Any) -> None:
    # the janitor passes host, port, user, password apart: the base DSN keeps the rest
    migrate(dsn_for(dbname, base))


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
