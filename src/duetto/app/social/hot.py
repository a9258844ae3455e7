"""A post's stored `hot` score: engagement with a 36-hour half-life, kept on the post so one index orders
posts at any moment (the feed's ranking starts from it, see `feed.ranking`)."""

from __future__ import annotations

import math

HALF_LIFE_S = 36 * 3600.0
DECAY_PER_S = math.log(2) / HALF_LIFE_S
# Engagement weights: a remix says the post inspired creation, which the feed favours most.
LIKE_WEIGHT, COMPLETION_WEIGHT, REMIX_WEIGHT, COMMENT_WEIGHT = 1.0, 0.5, 3.0, 1.0


def engagement(*, likes: int, completions: int, remixes: int, comments: int) -> float:
    return LIKE_WEIGHT * likes + COMPLETION_WEIGHT * completions + REMIX_WEIGHT * remixes + COMMENT_WEIGHT * comments


def hot_score(*, likes: int, completions: int, remixes: int, comments: int, created_at: float) -> float:
    """ln(1 + engagement) + created_at·decay: time-invariant, so an index on it orders posts correctly at
    any moment (subtracting now·decay from every post does not change their order)."""
    value = engagement(likes=likes, completions=completions, remixes=remixes, comments=comments)
    return math.log1p(value) + created_at * DECAY_PER_S
