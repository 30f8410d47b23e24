"""Tenancy, by attacking it with real login roles (docs/tenancy.md).

A tenant of workspace A tries B's objects through every API function (data-driven over
FUNCTIONS: a new function without a case fails) after SET / RESET / set_config / SET ROLE,
unbound, and with forged, foreign-secret, expired, A-for-B, extra-claim, missing-claim and
alg-none tokens.  Every attack must answer 42501 (or no rows) and leave a digest of every
table unchanged.  Then: key squatting across workspaces, direct table reads under forced
RLS, the read-only tenant, the admin functions, a search_path hijack of the verification,
role anchors across a downgrade and concurrent `alembic upgrade head` runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import FUNCTIONS, Client, mint_token
from campaigndb_dev.embedded import project_root
from campaigndb_dev.testing import create_database, drop_database, migrate

SECRET = "tenancy-test-secret-" + "x" * 24
OTHER_SECRET = "another-secret-entirely-" + "y" * 24
# the API: FUNCTIONS, and the recorder's batch function (called by the client's recorder)
PARAMS = {name: spec.params for name, spec in FUNCTIONS.items()} | {
    "record_transaction_metrics": {"p_metrics": "jsonb"}}
ADMIN_ONLY = {"map_tenant_login": "SELECT public.map_tenant_login(session_user, %(ws)s)",
              "unmap_tenant_login": "SELECT public.unmap_tenant_login(session_user, %(ws)s)",
              "rotate_token_secret": "SELECT public.rotate_token_secret(%(secret)s)"}


def fingerprint(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """A digest of every table of schema campaigndb (as a superuser: RLS hides nothing)."""
    tables = [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'campaigndb' AND c.relkind = 'r' ORDER BY relname")]
    digest = {}
    for table in tables:
        row = conn.execute(sql.SQL(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
            " FROM campaigndb.{} t").format(sql.Identifier(table))).fetchone()
        digest[table] = str(row[0]) if row else ""
    return digest


def rows_of(conn: psycopg.Connection[Any], workspace: str) -> str:
    """A digest of one workspace's rows in the tables that keys and ids live in."""
    row = conn.execute("""
        SELECT md5(concat_ws('|',
            (SELECT string_agg(c::text, ',' ORDER BY c.id) FROM campaigndb.campaigns c
              WHERE c.workspace_id = %(w)s),
            (SELECT string_agg(k::text, ',' ORDER BY k.id) FROM campaigndb.gmaps_api_costs k
               JOIN campaigndb.campaigns c ON c.id = k.campaign_id WHERE c.workspace_id = %(w)s),
            (SELECT string_agg(l::text, ',' ORDER BY l.id) FROM campaigndb.collection_log l
              WHERE l.workspace_id = %(w)s),
            (SELECT string_agg(e::text, ',' ORDER BY e.id)
               FROM campaigndb.n8n_campaign_executions e WHERE e.workspace_id = %(w)s),
            (SELECT string_agg(d::text, ',' ORDER BY d.kpi_date, d.platform)
               FROM campaigndb.daily_kpi_data d JOIN campaigndb.campaigns c
                 ON c.id = d.campaign_id WHERE c.workspace_id = %(w)s)))""",
        {"w": workspace}).fetchone()
    assert row is not None
    return str(row[0])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], secret: str = SECRET) -> str:
    """A token with any header and claims, signed (HS256) with `secret`."""
    signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signed + "." + b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def calls_on(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One call of every API function, aimed at workspace t's objects."""
    return {
        "create_workspace": {"p_name": "x", "p_workspace_id": t["workspace"]},
        "create_campaign_with_coverage": {
            "p_campaign_data": {"workspace_id": t["workspace"], "name": "intrusion"},
            "p_zip_codes": ["99999"]},
        "track_campaign_cost": {"p_campaign_id": t["campaign"], "p_service": "gmaps",
                                "p_items_processed": 1, "p_cost_usd": 999, "p_metadata": {}},
        "insert_businesses_batch": {"p_campaign_id": t["campaign"], "p_zip_code": "10001",
                                    "p_businesses": [{"place_id": "evil", "name": "Evil"}]},
        "update_campaign_statistics": {"p_campaign_id": t["campaign"]},
        "update_coverage_status": {"p_campaign_id": t["campaign"], "p_zip_code": "10001",
                                   "p_businesses_found": 9, "p_emails_found": 9,
                                   "p_actual_cost": 9},
        "update_email_verification": {"p_business_id": t["business"], "p_email": "e@x.com",
                                      "p_verification_data": {"status": "invalid"}},
        "update_enrichment_batch": {"p_enrichment_type": "facebook", "p_enrichments": [
            {"business_id": t["business"], "url": "https://evil"}]},
        "get_businesses_for_enrichment": {"p_campaign_id": t["campaign"],
                                          "p_enrichment_type": "facebook", "p_limit": 10,
                                          "p_offset": 0},
        "register_n8n_workflow": {"p_workspace_id": t["workspace"], "p_n8n_workflow_id": "evil",
                                  "p_name": "Evil", "p_campaign_type": "email"},
        "execute_campaign_atomically": {
            "p_workspace_id": t["workspace"], "p_workspace_n8n_workflow_id": t["workflow"],
            "p_campaign_approval_session_id": None, "p_campaign_name": "evil",
            "p_campaign_type": "email"},
        "complete_campaign_execution": {"p_execution_id": t["execution"], "p_status": "failed"},
        "validate_campaign_execution_constraints": {
            "p_workspace_id": t["workspace"], "p_workspace_n8n_workflow_id": t["workflow"],
            "p_campaign_type": "email"},
        "get_campaign_execution_metrics": {"p_workspace_id": t["workspace"]},
        "record_transaction_metric": {"p_operation_name": "evil", "p_campaign_id": t["campaign"],
                                      "p_duration_ms": 1, "p_success": True},
        "record_transaction_metrics": {"p_metrics": [["evil", t["campaign"], 1, True]]},
        "upsert_daily_kpi_batch": {"p_source": "evil", "p_rows": [{
            "campaign_id": t["campaign"], "kpi_date": "2026-10-01", "platform": "evil",
            "impressions": 1, "clicks": 1, "spend": 1, "conversions": 1, "revenue": 1}]},
        "aggregate_monthly_kpis": {"p_month": "2026-10-01", "p_campaign_id": t["campaign"]},
        "get_database_health_metrics": {},
    }


def call_sql(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    types = PARAMS[name]
    rendered = ", ".join(f"{n} => %({n})s::{types[n]}" for n in params)
    values = {n: json.dumps(v) if types[n] == "jsonb" else v for n, v in params.items()}
    return f"SELECT * FROM public.{name}({rendered})", values


def refused(answer: Any, codes: frozenset[str] = frozenset({"42501"})) -> bool:
    """42501 (or another of `codes`) raised or in the envelope, per element for a batch,
    or no rows at all."""
    if isinstance(answer, str):
        return answer in codes
    if answer == []:
        return True
    if len(answer) == 1 and isinstance(answer[0][0], dict):
        envelope = answer[0][0]
        if envelope.get("error_code") in codes:
            return True
        failures = envelope.get("failures")
        return bool(envelope.get("success") and envelope.get("updated") == 0 and failures
                    and all(f["error_code"] in codes for f in failures))
    return False


@pytest.fixture(scope="module")
def refusals() -> frozenset[str]:
    """What a refused attack may answer: 42501.  (With a non-superuser owner, forced RLS
    hides B's rows from the functions first: "not found", test_tenancy_owner.py.)"""
    return frozenset({"42501"})


@pytest.fixture(scope="module")
def su(direct_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(direct_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def world(direct_dsn: str, su: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Workspaces A and B, each with a campaign, a business, a workflow and an execution."""
    out: dict[str, dict[str, Any]] = {}
    with Client(direct_dsn, pool_min_size=1, pool_max_size=2) as client:
        for label in ("a", "b"):
            ws = client.create_workspace(f"workspace {label}").workspace_id
            campaign = client.create_campaign_with_coverage(
                {"workspace_id": ws, "name": f"campaign {label}"}, ["10001"]).campaign_id
            client.insert_businesses_batch(campaign, "10001", [
                {"place_id": f"{label}-1", "name": "Biz", "email": f"x@{label}.com"}])
            business = client.get_businesses_for_enrichment(campaign, "facebook", 1)[0].id
            flow = client.register_n8n_workflow(ws, f"flow-{label}", "Flow", "email").workflow_id
            execution = client.execute_campaign_atomically(ws, flow, None, "run", "email")
            out[label] = {"workspace": str(ws), "campaign": str(campaign),
                          "business": str(business), "workflow": str(flow),
                          "execution": str(execution.execution_id)}
    su.execute("SELECT public.rotate_token_secret(%s)", [SECRET])
    return out


@pytest.fixture(scope="module")
def logins(su: psycopg.Connection[Any], world: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Login roles: tenant of A, read-only tenant of A, a gateway (tenant, mapped nowhere),
    a tenant of A that is also a member of campaigndb_app, a reader of A granted SELECT on
    every table, and a login that is nothing at all."""
    tag = uuid.uuid4().hex[:6]
    names = {k: f"t_{k}_{tag}" for k in ("tenant", "readonly", "gateway", "dual", "reader",
                                         "nobody")}
    member = {"tenant": "campaigndb_tenant", "readonly": "campaigndb_tenant_readonly",
              "gateway": "campaigndb_tenant", "dual": "campaigndb_tenant",
              "reader": "campaigndb_tenant_readonly"}
    for key, name in names.items():
        su.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        if key in member:
            su.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(member[key]),
                                                         sql.Identifier(name)))
    su.execute(sql.SQL("GRANT campaigndb_app TO {}").format(sql.Identifier(names["dual"])))
    su.execute(sql.SQL("GRANT USAGE ON SCHEMA campaigndb TO {0};"
                       " GRANT SELECT ON ALL TABLES IN SCHEMA campaigndb TO {0}").format(
        sql.Identifier(names["reader"])))
    for key in ("tenant", "readonly", "dual", "reader"):
        answer = su.execute("SELECT public.map_tenant_login(%s, %s)",
                            [names[key], world["a"]["workspace"]]).fetchone()
        assert answer is not None and answer[0]["success"], answer
    yield names
    for name in names.values():
        su.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def connect_as(direct_dsn: str) -> Iterator[Callable[..., psycopg.Connection[Any]]]:
    opened: dict[tuple[str, str], psycopg.Connection[Any]] = {}

    def connect(user: str, options: str = "") -> psycopg.Connection[Any]:
        """One connection per login (and options), reused: every call runs in its own
        transaction, so nothing carries over between tests."""
        if (user, options) not in opened or opened[user, options].closed:
            params = conninfo_to_dict(direct_dsn)
            params["user"] = user
            if options:
                params["options"] = options
            opened[user, options] = psycopg.connect(make_conninfo("", **params),
                                                    autocommit=True)
        return opened[user, options]

    yield connect
    for conn in opened.values():
        conn.close()


def attempt(conn: psycopg.Connection[Any], statement: str, values: dict[str, Any],
            setup: list[str], token: str | None = None) -> Any:
    """Run `setup`, then the call, in one transaction (a token by SET LOCAL); the rows, or
    the SQLSTATE it raised.  The transaction always rolls back only on error."""
    try:
        with conn.transaction():
            for step in setup:
                conn.execute(step)
            if token is not None:
                conn.execute("SELECT set_config('campaigndb.token', %s, true)", [token])
            return conn.execute(statement, values).fetchall()
    except psycopg.Error as exc:
        return exc.sqlstate


def tokens_for(world: dict[str, Any]) -> dict[str, str]:
    a, b = world["a"]["workspace"], world["b"]["workspace"]
    now = int(time.time())
    hs = {"alg": "HS256", "typ": "JWT"}
    tampered = raw_token(hs, {"workspace_id": a, "exp": now + 600}).rsplit(".", 2)
    return {
        # A's signature on a payload rewritten to name B
        "forged": tampered[0] + "." + b64(json.dumps({"workspace_id": b,
                                                     "exp": now + 600}).encode())
                  + "." + tampered[2],
        "other_secret": mint_token(OTHER_SECRET, b),
        "expired": mint_token(SECRET, b, expires_at=now - 5),
        "token_for_a": mint_token(SECRET, a),
        "extra_claim": raw_token(hs, {"workspace_id": b, "exp": now + 600, "admin": True}),
        "missing_exp": raw_token(hs, {"workspace_id": b}),
        "missing_workspace": raw_token(hs, {"exp": now + 600}),
        "alg_none": b64(json.dumps({"alg": "none"}).encode()) + "."
                    + b64(json.dumps({"workspace_id": b, "exp": now + 600}).encode())
                    + "." + "A" * 43,
        "wrong_audience": raw_token(hs, {"workspace_id": b, "exp": now + 600, "aud": "other"}),
        "not_yet_valid": raw_token(hs, {"workspace_id": b, "exp": now + 600,
                                        "nbf": now + 300}),
        "garbage": "not.a.token",
    }


MODES = ["mapped", "set_workspace", "set_config", "set_then_reset", "set_role_app",
         "readonly_unbound", "gateway_unbound", "forged", "other_secret", "expired",
         "token_for_a", "extra_claim", "missing_exp", "missing_workspace", "alg_none",
         "wrong_audience", "not_yet_valid", "garbage"]


def test_every_function_has_an_attack(world: dict[str, Any],
                                      su: psycopg.Connection[Any]) -> None:
    """Every function of the API (the client's list, and every SECURITY DEFINER function
    of schema public that a service or tenant role may execute) has its attack below."""
    assert set(calls_on(world["b"])) == set(PARAMS)
    granted = {r[0] for r in su.execute(
        "SELECT DISTINCT p.proname FROM pg_proc p, unnest(ARRAY['campaigndb_app',"
        " 'campaigndb_readonly', 'campaigndb_tenant', 'campaigndb_tenant_readonly']) AS r"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef"
        " AND has_function_privilege(r, p.oid, 'EXECUTE')")}
    assert granted == set(PARAMS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("function", sorted(PARAMS))
def test_tenant_of_a_cannot_touch_b(
    su: psycopg.Connection[Any], world: dict[str, Any], logins: dict[str, str],
    connect_as: Callable[..., psycopg.Connection[Any]], function: str, mode: str,
    refusals: frozenset[str],
) -> None:
    b = world["b"]["workspace"]
    statement, values = call_sql(function, calls_on(world["b"])[function])
    set_b = f"SET campaigndb.workspace_id = '{b}'"
    setup: list[str] = []
    token = None
    user = logins["tenant"]
    if mode == "set_workspace":
        setup = [set_b]
    elif mode == "set_config":
        setup = [f"SELECT set_config('campaigndb.workspace_id', '{b}', false)"]
    elif mode == "set_then_reset":
        setup = [set_b, "RESET campaigndb.workspace_id", "RESET ALL"]
    elif mode == "set_role_app":
        user, setup = logins["dual"], ["SET ROLE campaigndb_app"]
    elif mode == "readonly_unbound":
        user = logins["readonly"]
        su.execute("SELECT public.unmap_tenant_login(%s, %s)", [user, world["a"]["workspace"]])
    elif mode == "gateway_unbound":
        user = logins["gateway"]
    elif mode != "mapped":
        user, token = logins["gateway"], tokens_for(world)[mode]
    conn = connect_as(user)
    before = fingerprint(su)
    try:
        answer = attempt(conn, statement, values, setup, token)
        after = fingerprint(su)
    finally:
        if mode == "readonly_unbound":
            su.execute("SELECT public.map_tenant_login(%s, %s)", [user, world["a"]["workspace"]])
    if function == "record_transaction_metrics" and answer not in ("42501",) and answer != []:
        # a bound tenant's measurement naming another workspace's campaign is kept without
        # the campaign: nothing of B is written or read
        assert answer == [(1,)], answer
        rows = su.execute("SELECT count(*) FROM campaigndb.transaction_metrics"
                          " WHERE campaign_id = %s", [world["b"]["campaign"]]).fetchone()
        assert rows == (0,)
        su.execute("DELETE FROM campaigndb.transaction_metrics WHERE operation_name = 'evil'")
        after = fingerprint(su)
    else:
        assert refused(answer, refusals), (mode, function, answer)
    assert after == before, (mode, function)


@pytest.mark.parametrize("function", sorted(PARAMS))
def test_the_same_calls_on_a_are_allowed(
    world: dict[str, Any], logins: dict[str, str],
    connect_as: Callable[..., psycopg.Connection[Any]], function: str,
) -> None:
    """So the refusals above are the binding, not a broken function: A's own objects,
    through the mapping and through a token."""
    statement, values = call_sql(function, calls_on(world["a"])[function])
    for user, token in ((logins["tenant"], None),
                        (logins["gateway"], mint_token(SECRET, world["a"]["workspace"]))):
        answer = attempt(connect_as(user), statement, values, [], token)
        if function in ("create_workspace", "get_database_health_metrics"):
            assert answer == "42501"  # service only: not granted to tenants
        else:
            assert not refused(answer) or answer == [], (function, answer)


def test_admin_functions_are_refused_to_everyone_else(
    world: dict[str, Any], logins: dict[str, str],
    connect_as: Callable[..., psycopg.Connection[Any]], su: psycopg.Connection[Any],
) -> None:
    before = fingerprint(su)
    for user in (logins["tenant"], logins["dual"], logins["gateway"], logins["nobody"]):
        conn = connect_as(user)
        for statement in ADMIN_ONLY.values():
            answer = attempt(conn, statement, {"ws": world["b"]["workspace"],
                                               "secret": "z" * 40}, [])
            assert answer == "42501", (user, statement)
        for table in ("tenant_logins", "token_secrets"):
            assert attempt(conn, f"SELECT * FROM campaigndb.{table}", {}, []) == "42501"
    assert fingerprint(su) == before


def test_a_login_that_is_nothing_is_refused(
    world: dict[str, Any], logins: dict[str, str], su: psycopg.Connection[Any],
    connect_as: Callable[..., psycopg.Connection[Any]],
) -> None:
    """Even granted EXECUTE directly, a login that is neither service nor tenant is bound to
    no workspace: fail closed."""
    nobody = logins["nobody"]
    su.execute(sql.SQL("GRANT EXECUTE ON FUNCTION public.track_campaign_cost(uuid, varchar,"
                       " integer, numeric, jsonb, text) TO {}").format(sql.Identifier(nobody)))
    before = fingerprint(su)
    statement, values = call_sql("track_campaign_cost", calls_on(world["a"])["track_campaign_cost"])
    assert refused(attempt(connect_as(nobody), statement, values, []))
    assert fingerprint(su) == before


def test_direct_reads_under_forced_rls(
    world: dict[str, Any], logins: dict[str, str], su: psycopg.Connection[Any],
    connect_as: Callable[..., psycopg.Connection[Any]],
) -> None:
    """A tenant granted SELECT on every table sees only its workspaces' rows, whatever it
    sets; unmapped (unbound) it sees none."""
    reader = connect_as(logins["reader"])
    a, b = world["a"], world["b"]
    a_campaigns = {str(r[0]) for r in su.execute(
        "SELECT id FROM campaigndb.campaigns WHERE workspace_id = %s", [a["workspace"]])}
    tables = [r[0] for r in su.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'campaigndb' AND c.relkind = 'r' AND c.relforcerowsecurity"
        " ORDER BY 1")]
    assert len(tables) >= 12
    for setup in ([], [f"SET campaigndb.workspace_id = '{b['workspace']}'"],
                  [f"SELECT set_config('campaigndb.workspace_id', '{b['workspace']}', false)",
                   "RESET campaigndb.workspace_id"]):
        with reader.transaction():
            for step in setup:
                reader.execute(step)
            for table in tables:
                columns = {r[0] for r in su.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                    " AND attnum > 0", [f"campaigndb.{table}"])}
                if "workspace_id" in columns:
                    seen = {str(r[0]) for r in reader.execute(sql.SQL(
                        "SELECT workspace_id FROM campaigndb.{}").format(sql.Identifier(table)))}
                    assert seen <= {a["workspace"]}, (table, setup)
                elif "campaign_id" in columns:
                    seen = {str(r[0]) for r in reader.execute(sql.SQL(
                        "SELECT campaign_id FROM campaigndb.{}").format(sql.Identifier(table)))}
                    assert seen <= a_campaigns, (table, setup)
                elif table == "workspaces":
                    seen = {str(r[0]) for r in reader.execute(
                        "SELECT id FROM campaigndb.workspaces")}
                    assert seen <= {a["workspace"]}
    campaigns = reader.execute("SELECT id FROM campaigndb.campaigns").fetchall()
    assert {str(r[0]) for r in campaigns} == a_campaigns
    su.execute("SELECT public.unmap_tenant_login(%s, %s)", [logins["reader"], a["workspace"]])
    try:
        for table in tables:
            count = reader.execute(sql.SQL("SELECT count(*) FROM campaigndb.{}").format(
                sql.Identifier(table))).fetchone()
            assert count == (0,), table
    finally:
        su.execute("SELECT public.map_tenant_login(%s, %s)", [logins["reader"], a["workspace"]])


def test_keys_are_per_workspace(
    world: dict[str, Any], logins: dict[str, str], su: psycopg.Connection[Any],
    connect_as: Callable[..., psycopg.Connection[Any]],
) -> None:
    """B uses a cost key, a KPI key, a campaign id and an execution id; A's tenant uses the
    same ones: each is a new key for A (no 23505, nothing learnt), B's rows are untouched."""
    a, b = world["a"], world["b"]
    key, campaign_id, execution_id = f"k-{uuid.uuid4()}", str(uuid.uuid4()), str(uuid.uuid4())

    def calls(t: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [
            call_sql("track_campaign_cost", {"p_campaign_id": t["campaign"], "p_service": "s",
                                             "p_items_processed": 1, "p_cost_usd": 1,
                                             "p_metadata": {}, "p_idempotency_key": key}),
            call_sql("upsert_daily_kpi_batch", {"p_source": "s", "p_idempotency_key": key,
                                                "p_rows": [{
                "campaign_id": t["campaign"], "kpi_date": "2026-09-01", "platform": "web",
                "impressions": 1, "clicks": 1, "spend": 1, "conversions": 1, "revenue": 1}]}),
            call_sql("aggregate_monthly_kpis", {"p_month": "2026-09-01",
                                                "p_campaign_id": t["campaign"],
                                                "p_idempotency_key": key + "-agg"}),
            call_sql("create_campaign_with_coverage", {
                "p_campaign_data": {"id": campaign_id, "workspace_id": t["workspace"],
                                    "name": "squat"}, "p_zip_codes": ["10001"]}),
            call_sql("execute_campaign_atomically", {
                "p_workspace_id": t["workspace"], "p_workspace_n8n_workflow_id": t["workflow"],
                "p_campaign_approval_session_id": None, "p_campaign_name": "squat",
                "p_campaign_type": "email", "p_execution_id": execution_id}),
        ]

    gateway = connect_as(logins["gateway"])
    token_b = mint_token(SECRET, b["workspace"])
    first_b = [attempt(gateway, s, v, [], token_b)[0][0] for s, v in calls(b)]
    assert all(e["success"] and not e["replayed"] for e in first_b), first_b
    b_rows = rows_of(su, b["workspace"])
    tenant = connect_as(logins["tenant"])
    for repeat in (False, True):
        answers = [attempt(tenant, s, v, [])[0][0] for s, v in calls(a)]
        assert all(e["success"] and e["replayed"] is repeat for e in answers), answers
    # A's campaign and execution got their own ids: B's are never named to A
    assert answers[3]["campaign_id"] != campaign_id
    assert answers[4]["execution_id"] != execution_id
    owned = su.execute("SELECT workspace_id::text FROM campaigndb.campaigns WHERE id = %s",
                       [campaign_id]).fetchone()
    assert owned == (b["workspace"],)
    assert rows_of(su, b["workspace"]) == b_rows  # B's rows are as B left them
    replay_b = [attempt(gateway, s, v, [], token_b)[0][0] for s, v in calls(b)]
    assert all(e["success"] and e["replayed"] for e in replay_b), replay_b
    assert replay_b[3]["campaign_id"] == campaign_id
    assert replay_b[4]["execution_id"] == execution_id


def test_search_path_hijack_of_the_verification(
    world: dict[str, Any], logins: dict[str, str], su: psycopg.Connection[Any],
    connect_as: Callable[..., psycopg.Connection[Any]],
) -> None:
    """Look-alikes of everything the verification uses, in a schema first on the caller's
    search_path (pgcrypto-style hmac too): a valid token still works, a forged one is still
    refused, and no look-alike is ever called."""
    su.execute("""
        DROP SCHEMA IF EXISTS evil CASCADE;
        CREATE SCHEMA evil;
        CREATE TABLE evil.hits (what text);
        GRANT USAGE ON SCHEMA evil TO PUBLIC;
        GRANT INSERT ON evil.hits TO PUBLIC;
        CREATE FUNCTION evil.hmac(bytea, bytea, text) RETURNS bytea LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('hmac') RETURNING '\\x00'::bytea $$;
        CREATE FUNCTION evil.hmac(text, text, text) RETURNS bytea LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('hmac') RETURNING '\\x00'::bytea $$;
        CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('sha256') RETURNING '\\x00'::bytea $$;
        CREATE FUNCTION evil.decode(text, text) RETURNS bytea LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('decode') RETURNING '\\x00'::bytea $$;
        CREATE FUNCTION evil.convert_from(bytea, name) RETURNS text LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('convert_from')
                  RETURNING '{"workspace_id": "00000000-0000-0000-0000-000000000000"}' $$;
        CREATE FUNCTION evil.convert_to(text, name) RETURNS bytea LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('convert_to') RETURNING '\\x00'::bytea $$;
        CREATE FUNCTION evil.translate(text, text, text) RETURNS text LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('translate') RETURNING 'AAAA' $$;
        CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('now') RETURNING '2000-01-01'::timestamptz $$;
        CREATE FUNCTION evil.pg_has_role(oid, text, text) RETURNS boolean LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('pg_has_role') RETURNING false $$;
        CREATE FUNCTION evil.current_setting(text, boolean) RETURNS text LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('current_setting') RETURNING NULL::text $$;
        CREATE FUNCTION evil.bytea_eq(bytea, bytea) RETURNS boolean LANGUAGE sql
            AS $$ SELECT true $$;
        CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.bytea_eq);
    """)
    try:
        gateway = connect_as(logins["gateway"], options="-c search_path=evil,public,pg_catalog")
        statement, values = call_sql("track_campaign_cost",
                                     calls_on(world["a"])["track_campaign_cost"])
        good = attempt(gateway, statement, values, [], mint_token(SECRET, world["a"]["workspace"]))
        assert good[0][0]["success"] is True, good
        before = fingerprint(su)
        for mode in ("forged", "other_secret", "expired"):
            statement, values = call_sql("track_campaign_cost",
                                         calls_on(world["b"])["track_campaign_cost"])
            answer = attempt(gateway, statement, values, [], tokens_for(world)[mode])
            assert refused(answer), (mode, answer)
        assert fingerprint(su) == before
        assert su.execute("SELECT count(*) FROM evil.hits").fetchone() == (0,)
    finally:
        su.execute("DROP SCHEMA evil CASCADE")


def test_roles_are_anchored_through_downgrade_base(su: psycopg.Connection[Any]) -> None:
    """After `downgrade base` every campaigndb role still holds CONNECT on the database, so
    revision 0001's downgrade cannot drop it (and a login's memberships survive); upgrade
    head then finds the roles and the membership unchanged."""
    name = f"campaigndb_anchor_{os.getpid()}"
    login = f"anchor_{uuid.uuid4().hex[:6]}"
    dsn = create_database(name)
    try:
        migrate(dsn)
        su.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE campaigndb_app, campaigndb_tenant")
                   .format(sql.Identifier(login)))
        migrate(dsn, "base", down=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            acl = conn.execute("SELECT datacl::text FROM pg_database"
                               " WHERE datname = current_database()").fetchone()
            assert acl is not None
            for role in ("campaigndb_app", "campaigndb_readonly", "campaigndb_tenant",
                         "campaigndb_tenant_readonly", "campaigndb_admin"):
                assert f"{role}=c/" in acl[0], role
        migrate(dsn)
        for role in ("campaigndb_app", "campaigndb_tenant"):
            member = su.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [login, role]).fetchone()
            assert member == (True,)
    finally:
        drop_database(name)
        su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(project_root() / "alembic.ini"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_concurrent_upgrades_take_turns() -> None:
    """Two real `alembic upgrade head` processes on one empty database: both exit 0, the
    schema is there once."""
    name = f"campaigndb_race_{os.getpid()}"
    dsn = create_database(name)
    try:
        env = dict(os.environ, CAMPAIGNDB_DSN=dsn)
        command = [sys.executable, "-m", "alembic", "-c",
                   str(project_root() / "alembic.ini"), "upgrade", "head"]
        runs = [subprocess.Popen(command, cwd=project_root(), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        with psycopg.connect(dsn, autocommit=True) as conn:
            version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            assert version == [(_head_revision(),)]
    finally:
        drop_database(name)
