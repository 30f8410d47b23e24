"""Fuzzing fixtures: hypothesis profiles, the module's World, connections, and a summary of
how many cases ran.

Profiles (select with HYPOTHESIS_PROFILE; default "ci"):
  ci    50 examples per function and path: the whole package in about a minute (make test)
  soak  1,000 examples per function: run by hand, e.g. before a release (a few minutes per
        function on a busy 2-core machine; pytest-timeout is off for the fuzz tests then)
  dev   10 examples: a quick look while editing strategies
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from campaigndb import Client
from campaigndb.core.connection import configure_connection

from .strategies import World
from .tally import CASES, CODES

_COMMON: dict[str, Any] = {
    "deadline": None,  # a shared 2-core machine: timings are noise, not failures
    # Some strategies draw a 1 MB text or a batch just over a limit (50,001 ZIP codes):
    # large by design.
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.large_base_example],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=50, **_COMMON)
settings.register_profile("soak", max_examples=1_000, **_COMMON)
settings.register_profile("dev", max_examples=10, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A soak run takes as long as it takes: no pytest-timeout for the fuzz tests then."""
    if PROFILE == "soak":
        here = os.path.dirname(__file__)
        for item in items:
            if str(item.path).startswith(here):
                item.add_marker(pytest.mark.timeout(0))


@pytest.fixture(scope="module")
def world(client: Client) -> World:
    """Two workspaces, each with campaigns (ZIP coverage, businesses, KPI rows), workflows
    (one inactive) and executions (pending and finished)."""
    workspaces, campaigns, businesses, workflows, executions = [], [], [], [], []
    owners: list[tuple[str, str]] = []
    zip_codes = ("10001", "10002", "SW1A 1AA")
    n8n_ids = ("flow-email", "flow-paused", "flow-ü")
    for label in ("a", "b"):
        ws = client.create_workspace(f"fuzz workspace {label}").workspace_id
        workspaces.append(str(ws))
        campaign = client.create_campaign_with_coverage(
            {"workspace_id": ws, "name": f"fuzz campaign {label}"}, list(zip_codes)).campaign_id
        campaigns.append(str(campaign))
        client.insert_businesses_batch(campaign, "10001", [
            {"place_id": f"{label}-{n}", "name": name, "email": f"info{n}@{label}.example"}
            for n, name in enumerate(["Smile Dental", "Zahnarzt Müller", "東京歯科"])])
        businesses += [str(row.id) for row in
                       client.get_businesses_for_enrichment(campaign, "facebook", 10)]
        client.call("upsert_daily_kpi_batch", p_source="fuzz", p_rows=[
            {"campaign_id": str(campaign), "kpi_date": f"2025-01-{day:02d}",
             "platform": "google", "impressions": 100, "clicks": 7, "spend": "1.25",
             "conversions": 1, "revenue": 9}
            for day in (1, 2, 3)])
        for n8n_id, status in zip(n8n_ids, ("active", "paused", "active"), strict=True):
            flow = client.register_n8n_workflow(ws, n8n_id, f"Flow {n8n_id}", "email",
                                                deployment_status=status).workflow_id
            workflows.append(str(flow))
            owners.append((str(flow), str(ws)))
        active = workflows[-3]
        for n in range(20):
            run = client.execute_campaign_atomically(ws, active, None, f"run {n}", "email")
            executions.append(str(run.execution_id))
        client.complete_campaign_execution(uuid.UUID(executions[-1]), "completed")
    return World(workspaces=tuple(workspaces), campaigns=tuple(campaigns),
                 zip_codes=zip_codes, businesses=tuple(businesses), workflows=tuple(workflows),
                 n8n_workflow_ids=n8n_ids, executions=tuple(executions),
                 workflow_owners=tuple(owners))


# Connections go to the module's database as the module's `client` reaches it (its `dsn`):
# module-scoped like the client, and through PgBouncer when the suite runs behind one (hence
# no server-side prepared statements).


@pytest.fixture(scope="module")
def plain(client: Client) -> Iterator[psycopg.Connection[Any]]:
    """A plain psycopg connection (autocommit; psycopg's own JSON dumping): the plain-SQL
    path, and the fingerprint."""
    with psycopg.connect(client.dsn, autocommit=True, prepare_threshold=None) as conn:
        yield conn


@pytest.fixture(scope="module")
def client_like(client: Client) -> Iterator[psycopg.Connection[Any]]:
    """A connection configured as the client's pool configures its own (orjson for jsonb):
    to tell whether an argument the client sent could be cast at all."""
    with psycopg.connect(client.dsn, autocommit=True, prepare_threshold=None) as conn:
        configure_connection(conn)
        yield conn


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    if not CASES:
        return
    profile = PROFILE
    examples = sum(c["examples"] for c in CASES.values())
    calls = sum(c[k] for c in CASES.values() for k in c if k != "examples")
    write = terminalreporter.write_line
    terminalreporter.section("campaigndb fuzzing (hypothesis)")
    write(f"profile {profile}: {examples} examples, {calls} calls (plain SQL + client)")
    write(f"{'function':42} {'examples':>8}  {'sql ok/refused/cast':>20}  "
          f"{'client ok/refused/cast':>22}")
    for name in sorted(CASES):
        c = CASES[name]
        sql_part = f"{c['sql ok']}/{c['sql refused']}/{c['sql cast']}"
        client_part = f"{c['client ok']}/{c['client refused']}/{c['client cast']}"
        write(f"{name:42} {c['examples']:>8}  {sql_part:>20}  {client_part:>22}")
        if CODES[name]:
            write("    SQLSTATEs: " + ", ".join(
                f"{state} x{n}" for state, n in sorted(CODES[name].items())))
    record = {"profile": profile, "examples": examples, "calls": calls,
              "functions": {name: dict(c) for name, c in sorted(CASES.items())},
              "sqlstates": {name: dict(c) for name, c in sorted(CODES.items())}}
    cache = getattr(config, "cache", None)
    if cache is not None:
        cache.set("campaigndb/fuzz_cases", record)
        write("written to .pytest_cache/v/campaigndb/fuzz_cases")
    else:  # -p no:cacheprovider
        write(json.dumps(record))
