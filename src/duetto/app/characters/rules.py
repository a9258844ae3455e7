"""Owners' rules for their characters, in their own words, read by a small offline grammar (no model).

A rule is one line in one of three forms:

- ``no <topic>``: refuse prompts about the topic. A topic this module knows (`TOPICS`: politics,
  violence, alcohol, …) stands for its word list, so "no politics" refuses a prompt that mentions an
  election or a senator; any other topic means its own words ("no cats" refuses prompts with "cat").
- ``always <phrase>``: refuse prompts that negate it. "always wearing a hat" keeps "hat" and refuses
  "no hat", "without a hat", "not wearing her hat", "takes off the hat", "hat off" and "hatless".
- ``never <phrase>``: refuse prompts that contain it ("never singing" refuses "@ann sings").

Words are compared after the feed's deterministic stemmer (`feed.terms.normalize`), so plurals and
-ing/-ed forms meet. Anything else is refused when the rule is entered, with the forms listed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import (
    Character,
    CharacterRule,
)
from duetto.app.social.terms import STOPWORDS, normalize, words

MAX_RULE_CHARS = 200
FORMS_HELP = (
    "Rules take one of these forms: 'no <topic>' (e.g. 'no politics'), 'always <phrase>' "
    "(e.g. 'always wearing a hat') or 'never <phrase>' (e.g. 'never singing'); write one rule per line."
)


# Topics a "no …" rule may name, and the words that make a prompt about them. Words that are common in
# harmless scenes ("hit" in "hits the wall", "party", "bar") are left out on purpose.
TOPICS: dict[str, tuple[str, ...]] = {
    "politics": (
        "politics", "political", "politician", "election", "elections", "elect", "vote", "voting", "voter",
        "ballot", "president", "presidential", "senator", "senate", "congress", "parliament", "minister",
        "governor", "mayor", "campaign", "campaigning", "protest", "protester", "rally", "democrat",
        "republican", "government", "candidate", "referendum", "policy",
    ),
    "violence": (
        "violence", "violent", "fight", "fighting", "punch", "punching", "kick", "kicking", "gun", "guns",
        "shoot", "shooting", "weapon", "knife", "sword", "blood", "bloody", "kill", "killing", "murder",
        "war", "attack", "bomb", "stab",
    ),
    "alcohol": (
        "alcohol", "alcoholic", "beer", "wine", "vodka", "whisky", "whiskey", "rum", "gin", "drunk",
        "cocktail", "booze", "champagne", "pub", "hangover",
    ),
    "smoking": ("smoke", "smoking", "cigarette", "cigar", "vape", "vaping", "tobacco", "nicotine"),
    "drugs": ("drug", "drugs", "weed", "marijuana", "cannabis", "cocaine", "heroin", "pills", "stoned"),
    "religion": (
        "religion", "religious", "church", "mosque", "temple", "synagogue", "pray", "praying", "prayer",
        "god", "bible", "quran", "priest", "imam", "rabbi",
    ),
    "romance": (
        "romance", "romantic", "kiss", "kissing", "date", "dating", "flirt", "flirting", "boyfriend",
        "girlfriend", "wedding", "marry", "marriage",
    ),
    "ads": (
        "ad", "ads", "advert", "advertisement", "advertising", "sponsor", "sponsored", "brand", "commercial",
        "promo", "promotion", "endorse", "endorsement",
    ),
    "gambling": ("gamble", "gambling", "casino", "bet", "betting", "poker", "lottery", "slots"),
    "horror": ("horror", "scary", "monster", "zombie", "ghost", "corpse", "haunted", "creepy"),
}
# Other names people use for the same topics.
TOPIC_ALIASES = {
    "political": "politics", "elections": "politics", "violent": "violence", "guns": "violence",
    "weapons": "violence", "drinking": "alcohol", "booze": "alcohol", "cigarettes": "smoking",
    "religious": "religion", "kissing": "romance", "dating": "romance", "advertising": "ads",
    "advertisements": "ads", "adverts": "ads", "sponsorships": "ads", "brands": "ads", "gore": "horror",
    "scary": "horror", "betting": "gambling",
}
# Verbs that carry an "always" phrase without being what it keeps: "always wearing a hat" keeps "hat".
_CARRIERS = frozenset(normalize(w) for w in (
    "wear", "wearing", "wears", "have", "has", "having", "hold", "holding", "holds", "keep", "keeping",
    "look", "looking", "be", "being", "is", "with",
))
# Words that, a few words before a kept thing, take it away: "without a hat", "not wearing her hat".
_NEGATORS = frozenset((
    "no", "not", "without", "never", "none", "nor", "isn't", "doesn't", "don't", "aren't", "wasn't",
    "lacks", "lacking", "loses", "lost", "removes", "removed", "removing", "remove", "drops", "off",
    "minus", "sans",
))
_NEGATION_WINDOW = 3  # words before the kept word that a negator may stand in


@dataclass(frozen=True)
class ParsedRule:
    """A rule's form and the stems it checks: phrases of stems (no, never) or the kept stems (always)."""

    form: str  # no | always | never
    terms: list[list[str]]


@dataclass(frozen=True)
class Violation:
    """Which rule a prompt breaks and the words that break it."""

    rule: str
    evidence: str


def _content_stems(text: str) -> list[str]:
    return [normalize(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def _same(a: str, b: str) -> bool:
    # The stemmer gives "smil" for "smiling" but "smile" for "smile"; a lone final e on a long stem is
    # the same word. Short stems must match exactly ("win" is not "wine").
    return a == b or (len(a) >= 4 and (a + "e" == b or b + "e" == a))


def parse_rule(text: str) -> ParsedRule:
    """Read one rule, or raise InvalidRequest saying which forms are understood."""
    clean = " ".join(text.strip().strip("\"'“”‘’.!").split())
    if not clean:
        raise InvalidRequest("Write the rule first. " + FORMS_HELP, param="rule")
    if len(clean) > MAX_RULE_CHARS:
        raise InvalidRequest(f"A rule must be at most {MAX_RULE_CHARS} characters.", param="rule")
    head, _, rest = clean.partition(" ")
    head = head.lower()
    if head not in ("no", "always", "never") or not rest.strip():
        raise InvalidRequest(f"'{clean}' is not a rule this site understands. " + FORMS_HELP, param="rule")
    if head == "no":
        topic = rest.strip().lower()
        topic = TOPIC_ALIASES.get(topic, topic)
        if topic in TOPICS:
            return ParsedRule("no", [[normalize(w)] for w in dict.fromkeys(TOPICS[topic])])
        stems = _content_stems(rest)
        if not stems:
            raise InvalidRequest(f"'{clean}' names no topic. " + FORMS_HELP, param="rule")
        return ParsedRule("no", [stems])
    stems = _content_stems(rest)
    if head == "always":
        kept = [s for s in stems if s not in _CARRIERS]
        if not kept:
            raise InvalidRequest(f"'{clean}' says nothing to keep, e.g. 'always wearing a hat'. " + FORMS_HELP,
                                 param="rule")
        return ParsedRule("always", [kept])
    if not stems:
        raise InvalidRequest(f"'{clean}' says nothing to avoid, e.g. 'never singing'. " + FORMS_HELP, param="rule")
    return ParsedRule("never", [stems])


def _phrase_found(phrase: list[str], tokens: list[str], stems: list[str]) -> str | None:
    found = []
    for stem in phrase:
        at = next((i for i, s in enumerate(stems) if _same(s, stem)), None)
        if at is None:
            return None
        found.append(tokens[at])
    return " ".join(found)


def _negated(kept: list[str], tokens: list[str], stems: list[str]) -> str | None:
    for i, (token, stem) in enumerate(zip(tokens, stems, strict=True)):
        if token.endswith("less") and any(_same(normalize(token[:-4]), k) for k in kept):
            return token  # "hatless"
        if not any(_same(stem, k) for k in kept):
            continue
        window = tokens[max(0, i - _NEGATION_WINDOW) : i]
        for j, word in enumerate(window):
            if word in _NEGATORS:
                return " ".join(window[j:] + [token])
        after = tokens[i + 1 : i + 3]
        if "off" in after or "removed" in after:
            return " ".join([token, *after[: after.index("off" if "off" in after else "removed") + 1]])
    return None


def violation(rule_text: str, parsed: ParsedRule, prompt: str) -> Violation | None:
    """How `prompt` breaks the rule, or None when it keeps it."""
    tokens = words(prompt)
    stems = [normalize(t) for t in tokens]
    if parsed.form == "always":
        evidence = _negated(parsed.terms[0], tokens, stems)
        return Violation(rule_text, evidence) if evidence else None
    for phrase in parsed.terms:
        evidence = _phrase_found(phrase, tokens, stems)
        if evidence:
            return Violation(rule_text, evidence)
    return None


def first_violation(rules: Iterable[tuple[str, ParsedRule]], prompt: str) -> Violation | None:
    """The first of (text, parsed) rules that `prompt` breaks."""
    for text, parsed in rules:
        found = violation(text, parsed, prompt)
        if found is not None:
            return found
    return None


def refusal(name: str, found: Violation) -> str:
    """The one-line refusal: "@ann's rule 'no politics' refuses this prompt (it mentions 'election')."."""
    verb = "says" if " " in found.evidence else "mentions"
    return f"@{name}'s rule '{found.rule}' refuses this prompt (it {verb} '{found.evidence}')."


def normalize_rule_text(text: str) -> str:
    """The rule as stored and shown: its words, single-spaced, without surrounding quotes or a full stop."""
    return re.sub(r"\s+", " ", text.strip().strip("\"'“”‘’.!")).strip()


# --- a character's stored rules --------------------------------------------------------------------------




MAX_RULES = 20


class RuleRefused(Forbidden):
    code = "character_rule"


def add_rule(*, session: Session, character: Character, text: str) -> CharacterRule:
    """Add a rule in the owner's words (committed); text that matches no form is refused with the forms."""
    parsed = parse_rule(text)
    count = session.scalar(select(func.count()).select_from(CharacterRule)
                           .where(CharacterRule.character_id == character.id)) or 0
    if count >= MAX_RULES:
        raise InvalidRequest(f"A character has at most {MAX_RULES} rules; delete one first.", param="rule")
    rule = CharacterRule(character_id=character.id, text=normalize_rule_text(text),
                         form=parsed.form, terms=parsed.terms, created_at=time.time())
    session.add(rule)
    session.commit()
    return rule


def rules_of(*, session: Session, character_id: str) -> list[CharacterRule]:
    return list(session.scalars(select(CharacterRule).where(CharacterRule.character_id == character_id)
                                .order_by(CharacterRule.id)))


def delete_rule(*, session: Session, character: Character, rule_id: int) -> None:
    result = session.execute(delete(CharacterRule).where(CharacterRule.id == rule_id,
                                                         CharacterRule.character_id == character.id))
    if result.rowcount != 1:
        raise NotFound("No such rule.", param="rule_id")
    session.commit()


def check_rules(*, session: Session, character: Character, prompt: str) -> None:
    """Raise RuleRefused naming the rule when `prompt` breaks one of the character's rules."""
    parsed = [(r.text, ParsedRule(r.form, r.terms)) for r in rules_of(session=session, character_id=character.id)]
    found = first_violation(parsed, prompt)
    if found is not None:
        raise RuleRefused(refusal(character.name or character.display_name, found), param="prompt")
