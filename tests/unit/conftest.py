"""Fixtures the unit tests of several packages share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailserver.events.hub import HubEventBus


@pytest.fixture
async def hub() -> AsyncIterator[HubEventBus]:
    """The event channel's hub, as the supervisor runs it (workers join with
    ``tests.unit.events.test_hub.joined``)."""
    bus = HubEventBus()
    yield bus
    await bus.close()
