"""For You ranking as pure functions: engagement with recency decay, the viewer's boosts and cuts, and
creator diversity. The database part (candidates, the viewer's state) lives in `feed.service`.

Scores are logarithmic: a post's score is ln(1 + engagement) minus its age over the decay constant,
plus the viewer's adjustments. Adding to a log-score multiplies the underlying weight, so a follow boost
of ln 3 makes a post count as if it had three times the engagement.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from duetto.app.social.hot import DECAY_PER_S

FOLLOW_BOOST = math.log(3.0)
SEEN_PENALTY = 2.0
# Each earlier post of the same creator on the page costs this much.
DIVERSITY_PENALTY = 1.2
# One "see less like this" costs that post this much in all, spread over its terms, so posts sharing
# most of its words lose nearly as much and posts sharing a word or two barely move.
LESS_POST_STEP = -1.5
LESS_CREATOR_STEP = -0.7
LESS_LIMIT = -4.0
# However many of a post's terms a viewer's words touch, they move it at most this far either way.
TERMS_FLOOR, TERMS_CEILING = -6.0, 4.0


@dataclass(frozen=True)
class Candidate:
    seq: int
    id: str
    user_id: str
    hot: float
    terms: str


@dataclass
class Viewer:
    """What the ranking knows of the person looking: empty for a signed-out or non-personalised feed."""

    followees: frozenset[str] = frozenset()
    steering: Mapping[str, float] = field(default_factory=dict)
    less_terms: Mapping[str, float] = field(default_factory=dict)
    less_creators: Mapping[str, float] = field(default_factory=dict)
    seen: frozenset[int] = frozenset()
    personalized: bool = True


def _term_weights(viewer: Viewer) -> dict[str, float]:
    weights = dict(viewer.steering)
    for term, value in viewer.less_terms.items():
        weights[term] = weights.get(term, 0.0) + value
    return weights


def score(candidate: Candidate, viewer: Viewer, *, now: float, term_weights: Mapping[str, float]) -> float:
    """The candidate's log-score for this viewer, before diversity."""
    value = candidate.hot - now * DECAY_PER_S
    if not viewer.personalized:
        return value
    if candidate.user_id in viewer.followees:
        value += FOLLOW_BOOST
    if term_weights:
        total = sum(term_weights.get(term, 0.0) for term in set(candidate.terms.split()))
        value += min(TERMS_CEILING, max(TERMS_FLOOR, total))
    value += viewer.less_creators.get(candidate.user_id, 0.0)
    if candidate.seq in viewer.seen:
        value -= SEEN_PENALTY
    return value


def rank(candidates: Iterable[Candidate], viewer: Viewer, *, now: float, limit: int,
         exclude: frozenset[int] = frozenset()) -> list[tuple[Candidate, float]]:
    """The best `limit` candidates in order, each creator's later posts pushed down by the diversity penalty.

    Penalties only grow as the page fills, so a lazy heap works: a popped post whose penalty changed since
    it was pushed goes back with its new score; one whose penalty is current is the true best.
    """
    weights = _term_weights(viewer) if viewer.personalized else {}
    heap: list[tuple[float, int, int, Candidate]] = []
    for candidate in candidates:
        if candidate.seq in exclude:
            continue
        heap.append((-score(candidate, viewer, now=now, term_weights=weights), candidate.seq, 0, candidate))
    heapq.heapify(heap)
    per_creator: dict[str, int] = {}
    ranked: list[tuple[Candidate, float]] = []
    while heap and len(ranked) < limit:
        negative, seq, applied, candidate = heapq.heappop(heap)
        shown = per_creator.get(candidate.user_id, 0)
        if shown != applied:
            base = -negative + applied * DIVERSITY_PENALTY
            heapq.heappush(heap, (-(base - shown * DIVERSITY_PENALTY), seq, shown, candidate))
            continue
        per_creator[candidate.user_id] = shown + 1
        ranked.append((candidate, -negative))
    return ranked


def see_less(less_terms: dict[str, float], less_creators: dict[str, float], *, terms: str,
             creator: str) -> tuple[dict[str, float], dict[str, float]]:
    """The viewer's "see less" weights after one more "see less like this" on a post."""
    terms_out = dict(less_terms)
    unique = set(terms.split())
    for term in unique:
        terms_out[term] = round(max(LESS_LIMIT, terms_out.get(term, 0.0) + LESS_POST_STEP / len(unique)), 4)
    creators_out = dict(less_creators)
    creators_out[creator] = max(LESS_LIMIT, creators_out.get(creator, 0.0) + LESS_CREATOR_STEP)
    return terms_out, creators_out
