"""The feeds from the database: For You candidates and the viewer's state fed to `ranking`, the Following
tab, the viewer's feed settings (steering, daily limit, personalisation) and "see less like this".

For You stays fast at any size because only a few hundred posts are ever scored per request: the
best by the stored, time-invariant `hot` score (one index walk) plus the newest from people the viewer
follows; everything after that is arithmetic in Python.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import FeedPrefs, Follow, Post, TeenControls, View, WatchTime
from duetto.app.feed import ranking
from duetto.app.feed.steering import MOOD_EXAMPLES, parse_steering, topics
from duetto.app.social import graph
from duetto.app.social.posts import get_post, lock_post, recount
from duetto.app.wellbeing import checkins, teens

CANDIDATES_BY_HOT = 500
CANDIDATES_FOLLOWING = 150
MAX_STEERING = 300
MAX_LIMIT_MINUTES = 24 * 60
# One watch report can add at most this much; the page reports every few seconds while playing.
MAX_WATCH_REPORT_S = 30.0
# "See less" memory is bounded: the strongest dislikes are kept.
MAX_LESS_TERMS = 300


def get_prefs(*, session: Session, user_id: str) -> FeedPrefs:
    prefs = session.get(FeedPrefs, user_id)
    if prefs is None:
        prefs = FeedPrefs(user_id=user_id, steering="", steering_weights={}, less_terms={}, less_creators={},
                          daily_limit_minutes=None, personalized=True)
    return prefs


def is_personalized(*, session: Session, user_id: str | None) -> bool:
    """Whether the viewer's For You is personalised: their own switch, and for a teen their parent's too."""
    if user_id is None or not get_prefs(session=session, user_id=user_id).personalized:
        return False
    controls = teens.controls(session=session, user_id=user_id)
    return controls is None or controls.personalized


def set_steering(*, session: Session, user_id: str, phrase: str) -> FeedPrefs:
    """Store the viewer's steering phrase and the weights it parses into (an empty phrase clears it)."""
    phrase = " ".join(phrase.split())
    if len(phrase) > MAX_STEERING:
        raise InvalidRequest(f"Keep it under {MAX_STEERING} characters.", param="steering")
    weights = parse_steering(phrase)
    if phrase and not weights:
        raise InvalidRequest("Could not tell what to show more or less of; try e.g. \"more calm videos, no rain\".",
                             param="steering")
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.steering, prefs.steering_weights = phrase, weights
    session.merge(prefs)
    session.commit()
    return prefs


def set_settings(*, session: Session, user_id: str, daily_limit_minutes: int | None, personalized: bool) -> FeedPrefs:
    if daily_limit_minutes is not None and not 1 <= daily_limit_minutes <= MAX_LIMIT_MINUTES:
        raise InvalidRequest(f"Daily limit must be between 1 and {MAX_LIMIT_MINUTES} minutes, or empty for none.",
                             param="daily_limit_minutes")
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.daily_limit_minutes, prefs.personalized = daily_limit_minutes, personalized
    session.merge(prefs)
    session.commit()
    return prefs


def reset_less(*, session: Session, user_id: str) -> None:
    prefs = get_prefs(session=session, user_id=user_id)
    prefs.less_terms, prefs.less_creators = {}, {}
    session.merge(prefs)
    session.commit()


def see_less(*, session: Session, viewer_id: str, post_id: str) -> None:
    """"See less like this": the post leaves the viewer's feed, and its creator and words count less."""
    post = get_post(session=session, post_id=post_id, viewer_id=viewer_id)
    prefs = get_prefs(session=session, user_id=viewer_id)
    terms, creators = ranking.see_less(dict(prefs.less_terms), dict(prefs.less_creators), terms=post.terms,
                                       creator=post.user_id)
    if len(terms) > MAX_LESS_TERMS:
        terms = dict(sorted(terms.items(), key=lambda item: item[1])[:MAX_LESS_TERMS])
    prefs.less_terms, prefs.less_creators = terms, creators
    session.merge(prefs)
    # The view row is the one a watch beacon writes too: taken under the post's row, and counted from rows.
    lock_post(session=session, seq=post.seq)
    view = session.get(View, (viewer_id, post.seq), populate_existing=True)
    if view is None:
        session.add(View(user_id=viewer_id, post_seq=post.seq, completed=False, less=True, seen_at=time.time()))
    else:
        view.less = True
    session.flush()
    recount(session=session, seqs={post.seq})
    session.commit()


_COLUMNS = (Post.seq, Post.id, Post.user_id, Post.hot, Post.terms)


def _candidates(*, session: Session, viewer_id: str | None, personalized: bool) -> dict[int, ranking.Candidate]:
    rows = session.execute(select(*_COLUMNS).order_by(Post.hot.desc()).limit(CANDIDATES_BY_HOT)).all()
    if viewer_id and personalized:
        followed = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
        rows += session.execute(select(*_COLUMNS).where(Post.user_id.in_(followed))
                                .order_by(Post.seq.desc()).limit(CANDIDATES_FOLLOWING)).all()
    return {row.seq: ranking.Candidate(seq=row.seq, id=row.id, user_id=row.user_id, hot=row.hot, terms=row.terms)
            for row in rows}


def _undiscoverable_teens(*, session: Session, viewer_id: str | None, authors: set[str]) -> set[str]:
    """Teens among `authors` whose posts this viewer's For You leaves out: a teen appears there only to people
    they follow, unless their parent allowed more."""
    hidden = set()
    for teen_id in teens.teen_ids(session=session, among=authors - {viewer_id}):
        stored = session.get(TeenControls, teen_id)  # they are teens: no row is the defaults (not discoverable)
        if not (stored and stored.discoverable) and (
                viewer_id is None or session.get(Follow, (teen_id, viewer_id)) is None):
            hidden.add(teen_id)
    return hidden


def viewer_state(*, session: Session, viewer_id: str | None, candidate_seqs: list[int],
                 personalized: bool) -> ranking.Viewer:
    """What ranking knows of the viewer; `personalized` is `is_personalized` of them, asked once per request."""
    if viewer_id is None or not personalized:
        return ranking.Viewer(personalized=False)
    prefs = get_prefs(session=session, user_id=viewer_id)
    views = session.execute(select(View.post_seq, View.less).where(
        View.user_id == viewer_id, View.post_seq.in_(candidate_seqs))).all()
    return ranking.Viewer(
        followees=frozenset(graph.followee_ids(session=session, viewer_id=viewer_id)),
        steering=prefs.steering_weights or {}, less_terms=prefs.less_terms or {},
        less_creators=prefs.less_creators or {}, seen=frozenset(seq for seq, _ in views),
        personalized=True,
    )


def for_you(*, session: Session, viewer_id: str | None, limit: int = 8, shown: list[str] | tuple[str, ...] = (),
            now: float | None = None) -> list[Post]:
    """The next `limit` posts of the viewer's For You feed, leaving out the post ids already `shown`."""
    now = time.time() if now is None else now
    personalized = is_personalized(session=session, user_id=viewer_id)
    candidates = _candidates(session=session, viewer_id=viewer_id, personalized=personalized)
    hidden_users = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    if viewer_id:
        hidden_users.add(viewer_id)
    hidden_users |= _undiscoverable_teens(session=session, viewer_id=viewer_id,
                                          authors={c.user_id for c in candidates.values()})
    shown_ids = set(shown)
    exclude = {seq for seq, c in candidates.items() if c.user_id in hidden_users or c.id in shown_ids}
    viewer = viewer_state(session=session, viewer_id=viewer_id, candidate_seqs=list(candidates),
                          personalized=personalized)
    if viewer_id and viewer.personalized:
        less = session.scalars(select(View.post_seq).where(
            View.user_id == viewer_id, View.less.is_(True), View.post_seq.in_(list(candidates))))
        exclude.update(less)
    ranked = ranking.rank(candidates.values(), viewer, now=now, limit=limit, exclude=frozenset(exclude))
    seqs = [candidate.seq for candidate, _ in ranked]
    posts = {p.seq: p for p in session.scalars(select(Post).where(Post.seq.in_(seqs)))}
    return [posts[seq] for seq in seqs if seq in posts]


@dataclass(frozen=True)
class SteeringReach:
    """Whether the viewer's steering words touch any post their For You feed ranks, and words that would."""

    words: tuple[str, ...]  # the topic words of the phrase, as written
    unmatched: tuple[str, ...]  # those that no ranked post carries (nor, for a mood word, any of its terms)
    suggestions: tuple[str, ...]  # words the ranked posts do carry, the most common first

    @property
    def matches_nothing(self) -> bool:
        return bool(self.words) and len(self.unmatched) == len(self.words)

    @property
    def note(self) -> str | None:
        """The sentence to show beside the steering box, or None when every word reaches some post."""
        if not self.unmatched:
            return None
        examples = f"such as {', '.join(self.suggestions)}, " if self.suggestions else ""
        hint = f"Try words from the videos here, {examples}or a mood: {', '.join(MOOD_EXAMPLES)}."
        if self.matches_nothing:
            return f"None of the videos in your feed mention {_listed(self.unmatched)}, so this changes nothing yet. {hint}"
        return f"No video in your feed mentions {_listed(self.unmatched)} yet; the rest of your steering applies. {hint}"


    @property
    def short_note(self) -> str | None:
        """The same, in one line for the feed's header (the settings page has the full note)."""
        if not self.unmatched:
            return None
        return f"{_listed(self.unmatched)} {'matches' if len(self.unmatched) == 1 else 'match'} no video here yet"


def _listed(words: tuple[str, ...]) -> str:
    quoted = [f"“{w}”" for w in words[:6]] + (["…"] if len(words) > 6 else [])
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


SUGGESTIONS = 5


def steering_reach(*, session: Session, viewer_id: str) -> SteeringReach | None:
    """How the viewer's saved steering meets the posts For You ranks for them (None when not steering).

    Steering matches words against post terms, so a phrase nothing carries ("asdfgh qwerty") is saved but
    moves no post; the viewer is told so, with words that would work. The candidates are the ones ranking
    scores (a few hundred rows), so this costs one more small query, and only for steered viewers."""
    prefs = get_prefs(session=session, user_id=viewer_id)
    if not prefs.steering:
        return None
    wanted = topics(prefs.steering)
    candidates = _candidates(session=session, viewer_id=viewer_id, personalized=True)
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) | {viewer_id}
    carried: Counter[str] = Counter()
    for candidate in candidates.values():
        if candidate.user_id not in hidden:
            carried.update(set(candidate.terms.split()))
    unmatched = tuple(word for word, terms in wanted.items() if not any(t in carried for t in terms))
    reached = {t for terms in wanted.values() for t in terms}
    suggestions = tuple(term for term, _ in carried.most_common(SUGGESTIONS * 4)
                        if len(term) >= 3 and term not in reached and term.isalpha())[:SUGGESTIONS]
    return SteeringReach(words=tuple(wanted), unmatched=unmatched, suggestions=suggestions)


def following(*, session: Session, viewer_id: str, before_seq: int | None = None, limit: int = 8) -> list[Post]:
    """Posts of people the viewer follows, newest first."""
    followed = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    query = select(Post).where(Post.user_id.in_(followed))
    if before_seq is not None:
        query = query.where(Post.seq < before_seq)
    return list(session.scalars(query.order_by(Post.seq.desc()).limit(limit)))


@dataclass(frozen=True)
class WatchStatus:
    seconds_today: float
    limit_seconds: float | None
    # A teen's limit or quiet hours, set by their parent (or the teen defaults): the feed stops, no "keep watching".
    firm: bool = False
    quiet: bool = False  # within a teen's quiet hours
    resting: bool = False  # on a break the viewer took after a low check-in

    @property
    def reached(self) -> bool:
        return self.limit_seconds is not None and self.seconds_today >= self.limit_seconds

    @property
    def stopped(self) -> bool:
        """Whether the feed shows no more videos now (the viewer's own soft limit only nudges)."""
        return (self.firm and self.reached) or self.quiet or self.resting


def _today(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def watch_status(*, session: Session, viewer_id: str, now: float | None = None) -> WatchStatus:
    now = time.time() if now is None else now
    row = session.get(WatchTime, (viewer_id, _today(now)), populate_existing=True)
    own = get_prefs(session=session, user_id=viewer_id).daily_limit_minutes
    controls = teens.controls(session=session, user_id=viewer_id)
    limit = teens.stricter_limit(own, controls)
    return WatchStatus(seconds_today=row.seconds if row else 0.0, limit_seconds=limit * 60.0 if limit else None,
                       firm=controls is not None and limit == controls.daily_limit_minutes,
                       quiet=teens.in_quiet_hours(controls, now=now),
                       resting=checkins.on_break(session=session, user_id=viewer_id, now=now))


def add_watch_time(*, session: Session, viewer_id: str, seconds: float, now: float | None = None) -> WatchStatus:
    now = time.time() if now is None else now
    seconds = max(0.0, min(MAX_WATCH_REPORT_S, seconds))
    # One upsert that adds in the database: concurrent reports (several tabs) neither collide on the day's
    # first row nor overwrite each other's seconds.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(WatchTime).values(user_id=viewer_id, day=_today(now), seconds=seconds)
    session.execute(statement.on_conflict_do_update(
        index_elements=[WatchTime.user_id, WatchTime.day],
        set_={"seconds": WatchTime.seconds + statement.excluded.seconds}))
    session.commit()
    return watch_status(session=session, viewer_id=viewer_id, now=now)
