"""Fixtures of the fault tests: a proxy in front of the module's database, and a server of
the package's own (restarted, crashed and filled up; the shared "test" cluster never is)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import CommitReplyDropper, OwnServer

# Low enough that the tests can occupy every slot, high enough for the restart test's
# writers and checkers.
OWN_MAX_CONNECTIONS = 20


@pytest.fixture(scope="package")
def own_server() -> Iterator[OwnServer]:
    server = OwnServer(max_connections=OWN_MAX_CONNECTIONS)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture()
def proxy(dsn: str) -> Iterator[CommitReplyDropper]:
    dropper = CommitReplyDropper(dsn)
    try:
        yield dropper
    finally:
        dropper.close()
