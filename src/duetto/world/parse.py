"""Reading Toybox facts out of a caption, whether the caption generator or a person wrote it.

The parser is vocabulary-driven rather than a strict grammar: it turns words into typed tokens
(colour, shape, motion, position, …, merging phrases such as "to the left" or "sleepy eyes"), groups
the tokens around each noun ("ball", "box", "toy"), and reads every group's attributes. Words it does
not know raise `CaptionError` naming them; anything a caption leaves unsaid takes a default from
`DEFAULTS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duetto.world import vocab
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts, split_syllables

DEFAULTS = {
    "setting": "room",
    "ambience": "quiet",
    "size": "small",
    "material": {"ball": "rubber", "box": "wood"},
    "motion": "rests",
    "hat": "none",
    "eyes": "dots",
    "pitch": "mid",
    "timbre": "soft",
}


class CaptionError(ValueError):
    """A caption that cannot be read as Toybox facts; `words` lists the words it did not know."""

    def __init__(self, message: str, words: list[str] | None = None) -> None:
        super().__init__(message)
        self.words = words or []


def _table(groups: dict[str, dict[str, list[str]]]) -> dict[str, tuple[str, str]]:
    return {
        word: (kind, value)
        for kind, values in groups.items()
        for value, words in values.items()
        for word in words
    }


# Single words: word -> (kind, canonical value).
_WORDS = _table(
    {
        "colour": {c: [c] for c in vocab.COLOURS}
        | {"red": ["red", "crimson"], "purple": ["purple", "violet"]},
        "size": {"small": ["small", "little", "tiny", "mini"], "big": ["big", "large", "huge", "giant"]},
        "material": {
            "rubber": ["rubber", "rubbery"],
            "wood": ["wood", "wooden"],
            "metal": ["metal", "metallic", "steel", "iron", "tin"],
            "glass": ["glass", "glassy"],
        },
        "shape": {
            "ball": ["ball", "balls", "sphere", "spheres"],
            "box": ["box", "boxes", "cube", "cubes", "block", "blocks", "crate", "crates"],
        },
        "toy": {
            "toy": [
                "toy",
                "toys",
                "character",
                "characters",
                "puppet",
                "puppets",
                "doll",
                "dolls",
                "creature",
            ]
        },
        "motion": {
            "bounces": ["bounce", "bounces", "bouncing", "bounced", "hops", "hopping"],
            "falls": [
                "fall",
                "falls",
                "falling",
                "fell",
                "drop",
                "drops",
                "dropping",
                "dropped",
                "lands",
                "land",
                "landing",
            ],
            "rolls": ["roll", "rolls", "rolling", "rolled"],
            "slides": [
                "slide",
                "slides",
                "sliding",
                "slid",
                "skid",
                "skids",
                "skidding",
                "glides",
                "glide",
                "gliding",
            ],
            "rests": [
                "rest",
                "rests",
                "resting",
                "sits",
                "sit",
                "sitting",
                "stays",
                "stay",
                "staying",
                "lies",
                "lie",
                "lying",
                "still",
                "stationary",
                "motionless",
                "idle",
                "unmoving",
            ],
        },
        "setting": {
            "room": ["room", "indoors", "bedroom", "livingroom"],
            "night": ["night", "nighttime", "midnight"],
            "field": ["field", "meadow", "grassy", "grass", "outdoors", "lawn", "park"],
            "stage": ["stage", "theatre", "theater"],
        },
        "ambience": {
            "rain": ["rain", "raining", "rainy", "raindrops", "drizzle", "downpour", "rainfall"],
            "wind": ["wind", "windy", "breeze", "breezy", "gusts", "gust", "gusty"],
            "hum": ["hum", "humming", "hums", "drone", "droning", "buzz"],
        },
        "position": {"left": ["left"], "center": ["center", "centre", "middle"], "right": ["right"]},
        "direction": {"left": ["leftward", "leftwards"], "right": ["rightward", "rightwards"]},
        "number": {"many": ["two", "three", "four", "several", "many", "pair", "couple"]},
    }
)
# Words that only tie a sentence together: a new clause may start after a boundary.
_BOUNDARIES = {
    ",",
    ".",
    ";",
    "!",
    "?",
    ":",
    "and",
    "then",
    "while",
    "meanwhile",
    "also",
    "next",
    "finally",
    "later",
}
_ARTICLES = {"a", "an", "the", "one", "another"}
_FILLERS = set(
    """
    of on in at to into onto is are it its it's there that which who as from up down floor ground wall walls
    hits hit hitting bumps bump bumping against crashes crashing along across over around side sides made out
    after before again repeatedly once gently slowly quickly fast loudly softly quietly silently silent just
    very here too by near next front until stops stop stopping comes come rest keeps keep this we see can has
    have wearing wears wear their standing stands stand appears scene clip video shows showing edge hand
    s with says say said saying speaks speak speaking sings sing singing talks talk talking calls call calling
    out chirps whispers shouts utters the words word goes go each every time times dark inside outside
    living empty quiet calm nothing then where when first toward towards away sound sounds noise noises
    top above air mid there's theres
    """.split()
)
# Words allowed after "Audio:" that describe sounds the parser has no need to read.
_SOUND_WORDS = set(
    """
    boing boings boink bouncy knock knocks knocking thud thuds thump thumps clang clangs clanging clank
    ring rings ringing clink clinks clinking tink tinkle tinkling chime chimes rumble rumbles rumbling scrape
    scrapes scraping screech hit hits impact impacts single loud steady light heavy distant electric
    electrical constant background ambience ambient pattering falling blowing howling whistling hollow
    bounce bounces bouncing rolling sliding thunk plink plinks clatter voice voices speech speaking talking
    no none nothing silence silent quiet calm low high soft gentle
    """.split()
)
# Sound words may also appear in the narration ("lands with a clang"), except those that could be
# misread there as describing a thing ("a soft ball").
_NARRATION_SOUND_WORDS = _SOUND_WORDS - {"low", "high", "soft", "no", "none", "voice", "voices", "speech"}
_WHERE_FILLERS = {"on", "in", "at", "near", "by", "of", "side", "hand", "inside", "outside", "dark"}
_QUIET_WORDS = {"quiet", "silence", "silent", "calm", "nothing"}
_DIR_PREPS = {"to", "toward", "towards", "into", "onto"}
_EYE_STYLES = _table(
    {
        "eyes": {
            "dots": ["dot", "dots", "dotted", "dotty", "beady", "small", "tiny", "little"],
            "wide": ["wide", "big", "large", "round", "open"],
            "sleepy": ["sleepy", "tired", "droopy", "half", "closed", "heavy"],
        }
    }
)
_VOICE_WORDS = _table(
    {
        "pitch": {
            "low": ["low", "deep"],
            "mid": ["mid", "medium", "middle", "normal"],
            "high": ["high", "squeaky"],
        },
        "timbre": {
            "soft": ["soft", "gentle", "breathy", "smooth"],
            "buzzy": ["buzzy", "buzzing", "raspy", "rough", "harsh"],
        },
    }
)
_SPEECH = "\u00a7"  # placeholder for an <S>…<E> span; stripped from user text first


@dataclass
class _Tok:
    kind: str  # colour, size, material, shape, toy, motion, setting, ambience, position, direction,
    # hat, head, eyes, voice, speech, article, boundary, filler, number, unknown
    value: object
    word: str


def _tokenize(text: str) -> list[str]:
    text = text.lower().replace("-", " ").replace("'s", " ").replace("\u2019s", " ")
    return re.findall(rf"{_SPEECH}\d+|[a-z]+|\d+|[,.;:!?]", text)


def _merge_phrases(words: list[str]) -> list[_Tok]:
    """Turn words into tokens, merging the multi-word phrases first (direction, hats, eyes, voices)."""
    out: list[_Tok] = []
    i, n = 0, len(words)

    def at(k: int) -> str:
        return words[k] if k < n else ""

    while i < n:
        w = words[i]
        # 1. Directions: "to the left (wall)", "into the right wall" -> a direction of travel
        j = i + 1 + (at(i + 1) == "the")
        if w in _DIR_PREPS and at(j) in ("left", "right"):
            out.append(_Tok("direction", at(j), " ".join(words[i : j + 1])))
            i = j + 1
            continue
        moving = out and out[-1].kind == "motion" and out[-1].value in ("rolls", "slides")
        if w in ("left", "right") and (at(i + 1) == "wall" or moving):  # "the left wall", "slides left"
            wall = at(i + 1) == "wall"
            out.append(_Tok("direction", w, f"{w} wall" if wall else w))
            i += 2 if wall else 1
            continue
        # 2. No hat: "no hat", "without a hat", "hatless"
        if w == "hatless" or (
            w in ("no", "without") and "hat" in (at(i + 1), at(i + 2)) and at(i + 1) in ("hat", "a")
        ):
            end = i + 1 if w == "hatless" else words.index("hat", i) + 1
            out.append(_Tok("hat", "none", " ".join(words[i:end])))
            i = end
            continue
        kind, value = _WORDS.get(w, ("", ""))
        # 3. Coloured hats and heads: "a purple hat", "a red head"
        if kind == "colour" and at(i + 1) in ("hat", "cap", "hats", "caps"):
            out.append(_Tok("hat", value, f"{w} {at(i + 1)}"))
            i += 2
            continue
        if kind == "colour" and at(i + 1) in ("head", "headed"):
            out.append(_Tok("head", value, f"{w} {at(i + 1)}"))
            i += 2
            continue
        if w in ("hat", "cap", "hats", "caps"):
            raise CaptionError("say which colour the hat is, for example 'a red hat'")
        # 4. Eyes: "sleepy half closed eyes", "big round eyes"
        j = i
        while at(j) in _EYE_STYLES:
            j += 1
        if j > i and at(j) in ("eyes", "eye"):
            styles = [_EYE_STYLES[words[k]][1] for k in range(i, j)]
            style = next((s for s in styles if s != "dots"), styles[0])
            out.append(_Tok("eyes", style, " ".join(words[i : j + 1])))
            i = j + 1
            continue
        if w in ("eyes", "eye"):
            if out and out[-1].kind == "colour":
                raise CaptionError(f"a toy's eyes are dots, wide or sleepy, not {out[-1].word}")
            out.append(_Tok("eyes", DEFAULTS["eyes"], w))
            i += 1
            continue
        # 5. Voices: "a high pitched soft voice"
        j = i
        while at(j) in _VOICE_WORDS or at(j) == "pitched":
            j += 1
        if at(j) in ("voice", "voices"):
            pitch = next(
                (
                    _VOICE_WORDS[words[k]][1]
                    for k in range(i, j)
                    if _VOICE_WORDS.get(words[k], ("",))[0] == "pitch"
                ),
                None,
            )
            timbre = next(
                (
                    _VOICE_WORDS[words[k]][1]
                    for k in range(i, j)
                    if _VOICE_WORDS.get(words[k], ("",))[0] == "timbre"
                ),
                None,
            )
            out.append(_Tok("voice", (pitch, timbre), " ".join(words[i : j + 1])))
            i = j + 1
            continue
        # 6. Any other word is a token of its own.
        if w.startswith(_SPEECH):
            out.append(_Tok("speech", int(w[1:]), w))
        elif w.isdigit():
            out.append(_Tok("number", "many", w))
        elif kind:
            out.append(_Tok(kind, value, w))
        elif w in _BOUNDARIES:
            out.append(_Tok("boundary", w, w))
        elif w in _ARTICLES:
            out.append(_Tok("article", w, w))
        elif w in _FILLERS:
            out.append(_Tok("filler", w, w))
        else:
            out.append(_Tok("unknown", w, w))
        i += 1
    return out


def _extract_speech(text: str) -> tuple[str, list[list[str]]]:
    """Replace every <S>…<E> span with a placeholder; return the text and each span's words."""
    text = text.replace(_SPEECH, " ")
    spans: list[list[str]] = []

    def keep(match: re.Match[str]) -> str:
        words = re.findall(r"[a-z]+", match.group(1).lower())
        bad = []
        for word in words:
            try:
                split_syllables(word)
            except ValueError:
                bad.append(word)
        if bad:
            raise CaptionError(
                f"spoken words must be consonant–vowel syllables like 'ba' or 'lomi' "
                f"(consonants {''.join(vocab.CONSONANTS)}, vowels {''.join(vocab.VOWELS)}): {', '.join(bad)}",
                bad,
            )
        spans.append(words)
        return f" {_SPEECH}{len(spans) - 1} "

    text = re.sub(r"<\s*s\s*>(.*?)<\s*e\s*>", keep, text, flags=re.IGNORECASE | re.DOTALL)

    def keep_quoted(match: re.Match[str]) -> str:
        # Quoted words count as speech only when they are all Toybox syllables ("ba lo mi").
        words = re.findall(r"[a-z]+", match.group(1).lower())
        return keep(match) if words and all(_is_spoken(w) for w in words) else match.group(0)

    text = re.sub(r"[\"\u201c](.*?)[\"\u201d]", keep_quoted, text, flags=re.DOTALL)
    if re.search(r"<\s*[se]\s*>", text, flags=re.IGNORECASE):
        raise CaptionError("every <S> needs a closing <E> around the spoken words")
    return text, spans


def _is_spoken(word: str) -> bool:
    try:
        split_syllables(word)
    except ValueError:
        return False
    return True


def _unique(values: list, what: str, who: str) -> object | None:
    distinct = list(dict.fromkeys(values))
    if len(distinct) > 1:
        raise CaptionError(f"the {who} has conflicting {what}s: {' and '.join(map(str, distinct))}")
    return distinct[0] if distinct else None


def _motion(values: list[str], who: str) -> str | None:
    kinds = set(values)
    if len(kinds) > 1:
        kinds.discard("rests")  # "falls and stays there"
    if kinds & {"bounces", "rolls", "slides"}:
        kinds.discard("falls")  # "is dropped and bounces", "slides and lands with a thud"
    return _unique(sorted(kinds), "motion", who)


def _groups(tokens: list[_Tok]) -> list[list[_Tok]]:
    """Split narration tokens into one group per noun (ball, box, toy).

    A noun owns the adjectives right before it and what follows it up to the next noun's adjectives,
    except that words after the last clause boundary which only say where ("…, and on the right a box")
    belong to the next noun. Words before the first noun belong to the first.
    """
    nouns = [k for k, t in enumerate(tokens) if t.kind in ("shape", "toy")]
    starts = []
    for k in nouns:
        s = k
        while s > 0 and tokens[s - 1].kind in ("colour", "size", "material", "article"):
            s -= 1
        starts.append(s)

    # A phrase that only says where ("…, and on the left, a toy …") may be fronted to the next noun.
    def fronted(t: _Tok) -> bool:
        return t.kind in ("position", "setting", "article", "boundary") or t.word in _WHERE_FILLERS

    cuts = [0]
    for noun, nxt in zip(nouns[:-1], starts[1:], strict=True):
        cut = nxt
        for b in range(noun + 1, nxt):
            if tokens[b].kind == "boundary" and all(fronted(t) for t in tokens[b + 1 : nxt]):
                cut = b + 1
                break
        cuts.append(cut)
    cuts.append(len(tokens))
    return [tokens[cuts[g] : cuts[g + 1]] for g in range(len(nouns))]


def parse_caption(text: str) -> SceneFacts:
    """Read the facts a caption states; raise CaptionError naming any word outside the vocabulary."""
    if not text or not text.strip():
        raise CaptionError("the caption is empty; describe a scene, e.g. 'a red ball bounces in a room'")
    body, spans = _extract_speech(text)
    match = re.search(r"\b(?:audio|sounds?)\s*:", body, flags=re.IGNORECASE)
    narration, audio = (body[: match.start()], body[match.end() :]) if match else (body, "")
    ntoks = _merge_phrases(_tokenize(narration))
    atoks = _merge_phrases(_tokenize(audio))

    if any(t.kind == "speech" for t in atoks):
        raise CaptionError("put spoken words <S>…<E> in the narration, before 'Audio:'")
    unknown = [t.word for t in ntoks if t.kind == "unknown" and t.word not in _NARRATION_SOUND_WORDS]
    unknown += [t.word for t in atoks if t.kind == "unknown" and t.word not in _SOUND_WORDS]
    if unknown:
        words = list(dict.fromkeys(unknown))
        raise CaptionError(
            f"unknown word{'s' if len(words) > 1 else ''} in caption: {', '.join(words)}; "
            "describe shapes, colours, sizes, materials, motions and positions from the Toybox vocabulary",
            words,
        )
    if any(t.kind == "number" for t in ntoks):
        raise CaptionError("describe each object on its own, e.g. 'a red ball and a blue ball', not by count")

    setting = (
        _unique([t.value for t in ntoks if t.kind == "setting"], "setting", "scene") or DEFAULTS["setting"]
    )
    ambiences = [t.value for t in ntoks + atoks if t.kind == "ambience"]
    ambiences += ["quiet" for t in atoks if t.word in _QUIET_WORDS] if not ambiences else []
    ambience = _unique(ambiences, "ambience", "scene") or DEFAULTS["ambience"]
    voices = _audio_voices(atoks)

    objects: list[dict] = []
    toys: list[dict] = []
    for group in _groups(ntoks):
        noun = next(t for t in group if t.kind in ("shape", "toy"))
        if noun.kind == "toy":
            toys.append(_read_toy(group, spans))
        else:
            objects.append(_read_object(group, noun.value))
    if not objects and not toys and any(t.kind in ("colour", "size", "material", "motion") for t in ntoks):
        raise CaptionError("say what the thing is: a ball, a box or a toy")

    _fill_defaults(objects, toys, setting, voices)
    try:
        return SceneFacts(
            setting=setting,
            ambience=ambience,
            objects=[ObjectFacts(**o) for o in objects],
            toys=[ToyFacts(**t) for t in toys],
        )
    except CaptionError:
        raise
    except ValueError as err:
        raise CaptionError(str(err)) from None


def _audio_voices(tokens: list[_Tok]) -> list[tuple[str | None, str | None]]:
    return [t.value for t in tokens if t.kind == "voice"]  # type: ignore[misc]


def _read_object(group: list[_Tok], shape: str) -> dict:
    who = f"{shape}"
    for t in group:
        if t.kind in ("speech", "hat", "eyes", "voice", "head"):
            raise CaptionError(
                f"only toys have hats, eyes and voices, but the caption gives the {shape} '{t.word}'"
            )
    return {
        "shape": shape,
        "colour": _unique([t.value for t in group if t.kind == "colour"], "colour", who),
        "size": _unique([t.value for t in group if t.kind == "size"], "size", who),
        "material": _unique([t.value for t in group if t.kind == "material"], "material", who),
        "motion": _motion([t.value for t in group if t.kind == "motion"], who),  # type: ignore[arg-type]
        "position": _unique([t.value for t in group if t.kind == "position"], "position", who),
        "direction": _unique([t.value for t in group if t.kind == "direction"], "direction", who),
    }


def _read_toy(group: list[_Tok], spans: list[list[str]]) -> dict:
    colours = [t.value for t in group if t.kind in ("colour", "head")]
    voice = _unique([t.value for t in group if t.kind == "voice"], "voice", "toy")
    return {
        "head_colour": _unique(colours, "head colour", "toy"),
        "hat": _unique([t.value for t in group if t.kind == "hat"], "hat", "toy"),
        "eyes": _unique([t.value for t in group if t.kind == "eyes"], "eye", "toy"),
        "pitch": voice[0] if voice else None,  # type: ignore[index]
        "timbre": voice[1] if voice else None,  # type: ignore[index]
        "position": _unique([t.value for t in group if t.kind == "position"], "position", "toy"),
        "words": [w for t in group if t.kind == "speech" for w in spans[t.value]],  # type: ignore[index]
        "_voiced": voice is not None,
    }


def _fill_defaults(objects: list[dict], toys: list[dict], setting: str, voices: list) -> None:
    """Fill what the caption left unsaid, deterministically, so one text always gives one scene."""
    for obj in objects:
        obj["size"] = obj["size"] or DEFAULTS["size"]
        obj["material"] = obj["material"] or DEFAULTS["material"][obj["shape"]]
        obj["motion"] = obj["motion"] or DEFAULTS["motion"]
    # Voices described after "Audio:" go, in order, to the toys whose narration gave none.
    unvoiced = [t for t in toys if not t["_voiced"]]
    if len(voices) > len(unvoiced):
        raise CaptionError(
            f"the caption describes {len(voices)} voices but only {len(unvoiced)} toys that could speak them"
        )
    for toy, (pitch, timbre) in zip(unvoiced, voices, strict=False):
        toy["pitch"], toy["timbre"] = pitch, timbre
    for toy in toys:
        del toy["_voiced"]
        toy["hat"] = toy["hat"] or DEFAULTS["hat"]
        toy["eyes"] = toy["eyes"] or DEFAULTS["eyes"]
        toy["pitch"] = toy["pitch"] or DEFAULTS["pitch"]
        toy["timbre"] = toy["timbre"] or DEFAULTS["timbre"]
    # Colours: the first the scene has not used and the setting does not hide.
    taken = {o["colour"] for o in objects} | {t["head_colour"] for t in toys} | {t["hat"] for t in toys}
    for thing in objects + toys:
        key = "colour" if "colour" in thing else "head_colour"
        if thing[key] is None:
            free = [c for c in vocab.COLOURS if c not in taken and c not in vocab.SETTING_CLASHES[setting]]
            thing[key] = free[0] if free else next(iter(vocab.COLOURS))
            taken.add(thing[key])
    # Positions: unplaced things take the free slots left to right; a lone thing stands in the middle.
    things = objects + toys
    used = {t["position"] for t in things if t["position"]}
    free = [p for p in vocab.POSITIONS if p not in used]
    if len(things) == 1 and not used:
        free = ["center"]
    elif len(things) == 2 and not used:
        free = ["left", "right"]
    for thing in things:
        if thing["position"] is None:
            if not free:
                raise CaptionError("a scene has room for three things at most (left, center, right)")
            thing["position"] = free.pop(0)
