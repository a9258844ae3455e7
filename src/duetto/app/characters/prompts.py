"""Characters in prompts: finding the `@name` mentions, and rewriting them into what the engine conditions on.

A Toybox model knows a toy only through its caption, so `@ann` becomes the toy's identity phrase in the
canonical Toybox caption style ("a yellow toy with a purple hat and sleepy eyes") and its voice ("a high
soft voice") joins the sound description after `Audio:`. A person is named by their display name; their
likeness enters through the first frame (see `characters.jobs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from duetto.app.videos import prompt_format

# A mention is @ and a name shaped like a handle; the look-behind keeps e-mail addresses (ann@example.org)
# and doubled signs from counting.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_]{2,29})\b")
_ARTICLE_BEFORE = re.compile(r"\b(?:the|a|an)\s+$", re.IGNORECASE)

_EYE_PHRASES = {"dots": "dot eyes", "wide": "wide eyes", "sleepy": "sleepy eyes"}


def mentions(prompt: str) -> list[str]:
    """The lowercase names a prompt mentions, each once, in order of first mention."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(prompt):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def toy_phrase(identity: Mapping[str, str]) -> str:
    """The toy as the canonical Toybox caption describes it, e.g. "a yellow toy with a purple hat and sleepy eyes"."""
    colour, eyes = identity["head_colour"], _EYE_PHRASES[identity["eyes"]]
    if identity["hat"] == "none":
        return f"{_article(colour)} {colour} toy with {eyes}"
    return f"{_article(colour)} {colour} toy with a {identity['hat']} hat and {eyes}"


def voice_phrase(identity: Mapping[str, str]) -> str:
    """The toy's voice as Toybox captions put it after `Audio:`, e.g. "a high soft voice"."""
    pitch = identity["pitch"]
    return f"{_article(pitch)} {pitch} {identity['timbre']} voice"


@dataclass(frozen=True)
class Likeness:
    """One character as the rewriting needs it: a toy's identity, or a person's display name."""

    name: str  # lowercase, without @
    kind: str  # person | toy
    display_name: str = ""
    toy: Mapping[str, Any] | None = None


def rewrite_prompt(prompt: str, cast: Sequence[Likeness]) -> str:
    """`prompt` with every `@name` of the cast replaced by what the engine understands.

    Toys become their identity phrase (an article right before the mention is dropped, and the phrase is
    capitalised at the start of a sentence) and their voices, in order of first mention, open the part
    after `Audio:` (which is added when the prompt has none). Persons become their display name. Mentions
    of names outside the cast are left alone; the caller has refused those already.
    """
    by_name = {c.name: c for c in cast}
    order = [n for n in mentions(prompt) if n in by_name]
    out: list[str] = []
    last = 0
    for match in MENTION.finditer(prompt):
        member = by_name.get(match.group(1).lower())
        if member is None:
            continue
        before = prompt[last : match.start()]
        if member.kind == "toy" and member.toy is not None:
            before = _ARTICLE_BEFORE.sub("", before)
            words = toy_phrase(member.toy)
            prefix = "".join(out) + before
            if not prefix.strip() or re.search(r"[.!?]\s*$", prefix):
                words = words[0].upper() + words[1:]
        else:
            words = member.display_name or member.name
        out += [before, words]
        last = match.end()
    text = "".join(out) + prompt[last:]

    voices = [voice_phrase(by_name[n].toy) for n in order if by_name[n].kind == "toy" and by_name[n].toy]
    if not voices:
        return text
    spoken = ", then ".join(voices)
    audio = prompt_format.TYPED_LABEL.search(text)
    if audio is None:
        body = text.rstrip()
        end = "" if body.endswith((".", "!", "?")) else "."
        return prompt_format.compose(f"{body}{end}", f"{spoken}.")
    rest = text[audio.end() :].strip()
    joined = f"{spoken}, {rest}" if rest else f"{spoken}."
    return f"{text[: audio.start()]}{text[audio.start() : audio.end()]} {joined}"
