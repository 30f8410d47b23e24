"""Databases on a Citus cluster for the Citus test tier (`make test-citus`, docs/scale-out.md).

CAMPAIGNDB_CITUS_DSN names a coordinator database in which the citus extension knows its
workers (pg_dist_node); scripts/citus_cluster.py starts such a cluster, or it is a user's own.
A test database cannot be cloned from a template on Citus (each node holds its own part of
it), so every module's database is created on every node, given the extension and the
workers, and migrated with `alembic upgrade head` on the coordinator.
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb_dev.testing import migrate


def citus_dsn() -> str | None:
    return os.environ.get("CAMPAIGNDB_CITUS_DSN") or None


def _with(dsn: str, **changes: object) -> str:
    params = conninfo_to_dict(dsn)
    params.update({key: str(value) for key, value in changes.items()})
    return make_conninfo("", **params)


def worker_dsns(coordinator: str) -> list[str]:
    """The workers' DSNs (same user and password as the coordinator's), database unchanged."""
    with psycopg.connect(coordinator, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport FROM pg_catalog.pg_dist_node"
            " WHERE groupid <> 0 AND isactive AND noderole = 'primary' ORDER BY nodeid"
        ).fetchall()
    if not rows:
        raise RuntimeError(f"no active Citus workers registered in {coordinator!r}")
    return [_with(coordinator, host=host, port=port) for host, port in rows]


def _admin(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_with(dsn, dbname="postgres"), autocommit=True)


def drop_cluster_database(coordinator: str, name: str) -> None:
    for node in [coordinator, *worker_dsns(coordinator)]:
        with _admin(node) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def create_cluster_database(coordinator: str, name: str) -> str:
    """A migrated database `name` on every node of the cluster; its coordinator DSN."""
    workers = worker_dsns(coordinator)
    drop_cluster_database(coordinator, name)
    for node in [coordinator, *workers]:
        with _admin(node) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for node in workers:
        with psycopg.connect(_with(node, dbname=name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    url = _with(coordinator, dbname=name)
    coord = conninfo_to_dict(coordinator)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)",
                     [coord.get("host") or "127.0.0.1", int(coord.get("port") or 5432)])
        for node in workers:
            params = conninfo_to_dict(node)
            conn.execute("SELECT citus_add_node(%s, %s)",
                         [params["host"], int(params["port"] or 5432)])
    migrate(url)
    return url
