"""A throwaway Citus cluster on loopback for the Citus test tier (docs/scale-out.md).

    python scripts/citus_cluster.py start    # install Citus if missing, start, print the DSN
    python scripts/citus_cluster.py url      # the coordinator's DSN (database campaigndb)
    python scripts/citus_cluster.py status
    python scripts/citus_cluster.py stop [--destroy]

A coordinator and two workers, each an embedded server (campaigndb_dev.embedded) under
.campaigndb/citus/<node>/ on a free loopback port, run as the unprivileged `postgres` user
with shared_preload_libraries = 'citus'.  `start` is idempotent: a running cluster is reused;
a stopped one is started again with fresh data directories (its ports would have changed, and
the node metadata names them).  In database `campaigndb` the coordinator holds the citus
extension, itself as coordinator and both workers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from campaigndb_dev.embedded import DEFAULT_DATABASE, EmbeddedServer, RunAs

ROOT = Path(__file__).resolve().parent.parent
NODES = ("coordinator", "worker1", "worker2")
READY = ROOT / ".campaigndb" / "citus" / "ready"  # written once the workers are registered

# Appended to each node's postgresql.conf.  Two-phase commit is how Citus commits a
# transaction that wrote to more than one node (reference tables, multi-shard writes).
CITUS_SETTINGS = {
    "shared_preload_libraries": "'citus'",
    "max_prepared_transactions": "200",
    # Node-to-node connections on loopback without TLS (the server's HOME may hold no
    # client certificate it can read).
    "citus.node_conninfo": "'sslmode=disable'",
    # Node-to-node connections stay bounded (docs/scale-out.md, "Connections"): a session
    # opens at most one connection per worker (multi-shard statements run their shards one
    # after another on it), keeps at most one idle per worker after its transaction, and all
    # sessions of a node together hold at most max_shared_pool_size per worker (more wait).
    "max_connections": "200",
    "citus.max_adaptive_executor_pool_size": "1",
    "citus.max_cached_conns_per_worker": "1",
    "citus.max_shared_pool_size": "120",
    # Fewer shards than the default 32: every test module's database distributes its tables
    # again, and 4 shards per worker still spread campaigns over both.
    "citus.shard_count": "8",
}


class CitusNode(EmbeddedServer):
    """An embedded server whose configuration loads Citus."""

    def __init__(self, node: str) -> None:
        super().__init__(f"citus/{node}", ROOT)

    def _initdb(self, bindir: Path, runas: RunAs) -> None:
        super()._initdb(bindir, runas)
        lines = [f"{key} = {value}" for key, value in CITUS_SETTINGS.items()]
        with open(self.datadir / "postgresql.conf", "a") as handle:
            handle.write("\n# campaigndb citus node\n" + "\n".join(lines) + "\n")


def install() -> None:
    started = time.monotonic()
    # Its progress goes to stderr: `start` prints only the DSN on stdout.
    subprocess.run(["bash", str(ROOT / "scripts" / "install-citus.sh")], check=True,
                   stdout=sys.stderr)
    print(f"citus install step: {time.monotonic() - started:.1f} s", file=sys.stderr)


def _port(url: str) -> int:
    return int(conninfo_to_dict(url)["port"] or 5432)


def prepare_database(coordinator_url: str, worker_urls: list[str]) -> None:
    """CREATE EXTENSION citus on every node of this database and register the workers."""
    for url in worker_urls:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with psycopg.connect(coordinator_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)",
                     [_port(coordinator_url)])
        for url in worker_urls:
            conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [_port(url)])


def start() -> str:
    install()
    nodes = [CitusNode(name) for name in NODES]
    began = time.monotonic()
    if all(node.is_running() for node in nodes) and READY.exists():
        return nodes[0].url()
    READY.unlink(missing_ok=True)
    for node in nodes:
        if node.exists():
            node.down(destroy=True)
    urls = [node.up() for node in nodes]
    prepare_database(urls[0], urls[1:])
    READY.write_text(urls[0] + "\n")
    print(f"citus cluster started in {time.monotonic() - began:.1f} s", file=sys.stderr)
    return urls[0]


def stop(destroy: bool) -> None:
    READY.unlink(missing_ok=True)
    for name in reversed(NODES):
        node = CitusNode(name)
        if node.exists():
            node.down(destroy=destroy)


def status() -> dict[str, object]:
    return {name: CitusNode(name).status() for name in NODES}


LAYOUT_SQL = """
SELECT 'table ' || table_name::text || ': ' || citus_table_type
       || COALESCE(' by ' || NULLIF(distribution_column, '<none>'), '')
       || ' (colocation ' || colocation_id || ', ' || shard_count || ' shards)'
  FROM citus_tables ORDER BY 1
"""
FUNCTIONS_SQL = """
SELECT 'function ' || objid::regprocedure::text || ' delegated by argument '
       || distribution_argument_index || ', colocation ' || colocationid
       || CASE WHEN force_delegation THEN ', forced' ELSE '' END
  FROM pg_dist_object
 WHERE classid = 'pg_proc'::regclass AND distribution_argument_index IS NOT NULL
 ORDER BY 1
"""


def layout(dsn: str) -> list[str]:
    """What `alembic upgrade head` made of the database: Citus tables and functions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone():
            return ["no citus extension in this database"]
        rows = conn.execute(LAYOUT_SQL).fetchall() + conn.execute(FUNCTIONS_SQL).fetchall()
    return [str(row[0]) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install")
    sub.add_parser("start")
    sub.add_parser("url")
    sub.add_parser("status")
    layout_parser = sub.add_parser("layout", help="the Citus layout of a database")
    layout_parser.add_argument("--dsn", default=os.environ.get("CAMPAIGNDB_CITUS_DSN"))
    stop_parser = sub.add_parser("stop")
    stop_parser.add_argument("--destroy", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "install":
        install()
    elif args.command == "start":
        print(start())
    elif args.command == "url":
        node = CitusNode(NODES[0])
        if not node.is_running():
            print("citus cluster not running", file=sys.stderr)
            return 3
        print(node.url(DEFAULT_DATABASE))
    elif args.command == "layout":
        dsn = args.dsn or CitusNode(NODES[0]).url(DEFAULT_DATABASE)
        print("\n".join(layout(dsn)))
    elif args.command == "status":
        print(json.dumps(status(), indent=2))
    else:
        stop(args.destroy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
