"""Captions for Toybox scenes in the Ovi prompt format: varied phrasings from facts, and facts back from text.

A caption is a visual narration in time order with spoken words wrapped as ``<S>…<E>``, then an audio
description after ``Audio:``. `caption` writes one from `SceneFacts`; `parse_caption` reads it back,
and also reads what people type within the vocabulary (synonyms, plurals, any case or punctuation),
filling what a caption leaves unsaid with documented defaults (`DEFAULTS`).
"""

from __future__ import annotations

import numpy as np

from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts
from duetto.world.parse import CaptionError, parse_caption

__all__ = ["CaptionError", "caption", "parse_caption"]


class _Chooser:
    """Picks among phrasings: at random with a generator, else always the first (the canonical caption)."""

    def __init__(self, rng: np.random.Generator | None) -> None:
        self.rng = rng

    def pick(self, options: list[str] | tuple[str, ...]) -> str:
        if self.rng is None:
            return options[0]
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return self.rng is not None and bool(self.rng.random() < p)

    def shuffle(self, items: list) -> list:
        items = list(items)
        if self.rng is not None:
            order = self.rng.permutation(len(items))
            items = [items[i] for i in order]
        return items


_SETTING_PHRASES = {
    "room": ["in a room", "in the room", "inside a room", "indoors"],
    "night": ["at night", "on a dark night", "in the night"],
    "field": ["in a field", "in a grassy field", "outdoors in a field", "in a meadow"],
    "stage": ["on a stage", "on the stage", "on a theatre stage"],
}
# "… on the left of a room": settings that read well as "of a …".
_OF_SETTING = {
    "room": ["a room", "the room"],
    "field": ["a field", "the field"],
    "stage": ["a stage", "the stage"],
}
_SIZE_WORDS = {"small": ["small", "little", "tiny"], "big": ["big", "large"]}
_MATERIAL_ADJ = {
    "rubber": ["rubber"],
    "wood": ["wooden", "wood"],
    "metal": ["metal", "metallic", "steel"],
    "glass": ["glass"],
}
_SHAPE_WORDS = {"ball": ["ball", "ball", "sphere"], "box": ["box", "box", "block", "cube", "crate"]}
_POSITION_PHRASES = {
    "left": ["on the left", "at the left", "on the left side"],
    "center": ["in the center", "in the middle", "in the centre"],
    "right": ["on the right", "at the right", "on the right side"],
}
_MOTION_PHRASES = {
    "bounces": ["bounces", "bounces up and down", "is dropped and bounces", "drops and bounces"],
    "falls": ["falls", "falls and lands", "drops to the floor", "falls to the ground and stays there"],
    "rolls": ["rolls", "rolls along the floor", "rolls across the floor"],
    "slides": ["slides and hits the wall", "slides into a wall", "skids along the floor into the wall"],
    "rests": ["rests", "sits still", "stays still", "lies still"],
}
_DIRECTED_MOTION = {
    "rolls": ["rolls to the {d}", "rolls toward the {d}", "rolls {d}ward"],
    "slides": [
        "slides to the {d} and hits the wall",
        "slides into the {d} wall",
        "skids to the {d} and hits the wall",
    ],
}
_EYE_PHRASES = {
    "dots": ["dot eyes", "dotted eyes", "small dot eyes"],
    "wide": ["wide eyes", "big round eyes", "wide open eyes"],
    "sleepy": ["sleepy eyes", "droopy eyes", "sleepy half-closed eyes"],
}
_TOY_WORDS = ["toy", "toy", "character", "puppet"]
_SPEECH_VERBS = ["says", "says", "speaks", "calls out"]
_PITCH_WORDS = {
    "low": ["low", "deep", "low-pitched"],
    "mid": ["mid", "medium", "mid-pitched"],
    "high": ["high", "high-pitched", "squeaky"],
}
_TIMBRE_WORDS = {"soft": ["soft", "gentle", "breathy"], "buzzy": ["buzzy", "buzzing", "raspy"]}
_IMPACT_SOUNDS = {
    "rubber": ("boing", ["bouncy boings on each hit", "boings", "rubbery boings"]),
    "wood": ("knock", ["wooden knocks on each bounce", "knocks", "hollow knocks"]),
    "metal": ("clang", ["metallic clangs", "clangs on each bounce", "ringing clangs"]),
    "glass": ("clink", ["glassy clinks", "clinks on each bounce", "tinkling clinks"]),
}
_AMBIENCE_PHRASES = {
    "quiet": ["quiet background", "silence", "no background noise", "a quiet scene"],
    "rain": ["rain falling", "steady rain", "rain pattering"],
    "wind": ["wind blowing", "gusty wind", "a breeze blowing"],
    "hum": ["low hum", "a steady hum", "an electric hum"],
}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _object_clause(obj: ObjectFacts, ch: _Chooser, setting: str | None) -> str:
    size = ch.pick(_SIZE_WORDS[obj.size])
    colour = obj.colour
    shape = ch.pick(_SHAPE_WORDS[obj.shape])
    if obj.direction is not None:
        motion = ch.pick(_DIRECTED_MOTION[obj.motion]).format(d=obj.direction)
    else:
        motion = ch.pick(_MOTION_PHRASES[obj.motion])
    position = ch.pick(_POSITION_PHRASES[obj.position])
    if setting is not None:  # "… on the left of a room"
        position = f"{position} of {ch.pick(_OF_SETTING[setting])}"
    if ch.chance(0.25):
        noun = f"{size} {colour} {shape} made of {obj.material}"
    else:
        noun = f"{size} {colour} {ch.pick(_MATERIAL_ADJ[obj.material])} {shape}"
    noun = f"{_article(noun)} {noun}"
    # A direction followed by a position ("slides to the left and hits the wall at the right") reads as
    # if it hit the right wall, so a moving object's starting place always comes first.
    if obj.direction is not None or (setting is None and ch.chance(0.3)):
        return f"{position}, {noun} {motion}"
    return f"{noun} {motion} {position}"


def _voice_phrase(toy: ToyFacts, ch: _Chooser) -> str:
    pitch = ch.pick(_PITCH_WORDS[toy.pitch])
    timbre = ch.pick(_TIMBRE_WORDS[toy.timbre])
    return f"{_article(pitch)} {pitch} {timbre} voice"


def _toy_clause(toy: ToyFacts, ch: _Chooser, voice_in_narration: bool) -> str:
    noun = f"{_article(toy.head_colour)} {toy.head_colour} {ch.pick(_TOY_WORDS)}"
    eyes = ch.pick(_EYE_PHRASES[toy.eyes])
    if toy.hat == "none":
        hat = ch.pick(["", "with no hat and ", "without a hat and "])
        looks = f"{hat}with {eyes}" if not hat else f"{hat}{eyes}"
    else:
        looks = f"{ch.pick(['with', 'wearing'])} a {toy.hat} hat and {eyes}"
    if toy.words:
        says = f"{ch.pick(_SPEECH_VERBS)} <S>{' '.join(toy.words)}<E>"
    else:
        says = ch.pick(["stands silently", "stays silent"])
    if voice_in_narration:
        says = f"{says} in {_voice_phrase(toy, ch)}"
    position = ch.pick(_POSITION_PHRASES[toy.position])
    if ch.chance(0.4):
        return f"{position}, {noun} {looks} {says}"
    return f"{noun} {looks} {position} {says}"


def _object_sound(obj: ObjectFacts, ch: _Chooser) -> str | None:
    single, many = _IMPACT_SOUNDS[obj.material]
    if obj.motion == "bounces":
        return ch.pick(many)
    if obj.motion == "falls":
        return ch.pick([f"a single {single}", f"one {single}"])
    if obj.motion == "rolls":
        return ch.pick(["a rolling rumble", "rumbling", "a rumble as it rolls"])
    if obj.motion == "slides":
        return ch.pick(["a scrape, then a knock", "scraping and a thud", "a scraping sound and a bump"])
    return None


def caption(facts: SceneFacts, rng: np.random.Generator | None = None) -> str:
    """Describe `facts` in the Ovi prompt format; `parse_caption` of the result gives back `facts`.

    With a generator the phrasing, the order of clauses that can be swapped, and which sentence
    pattern is used vary; with None the caption is the canonical, plainest one.
    """
    ch = _Chooser(rng)
    # 1. Narration: objects move together, so their clauses come in any order; toys speak in turn,
    #    so their clauses keep their order, interleaved anywhere among the objects'.
    toy_voice_inline = [ch.chance(0.3) for _ in facts.toys]
    entities: list[tuple[str, int]] = [("object", i) for i in range(len(facts.objects))]
    entities = ch.shuffle(entities)
    for j in range(len(facts.toys)):
        at = int(rng.integers(len(entities) + 1)) if rng is not None else len(entities)
        later = [k for k, (kind, _) in enumerate(entities) if kind == "toy"]
        at = max(at, later[-1] + 1) if later else at
        entities.insert(at, ("toy", j))
    # "A small red ball bounces on the left of a room." reads naturally for a single object.
    inline_setting = (
        len(entities) == 1 and entities[0][0] == "object" and facts.setting in _OF_SETTING and ch.chance(0.4)
    )
    clauses = []
    for kind, i in entities:
        if kind == "object":
            clauses.append(_object_clause(facts.objects[i], ch, facts.setting if inline_setting else None))
        else:
            clauses.append(_toy_clause(facts.toys[i], ch, toy_voice_inline[i]))
    setting = ch.pick(_SETTING_PHRASES[facts.setting])
    if not clauses:
        narration = f"An empty scene {setting}"
    elif inline_setting:
        narration = clauses[0]
    else:
        body = _join_clauses(clauses, ch)
        narration = f"{setting}, {body}" if not ch.chance(0.3) else f"{body}, {setting}"
    narration = narration[0].upper() + narration[1:]

    # 2. Audio: voices in speaking order; object sounds and the ambience anywhere around them.
    sounds = [s for s in (_object_sound(o, ch) for o in facts.objects) if s is not None]
    sounds.append(ch.pick(_AMBIENCE_PHRASES[facts.ambience]))
    sounds = ch.shuffle(sounds)
    voices = [
        _voice_phrase(t, ch) for t, inline in zip(facts.toys, toy_voice_inline, strict=True) if not inline
    ]
    if voices:
        at = int(rng.integers(len(sounds) + 1)) if rng is not None else 0
        sounds.insert(at, ", then ".join(voices))
    return f"{narration}. Audio: {', '.join(sounds)}."


def _join_clauses(clauses: list[str], ch: _Chooser) -> str:
    if len(clauses) == 1:
        return clauses[0]
    joiners = [", and ", "; ", ", while ", ". Then "] if ch.rng is not None else [", and "]
    out = clauses[0]
    for clause in clauses[1:]:
        joiner = ch.pick(joiners)
        out += joiner + clause
    return out
