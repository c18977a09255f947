"""The cycle collector of a server that serves: start-up frozen, young collections spaced."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailserver import gctune, server
from mailserver.config import load_config
from tests.support.server import write_config


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_start_up_and_spaces_young_collections() -> None:
    gc.unfreeze()
    start_up: list[list[object]] = [[], [[]]]  # lists are always tracked by gc
    assert any(o is start_up[1] for o in gc.get_objects())
    gctune.settle()
    assert gc.get_threshold() == (gctune.YOUNG_THRESHOLD, *gctune.OLDER_THRESHOLDS)
    assert gctune.YOUNG_THRESHOLD > 700  # CPython's default
    assert gc.get_freeze_count() > 0
    # What was alive is out of the collector's view; what comes later is not.
    assert not any(o is start_up[1] for o in gc.get_objects())
    later: list[object] = [[]]
    assert any(o is later for o in gc.get_objects())


@pytest.mark.usefixtures("restore_gc")
def test_cyclic_garbage_is_still_collected() -> None:
    gctune.settle()

    class Session:
        pass

    session = Session()
    session.me = session  # type: ignore[attr-defined]  # a cycle, as aiosmtpd's
    del session
    # Enough container allocations for a young collection at the new threshold.
    kept = [[] for _ in range(gctune.YOUNG_THRESHOLD * 3)]
    assert len(kept) == gctune.YOUNG_THRESHOLD * 3
    assert not any(isinstance(o, Session) for o in gc.get_objects())


@pytest.mark.usefixtures("restore_gc")
def test_serve_settles_the_collector_before_it_reports_ready(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, listeners={"smtp": "127.0.0.1:0"}))
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int, int]] = []

    def ready(_: server.RunningServer) -> None:
        seen.append(gc.get_threshold())
        os.kill(os.getpid(), signal.SIGTERM)  # serve()'s own handler: a graceful stop

    asyncio.run(asyncio.wait_for(server.serve(config, on_ready=ready), 30))
    assert seen == [(gctune.YOUNG_THRESHOLD, *gctune.OLDER_THRESHOLDS)]
