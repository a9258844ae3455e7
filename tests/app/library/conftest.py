"""A second instance beside the `site` fixture: where an exported library is imported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import _site
from tests.app.sites import Site


@pytest.fixture
def other_site(tmp_path: Path, models_dir: Path) -> Iterator[Site]:
    yield from _site(tmp_path / "other-instance", models_dir)
