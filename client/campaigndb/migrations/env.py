"""Alembic environment: one transaction per revision, a lock_timeout so that a deploy never
blocks production traffic for long, offline mode (`alembic upgrade head --sql`), and a
session advisory lock so that concurrent runs take turns: the second waits for the first,
then reads the version table afresh and finds nothing left to do."""

from __future__ import annotations

import importlib
import os
from logging.config import fileConfig

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool, text

from campaigndb.settings import Settings

config = context.config
# alembic's own progress lines ("Running upgrade ..."): the ini file's logging sections, unless
# the caller runs alembic in its own process and keeps its logging (configure_logger=False)
if (config.config_file_name and config.attributes.get("configure_logger", True)
        and config.file_config.has_section("loggers")):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
LOCK_TIMEOUT = os.environ.get("CAMPAIGNDB_MIGRATION_LOCK_TIMEOUT", "5s")
# pg_advisory_lock(classid, objid) of migrations on this database: "campaigndb", "migrate"
MIGRATION_LOCK = (0x63616D70, 0x6D696772)


def _dsn() -> str:
    """The database: given by the caller (attributes, `-x dsn=...`, sqlalchemy.url), else
    CAMPAIGNDB_DSN / DATABASE_URL, else the ini's `dsn_fallback` ("module:function", the
    repository's alembic.ini names the embedded development server), else an error."""
    explicit = (config.attributes.get("dsn") or context.get_x_argument(as_dictionary=True).get(
        "dsn") or config.get_main_option("sqlalchemy.url") or Settings().dsn)
    if explicit:
        return str(explicit)
    fallback = config.get_main_option("dsn_fallback")
    if fallback:
        module, _, function = fallback.partition(":")
        return str(getattr(importlib.import_module(module), function)())
    raise SystemExit("no database: set CAMPAIGNDB_DSN (or DATABASE_URL), or pass -x dsn=...")


def run_offline() -> None:
    context.configure(
        # offline output needs only the dialect, never a server
        url="postgresql+psycopg://",
        literal_binds=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        context.run_migrations()


def run_online() -> None:
    dsn = _dsn()
    # psycopg parses both URL and key=value DSNs; SQLAlchemy only needs the dialect
    engine = create_engine(
        "postgresql+psycopg://", poolclass=pool.NullPool, creator=lambda: psycopg.connect(dsn)
    )
    with engine.connect() as connection:
        # waits as long as the other run takes (lock_timeout is not set yet); held until
        # the connection closes, so even a failed run releases it
        connection.execute(
            text("SELECT pg_advisory_lock(:a, :b)"),
            {"a": MIGRATION_LOCK[0], "b": MIGRATION_LOCK[1]},
        )
        connection.execute(
            text("SELECT set_config('lock_timeout', :t, false)"), {"t": LOCK_TIMEOUT}
        )
        connection.commit()
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
