from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.web import WebLab, web_services


@pytest.fixture
async def web_lab(tmp_path: Path) -> AsyncIterator[WebLab]:
    lab = WebLab(web_services(tmp_path), [])
    yield lab
    await lab.close()
