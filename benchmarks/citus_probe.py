"""Citus probe (docs/scale-out.md): track_campaign_cost through the Client on a single server
against the Citus cluster of scripts/citus_cluster.py (the call delegated to the worker
holding the campaign).  Standalone; prints ratios, medians of the repeats.

    .venv/bin/python benchmarks/citus_probe.py [--repeats 3] [--calls 200] [--threads 8]

- per call: one caller, sequential calls on one campaign; median latency, Citus / single;
- throughput: `--threads` callers, each on a campaign of its own, the campaigns chosen half
  on each worker; calls per second, Citus / single.
Needs the cluster running (`make citus-up`) or CAMPAIGNDB_CITUS_DSN; the single server is the
embedded test cluster (or CAMPAIGNDB_DSN).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaigndb import Client  # noqa: E402
from campaigndb_dev.testing import drop_database, migrated_database  # noqa: E402
from tests.python.citus_support import (  # noqa: E402
    create_cluster_database,
    drop_cluster_database,
)


def campaigns(db: Client, dsn: str, count: int, spread: bool) -> list[uuid.UUID]:
    """`count` campaigns; with spread, half on each worker (by their shard's node)."""
    ws = db.create_workspace(f"probe-{uuid.uuid4().hex[:6]}").workspace_id
    by_node: dict[object, list[uuid.UUID]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            cid = db.create_campaign_with_coverage(
                {"workspace_id": ws, "name": "probe"}, ["10001"]).campaign_id
            node: object = 0
            if spread:
                row = conn.execute(
                    "SELECT nodeport FROM pg_dist_placement p JOIN pg_dist_node n"
                    " USING (groupid) WHERE p.shardid = get_shard_id_for_distribution_column("
                    "'campaigndb.campaigns', %s)", [cid]).fetchone()
                node = row[0] if row else 0
            by_node.setdefault(node, []).append(cid)
            if not spread and len(by_node[node]) >= count:
                return by_node[node][:count]
            if spread and len(by_node) >= 2 and all(
                    len(v) >= count // 2 for v in by_node.values()):
                half = count // 2
                picked = [c for v in by_node.values() for c in v[:half]]
                return picked[:count]


def per_call_ms(db: Client, cid: uuid.UUID, calls: int) -> float:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        db.track_campaign_cost(cid, "probe", 1, Decimal("0.01"))
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def throughput(db: Client, cids: list[uuid.UUID], calls: int) -> float:
    def run(cid: uuid.UUID) -> None:
        for _ in range(calls):
            db.track_campaign_cost(cid, "probe", 1, Decimal("0.01"))

    threads = [threading.Thread(target=run, args=(c,)) for c in cids]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(cids) * calls / (time.perf_counter() - began)


def check_exact(dsn: str, cids: list[uuid.UUID]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for cid in cids:
            total, summed = conn.execute(
                "SELECT c.total_cost, (SELECT COALESCE(sum(cost_usd), 0) FROM"
                " campaigndb.gmaps_api_costs k WHERE k.campaign_id = c.id)"
                " FROM campaigndb.campaigns c WHERE c.id = %s", [cid]).fetchone() or (0, 1)
            if total != summed:
                raise SystemExit(f"inexact total for {cid}: {total} != {summed}")


def measure(dsn: str, spread: bool, args: argparse.Namespace) -> tuple[float, float]:
    with Client(dsn, pool_min_size=1, pool_max_size=args.threads) as db:
        cids = campaigns(db, dsn, args.threads, spread)
        per_call_ms(db, cids[0], 20)  # warm-up
        latency = per_call_ms(db, cids[0], args.calls)
        rate = throughput(db, cids, args.calls // 2)
        check_exact(dsn, cids)
    return latency, rate


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    coordinator = os.environ.get("CAMPAIGNDB_CITUS_DSN")
    if not coordinator:
        from scripts.citus_cluster import CitusNode  # noqa: PLC0415

        coordinator = CitusNode("coordinator").url()
    name = f"citus_probe_{os.getpid()}"
    single = migrated_database(name)
    cluster = create_cluster_database(coordinator, name)
    lat_ratio, rate_ratio, rows = [], [], []
    try:
        for repeat in range(args.repeats):
            s_lat, s_rate = measure(single, False, args)
            c_lat, c_rate = measure(cluster, True, args)
            lat_ratio.append(c_lat / s_lat)
            rate_ratio.append(c_rate / s_rate)
            rows.append(f"repeat {repeat + 1}: per call {s_lat:.2f} ms single, {c_lat:.2f} ms "
                        f"Citus; {args.threads} callers {s_rate:.0f}/s single, "
                        f"{c_rate:.0f}/s Citus")
            print(rows[-1], flush=True)
    finally:
        drop_database(name)
        drop_cluster_database(coordinator, name)
    print(f"per-call latency, Citus (delegated) / single: median "
          f"{statistics.median(lat_ratio):.2f}x [{min(lat_ratio):.2f}-{max(lat_ratio):.2f}]")
    print(f"throughput, {args.threads} callers on campaigns over both workers, Citus / single: "
          f"median {statistics.median(rate_ratio):.2f}x "
          f"[{min(rate_ratio):.2f}-{max(rate_ratio):.2f}]; totals exact")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
