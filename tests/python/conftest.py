"""Shared fixtures: one server per session (the embedded "test" cluster, or CAMPAIGNDB_DSN's
server), one database migrated by `alembic upgrade head` as a template, cloned per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from campaigndb import Client
from campaigndb.testing import create_database, drop_database, migrated_database


@pytest.fixture(scope="session")
def template_name() -> Iterator[str]:
    name = f"campaigndb_tpl_{os.getpid()}"
    migrated_database(name)
    yield name
    drop_database(name)


@pytest.fixture(scope="module")
def dsn(template_name: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this module's own, cloned from the migrated template."""
    name = f"campaigndb_t_{os.getpid()}_{abs(hash(request.module.__name__)) % 10**8}"
    url = create_database(name, template=template_name)
    yield url
    drop_database(name)


@pytest.fixture(scope="module")
def client(dsn: str) -> Iterator[Client]:
    with Client(dsn, pool_min_size=1, pool_max_size=10) as db:
        yield db


@pytest.fixture()
def raw(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain autocommit connection for checking what the functions wrote."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture()
def workspace(client: Client) -> uuid.UUID:
    return client.create_workspace(f"ws-{uuid.uuid4().hex[:8]}").workspace_id


@pytest.fixture()
def campaign(client: Client, workspace: uuid.UUID) -> uuid.UUID:
    return client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": "test campaign"}, ["10001", "10002"]
    ).campaign_id
