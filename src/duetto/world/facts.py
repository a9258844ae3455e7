"""What a Toybox caption states: objects, talking toys and the scene around them, as checked dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from duetto.world import vocab


def _check(value: object, allowed: Any, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; use one of: {', '.join(map(str, allowed))}")


def split_syllables(word: str) -> list[str]:
    """Split a spoken word such as "lomi" into its consonant–vowel syllables ["lo", "mi"].

    Raises ValueError when the word is not a sequence of Toybox syllables.
    """
    if len(word) < 2 or len(word) % 2:
        raise ValueError(f"spoken word {word!r} must be consonant–vowel syllables like 'ba' or 'lomi'")
    syllables = [word[i : i + 2] for i in range(0, len(word), 2)]
    for syl in syllables:
        if syl[0] not in vocab.CONSONANTS or syl[1] not in vocab.VOWELS:
            raise ValueError(
                f"spoken word {word!r} must use consonants {''.join(vocab.CONSONANTS)} "
                f"each followed by a vowel {''.join(vocab.VOWELS)}"
            )
    return syllables


@dataclass
class ObjectFacts:
    """One object as a caption states it. `direction` ("left"/"right") only applies to rolls and slides;
    None lets `realize` choose."""

    shape: str
    colour: str
    size: str
    material: str
    motion: str
    position: str
    direction: str | None = None

    def __post_init__(self) -> None:
        _check(self.shape, vocab.SHAPES, "shape")
        _check(self.colour, vocab.COLOURS, "colour")
        _check(self.size, vocab.SIZES, "size")
        _check(self.material, vocab.MATERIALS, "material")
        _check(self.motion, vocab.MOTIONS, "motion")
        _check(self.position, vocab.POSITIONS, "position")
        if self.shape not in vocab.MOTION_SHAPES[self.motion]:
            only = " and ".join(f"{s}s" for s in vocab.MOTION_SHAPES[self.motion])
            raise ValueError(
                f"a {self.shape} cannot be said to {self.motion[:-1]}; only {only} {self.motion[:-1]}"
            )
        if self.direction is not None:
            _check(self.direction, vocab.DIRECTIONS, "direction")
            if self.motion not in ("rolls", "slides"):
                raise ValueError(f"a direction only applies to rolls and slides, not to {self.motion}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectFacts:
        return cls(**data)


@dataclass
class ToyFacts:
    """A talking toy: its identity (head colour, hat, eyes, pitch, timbre), where it stands and what it says.

    `words` are spoken words made of consonant–vowel syllables, e.g. ["ba", "lomi"].
    """

    head_colour: str
    hat: str
    eyes: str
    pitch: str
    timbre: str
    position: str
    words: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(self.head_colour, vocab.COLOURS, "head colour")
        _check(self.hat, vocab.HATS, "hat")
        _check(self.eyes, vocab.EYES, "eyes")
        _check(self.pitch, vocab.PITCHES, "pitch")
        _check(self.timbre, vocab.TIMBRES, "timbre")
        _check(self.position, vocab.POSITIONS, "position")
        if self.hat == self.head_colour:
            raise ValueError(
                f"a toy's hat must differ from its {self.head_colour} head; pick another hat colour"
            )
        self.words = [w.lower() for w in self.words]
        for word in self.words:
            split_syllables(word)

    @property
    def syllables(self) -> list[str]:
        """All spoken syllables in order."""
        return [syl for word in self.words for syl in split_syllables(word)]

    @property
    def identity(self) -> dict[str, str]:
        """The appearance and voice that make this toy a recognisable character."""
        return {
            "head_colour": self.head_colour,
            "hat": self.hat,
            "eyes": self.eyes,
            "pitch": self.pitch,
            "timbre": self.timbre,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyFacts:
        return cls(**{**data, "words": list(data.get("words", []))})


_POSITION_ORDER = {name: i for i, name in enumerate(vocab.POSITIONS)}


@dataclass
class SceneFacts:
    """Everything a caption states about a clip.

    Objects are kept sorted left to right, so the order of clauses in a caption does not change the
    facts; toys keep their given order, which is the order in which they speak. Every object and toy
    stands at its own position (left, center, right), so a scene holds at most three of them.
    """

    setting: str
    ambience: str
    objects: list[ObjectFacts] = field(default_factory=list)
    toys: list[ToyFacts] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(self.setting, vocab.SETTINGS, "setting")
        _check(self.ambience, vocab.AMBIENCES, "ambience")
        self.objects = sorted(self.objects, key=lambda o: _POSITION_ORDER[o.position])
        if len(self.objects) > vocab.MAX_OBJECTS:
            raise ValueError(f"a scene holds at most {vocab.MAX_OBJECTS} objects, got {len(self.objects)}")
        colours = [o.colour for o in self.objects]
        for colour in set(colours):
            if colours.count(colour) > 1:
                raise ValueError(f"two objects are {colour}; give each object its own colour")
            if colour in vocab.SETTING_CLASHES[self.setting]:
                raise ValueError(
                    f"a {colour} object would vanish into the {self.setting} background; pick another colour"
                )
        positions = [o.position for o in self.objects] + [t.position for t in self.toys]
        for position in set(positions):
            if positions.count(position) > 1:
                raise ValueError(
                    f"two things stand at the {position}; give each its own position (left, center, right)"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "ambience": self.ambience,
            "objects": [o.to_dict() for o in self.objects],
            "toys": [t.to_dict() for t in self.toys],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneFacts:
        return cls(
            setting=data["setting"],
            ambience=data["ambience"],
            objects=[ObjectFacts.from_dict(o) for o in data.get("objects", [])],
            toys=[ToyFacts.from_dict(t) for t in data.get("toys", [])],
        )
