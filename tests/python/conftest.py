"""Shared fixtures, built on the package's own pytest plugin (campaigndb_dev.pytest_plugin,
docs/testing-your-code.md): one server per session (the embedded "test" cluster, or
CAMPAIGNDB_DSN's server: `campaigndb_server_dsn` is overridden here), the plugin's template
database migrated once, cloned per module (`campaigndb_module_dsn`) for the fixtures below.

With CAMPAIGNDB_TEST_PGBOUNCER=1 the suite runs through PgBouncer: a throwaway PgBouncer in
transaction pooling mode (campaigndb_dev.pgbouncer) fronts the server, `dsn` (and so `client`,
`raw` and every Client or connection a test builds from it) points at it, and
CAMPAIGNDB_PGBOUNCER=1 configures every Client for it.  A test that by nature needs a
direct session is marked `direct_session("why")`: it gets the server's own DSN and a client
configured for a direct connection.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from campaigndb import Client
from campaigndb_dev.pgbouncer import PgBouncer
from campaigndb_dev.testing import server_dsn

from .citus_support import citus_dsn, create_cluster_database, drop_cluster_database

#: Tests in files this conftest does not own that need a direct session, with the reason
#: (the same as `@pytest.mark.direct_session("...")` on the test itself).
DIRECT_SESSION: dict[str, str] = {
    "integration/test_client_behaviour.py::test_statement_timeout_applies":
        "asserts the session-wide statement_timeout the pool sets as a startup `options` "
        "parameter, which PgBouncer refuses; behind PgBouncer the client sets it per "
        "transaction instead (integration/test_pgbouncer_client.py)",
    "integration/test_security.py::test_app_role_executes_but_cannot_touch_tables":
        "a session-wide SET ROLE on an autocommit connection: through transaction pooling "
        "the role would stay on a server connection and leak to other clients",
    "integration/test_security.py::test_readonly_role_cannot_write":
        "a session-wide SET ROLE on an autocommit connection (leaks through transaction "
        "pooling)",
    "integration/test_security.py::test_readonly_role_reads":
        "a session-wide SET ROLE on an autocommit connection (leaks through transaction "
        "pooling)",
    "integration/test_security.py::test_hijacked_search_path_changes_nothing":
        "the attacker's search_path is a startup `options` parameter, which PgBouncer "
        "refuses",
    "integration/test_security.py::test_direct_reads_under_rls_see_only_the_bound_workspace":
        "a session-wide SET ROLE and set_config(..., false) on an autocommit connection "
        "(leak through transaction pooling)",
}


#: Tests that cannot hold on a Citus cluster by design, with the reason; each is marked
#: `citus_incompatible`, which `make test-citus` deselects.  docs/scale-out.md states the
#: weaker (or refused) behaviour for each.
CITUS_INCOMPATIBLE: dict[str, str] = {
    "integration/test_lead_generation.py::test_enrichment_page_uses_the_partial_index":
        "asserts the single-server plan; on Citus EXPLAIN shows the Citus Adaptive scan",
    "integration/test_lead_generation.py::test_enrichment_batch_elements_are_independent":
        "update_enrichment_batch locks businesses by id across shards: refused (0A000)",
    "integration/test_lead_generation.py::test_pages_for_enrichment":
        "pages through update_enrichment_batch, refused on Citus (0A000)",
    "concurrency/test_lead_generation_concurrency.py::test_enrichers_page_while_others_enrich":
        "update_enrichment_batch is refused on Citus (0A000)",
    "integration/test_security.py::test_direct_reads_under_rls_see_only_the_bound_workspace":
        "on Citus the tables below campaigns show a bound session no rows (no subquery "
        "policies on distributed tables)",
}


def pgbouncer_mode() -> bool:
    return os.environ.get("CAMPAIGNDB_TEST_PGBOUNCER", "").lower() in ("1", "true", "yes", "on")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("tests/python/", 1)[-1].split("[", 1)[0]
        reason = DIRECT_SESSION.get(path)
        if reason is not None:
            item.add_marker(pytest.mark.direct_session(reason))
        citus_reason = CITUS_INCOMPATIBLE.get(path)
        if citus_reason is not None:
            item.add_marker(pytest.mark.citus_incompatible(citus_reason))


def _direct(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("direct_session")
    if marker is None:
        return False
    if not (marker.args and str(marker.args[0]).strip()):
        raise pytest.UsageError(f"{request.node.nodeid}: direct_session needs a reason")
    return True


@pytest.fixture(scope="session")
def campaigndb_server_dsn() -> str:
    """The plugin's server: this suite's (CAMPAIGNDB_DSN's server, else the embedded test
    cluster; the plugin itself reads CAMPAIGNDB_TEST_DSN only)."""
    return server_dsn()


@pytest.fixture(scope="session")
def pgbouncer(campaigndb_server_dsn: str) -> Iterator[PgBouncer]:
    """A PgBouncer (transaction pooling, 5 server connections per database) in front of the
    test server, for the whole session: started at the first test that asks for it."""
    with PgBouncer.in_front_of(campaigndb_server_dsn, pool_size=5) as bouncer:
        yield bouncer


@pytest.fixture(scope="session", autouse=True)
def suite_pgbouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer | None]:
    """Under CAMPAIGNDB_TEST_PGBOUNCER=1: start PgBouncer and configure every Client for it."""
    if not pgbouncer_mode():
        yield None
        return
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAMPAIGNDB_PGBOUNCER", "1")
        yield bouncer


@pytest.fixture(autouse=True)
def _direct_session_settings(request: pytest.FixtureRequest,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A direct_session test's own Clients are configured for a direct connection."""
    if pgbouncer_mode() and _direct(request):
        monkeypatch.delenv("CAMPAIGNDB_PGBOUNCER", raising=False)


@pytest.fixture(scope="module")
def direct_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this module's own, the plugin's `campaigndb_module_dsn` (its server's
    own DSN, never through PgBouncer).  Under CAMPAIGNDB_CITUS_DSN: a database created and
    migrated on every node of that Citus cluster (tests/python/citus_support.py; no template
    there)."""
    coordinator = citus_dsn()
    if not coordinator:
        yield request.getfixturevalue("campaigndb_module_dsn")
        return
    name = f"campaigndb_t_{os.getpid()}_{abs(hash(request.module.__name__)) % 10**8}"
    url = create_cluster_database(coordinator, name)
    yield url
    drop_cluster_database(coordinator, name)


@pytest.fixture(scope="module")
def routed_dsn(direct_dsn: str, suite_pgbouncer: PgBouncer | None) -> str:
    """The module's database as the suite reaches it: through PgBouncer in the PgBouncer
    pass, else directly."""
    return suite_pgbouncer.route(direct_dsn) if suite_pgbouncer is not None else direct_dsn


@pytest.fixture()
def dsn(routed_dsn: str, direct_dsn: str, request: pytest.FixtureRequest) -> str:
    """The module's database; direct for a test marked direct_session."""
    return direct_dsn if _direct(request) else routed_dsn


@pytest.fixture()
def bounced_dsn(direct_dsn: str, pgbouncer: PgBouncer) -> str:
    """The module's database through PgBouncer (in either pass)."""
    return pgbouncer.route(direct_dsn)


@pytest.fixture(scope="module")
def client(routed_dsn: str, suite_pgbouncer: PgBouncer | None) -> Iterator[Client]:
    with Client(routed_dsn, pool_min_size=1, pool_max_size=10,
                pgbouncer=suite_pgbouncer is not None) as db:
        yield db


@pytest.fixture()
def raw(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain autocommit connection for checking what the functions wrote (no server-side
    prepared statements: PgBouncer's transaction pooling cannot keep them)."""
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        yield conn


@pytest.fixture()
def workspace(client: Client) -> uuid.UUID:
    return client.create_workspace(f"ws-{uuid.uuid4().hex[:8]}").workspace_id


@pytest.fixture()
def campaign(client: Client, workspace: uuid.UUID) -> uuid.UUID:
    return client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": "test campaign"}, ["10001", "10002"]
    ).campaign_id


@pytest.fixture()
def failing_trigger(raw: psycopg.Connection[Any]) -> Iterator[Any]:
    """Install a trigger that raises on a table's Nth insert of a statement (as a disk, a
    constraint or a bug would, part-way through a run)."""
    installed: list[str] = []

    def install(table: str, after_rows: int) -> None:
        raw.execute(f"""
            CREATE OR REPLACE FUNCTION campaigndb.test_fail_part_way() RETURNS trigger
            LANGUAGE plpgsql AS $$
            DECLARE v_n integer := COALESCE(
                NULLIF(current_setting('campaigndb.test_rows', true), ''), '0')::integer + 1;
            BEGIN
                PERFORM set_config('campaigndb.test_rows', v_n::text, true);
                IF v_n > {after_rows} THEN
                    RAISE EXCEPTION 'injected failure after % rows', v_n - 1
                          USING ERRCODE = 'XX000';
                END IF;
                RETURN NEW;
            END $$""")
        raw.execute(f"CREATE TRIGGER test_fail_part_way BEFORE INSERT ON campaigndb.{table}"
                    " FOR EACH ROW EXECUTE FUNCTION campaigndb.test_fail_part_way()")
        installed.append(table)

    yield install
    for table in installed:
        raw.execute(f"DROP TRIGGER IF EXISTS test_fail_part_way ON campaigndb.{table}")
    raw.execute("DROP FUNCTION IF EXISTS campaigndb.test_fail_part_way()")
