"""The tenancy attacks and the allowed calls of test_tenancy.py again, on a database deployed
(`alembic upgrade head`) by an owner that is NOT a superuser, with and without CREATEROLE
(docs/tenancy.md, "Owner setups").  Forced row level security then applies to the SECURITY
DEFINER functions too: every API function must still work for a service login and for a
bound tenant, and still isolate.  The superuser connection (`su`) only sets up and reads the
fingerprints."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import test_tenancy as base  # this directory is on sys.path (rootdir conftest, no package)
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import mint_token
from campaigndb_dev.testing import create_database, drop_database, dsn_for, migrate

# test_tenancy.py's fixtures and tests, run again on this module's database (direct_dsn below)
su, world, logins, connect_as = base.su, base.world, base.logins, base.connect_as
test_tenant_of_a_cannot_touch_b = base.test_tenant_of_a_cannot_touch_b
test_the_same_calls_on_a_are_allowed = base.test_the_same_calls_on_a_are_allowed
test_direct_reads_under_forced_rls = base.test_direct_reads_under_forced_rls
test_keys_are_per_workspace = base.test_keys_are_per_workspace
test_search_path_hijack_of_the_verification = base.test_search_path_hijack_of_the_verification


@pytest.fixture(scope="module")
def refusals() -> frozenset[str]:
    """Forced RLS hides B's rows from the functions before their own check: B's object is
    "not found" (P0002, or 23503 for a referenced workspace or campaign), the answer for an
    id that does not exist (test_b_looks_like_nothing_at_all; docs/tenancy.md)."""
    return frozenset({"42501", "P0002", "23503"})


@pytest.fixture(scope="module", params=["CREATEROLE", "NOCREATEROLE"])
def direct_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database owned by a non-superuser login, migrated by it; the superuser DSN of
    it (as the other modules' direct_dsn).  NOCREATEROLE: the group roles exist already
    (the suite's template was migrated first), which is when such an owner can deploy."""
    owner = f"t_owner_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(dsn_for("postgres"), autocommit=True) as admin:
        admin.autocommit = True
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN {}").format(
            sql.Identifier(owner), sql.SQL(request.param)))
    name = f"campaigndb_owner_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(owner)))
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
    migrate(make_conninfo("", **{**conninfo_to_dict(url), "user": owner}))
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT r.rolsuper FROM pg_catalog.pg_proc AS p"
                           " JOIN pg_catalog.pg_roles AS r ON r.oid = p.proowner"
                           " WHERE p.oid = 'public.track_campaign_cost(uuid, varchar, integer,"
                           " numeric, jsonb, text)'::regprocedure").fetchone()
        assert row == (False,), "the functions must be owned by the non-superuser"
    yield url
    drop_database(name)
    with psycopg.connect(dsn_for("postgres"), autocommit=True) as admin:
        admin.autocommit = True
        admin.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(owner)))


def code_of(answer: Any) -> str:
    """The SQLSTATE an attempt raised or its envelope (or each failure of a batch) carries."""
    if isinstance(answer, str):
        return answer
    if answer and len(answer) == 1 and isinstance(answer[0][0], dict):
        envelope = answer[0][0]
        failures = envelope.get("failures") or []
        return str(envelope.get("error_code") or ",".join(f["error_code"] for f in failures))
    return "rows" if answer else "no rows"


@pytest.mark.parametrize("function", sorted(base.PARAMS))
def test_b_looks_like_nothing_at_all(
    world: dict[str, Any], logins: dict[str, str],
    connect_as: Callable[..., psycopg.Connection[Any]], function: str,
) -> None:
    """A tenant of A gets the same answer for B's objects as for ids that exist nowhere:
    the "not found" answers above reveal nothing about B."""
    nowhere = {key: str(uuid.uuid4()) for key in world["b"]}
    conn = connect_as(logins["tenant"])
    answers = []
    for objects in (world["b"], nowhere):
        statement, values = base.call_sql(function, base.calls_on(objects)[function])
        answers.append(code_of(base.attempt(conn, statement, values, [])))
    assert answers[0] == answers[1], (function, answers)


@pytest.fixture(scope="module")
def service_login(su: psycopg.Connection[Any]) -> Iterator[str]:
    """A service login (a member of campaigndb_app, not a superuser)."""
    name = f"t_service_{uuid.uuid4().hex[:6]}"
    su.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE campaigndb_app").format(
        sql.Identifier(name)))
    yield name
    su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.parametrize("function", sorted(base.PARAMS))
def test_a_sees_its_own_objects(
    world: dict[str, Any], logins: dict[str, str], service_login: str,
    connect_as: Callable[..., psycopg.Connection[Any]], function: str,
) -> None:
    """Forced RLS on the functions does not hide A's own objects from A's callers: a service
    login, the mapped tenant and a gateway with A's token never get "not found" or 42501 for
    them (tenants excepted from the two service-only functions)."""
    statement, values = base.call_sql(function, base.calls_on(world["a"])[function])
    token = mint_token(base.SECRET, world["a"]["workspace"])
    for who, user, bind in (("service", service_login, None), ("mapped", logins["tenant"], None),
                            ("token", logins["gateway"], token)):
        code = code_of(base.attempt(connect_as(user), statement, values, [], bind))
        if who != "service" and function in ("create_workspace", "get_database_health_metrics"):
            assert code == "42501", (who, function, code)
        else:
            assert code not in ("42501", "P0002", "23503", "no rows"), (who, function, code)
