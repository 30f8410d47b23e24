"""The cost of the tenancy check: a call by a bound tenant against the same call by a service
role, one caller (docs/benchmarks.md, "Tenancy"; docs/tenancy.md)."""

from __future__ import annotations

import atexit
import uuid
from collections.abc import Callable
from typing import Any

import harness as h
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import mint_token
from campaigndb_dev.testing import server_dsn

CALLS, WARMUP = (300, 100), 50
SECRET = "tenancy-bench-secret-" + "p" * 24
SIDES = ("service", "mapped", "token")
STATEMENTS = {
    "track_campaign_cost": "SELECT public.track_campaign_cost(%s, 'bench', 1, 0.01, '{}')",
    "get_businesses_for_enrichment":
        "SELECT * FROM public.get_businesses_for_enrichment(%s, 'facebook', 10, 0)",
}
_roles: dict[str, str] = {}  # side -> login, made once per run, dropped at exit


def drop_roles() -> None:
    with psycopg.connect(server_dsn(), autocommit=True) as admin:
        for login in _roles.values():
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def logins(b: h.Bench, workspace: str) -> dict[str, str]:
    """A service login, a login mapped to `workspace`, a gateway login (token) for each side."""
    if not _roles:
        tag = uuid.uuid4().hex[:6]
        _roles.update({side: f"bench_{side}_{tag}" for side in SIDES})
        atexit.register(drop_roles)
        for side, login in _roles.items():
            group = "campaigndb_app" if side == "service" else "campaigndb_tenant"
            b.admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                sql.Identifier(login), sql.Identifier(group)))
        b.admin.execute("SELECT public.rotate_token_secret(%s)", [SECRET])
    b.admin.execute("SELECT public.map_tenant_login(%s, %s)", [_roles["mapped"], workspace])
    return _roles


def as_user(dsn: str, user: str) -> psycopg.Connection[Any]:
    return psycopg.connect(make_conninfo("", **{**conninfo_to_dict(dsn), "user": user}),
                           autocommit=True)


def way(conn: psycopg.Connection[Any], bind: str, statement: str,
        campaign: str) -> Callable[[int], object]:
    """The SET LOCAL and the call in one transaction; a call answering no row is wrong."""
    def call(i: int) -> str:
        with conn.transaction():
            conn.execute(bind)
            rows = conn.execute(statement, [campaign]).fetchall()
        return "" if rows and rows[0][0] is not None else "no answer"
    return call


def measure(b: h.Bench, r: int) -> None:
    workspace = b.workspace(f"tenancy r{r}")
    campaign = b.campaigns(1, f"tenancy r{r}", workspace)[0]
    b.setup.call("insert_businesses_batch", p_campaign_id=campaign, p_zip_code="10001",
                 p_businesses=[{"place_id": f"t{r}", "name": "B"}])
    users = logins(b, workspace)
    token = mint_token(SECRET, workspace, ttl_s=3600)
    binds = {"service": f"SET LOCAL campaigndb.workspace_id = '{workspace}'",
             "token": f"SET LOCAL campaigndb.token = '{token}'"}
    conns = {side: as_user(b.dsn, users[side]) for side in SIDES}
    try:
        for function, statement in STATEMENTS.items():
            runs = h.interleave({side: way(conns[side], binds.get(side, binds["service"]),
                                           statement, campaign) for side in SIDES},
                                b.n(CALLS), WARMUP, turn=r)
            for side, run in runs.items():
                b.record(f"tenancy.{function}.{side}", run)
    finally:
        for conn in conns.values():
            conn.close()


def ratio(function: str, side: str) -> Callable[[h.Results], list[float]]:
    return h.over(h.p(f"tenancy.{function}.{side}", 50), h.p(f"tenancy.{function}.service", 50))


SECTION = h.Section(
    name="tenancy",
    title="Tenancy: a bound tenant's call against a service role's",
    about="One caller, autocommit, the SET LOCAL and the call in one transaction on every side, "
          "interleaved call by call.",
    measure=measure,
    tables=[h.Table([h.CALLS, h.P50, h.P99, h.P50_X, h.FLOOR, h.CHECK], [
        h.Row(f"tenancy.{function}.{side}", f"`{function}`, {label}",
              None if side == "service" else f"tenancy.{function}.service")
        for function in STATEMENTS for side, label in (
            ("service", "service role binding a workspace (floor)"),
            ("mapped", "login mapped to the workspace"),
            ("token", "gateway login sending a signed token"))])],
    goals=[h.Goal(f"`{function}` by a {side} tenant ≤ 1.05 × a service role (p50)",
                  ratio(function, side), lambda v: v <= 1.05, digits=3)
           for function in STATEMENTS for side in ("mapped", "token")],
)
