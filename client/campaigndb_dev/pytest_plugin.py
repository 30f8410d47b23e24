"""The pytest plugin for code that uses campaigndb (entry point `pytest11: campaigndb`;
docs/testing-your-code.md).

Fixtures: `campaigndb_dsn`, a throwaway database with the schema deployed (`alembic upgrade
head`), new for each test; `campaigndb_client`, a `Client` bound to it.  The schema is
migrated once per session into a template database, and each test gets a clone of it
(`CREATE DATABASE ... TEMPLATE`: tens of milliseconds), dropped after the test.

The server: `CAMPAIGNDB_TEST_DSN` (any database on it; a role allowed to create databases),
else the embedded test cluster of campaigndb_dev (started on first use).  `CAMPAIGNDB_DSN` is
never used here, so that a test run cannot create or drop databases on the server an
application is configured for.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from campaigndb import Client

TEST_DSN_VARIABLE = "CAMPAIGNDB_TEST_DSN"
_counter = itertools.count()


def _server() -> str:
    configured = os.environ.get(TEST_DSN_VARIABLE)
    if configured:
        return configured
    from campaigndb_dev.embedded import EmbeddedServer
    from campaigndb_dev.testing import test_cluster

    return EmbeddedServer(test_cluster()).up()


@pytest.fixture(scope="session")
def campaigndb_server_dsn() -> str:
    """A DSN on the test server (CAMPAIGNDB_TEST_DSN, else the embedded test cluster)."""
    return _server()


@pytest.fixture(scope="session")
def campaigndb_template(campaigndb_server_dsn: str) -> Iterator[str]:
    """The name of a database migrated to head once per session, cloned by each test."""
    from campaigndb_dev.testing import create_database, drop_database, migrate

    name = f"campaigndb_tpl_{os.getpid()}"
    migrate(create_database(name, base=campaigndb_server_dsn))
    yield name
    drop_database(name, base=campaigndb_server_dsn)


@pytest.fixture()
def campaigndb_dsn(campaigndb_server_dsn: str, campaigndb_template: str) -> Iterator[str]:
    """A database of this test's own, with the schema deployed; dropped afterwards."""
    from campaigndb_dev.testing import create_database, drop_database

    name = f"campaigndb_t_{os.getpid()}_{next(_counter)}"
    yield create_database(name, template=campaigndb_template, base=campaigndb_server_dsn)
    drop_database(name, base=campaigndb_server_dsn)


@pytest.fixture()
def campaigndb_client(campaigndb_dsn: str) -> Iterator[Client]:
    """A `Client` bound to this test's database."""
    from campaigndb import Client

    with Client(campaigndb_dsn, pool_min_size=0, pool_max_size=4) as client:
        yield client
