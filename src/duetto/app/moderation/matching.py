"""Finding listed words and phrases in user text despite case, accents, punctuation, spacing and simple
obfuscation (l33t digits, repeated letters, "b.o.m.b"), while matching whole words only.

Pure functions, no database: `Matcher` is built from (category, term) pairs and answers `find(text)`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Digits and symbols people type for letters. Deliberately small: "!" and "|" are left out because
# "lol!" would otherwise read as "loli".
_LEET: dict[str, str] = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1", "l": "1", "o": "0", "s": "5$", "t": "7"}

# Letters from other scripts that look like Latin ones, so "bоmb" with a Cyrillic "о" is still "bomb".
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ο": "o", "α": "a", "ι": "i", "κ": "k",
    "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
})

# The skeleton of a text keeps only letters (l33t read as letters, "1" as "i" and "l" alike) with runs
# collapsed; a term can match only where its skeleton is a substring of the text's. It is a cheap
# filter that lets large lists stay fast, so it may say yes wrongly but never no wrongly.
_SKELETON = str.maketrans({"4": "a", "@": "a", "8": "b", "3": "e", "9": "g", "1": "i", "l": "i", "0": "o",
                           "5": "s", "$": "s", "7": "t"})
_RUNS = re.compile(r"(.)\1+")
_WORDS = re.compile(r"[^\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
_SEP = r"[\W_]"
#: Letters a phrase needs before it is also looked for run together inside other words.
GLUED_MIN_LETTERS = 8


def normalize(text: str) -> str:
    """Case-folded text without accents, lookalike letters or invisible characters (zero-width spaces)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return text.casefold().translate(_LOOKALIKES)


def term_words(term: str) -> list[str]:
    """The words of a term as matching sees them: "Kim Jong-un" is kim, jong, un."""
    return _WORDS.findall(normalize(term))


def term_key(term: str) -> str:
    """The form that makes two spellings of a term one entry ("Beyoncé" and "beyonce", "self-harm" and
    "self harm")."""
    return " ".join(term_words(term))


def skeleton(text: str) -> str:
    kept = "".join(ch for ch in normalize(text) if ch.isalnum() or ch in "@$")
    return _RUNS.sub(r"\1", kept.translate(_SKELETON))


def _letter(ch: str) -> str:
    return "[" + re.escape(ch + _LEET.get(ch, "")) + "]"


def _word_pattern(word: str) -> str:
    # Either written together, each letter possibly repeated ("boooomb", "b0mb"), or spelled out with a
    # separator between every letter ("b.o.m.b", "b o m b").
    together = "".join(_letter(ch) + "+" for ch in word)
    if len(word) == 1:
        return together
    spelled = f"{_SEP}+".join(_letter(ch) for ch in word)
    return f"(?:{together}|{spelled})"


@lru_cache(maxsize=20_000)
def term_pattern(term: str) -> re.Pattern[str] | None:
    """A regular expression that finds the term as whole words in normalized text; None for a term without
    letters or digits."""
    words = term_words(term)
    if not words:
        return None
    # Words of a phrase may be run together or split by any punctuation; a plain "s" may end it.
    body = f"{_SEP}*".join(_word_pattern(w) for w in words) + "s?"
    whole = rf"(?<![^\W_]){body}(?![^\W_])"
    if len(words) > 1 and sum(map(len, words)) >= GLUED_MIN_LETTERS:
        # A long phrase run together is found inside a longer word too, as handles and hashtags write
        # it ("realdonaldtrump", "taylorswift13"); a short one would match by chance ("icecube").
        whole += "|" + "".join(_letter(ch) + "+" for ch in "".join(words))
    return re.compile(whole)


@dataclass(frozen=True)
class Rule:
    """One term of one category; its pattern is compiled the first time its skeleton is seen in a text."""

    category: str
    term: str
    skeleton: str


@dataclass(frozen=True)
class Hit:
    category: str
    term: str  # the term as listed
    found: str  # the words as they appear in the text


class Matcher:
    """Every listed term, compiled once; `find` returns the first hit in the order the rules were given."""

    def __init__(self, terms: Iterable[tuple[str, str]]) -> None:
        self.rules = [Rule(category, term, skeleton(term)) for category, term in terms if term_words(term)]

    def __len__(self) -> int:
        return len(self.rules)

    def find(self, text: str, *, categories: Iterable[str] | None = None) -> Hit | None:
        """The first listed term found in the text (optionally only among some categories)."""
        wanted = set(categories) if categories is not None else None
        text_skeleton = skeleton(text)
        normalized = None
        for rule in self.rules:
            if wanted is not None and rule.category not in wanted:
                continue
            if rule.skeleton not in text_skeleton:
                continue
            if normalized is None:
                normalized = normalize(text)
            pattern = term_pattern(rule.term)
            for found in pattern.finditer(normalized) if pattern is not None else ():
                # "455" is a number, not "ass": a hit must contain at least one real letter.
                if _LETTER.search(found.group()):
                    return Hit(rule.category, rule.term, found.group())
        return None
