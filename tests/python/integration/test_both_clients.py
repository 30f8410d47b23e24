"""The same scenarios through `Client` and `AsyncClient`: one source of behaviour, proven
by running each scenario through both (the scenario is written once, against `Via`)."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from typing import Any

import pytest

from campaigndb import (
    AsyncClient,
    Client,
    HealthMonitor,
    HealthStatus,
    InvalidInput,
    NotFound,
    StepFailed,
)


class Via:
    """One client, sync or async, behind awaitable calls."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        answer = getattr(self.client, method)(*args, **kwargs)
        return await answer if inspect.isawaitable(answer) else answer

    async def steps(self, steps: list[tuple[str, dict[str, Any], bool]]) -> list[Any]:
        """run_transaction over `steps` (name, params, optional): the failures it noted."""
        if isinstance(self.client, AsyncClient):
            async def body(tx: Any) -> list[Any]:
                for name, params, optional in steps:
                    await tx.call(name, optional=optional, **params)
                return list(tx.optional_failures)

            return await self.client.run_transaction(body)

        def sync_body(tx: Any) -> list[Any]:
            for name, params, optional in steps:
                tx.call(name, optional=optional, **params)
            return list(tx.optional_failures)

        return self.client.run_transaction(sync_body)


Scenario = Callable[[Via], Coroutine[Any, Any, None]]


@pytest.fixture(params=["sync", "async"])
def through(request: pytest.FixtureRequest, dsn: str) -> Iterator[Callable[[Scenario], None]]:
    def run(scenario: Scenario) -> None:
        if request.param == "sync":
            with Client(dsn, pool_min_size=1, pool_max_size=2) as db:
                asyncio.run(scenario(Via(db)))
            return

        async def in_loop() -> None:
            async with AsyncClient(dsn, pool_min_size=1, pool_max_size=2) as adb:
                await scenario(Via(adb))

        asyncio.run(in_loop())

    yield run


async def _campaign(via: Via) -> uuid.UUID:
    ws = (await via("create_workspace", "both")).workspace_id
    created = await via("create_campaign_with_coverage",
                        {"workspace_id": ws, "name": "both"}, ["10001"])
    return uuid.UUID(str(created.campaign_id))


def test_typed_calls_and_replays(through: Callable[[Scenario], None]) -> None:
    async def scenario(via: Via) -> None:
        campaign, key = await _campaign(via), f"k-{uuid.uuid4()}"
        first = await via("track_campaign_cost", campaign, "gmaps", 2, "0.25",
                          idempotency_key=key)
        again = await via("track_campaign_cost", campaign, "gmaps", 2, "0.25",
                          idempotency_key=key)
        assert (first.replayed, again.replayed) == (False, True)
        assert first.new_total_cost == again.new_total_cost == Decimal("0.25")
        envelope = await via("call", "update_campaign_statistics", p_campaign_id=campaign)
        assert envelope["success"] is True

    through(scenario)


def test_unknown_keys_fail_alike_through_the_typed_method_and_call(
    through: Callable[[Scenario], None], workspace: uuid.UUID
) -> None:
    document = {"workspace_id": str(workspace), "name": "x", "colour": "red"}

    async def scenario(via: Via) -> None:
        envelope = await via("call", "create_campaign_with_coverage",
                             p_campaign_data=document, p_zip_codes=[])
        assert envelope["error_code"] == "22023"
        with pytest.raises(InvalidInput) as raised:
            await via("create_campaign_with_coverage", document, [])
        assert raised.value.sqlstate == "22023"
        assert raised.value.envelope["error"] == envelope["error"]

    through(scenario)


def test_failures_raise_the_same_exceptions(through: Callable[[Scenario], None]) -> None:
    async def scenario(via: Via) -> None:
        with pytest.raises(NotFound):
            await via("track_campaign_cost", uuid.uuid4(), "gmaps", 1, "1")
        with pytest.raises(ValueError, match="no parameter"):
            await via("call", "create_workspace", p_name="x", p_colour="red")

    through(scenario)


def test_transactions_with_required_and_optional_steps(
    through: Callable[[Scenario], None]
) -> None:
    async def scenario(via: Via) -> None:
        campaign = await _campaign(via)
        missing = {"p_campaign_id": str(uuid.uuid4())}
        failures = await via.steps([
            ("update_campaign_statistics", {"p_campaign_id": str(campaign)}, False),
            ("update_campaign_statistics", missing, True),
        ])
        assert [f["error_code"] for f in failures] == ["P0002"]
        with pytest.raises(StepFailed):
            await via.steps([("update_campaign_statistics", missing, False)])

    through(scenario)


def test_health_monitor_takes_either_client(through: Callable[[Scenario], None]) -> None:
    async def scenario(via: Via) -> None:
        answer = HealthMonitor(via.client).check()
        report = await answer if inspect.isawaitable(answer) else answer
        assert report.status in tuple(HealthStatus)
        assert {c.name for c in report.checks} >= {"pool_usage", "cache_hit_ratio"}

    through(scenario)
