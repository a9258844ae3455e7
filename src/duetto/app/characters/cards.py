"""A toy character's card as files: the Toybox front still as PNG and its 2-second voice sample as WAV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duetto.app.core.errors import InvalidRequest
from duetto.media import image_bytes, wav_bytes
from duetto.world import vocab
from duetto.world.cards import character_card
from duetto.world.facts import ToyFacts

IDENTITY_FIELDS = ("head_colour", "hat", "eyes", "pitch", "timbre")
CARD_PIXELS = 256
CARD_SECONDS = 2.0


@dataclass(frozen=True)
class CardFiles:
    still_png: bytes
    voice_wav: bytes


def check_identity(look: dict[str, Any]) -> dict[str, str]:
    """A toy identity from user input, checked against the Toybox vocabulary (spec §4)."""
    missing = [f for f in IDENTITY_FIELDS if not look.get(f)]
    if missing:
        raise InvalidRequest(f"Choose the toy's {', '.join(m.replace('_', ' ') for m in missing)}.",
                             param=missing[0])
    identity = {f: str(look[f]).strip().lower() for f in IDENTITY_FIELDS}
    try:
        ToyFacts(**identity, position="center")
    except ValueError as error:
        field = next((f for f in IDENTITY_FIELDS if f.replace("_", " ") in str(error)), None)
        raise InvalidRequest(f"{str(error)[:1].upper()}{str(error)[1:]}.", param=field) from None
    return identity


def choices() -> dict[str, tuple[str, ...]]:
    """What each identity field may be, for forms and error messages."""
    return {"head_colour": tuple(vocab.COLOURS), "hat": vocab.HATS, "eyes": vocab.EYES,
            "pitch": tuple(vocab.PITCHES), "timbre": vocab.TIMBRES}


def render_card(identity: dict[str, str], *, seed: int = 0) -> CardFiles:
    """Render the toy alone on the stage and encode its still (PNG) and voice sample (16-bit WAV)."""
    toy = ToyFacts(**identity, position="center")
    card = character_card(toy, width=CARD_PIXELS, height=CARD_PIXELS, seconds=CARD_SECONDS, seed=seed)
    return CardFiles(still_png=image_bytes(card.image, "png"),
                     voice_wav=wav_bytes(card.audio, card.sample_rate))
