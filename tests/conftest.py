"""Shared test fixtures: where the Ovi parity data lives, and a scratch directory per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def ovi_fixture_dir() -> Path:
    """The Ovi reference tensors: $DUETTO_OVI_FIXTURES, else shared/fixtures/ovi beside the repo (where a
    team keeps the current set), else the copy of the developer set in tests/fixtures/ovi, so a fresh
    clone runs the parity tests too."""
    override = os.environ.get("DUETTO_OVI_FIXTURES")
    if override:
        return Path(override)
    beside = REPO_ROOT.parent / "shared" / "fixtures" / "ovi"
    return beside if beside.is_dir() else REPO_ROOT / "tests" / "fixtures" / "ovi"


@pytest.fixture(scope="session")
def ovi_fixtures() -> Path:
    path = ovi_fixture_dir()
    if not (path / "fusion_tiny_weights.safetensors").exists():
        pytest.fail(f"Ovi parity fixtures not found in {path}; set DUETTO_OVI_FIXTURES")
    return path
