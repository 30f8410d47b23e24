"""The cost of the tenancy check: p50 of a call by a bound tenant divided by p50 of the same
call by a service session (docs/tenancy.md).  One caller, plain psycopg, autocommit, the
same prepared statement on both sides, interleaved rounds so that machine noise hits both.

Bound tenants measured: a login mapped to the workspace (tenant_logins), and a gateway
login sending a signed token with SET LOCAL in the same transaction (one round trip: the
SET and the call are sent together).  The service side sends the same statements with
`SET LOCAL campaigndb.workspace_id` instead, so both pay the same round trips.

    .venv/bin/python benchmarks/tenancy_probe.py [--calls 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import mint_token
from campaigndb_dev.testing import create_database, drop_database, migrate, server_dsn

SECRET = "tenancy-probe-secret-" + "p" * 24


def as_user(dsn: str, user: str) -> psycopg.Connection[Any]:
    params = conninfo_to_dict(dsn)
    params["user"] = user
    return psycopg.connect(make_conninfo("", **params), autocommit=True)


def p50_us(run: Callable[[], object], calls: int) -> float:
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        run()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    name = f"campaigndb_tenancy_probe_{uuid.uuid4().hex[:6]}"
    dsn = create_database(name, None)
    tag = uuid.uuid4().hex[:6]
    mapped, gateway = f"probe_mapped_{tag}", f"probe_gateway_{tag}"
    try:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as su:
            ws = su.execute("SELECT public.create_workspace('probe')").fetchone()
            assert ws is not None
            workspace = ws[0]["workspace_id"]
            made = su.execute(
                "SELECT public.create_campaign_with_coverage(%s::jsonb, '[\"10001\"]')",
                [f'{{"workspace_id": "{workspace}", "name": "probe"}}']).fetchone()
            assert made is not None
            campaign = made[0]["campaign_id"]
            su.execute("SELECT public.insert_businesses_batch(%s, '10001', %s::jsonb)",
                       [campaign, '[{"place_id": "p1", "name": "B"}]'])
            for login in (mapped, gateway):
                su.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE campaigndb_tenant")
                           .format(sql.Identifier(login)))
            su.execute("SELECT public.map_tenant_login(%s, %s)", [mapped, workspace])
            su.execute("SELECT public.rotate_token_secret(%s)", [SECRET])
            su.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE campaigndb_app")
                       .format(sql.Identifier(f"probe_service_{tag}")))
        token = mint_token(SECRET, workspace, ttl_s=3600)
        service = as_user(dsn, f"probe_service_{tag}")
        tenant = as_user(dsn, mapped)
        gate = as_user(dsn, gateway)

        calls = {
            "track_campaign_cost": (
                "SELECT public.track_campaign_cost(%s, 'probe', 1, 0.01, '{}')", [campaign]),
            "get_businesses_for_enrichment": (
                "SELECT * FROM public.get_businesses_for_enrichment(%s, 'facebook', 10, 0)",
                [campaign]),
        }
        bind_service = f"SET LOCAL campaigndb.workspace_id = '{workspace}'"
        bind_token = f"SET LOCAL campaigndb.token = '{token}'"

        def runner(conn: psycopg.Connection[Any], bind: str | None, statement: str,
                   params: list[Any]) -> Callable[[], object]:
            def run() -> object:
                with conn.transaction():
                    if bind is not None:
                        conn.execute(bind)
                    return conn.execute(statement, params).fetchall()
            return run

        print(f"tenancy probe: {args.rounds} rounds x {args.calls} calls per side, one caller")
        for function, (statement, params) in calls.items():
            sides = {
                "service": runner(service, bind_service, statement, params),
                "mapped": runner(tenant, bind_service, statement, params),
                "token": runner(gate, bind_token, statement, params),
            }
            for run in sides.values():  # warm-up: plans, caches
                p50_us(run, 50)
            ratios: dict[str, list[float]] = {"mapped": [], "token": []}
            floors = []
            for _ in range(args.rounds):
                base = p50_us(sides["service"], args.calls)
                floors.append(base)
                for side in ratios:
                    ratios[side].append(p50_us(sides[side], args.calls) / base)
            print(f"{function}: service p50 {statistics.median(floors):.0f} us")
            for side, values in ratios.items():
                print(f"  {side:>6} / service: median {statistics.median(values):.3f}x"
                      f"  (min {min(values):.3f}x, max {max(values):.3f}x)")
        for conn in (service, tenant, gate):
            conn.close()
    finally:
        drop_database(name)
        with psycopg.connect(server_dsn(), autocommit=True) as admin:
            for login in (mapped, gateway, f"probe_service_{tag}"):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


if __name__ == "__main__":
    main()
