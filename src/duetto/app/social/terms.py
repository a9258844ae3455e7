"""Words of a post's prompt and caption reduced to comparable terms: the features steering works on."""

from __future__ import annotations

import re

# Spoken lines and other markup in prompts (`<S>…<E>`) carry no topic.
_MARKUP = re.compile(r"<S>.*?<E>|<[^>]{0,40}>", re.DOTALL)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    """a an the and or but of on in at to from with without by for as is are was were be been being it its this
    that these those there here then than so very just some any each every one two three into onto over under up
    down out off about again also too not no nor only own same such can will would should could may might must do
    does did done has have had having i me my we our you your he she they them their his her him who whom which
    what when where why how all both few more most other s t says say saying audio video videos clip clips""".split()
)

# Irregular or derived forms whose stem the suffix rules would not find.
ALIASES = {
    "wooden": "wood",
    "metallic": "metal",
    "noisy": "noise",
    "noises": "noise",
    "quieter": "quiet",
    "quietly": "quiet",
    "louder": "loud",
    "loudly": "loud",
    "calmer": "calm",
    "calmly": "calm",
    "calming": "calm",
    "rainfall": "rain",
    "raindrops": "rain",
    "windy": "wind",
    "sleepy": "sleep",
    "humming": "hum",
    "hummed": "hum",
    "falling": "fall",
    "fell": "fall",
    "rolling": "roll",
    "sliding": "slide",
    "slid": "slide",
    "bouncy": "bounce",
    "bouncing": "bounce",
    "bounced": "bounce",
    "bounces": "bounce",
    "boxes": "box",
    "glasses": "glass",
    "nighttime": "night",
    "colour": "color",
    "colours": "color",
    "colourful": "color",
    "colorful": "color",
}


def normalize(word: str) -> str:
    """A crude, deterministic stem: both posts and steering phrases go through it, so they meet."""
    word = word.lower().removesuffix("'s")
    if word in ALIASES:
        return ALIASES[word]
    return _drop_y(_drop_suffix(word))


def _undouble(stem: str) -> str:
    # running -> run, hopped -> hop, sunny -> sun (but not fall, glass, buzz)
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def _drop_suffix(word: str) -> str:
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return _undouble(word[: -len(suffix)])
    if len(word) > 4 and word.endswith("ly"):
        return word[:-2]
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _drop_y(word: str) -> str:
    # Adjectives in -y after a consonant meet their noun: rainy -> rain, sunny -> sun.
    if len(word) > 4 and word.endswith("y") and word[-2] not in "aeiouy":
        return _undouble(word[:-1])
    return word


def words(text: str) -> list[str]:
    """Lowercase words of `text` with markup removed, stopwords kept (phrases need them)."""
    return _WORD.findall(_MARKUP.sub(" ", text).lower())


def terms_of(*texts: str) -> list[str]:
    """The distinct terms of some texts, in order of first appearance, stopwords dropped."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in words(text):
            if word in STOPWORDS or len(word) < 2:
                continue
            seen.setdefault(normalize(word), None)
    return list(seen)
