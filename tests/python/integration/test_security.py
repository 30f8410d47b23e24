"""Security, by trying to break it: roles, search_path hijacks, RLS, workspace binding,
hostile strings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from campaigndb import FUNCTIONS, Client

WRITE_FUNCTIONS = sorted(name for name, spec in FUNCTIONS.items() if not spec.read_only)
READ_FUNCTIONS = sorted(name for name, spec in FUNCTIONS.items() if spec.read_only)


def fingerprint(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """A digest of every table of schema campaigndb (as the owner: RLS does not hide rows)."""
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


@pytest.fixture()
def world(client: Client) -> dict[str, Any]:
    """Two workspaces, each with a campaign, a business, a workflow and an execution."""
    out: dict[str, Any] = {}
    for label in ("a", "b"):
        ws = client.create_workspace(f"workspace {label}").workspace_id
        campaign = client.create_campaign_with_coverage(
            {"workspace_id": ws, "name": f"campaign {label}"}, ["10001"]).campaign_id
        client.insert_businesses_batch(campaign, "10001",
                                       [{"place_id": f"{label}-1", "name": "Biz",
                                         "email": f"x@{label}.com"}])
        business = client.get_businesses_for_enrichment(campaign, "facebook", 1)[0].id
        flow = client.register_n8n_workflow(ws, f"flow-{label}", "Flow", "email").workflow_id
        execution = client.execute_campaign_atomically(ws, flow, None, "run", "email")
        out[label] = {"workspace": ws, "campaign": campaign, "business": business,
                      "workflow": flow, "execution": execution.execution_id}
    return out


def write_calls(target: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One call of every write function, aimed at `target`'s objects."""
    return {
        "create_workspace": {"p_name": "x", "p_workspace_id": str(target["workspace"])},
        "create_campaign_with_coverage": {
            "p_campaign_data": {"workspace_id": str(target["workspace"]), "name": "intrusion"},
            "p_zip_codes": ["99999"]},
        "track_campaign_cost": {"p_campaign_id": str(target["campaign"]), "p_service": "gmaps",
                                "p_items_processed": 1, "p_cost_usd": 1, "p_metadata": {}},
        "insert_businesses_batch": {"p_campaign_id": str(target["campaign"]),
                                    "p_zip_code": "10001",
                                    "p_businesses": [{"place_id": "evil", "name": "Evil"}]},
        "update_campaign_statistics": {"p_campaign_id": str(target["campaign"])},
        "update_coverage_status": {"p_campaign_id": str(target["campaign"]),
                                   "p_zip_code": "10001", "p_businesses_found": 9,
                                   "p_emails_found": 9, "p_actual_cost": 9},
        "update_email_verification": {"p_business_id": str(target["business"]),
                                      "p_email": "evil@x.com",
                                      "p_verification_data": {"status": "invalid"}},
        "update_enrichment_batch": {"p_enrichment_type": "facebook", "p_enrichments": [
            {"business_id": str(target["business"]), "url": "https://evil"}]},
        "register_n8n_workflow": {"p_workspace_id": str(target["workspace"]),
                                  "p_n8n_workflow_id": "evil", "p_name": "Evil",
                                  "p_campaign_type": "email"},
        "execute_campaign_atomically": {
            "p_workspace_id": str(target["workspace"]),
            "p_workspace_n8n_workflow_id": str(target["workflow"]),
            "p_campaign_approval_session_id": None, "p_campaign_name": "evil",
            "p_campaign_type": "email"},
        "complete_campaign_execution": {"p_execution_id": str(target["execution"]),
                                        "p_status": "failed"},
        "upsert_daily_kpi_batch": {"p_source": "evil", "p_rows": [{
            "campaign_id": str(target["campaign"]), "kpi_date": "2026-10-01",
            "platform": "evil", "impressions": 1, "clicks": 1, "spend": 1, "conversions": 1,
            "revenue": 1}]},
        "aggregate_monthly_kpis": {"p_month": "2026-10-01",
                                   "p_campaign_id": str(target["campaign"])},
        "record_transaction_metric": {"p_operation_name": "evil",
                                      "p_campaign_id": str(target["campaign"]),
                                      "p_duration_ms": 1, "p_success": True},
    }


def test_every_write_function_is_covered() -> None:
    assert set(write_calls({k: uuid.uuid4() for k in
                            ("workspace", "campaign", "business", "workflow", "execution")})) \
        == set(WRITE_FUNCTIONS)


@pytest.mark.parametrize("function", WRITE_FUNCTIONS)
def test_binding_refuses_other_workspaces_and_writes_nothing(
    client: Client, world: dict[str, Any], raw: psycopg.Connection[Any], function: str
) -> None:
    params = write_calls(world["a"])[function]
    before = fingerprint(raw)
    envelope = client.bound(world["b"]["workspace"]).call(function, **params)
    if function == "update_enrichment_batch":  # elements are independent: each is refused
        assert envelope["updated"] == 0 and envelope["failures"][0]["error_code"] == "42501"
    else:
        assert envelope["success"] is False and envelope["error_code"] == "42501", envelope
    assert fingerprint(raw) == before
    # the same call bound to the owner's workspace is allowed (so the refusal was the binding)
    allowed = client.bound(world["a"]["workspace"]).call(function, **params)
    assert allowed["error_code"] != "42501"


@pytest.mark.parametrize("function", ["get_businesses_for_enrichment",
                                      "validate_campaign_execution_constraints",
                                      "get_campaign_execution_metrics"])
def test_binding_covers_reads(client: Client, world: dict[str, Any], function: str) -> None:
    a = world["a"]
    params = {
        "get_businesses_for_enrichment": {"p_campaign_id": str(a["campaign"]),
                                          "p_enrichment_type": "facebook", "p_limit": 10,
                                          "p_offset": 0},
        "validate_campaign_execution_constraints": {
            "p_workspace_id": str(a["workspace"]),
            "p_workspace_n8n_workflow_id": str(a["workflow"]), "p_campaign_type": "email"},
        "get_campaign_execution_metrics": {"p_workspace_id": str(a["workspace"])},
    }[function]
    envelope = client.bound(world["b"]["workspace"]).call(function, **params)
    assert envelope["error_code"] == "42501"


@pytest.fixture()
def as_role(dsn: str) -> Iterator[Callable[[str], psycopg.Connection[Any]]]:
    opened: list[psycopg.Connection[Any]] = []

    def connect(role: str) -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn, autocommit=True)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def test_app_role_executes_but_cannot_touch_tables(
    as_role: Callable[[str], psycopg.Connection[Any]], world: dict[str, Any]
) -> None:
    app = as_role("campaigndb_app")
    envelope = app.execute("SELECT public.update_campaign_statistics(%s)",
                           [world["a"]["campaign"]]).fetchone()
    assert envelope is not None and envelope[0]["success"] is True
    for statement in ("SELECT * FROM campaigndb.campaigns",
                      "UPDATE campaigndb.campaigns SET total_cost = 0",
                      "SELECT campaigndb.envelope_ok('{}')"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)


@pytest.mark.parametrize("function", WRITE_FUNCTIONS)
def test_readonly_role_cannot_write(
    as_role: Callable[[str], psycopg.Connection[Any]], function: str
) -> None:
    readonly = as_role("campaigndb_readonly")
    signature = FUNCTIONS[function].signature
    allowed = readonly.execute("SELECT has_function_privilege(%s, 'EXECUTE')",
                               [signature]).fetchone()
    assert allowed == (False,)


def test_readonly_role_reads(as_role: Callable[[str], psycopg.Connection[Any]]) -> None:
    readonly = as_role("campaigndb_readonly")
    row = readonly.execute("SELECT public.get_database_health_metrics()").fetchone()
    assert row is not None and row[0]["success"] is True
    for function in READ_FUNCTIONS:
        assert readonly.execute("SELECT has_function_privilege(%s, 'EXECUTE')",
                                [FUNCTIONS[function].signature]).fetchone() == (True,)


def test_public_cannot_execute_anything(raw: psycopg.Connection[Any]) -> None:
    leaks = raw.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n"
        " ON n.oid = p.pronamespace WHERE n.nspname IN ('public', 'campaigndb')"
        " AND has_function_privilege('public', p.oid, 'EXECUTE')").fetchall()
    assert leaks == []


def test_hijacked_search_path_changes_nothing(
    dsn: str, client: Client, world: dict[str, Any], raw: psycopg.Connection[Any]
) -> None:
    """Look-alike functions and operators in a schema first on the caller's search_path:
    every pinned function ignores them (each would record its use, or break the result)."""
    raw.execute("""
        DROP SCHEMA IF EXISTS evil CASCADE;
        CREATE SCHEMA evil;
        CREATE TABLE evil.hits (what text);
        GRANT USAGE ON SCHEMA evil TO PUBLIC;
        GRANT INSERT ON evil.hits TO PUBLIC;
        CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('now') RETURNING '2000-01-01'::timestamptz $$;
        CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('uuid')
                  RETURNING '00000000-0000-0000-0000-000000000000'::uuid $$;
        CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('jsonb_typeof') RETURNING 'object' $$;
        CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('length') RETURNING 0 $$;
        CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE sql
            AS $$ INSERT INTO evil.hits VALUES ('btrim') RETURNING 'x' $$;
        CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE sql
            AS $$ SELECT true $$;
        CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
        CREATE FUNCTION evil.numeric_add(numeric, numeric) RETURNS numeric LANGUAGE sql
            AS $$ SELECT 1000000::numeric $$;
        CREATE OPERATOR evil.+ (LEFTARG = numeric, RIGHTARG = numeric,
                                FUNCTION = evil.numeric_add);
    """)
    try:
        with psycopg.connect(dsn, autocommit=True,
                             options="-c search_path=evil,public,pg_catalog") as hijacked:
            total = hijacked.execute(
                "SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                [world["a"]["campaign"]]).fetchone()
            assert total is not None
            answer = hijacked.execute(
                "SELECT public.track_campaign_cost(%s, 'gmaps', 1, 2.5, '{}')",
                [world["a"]["campaign"]]).fetchone()
            assert answer is not None and answer[0]["success"] is True
            assert float(answer[0]["new_total_cost"]) == float(total[0]) + 2.5
            started = hijacked.execute(
                "SELECT public.execute_campaign_atomically(%s, %s, NULL, 'x', 'email')",
                [world["a"]["workspace"], world["a"]["workflow"]]).fetchone()
            assert started is not None and started[0]["success"] is True
            assert started[0]["execution_id"] != "00000000-0000-0000-0000-000000000000"
            batch = hijacked.execute(
                "SELECT public.insert_businesses_batch(%s, '10001',"
                " '[{\"place_id\": \"h1\", \"name\": \"H\"}]')",
                [world["a"]["campaign"]]).fetchone()
            assert batch is not None and batch[0]["inserted"] == 1
        hits = raw.execute("SELECT count(*) FROM evil.hits").fetchone()
        assert hits == (0,)
        other_total = raw.execute("SELECT total_cost FROM campaigndb.campaigns WHERE id = %s",
                                  [world["b"]["campaign"]]).fetchone()
        assert other_total == (0,)  # the always-true "=" never matched another campaign
    finally:
        raw.execute("DROP SCHEMA evil CASCADE")


def test_direct_reads_under_rls_see_only_the_bound_workspace(
    raw: psycopg.Connection[Any], dsn: str, world: dict[str, Any]
) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    raw.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    try:
        # row level security calls campaigndb.caller_workspaces as the reader (tenancy)
        raw.execute(sql.SQL("GRANT USAGE ON SCHEMA campaigndb TO {0};"
                            " GRANT SELECT ON ALL TABLES IN SCHEMA campaigndb TO {0};"
                            " GRANT EXECUTE ON FUNCTION campaigndb.caller_workspaces(boolean)"
                            " TO {0}")
                    .format(sql.Identifier(role)))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            unbound = conn.execute("SELECT count(DISTINCT workspace_id)"
                                   " FROM campaigndb.campaigns").fetchone()
            assert unbound is not None and unbound[0] >= 2
            conn.execute("SELECT set_config('campaigndb.workspace_id', %s, false)",
                         [str(world["a"]["workspace"])])
            for table, column in (("campaigns", "workspace_id"),
                                  ("workspace_n8n_workflows", "workspace_id"),
                                  ("n8n_campaign_executions", "workspace_id"),
                                  ("workflow_deployment_history", "workspace_id")):
                seen = conn.execute(sql.SQL("SELECT DISTINCT {} FROM campaigndb.{}").format(
                    sql.Identifier(column), sql.Identifier(table))).fetchall()
                assert seen == [(world["a"]["workspace"],)], table
            for table in ("gmaps_businesses", "gmaps_campaign_coverage"):
                seen = conn.execute(sql.SQL("SELECT DISTINCT campaign_id FROM campaigndb.{}")
                                    .format(sql.Identifier(table))).fetchall()
                assert seen == [(world["a"]["campaign"],)], table
            workspaces = conn.execute("SELECT id FROM campaigndb.workspaces").fetchall()
            assert workspaces == [(world["a"]["workspace"],)]
    finally:
        raw.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))


def test_forced_rls_stops_even_the_owner_writing_foreign_audit_rows(
    dsn: str, world: dict[str, Any]
) -> None:
    """RLS is forced on the audit trail: its owner (the role the SECURITY DEFINER functions
    run as) cannot write an audit row of another workspace than the bound one.  Superusers
    bypass RLS whatever it says, so the table is lent to a plain owner role for the test,
    inside a transaction that is rolled back."""
    role = f"owner_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("CREATE ROLE {0} NOLOGIN; GRANT USAGE ON SCHEMA campaigndb TO {0};"
                             " GRANT EXECUTE ON FUNCTION campaigndb.caller_workspaces(boolean)"
                             " TO {0};"
                             " ALTER TABLE campaigndb.workflow_deployment_history OWNER TO {0}")
                     .format(sql.Identifier(role)))
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute("SELECT set_config('campaigndb.workspace_id', %s, true)",
                     [str(world["b"]["workspace"])])
        seen = conn.execute("SELECT DISTINCT workspace_id"
                            " FROM campaigndb.workflow_deployment_history").fetchall()
        assert seen == [(world["b"]["workspace"],)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO campaigndb.workflow_deployment_history"
                         " (workspace_id, event_type) VALUES (%s, 'forged')",
                         [world["a"]["workspace"]])
        conn.rollback()


HOSTILE = [
    "O'Brien \"quoted\" \\ backslash",
    "'); DROP TABLE campaigndb.campaigns; --",
    "Robert'); DELETE FROM campaigndb.workspaces WHERE ('1'='1",
    "$$; DROP SCHEMA campaigndb CASCADE; $$",
    "".join(chr(c) for c in range(1, 32)) + "\u202e\ufeff\U0001f4a9 ünïcødé",
    "%s %(name)s {} {0}",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_stored_verbatim(client: Client, world: dict[str, Any],
                                             raw: psycopg.Connection[Any], text: str) -> None:
    a = world["a"]
    flow = client.register_n8n_workflow(a["workspace"], text[:200], text[:200], "email")
    started = client.execute_campaign_atomically(a["workspace"], flow.workflow_id, None,
                                                 text, "email", {"note": text})
    client.insert_businesses_batch(a["campaign"], "10001",
                                   [{"place_id": text, "name": text, "address": text}])
    stored = raw.execute(
        "SELECT e.campaign_name, e.execution_config ->> 'note', w.name, b.name, b.address"
        " FROM campaigndb.n8n_campaign_executions e"
        " JOIN campaigndb.workspace_n8n_workflows w ON w.id = e.workspace_n8n_workflow_id"
        " JOIN campaigndb.gmaps_businesses b ON b.place_id = %s AND b.campaign_id = %s"
        " WHERE e.id = %s", [text, a["campaign"], started.execution_id]).fetchone()
    assert stored == (text, text, text[:200], text, text)
    assert raw.execute("SELECT to_regclass('campaigndb.campaigns') IS NOT NULL").fetchone() == (
        True,)


def test_huge_values_are_stored_or_refused(client: Client, world: dict[str, Any],
                                           raw: psycopg.Connection[Any]) -> None:
    huge = "x" * 1_000_000
    before = fingerprint(raw)
    refused = client.call("create_workspace", p_name=huge)
    assert refused["error_code"] == "22023" and fingerprint(raw) == before
    refused = client.call("execute_campaign_atomically",
                          p_workspace_id=str(world["a"]["workspace"]),
                          p_workspace_n8n_workflow_id=str(world["a"]["workflow"]),
                          p_campaign_approval_session_id=None, p_campaign_name=huge,
                          p_campaign_type="email")
    assert refused["error_code"] == "22023" and fingerprint(raw) == before
    result = client.insert_businesses_batch(world["a"]["campaign"], "10001",
                                            [{"place_id": "huge", "name": "H", "address": huge}])
    assert result.inserted == 1
    stored = raw.execute("SELECT length(address) FROM campaigndb.gmaps_businesses"
                         " WHERE place_id = 'huge'").fetchone()
    assert stored == (1_000_000,)
