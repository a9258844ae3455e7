"""Steering the feed in the viewer's own words, offline: a phrase becomes weights over post terms.

"more calm videos, no rain" gives calm-sounding terms a boost, loud ones a small cut, and posts that
mention rain a cut large enough to drop them from the top. Any word works (it is matched against the
terms of each post's prompt and caption); a few mood words also expand into the terms that carry them.
"""

from __future__ import annotations

import re

from duetto.app.social.terms import STOPWORDS, normalize, words

# How much a directive moves a term's log-score.
STRONG_NEGATIVE = -4.0  # "no rain": effectively gone from the top
NEGATIVE = -1.2  # "less rain"
POSITIVE = 1.5  # "more rain"
STRONG_POSITIVE = 2.5  # "only rain"
PLAIN = 1.0  # "rain videos"
# A mood word's related terms get this share of its weight; the opposite terms get minus this share.
RELATED_SHARE = 0.6
OPPOSITE_SHARE = 0.4
LIMIT = 5.0

# Multi-word directives are joined into one token before scanning ("don't show" -> "dont_show").
_PHRASES = {
    "lots of": "more",
    "a lot of": "more",
    "plenty of": "more",
    "not so many": "less",
    "not too many": "less",
    "not much": "less",
    "fewer of": "less",
    "don't show": "no",
    "dont show": "no",
    "do not show": "no",
    "no more": "no",
    "stop showing": "no",
    "get rid of": "no",
    "i don't want": "no",
    "i dont want": "no",
    "show me": "more",
    "give me": "more",
    "i want": "more",
    "i like": "more",
    "i love": "more",
}
_DIRECTIVES = {
    "no": STRONG_NEGATIVE, "without": STRONG_NEGATIVE, "not": STRONG_NEGATIVE, "never": STRONG_NEGATIVE,
    "zero": STRONG_NEGATIVE, "hide": STRONG_NEGATIVE, "avoid": STRONG_NEGATIVE, "skip": STRONG_NEGATIVE,
    "nothing": STRONG_NEGATIVE, "ban": STRONG_NEGATIVE, "except": STRONG_NEGATIVE, "hate": STRONG_NEGATIVE,
    "less": NEGATIVE, "fewer": NEGATIVE, "minus": NEGATIVE, "reduce": NEGATIVE, "dislike": NEGATIVE,
    "more": POSITIVE, "extra": POSITIVE, "plus": POSITIVE, "want": POSITIVE, "love": POSITIVE,
    "like": POSITIVE, "prefer": POSITIVE, "lots": POSITIVE, "plenty": POSITIVE, "show": POSITIVE,
    "only": STRONG_POSITIVE, "just": STRONG_POSITIVE, "mostly": STRONG_POSITIVE,
}
# Words that carry no topic in a steering phrase.
_FILLER = STOPWORDS | frozenset(
    "please stuff things thing content posts post feed me today right now kind kinds sort type types of ones "
    "something anything everything really much many lot".split()
)

# Mood words: (related terms, opposite terms). Terms are already normalised.
_CALM = ("calm", "quiet", "hum", "soft", "gentle", "slow", "rest", "sleep", "still", "roll", "slide", "peace",
         "relax", "drift", "float", "low")
_LOUD = ("loud", "bang", "crash", "clang", "knock", "clink", "bounce", "fall", "buzzy", "noise", "shout",
         "thunder", "fast", "metal", "glass")
MOODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{word: (_CALM, _LOUD) for word in ("calm", "relax", "chill", "peaceful", "soothing", "gentle", "quiet",
                                         "cozy", "slow", "soft", "mellow", "serene", "asmr")},
    **{word: (_LOUD, _CALM) for word in ("loud", "energetic", "exciting", "intense", "action", "wild", "noise",
                                         "crazy", "chaotic", "fast", "hype", "dramatic")},
    **{word: (("voice", "toy", "say", "speak", "talk", "hat", "eye"), ()) for word in
       ("talk", "talking", "speech", "voice", "chatty", "funny", "silly", "character", "dialogue")},
    **{word: (("night", "dark"), ("field", "bright", "sun")) for word in ("dark", "night", "moody", "spooky")},
    **{word: (("field", "sun", "bright", "sky", "outdoor"), ("night", "dark")) for word in
       ("sunny", "bright", "outdoor", "outdoors", "nature", "outside")},
    **{word: (("room", "indoor", "home"), ("field",)) for word in ("indoor", "indoors", "home", "homey")},
}

# Mood words to suggest to a viewer whose words matched nothing: one of each kind.
MOOD_EXAMPLES = ("calm", "loud", "talking", "night", "sunny", "indoor")

# Post terms are stemmed; the mood lists must be too ("buzzy" in a caption is stored as "buzz").
MOODS = {word: (tuple(normalize(t) for t in related), tuple(normalize(t) for t in opposite))
         for word, (related, opposite) in MOODS.items()}

_SPLIT = re.compile(r"[,.;!?\n]+|\b(?:and|but|or|also|plus)\b")


def _join_phrases(text: str) -> str:
    text = text.lower().replace("’", "'")
    for phrase, token in sorted(_PHRASES.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"\b{re.escape(phrase)}\b", f" {token} ", text)
    return text


def _add(weights: dict[str, float], term: str, value: float) -> None:
    weights[term] = max(-LIMIT, min(LIMIT, weights.get(term, 0.0) + value))


def _directed(phrase: str) -> list[tuple[str, float]]:
    """Each topic word of a phrase, as written, with the weight its directive gives it."""
    found: list[tuple[str, float]] = []
    inherited = PLAIN
    for clause in _SPLIT.split(_join_phrases(phrase)):
        mode: float | None = None
        for word in words(clause):
            if word in _DIRECTIVES:
                # "no more" / "not less": the strongest directive of a run of them wins.
                value = _DIRECTIVES[word]
                mode = value if mode is None or abs(value) > abs(mode) else mode
                continue
            if word in _FILLER or len(word) < 2:
                continue
            found.append((word, mode if mode is not None else inherited))
        # "no rain and wind": a clause with no directive of its own continues the previous one.
        if mode is not None:
            inherited = mode
    return found


def _moves(word: str, weight: float) -> list[tuple[str, float]]:
    """The terms one topic word moves and by how much: its own term, and a mood word's related terms."""
    term = normalize(word)
    moved = [(term, weight)]
    mood = MOODS.get(word) or MOODS.get(term)
    if mood:
        related, opposite = mood
        moved += [(other, weight * RELATED_SHARE) for other in related if other != term]
        # Asking for less of a mood does not ask for more of its opposite.
        if weight > 0:
            moved += [(other, -weight * OPPOSITE_SHARE) for other in opposite]
    return moved


def parse_steering(phrase: str) -> dict[str, float]:
    """Weights (term -> log-score change) that a steering phrase asks for; empty when it asks for nothing."""
    weights: dict[str, float] = {}
    for word, weight in _directed(phrase):
        for term, value in _moves(word, weight):
            _add(weights, term, value)
    return {term: round(value, 3) for term, value in weights.items() if abs(value) > 1e-6}


def topics(phrase: str) -> dict[str, frozenset[str]]:
    """Each topic word of a phrase (as written, in order) and the post terms it reaches, to tell a viewer
    which of their words match no post."""
    found: dict[str, frozenset[str]] = {}
    for word, weight in _directed(phrase):
        found[word] = found.get(word, frozenset()) | {term for term, _ in _moves(word, weight)}
    return found


def describe(weights: dict[str, float], *, top: int = 8) -> str:
    """A short human summary of what steering does, for the settings page."""
    ordered = sorted(weights.items(), key=lambda item: -abs(item[1]))[:top]
    return ", ".join(f"{'+' if value > 0 else '−'}{term}" for term, value in ordered)
