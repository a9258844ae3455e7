"""The Toybox vocabulary and conventions: every name a caption may use and every number the evaluator relies on.

Values follow specs/toybox-world.md; change them only together with the evaluator. Coordinates are
normalised: x in units of the canvas width W, y (and all sizes) in units of the canvas height H,
origin top-left, y growing downwards.
"""

from __future__ import annotations

from typing import NamedTuple

RGB = tuple[int, int, int]


class Backdrop(NamedTuple):
    """A setting's two flat colours: above the floor line (wall or sky) and below it (floor or ground)."""

    wall: RGB
    floor: RGB


# --- Scene (spec §1) -------------------------------------------------------------------------------

FLOOR_Y = 0.80
SETTINGS: dict[str, Backdrop] = {
    "room": Backdrop((205, 190, 160), (120, 80, 50)),
    "night": Backdrop((20, 24, 60), (40, 40, 48)),
    "field": Backdrop((150, 200, 240), (70, 150, 60)),
    "stage": Backdrop((60, 30, 70), (110, 110, 110)),
}
MAX_SENSOR_NOISE = 3.0 / 255.0

# --- Objects (spec §2) -----------------------------------------------------------------------------

COLOURS: dict[str, RGB] = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (50, 90, 230),
    "yellow": (240, 205, 40),
    "white": (245, 245, 245),
    "purple": (150, 60, 200),
}
SHAPES: tuple[str, ...] = ("ball", "box")
# Radius of a ball, half the side of a box, as a fraction of H.
SIZES: dict[str, float] = {"small": 0.05, "big": 0.09}
MATERIALS: tuple[str, ...] = ("rubber", "wood", "metal", "glass")
RESTITUTION: dict[str, float] = {"rubber": 0.75, "wood": 0.55, "metal": 0.45, "glass": 0.35}
MOTIONS: tuple[str, ...] = ("bounces", "falls", "rolls", "slides", "rests")
# Which shapes may do which motion: only balls roll, only boxes slide.
MOTION_SHAPES: dict[str, tuple[str, ...]] = {
    "bounces": SHAPES,
    "falls": SHAPES,
    "rolls": ("ball",),
    "slides": ("box",),
    "rests": SHAPES,
}
POSITIONS: dict[str, float] = {"left": 0.25, "center": 0.5, "right": 0.75}
DIRECTIONS: tuple[str, ...] = ("left", "right")
MAX_OBJECTS = 3

# Two colours closer than this (Euclidean RGB) could be confused by colour segmentation; an object
# may not take a colour this close to either backdrop colour of its setting (in practice: green in a
# field). The closest pair of object colours (blue, purple) is 108 apart, so 100 keeps all of them.
CLASH_DISTANCE = 100.0


def _clashes(backdrop: Backdrop) -> tuple[str, ...]:
    def dist(a: RGB, b: RGB) -> float:
        return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5

    return tuple(
        name
        for name, rgb in COLOURS.items()
        if min(dist(rgb, backdrop.wall), dist(rgb, backdrop.floor)) < CLASH_DISTANCE
    )


SETTING_CLASHES: dict[str, tuple[str, ...]] = {name: _clashes(b) for name, b in SETTINGS.items()}

# --- Physics (spec §2, motions) --------------------------------------------------------------------

GRAVITY = 2.5  # H per s²
DROP_Y_RANGE = (0.15, 0.45)  # centre height an object is dropped from
MIN_BOUNCE_HEIGHT = 0.01  # bouncing stops once the next bounce would be lower than this (H)
ROLL_SPEED_RANGE = (0.25, 0.5)  # W per s
SLIDE_SPEED_RANGE = (0.4, 0.7)  # W per s
POSITION_JITTER = 0.03  # W; how far realize() may move an object from its named position

# --- Sounds (spec §3) ------------------------------------------------------------------------------

REFERENCE_SAMPLE_RATE = 16000
AMBIENCES: tuple[str, ...] = ("quiet", "rain", "wind", "hum")
# Level of each ambience as 20·log10(RMS) of the waveform (full-scale square wave = 0 dBFS).
AMBIENCE_DBFS: dict[str, float | None] = {"quiet": None, "rain": -30.0, "wind": -28.0, "hum": -32.0}
IMPACT_PEAK_RANGE = (0.1, 0.9)
IMPACT_GAIN = 0.5  # peak amplitude per unit of impact speed (H/s), before clipping to IMPACT_PEAK_RANGE

# --- Toys (spec §4) --------------------------------------------------------------------------------

TOY_HEAD_RADIUS = 0.16  # of H; the head stands on the floor
# Face colours, kept apart from every object and backdrop colour so segmentation can tell them apart.
EYE_BLACK: RGB = (25, 25, 25)
EYE_WHITE: RGB = (255, 255, 255)
MOUTH_COLOUR: RGB = (70, 20, 30)
HATS: tuple[str, ...] = ("none", *COLOURS)
# Every colour a render without sensor noise can hold: backdrops, objects (hats and heads too), faces.
PALETTE: tuple[RGB, ...] = (
    *(colour for backdrop in SETTINGS.values() for colour in backdrop),
    *COLOURS.values(),
    EYE_BLACK,
    EYE_WHITE,
    MOUTH_COLOUR,
)
EYES: tuple[str, ...] = ("dots", "wide", "sleepy")
PITCHES: dict[str, float] = {"low": 110.0, "mid": 170.0, "high": 260.0}
TIMBRES: tuple[str, ...] = ("soft", "buzzy")
CONSONANTS: tuple[str, ...] = ("b", "d", "m", "n", "l", "p", "t")
VOWELS: tuple[str, ...] = ("a", "e", "i", "o", "u")
FORMANTS: dict[str, tuple[float, float]] = {
    "a": (730.0, 1090.0),
    "e": (530.0, 1840.0),
    "i": (270.0, 2290.0),
    "o": (570.0, 840.0),
    "u": (300.0, 870.0),
}
MOUTH_OPENING: dict[str, float] = {"a": 1.0, "o": 0.8, "e": 0.6, "u": 0.5, "i": 0.4}
CONSONANT_RANGE_S = (0.030, 0.060)
SYLLABLE_RANGE_S = (0.180, 0.260)
WORD_PAUSE_RANGE_S = (0.060, 0.200)
