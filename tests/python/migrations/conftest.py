"""A fresh, empty database of the test server for each test (`empty_db`), and
pytest-alembic's fixtures on it for the standard migration checks (test_alembic_standard.py):
the package's alembic config and an SQLAlchemy engine."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from alembic.config import Config
from sqlalchemy import Engine, create_engine, pool

from campaigndb.migrations import alembic_ini
from campaigndb_dev.testing import dsn_for, janitor


@pytest.fixture()
def empty_db(campaigndb_server_dsn: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"campaigndb_mig_{os.getpid()}_{request.node.name[:30].lower()}"
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    with janitor(name, campaigndb_server_dsn):
        yield dsn_for(name, campaigndb_server_dsn)


@pytest.fixture()
def alembic_config(empty_db: str) -> Config:
    """The config a deploy uses (the package's alembic.ini); env.py connects to the test's
    database through `attributes["dsn"]`, as campaigndb_dev.testing.migrate does."""
    config = Config(str(alembic_ini()))
    config.attributes["dsn"] = empty_db
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture()
def alembic_engine(empty_db: str) -> Iterator[Engine]:
    """The same database for pytest-alembic's own reads (psycopg 3 driver)."""
    engine = create_engine("postgresql+psycopg://", poolclass=pool.NullPool,
                           creator=lambda: psycopg.connect(empty_db))
    yield engine
    engine.dispose()
