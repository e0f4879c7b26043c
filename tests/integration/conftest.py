from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline import Pipeline


@pytest.fixture
def pipeline(database_url: str) -> Iterator[Pipeline]:
    opened = Pipeline(database_url)
    yield opened
    opened.close()
