"""Fixtures for the enrollment tests: synthetic takes (espeak-ng speech, scikit-image's astronaut face),
made once per session; without espeak-ng the tests that need speech skip and say why."""

from __future__ import annotations

import pytest

from tests.characters_enroll import media
from tests.web.conftest import models_dir, web  # noqa: F401 - the app with the tiny model, as the web tests use

ESPEAK_MISSING = "espeak-ng is not installed (apt-get install espeak-ng); the enrollment tests speak with it"


@pytest.fixture(scope="session")
def espeak() -> str:
    program = media.espeak()
    if program is None:
        pytest.skip(ESPEAK_MISSING)
    return program


class Takes:
    """Rendered takes and their WebM recordings, each made once however many tests ask for it."""

    def __init__(self) -> None:
        self._cache: dict[media.Take, tuple[media.Rendered, bytes]] = {}

    def get(self, take: media.Take) -> tuple[media.Rendered, bytes]:
        if take not in self._cache:
            rendered = media.render(take)
            self._cache[take] = (rendered, media.webm_bytes(rendered))
        return self._cache[take]


@pytest.fixture(scope="session")
def can_render(espeak: str) -> None:
    """Takes need the voice and the face: espeak-ng and scikit-image's sample photograph."""
    pytest.importorskip("skimage", reason="scikit-image (the test extra) provides the test face")


@pytest.fixture(scope="session")
def takes(can_render: None) -> Takes:
    return Takes()
