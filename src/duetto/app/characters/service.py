"""The characters service: enrollment challenges and consent, creating person and toy characters, who may
use them, the owner's rules and powers, which videos show them, and the checks every video passes.

Who may use a character (`may_use`): its owner always; nobody blocked with the owner either way; nobody
the owner revoked; otherwise it depends on the level, each level letting in everyone the narrower ones do:
`only_me` (the owner), `approved` (people the owner approved), `mutuals` (and people the owner follows who
follow back), `everyone`. The check runs when a video is requested, when a video is remixed (for the
characters it already shows) and again when its job starts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duetto.app.characters import prompts
from duetto.app.characters import rules as rules_grammar
from duetto.app.characters.models import (
    LEVELS,
    BirthYear,
    Character,
    CharacterApproval,
    CharacterNotification,
    CharacterRule,
    ConsentRecord,
    EnrollmentChallenge,
    VideoCharacter,
)
from duetto.app.core.errors import Conflict, InvalidRequest, NotFound
from duetto.app.core.security import new_id
from duetto.app.db.models import Account, Post, User, Video
from duetto.app.moderation import public_figure_match
from duetto.app.social import graph
from duetto.app.social.accounts import HANDLE_RE, RESERVED_HANDLES
from duetto.app.social.errors import Forbidden
from duetto.app.storage import Storage
from duetto.app.videos.uploads import sniff_image

MAX_PER_VIDEO = 2
MAX_RULES = 20
CHALLENGE_TTL_S = 120.0
# A person character may only be made within this long of the enrollment challenge it answered.
ENROLLMENT_WINDOW_S = 600.0
ADULT_AGE = 18
LEVEL_LABELS = {
    "only_me": "Only me",
    "approved": "People I approve",
    "mutuals": "Mutuals (and people I approve)",
    "everyone": "Everyone",
}


class NotPermitted(Forbidden):
    """The character exists but this person may not use it (or a rule or protection refuses the prompt)."""

    code = "character_not_permitted"


class RuleRefused(Forbidden):
    code = "character_rule"


# --- storage keys --------------------------------------------------------------------------------------


def character_prefix(character_id: str) -> str:
    return f"characters/{character_id}/"


def enrollment_prefix(user_id: str) -> str:
    """Where the enrollment page keeps a person's recordings; deleting their person character purges it."""
    return f"enrollments/{user_id}/"


# --- enrollment: challenges and the consent ledger -------------------------------------------------------


def issue_challenge(session: Session, user_id: str) -> EnrollmentChallenge:
    """A new challenge for `user_id` (committed): 4–6 random digits to say and a head turn, valid 2 minutes."""
    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    count = 4 + secrets.randbelow(3)
    now = time.time()
    challenge = EnrollmentChallenge(
        id=new_id("chal"), user_id=user_id, digits="".join(str(secrets.randbelow(10)) for _ in range(count)),
        turn=secrets.choice(("left", "right")), issued_at=now, expires_at=now + CHALLENGE_TTL_S,
    )
    session.add(challenge)
    session.commit()
    return challenge


def consume_challenge(session: Session, user_id: str, challenge_id: str) -> EnrollmentChallenge:
    """Mark `user_id`'s challenge used (committed) and return it; an unknown, expired or used one is refused.

    The update is conditional, so two requests answering the same challenge cannot both succeed.
    """
    now = time.time()
    result = session.execute(
        update(EnrollmentChallenge)
        .where(EnrollmentChallenge.id == challenge_id, EnrollmentChallenge.user_id == user_id,
               EnrollmentChallenge.used_at.is_(None), EnrollmentChallenge.expires_at > now)
        .values(used_at=now)
    )
    session.commit()
    challenge = session.scalar(
        select(EnrollmentChallenge)
        .where(EnrollmentChallenge.id == challenge_id, EnrollmentChallenge.user_id == user_id)
        .execution_options(populate_existing=True))  # an object loaded before the update would be stale
    if challenge is None:
        raise InvalidRequest("This enrollment challenge is unknown; start the enrollment again.", param="challenge")
    if result.rowcount != 1:
        if challenge.used_at is not None:
            raise InvalidRequest("This enrollment challenge was already used; start the enrollment again.",
                                 param="challenge")
        raise InvalidRequest("This enrollment challenge expired (they last 2 minutes); start the enrollment again.",
                             param="challenge")
    return challenge


def challenge_hash(challenge: EnrollmentChallenge) -> str:
    """A hash that names a challenge in the ledger without keeping what was asked."""
    text = f"{challenge.id}:{challenge.user_id}:{challenge.digits}:{challenge.turn}:{challenge.issued_at!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def record_consent(session: Session, *, user_id: str, challenge_hash: str, result: str, detail: str) -> None:
    """Append one entry to the consent ledger (committed). Entries are never changed or removed."""
    if not result.strip():
        raise InvalidRequest("A consent record needs a result.", param="result")
    session.add(ConsentRecord(user_id=user_id, challenge_hash=challenge_hash[:128], result=result.strip()[:40],
                              detail=detail, created_at=time.time()))
    session.commit()


def consent_history(session: Session, user_id: str) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user_id)
                                .order_by(ConsentRecord.id)))


# --- names and ages ------------------------------------------------------------------------------------


def _public_figure(session: Session, text: str) -> str | None:
    # The operator's list of public figures lives with moderation, editable there.
    return public_figure_match(session, text)


def check_name(session: Session, name: str, *, owner_id: str) -> str:
    """A free, allowed character name (lowercase, without @), or a one-line refusal."""
    clean = name.strip().lstrip("@").lower()
    if not HANDLE_RE.match(clean):
        raise InvalidRequest("A character name must be 3–30 characters: letters, digits or _, starting with a "
                             "letter (it is written @name in prompts).", param="name")
    if clean in RESERVED_HANDLES:
        raise InvalidRequest(f"@{clean} is reserved; pick another name.", param="name")
    figure = _public_figure(session, clean.replace("_", " "))
    if figure:
        raise InvalidRequest(f"@{clean} names a public figure ({figure}); characters cannot be public figures.",
                             param="name")
    if session.scalar(select(Character.id).where(Character.name == clean)):
        raise Conflict(f"The character name @{clean} is taken; pick another.", code="name_taken")
    # A character may share a handle only with its owner: @bob in a prompt must never mean someone else.
    holder = session.scalar(select(Account.user_id).where(Account.handle == clean))
    if holder is not None and holder != owner_id:
        raise Conflict(f"@{clean} is someone's handle; pick another name.", code="name_taken")
    return clean


def _check_display_name(session: Session, display_name: str, fallback: str) -> str:
    shown = " ".join(display_name.split())[:60] or fallback
    figure = _public_figure(session, shown)
    if figure:
        raise InvalidRequest(f"'{shown}' names a public figure ({figure}); characters cannot be public figures.",
                             param="display_name")
    return shown


def birth_year(session: Session, user_id: str) -> int | None:
    row = session.get(BirthYear, user_id)
    return row.year if row else None


def is_minor(year: int | None, *, today: dt.date | None = None) -> bool:
    """Whether someone born in `year` may be under 18 today. Only the year is kept, so someone turning 18
    this year counts as a minor until next January; an unknown year counts as a minor, since 'everyone'
    is the one thing it decides."""
    if year is None:
        return True
    today = today or dt.datetime.now(dt.UTC).date()
    return today.year - year - 1 < ADULT_AGE


def declare_birth_year(session: Session, user_id: str, year: int) -> None:
    """Record the user's birth year once (committed). It cannot be changed afterwards, and 'everyone' needs it,
    so a character open to everyone always has an adult owner."""
    this_year = dt.datetime.now(dt.UTC).year
    if not this_year - 120 <= year <= this_year:
        raise InvalidRequest(f"Birth year must be between {this_year - 120} and {this_year}.", param="birth_year")
    existing = session.get(BirthYear, user_id)
    if existing is not None:
        if existing.year == year:
            return
        # Set once, so nobody can type their way past the age rule.
        raise Conflict("Your birth year is already set; it cannot be changed here.", code="birth_year_set")
    session.add(BirthYear(user_id=user_id, year=year, declared_at=time.time()))
    session.commit()


# --- creating characters -------------------------------------------------------------------------------


def _is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def person_character(session: Session, user_id: str) -> Character | None:
    """The person character of `user_id` (a person has at most one), or None."""
    return session.scalar(select(Character).where(Character.owner_id == user_id, Character.kind == "person",
                                                  Character.deleted_at.is_(None)))


def create_person_character(
    session: Session, *, user_id: str, name: str, still_png: bytes, voice_wav: bytes, storage: Storage
) -> Character:
    """The person character of `user_id` (committed), made from their verified enrollment.

    It needs an enrollment challenge of theirs answered (`consume_challenge`) in the last 10 minutes. A
    person has at most one person character; it starts at 'only me'.
    """
    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    recent = session.scalar(select(EnrollmentChallenge.id).where(
        EnrollmentChallenge.user_id == user_id, EnrollmentChallenge.used_at.is_not(None),
        EnrollmentChallenge.used_at > time.time() - ENROLLMENT_WINDOW_S))
    if recent is None:
        raise Forbidden("A person character needs a verified enrollment in the last 10 minutes; enroll again.",
                        param="challenge")
    if person_character(session, user_id) is not None:
        raise Conflict("You already have a person character; delete it before enrolling again.",
                       code="person_character_exists")
    if sniff_image(still_png) != "image/png":
        raise InvalidRequest("The reference still must be a PNG image.", param="still_png")
    if not _is_wav(voice_wav):
        raise InvalidRequest("The voice sample must be a WAV file.", param="voice_wav")
    clean = check_name(session, name, owner_id=user_id)
    account = session.get(Account, user_id)
    shown = _check_display_name(session, account.display_name if account else clean, clean)
    character = Character(id=new_id("char"), owner_id=user_id, kind="person", name=clean, display_name=shown,
                          permission="only_me", toy=None, created_at=time.time())
    return _store_and_commit(session, storage, character, still_png, voice_wav)


def create_toy_character(
    session: Session, *, user_id: str, name: str, look: dict[str, Any], storage: Storage,
    display_name: str = "", permission: str = "only_me",
) -> Character:
    """A Toybox toy character (committed): its look and voice are checked, its card rendered and stored."""
    from duetto.app.characters.cards import check_identity, render_card  # imports the renderer

    if session.get(User, user_id) is None:
        raise NotFound(f"No user with id {user_id!r}.", param="user_id")
    identity = check_identity(look)
    clean = check_name(session, name, owner_id=user_id)
    shown = _check_display_name(session, display_name, clean)
    _check_level(session, user_id, permission)
    card = render_card(identity)
    character = Character(id=new_id("char"), owner_id=user_id, kind="toy", name=clean, display_name=shown,
                          permission=permission, toy=identity, created_at=time.time())
    return _store_and_commit(session, storage, character, card.still_png, card.voice_wav)


def _store_and_commit(session: Session, storage: Storage, character: Character, still: bytes,
                      voice: bytes) -> Character:
    prefix = character_prefix(character.id)
    character.still_key, character.voice_key = prefix + "still.png", prefix + "voice.wav"
    storage.put_bytes(character.still_key, still, "image/png")
    storage.put_bytes(character.voice_key, voice, "audio/wav")
    session.add(character)
    try:
        session.commit()
    except IntegrityError:
        # The name was taken between the check and the commit: leave no orphaned files behind.
        session.rollback()
        storage.delete_prefix(prefix)
        raise Conflict(f"The character name @{character.name} is taken; pick another.", code="name_taken") from None
    except Exception:
        session.rollback()
        storage.delete_prefix(prefix)
        raise
    return character


# --- reading characters --------------------------------------------------------------------------------


def get_character(session: Session, character_id: str) -> Character:
    character = session.scalar(select(Character).where(Character.id == character_id,
                                                       Character.deleted_at.is_(None)))
    if character is None:
        raise NotFound(f"No character found with id {character_id!r}.", param="character_id")
    return character


def by_name(session: Session, name: str) -> Character | None:
    return session.scalar(select(Character).where(Character.name == name.lstrip("@").lower(),
                                                  Character.deleted_at.is_(None)))


def owned_character(session: Session, owner_id: str, character_id: str) -> Character:
    character = get_character(session, character_id)
    if character.owner_id != owner_id:
        # Someone else's character answers as if it did not exist.
        raise NotFound(f"No character of yours with id {character_id!r}.", param="character_id")
    return character


def visible_character(session: Session, viewer_id: str, character_id: str) -> Character:
    """A character its owner or someone allowed to use it may look at; to anyone else it does not exist."""
    character = get_character(session, character_id)
    if not may_use(session, character, viewer_id):
        raise NotFound(f"No character found with id {character_id!r}.", param="character_id")
    return character


def characters_of(session: Session, owner_id: str) -> list[Character]:
    return list(session.scalars(select(Character).where(Character.owner_id == owner_id,
                                                        Character.deleted_at.is_(None))
                                .order_by(Character.created_at.desc())))


def usable_by(session: Session, viewer_id: str, limit: int = 60) -> list[Character]:
    """Others' characters the viewer may use: those approved for them, then the newest open ones.

    A page lists these, so the relations are read once for all candidates rather than per character. The
    viewer's approval rows split the candidates in SQL: approved ones come first, and a revoked one is
    never read, so each candidate's status is known without asking again.
    """
    mine = select(CharacterApproval.character_id).where(CharacterApproval.user_id == viewer_id)
    live = (Character.owner_id != viewer_id, Character.deleted_at.is_(None), Character.permission != "only_me")
    approved = list(session.scalars(select(Character).where(*live, Character.id.in_(
        mine.where(CharacterApproval.status == "approved"))).order_by(Character.created_at.desc()).limit(limit)))
    open_ = list(session.scalars(select(Character).where(*live, Character.permission.in_(("mutuals", "everyone")),
                                                         Character.id.not_in(mine))
                                 .order_by(Character.created_at.desc()).limit(limit * 4)))
    if not approved and not open_:
        return []
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id)
    mutuals = graph.mutual_ids(session=session, user_id=viewer_id)
    candidates = [(c, "approved") for c in approved] + [(c, None) for c in open_]
    return [c for c, status in candidates
            if _allowed(c, viewer_id, blocked=c.owner_id in hidden, status=status,
                        mutual=c.owner_id in mutuals)][:limit]


# --- permissions ---------------------------------------------------------------------------------------


def _approval(session: Session, character_id: str, user_id: str) -> str | None:
    return session.scalar(select(CharacterApproval.status).where(
        CharacterApproval.character_id == character_id, CharacterApproval.user_id == user_id))


def _allowed(character: Character, user_id: str, *, blocked: bool, status: str | None, mutual: bool) -> bool:
    """The permission rule itself, given how the user stands with the owner (see the module docstring)."""
    if character.deleted_at is not None:
        return False
    if user_id == character.owner_id:
        return True
    if blocked or status == "revoked" or character.permission == "only_me":
        return False
    if status == "approved" or character.permission == "everyone":
        return True
    return character.permission == "mutuals" and mutual


def may_use(session: Session, character: Character, user_id: str | None) -> bool:
    """Whether `user_id` may put `character` in a video now."""
    if user_id is None:
        return False
    if user_id == character.owner_id:
        return character.deleted_at is None
    relation = graph.relation(session=session, viewer_id=character.owner_id, other_id=user_id)
    return _allowed(character, user_id, blocked=relation.blocked, status=_approval(session, character.id, user_id),
                    mutual=relation.mutual)


def _check_level(session: Session, owner_id: str, level: str) -> None:
    if level not in LEVELS:
        raise InvalidRequest(f"Permission must be one of: {', '.join(LEVELS)}.", param="permission")
    if level == "everyone":
        year = birth_year(session, owner_id)
        if year is None:
            raise InvalidRequest("Opening a character to everyone needs your birth year; add it first.",
                                 param="permission", code="birth_year_required")
        if is_minor(year):
            raise Forbidden("People under 18 cannot open a character to everyone; choose mutuals or approved "
                            "people.", param="permission", code="minor_everyone")


def set_permission(session: Session, character: Character, level: str) -> None:
    _check_level(session, character.owner_id, level)
    character.permission = level
    session.commit()


def _user_by_handle(session: Session, handle: str) -> Account:
    account = session.scalar(select(Account).where(Account.handle == handle.strip().lstrip("@").lower()))
    if account is None:
        raise NotFound(f"There is no one called @{handle.strip().lstrip('@')}; check the handle.", param="handle")
    return account


def _set_approval(session: Session, character_id: str, user_id: str, status: str) -> None:
    row = session.get(CharacterApproval, (character_id, user_id))
    if row is None:
        session.add(CharacterApproval(character_id=character_id, user_id=user_id, status=status,
                                      created_at=time.time()))
    else:
        row.status, row.created_at = status, time.time()


def approve(session: Session, character: Character, handle: str) -> Account:
    """Let the person with `handle` use the character (at the 'approved' level and wider); committed."""
    account = _user_by_handle(session, handle)
    if account.user_id == character.owner_id:
        raise InvalidRequest("You can always use your own character.", param="handle")
    _set_approval(session, character.id, account.user_id, "approved")
    session.commit()
    return account


def approvals(session: Session, character_id: str) -> list[tuple[Account, str]]:
    rows = session.execute(select(Account, CharacterApproval.status)
                           .join(CharacterApproval, CharacterApproval.user_id == Account.user_id)
                           .where(CharacterApproval.character_id == character_id)
                           .order_by(CharacterApproval.created_at.desc())).all()
    return [(account, status) for account, status in rows]


def revoke(session: Session, storage: Storage, character: Character, handle: str) -> int:
    """Keep one person out of the character at every level, and delete their drafts that show it.

    Their posts stay up, listed on the owner's page, where the owner may delete them. Returns how many
    drafts were deleted.
    """
    account = _user_by_handle(session, handle)
    if account.user_id == character.owner_id:
        raise InvalidRequest("You cannot revoke yourself.", param="handle")
    _set_approval(session, character.id, account.user_id, "revoked")
    session.commit()
    removed = _delete_drafts(session, storage, character, maker_ids={account.user_id})
    _notify(session, account.user_id, "revoked", character, actor_id=character.owner_id,
            text=f"@{character.name}'s owner no longer lets you use @{character.name}"
                 + (f"; {removed} of your drafts with it were deleted." if removed else "."))
    session.commit()
    return removed


def revoke_everyone(session: Session, storage: Storage, character: Character) -> int:
    """Back to 'only me': approvals are dropped, and everyone else's drafts that show it are deleted."""
    character.permission = "only_me"
    session.execute(delete(CharacterApproval).where(CharacterApproval.character_id == character.id,
                                                    CharacterApproval.status == "approved"))
    session.commit()
    return _delete_drafts(session, storage, character, maker_ids=None)


def _delete_drafts(session: Session, storage: Storage, character: Character, *,
                   maker_ids: set[str] | None) -> int:
    """Delete unposted videos by others (or by `maker_ids`) that show the character."""
    from duetto.app.social import posts as posts_service  # posts imports the videos service

    query = (select(Video).join(VideoCharacter, VideoCharacter.video_id == Video.id)
             .outerjoin(Post, Post.video_id == Video.id)
             .where(VideoCharacter.character_id == character.id, Video.deleted_at.is_(None),
                    Video.user_id != character.owner_id, Post.id.is_(None)))
    if maker_ids is not None:
        query = query.where(Video.user_id.in_(maker_ids))
    drafts = list(session.scalars(query))
    for video in drafts:
        maker = session.get(User, video.user_id)
        posts_service.delete_draft(session=session, storage=storage, user=maker, video_id=video.id)
    return len(drafts)


# --- rules ---------------------------------------------------------------------------------------------


def add_rule(session: Session, character: Character, text: str) -> CharacterRule:
    """Add a rule in the owner's words (committed); text that matches no form is refused with the forms."""
    parsed = rules_grammar.parse_rule(text)
    count = session.scalar(select(func.count()).select_from(CharacterRule)
                           .where(CharacterRule.character_id == character.id)) or 0
    if count >= MAX_RULES:
        raise InvalidRequest(f"A character has at most {MAX_RULES} rules; delete one first.", param="rule")
    rule = CharacterRule(character_id=character.id, text=rules_grammar.normalize_rule_text(text),
                         form=parsed.form, terms=parsed.terms, created_at=time.time())
    session.add(rule)
    session.commit()
    return rule


def rules_of(session: Session, character_id: str) -> list[CharacterRule]:
    return list(session.scalars(select(CharacterRule).where(CharacterRule.character_id == character_id)
                                .order_by(CharacterRule.id)))


def delete_rule(session: Session, character: Character, rule_id: int) -> None:
    result = session.execute(delete(CharacterRule).where(CharacterRule.id == rule_id,
                                                         CharacterRule.character_id == character.id))
    if result.rowcount != 1:
        raise NotFound("No such rule.", param="rule_id")
    session.commit()


def check_rules(session: Session, character: Character, prompt: str) -> None:
    """Raise RuleRefused naming the rule when `prompt` breaks one of the character's rules."""
    parsed = [(r.text, rules_grammar.ParsedRule(r.form, r.terms)) for r in rules_of(session, character.id)]
    found = rules_grammar.first_violation(parsed, prompt)
    if found is not None:
        raise RuleRefused(rules_grammar.refusal(character.name or character.display_name, found), param="prompt")


# --- videos with characters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoCast:
    """The characters a new video shows, already checked."""

    characters: list[Character]

    @property
    def persons(self) -> list[Character]:
        return [c for c in self.characters if c.kind == "person"]


def _refuse_unusable(session: Session, character: Character, user_id: str, *, stage: str) -> None:
    if not may_use(session, character, user_id):
        where = {"remix": "remix a video with", "start": "make this video with"}.get(stage, "use")
        raise NotPermitted(f"@{character.name}'s owner has not allowed you to {where} @{character.name}.",
                           param="prompt")


def check_prompt_protections(session: Session, prompt: str) -> None:
    """Refuse prompts that name a public figure or mention a reserved handle."""
    for name in prompts.mentions(prompt):
        if name in RESERVED_HANDLES:
            raise InvalidRequest(f"@{name} is reserved and cannot appear in a prompt; remove it.", param="prompt")
    figure = _public_figure(session, prompt)
    if figure:
        raise InvalidRequest(f"This prompt names a public figure ({figure}); videos cannot show public figures.",
                             param="prompt", code="public_figure")


def cast_for(
    session: Session, *, user_id: str, prompt: str, kind: str, character_ids: Sequence[str] = (),
    source_video_id: str | None = None, has_image: bool = False,
) -> VideoCast:
    """Check a video request's characters: the prompt's @mentions, the `characters` it lists by id, and the
    characters of the video it remixes, extends or edits. Each must exist and be usable by `user_id`, at
    most 2 in all, and the prompt must keep every one's rules."""
    check_prompt_protections(session, prompt)
    listed = []
    for character_id in dict.fromkeys(character_ids):
        character = session.scalar(select(Character).where(Character.id == character_id,
                                                           Character.deleted_at.is_(None)))
        if character is None or not may_use(session, character, user_id):
            raise InvalidRequest(f"characters: no character {character_id!r} that you may use.",
                                 param="characters", code="unknown_character")
        listed.append(character)
    chosen: dict[str, Character] = {}
    for name in prompts.mentions(prompt):
        character = by_name(session, name)
        if character is None or not may_use(session, character, user_id):
            # One answer for a name that does not exist and one the caller may not use: a different status
            # or message would tell a stranger that the private name exists.
            raise InvalidRequest(f"There is no character @{name} that you may use; check the name, or remove "
                                 "the @.", param="prompt", code="unknown_character")
        chosen[character.id] = character
    for character in listed:
        if character.id not in chosen:
            raise InvalidRequest(f"characters lists @{character.name}; write @{character.name} in the prompt where "
                                 "it appears.", param="characters")
    inherited = []
    if source_video_id is not None:
        inherited = list(session.scalars(select(Character).join(VideoCharacter,
                                                                VideoCharacter.character_id == Character.id)
                                         .where(VideoCharacter.video_id == source_video_id)))
        for character in inherited:
            if character.deleted_at is not None:
                raise NotPermitted("The video shows a character that was deleted; it cannot be remixed.",
                                   param="prompt")
            chosen.setdefault(character.id, character)
    if len(chosen) > MAX_PER_VIDEO:
        names = ", ".join(f"@{c.name}" for c in chosen.values())
        raise InvalidRequest(f"A video can show at most {MAX_PER_VIDEO} characters; this one would show "
                             f"{len(chosen)} ({names}).", param="prompt", code="too_many_characters")
    inherited_ids = {c.id for c in inherited}
    for character in chosen.values():
        _refuse_unusable(session, character, user_id,
                         stage="remix" if character.id in inherited_ids and kind != "create" else "create")
        check_rules(session, character, prompt)
    cast = VideoCast(list(chosen.values()))
    if cast.persons and has_image and kind == "create":
        raise InvalidRequest(f"A video with @{cast.persons[0].name} starts from their reference still; leave out "
                             "the start image.", param="input_reference")
    return cast


def attach(session: Session, *, video: Video, cast: VideoCast, user_id: str) -> None:
    """Link a new video to its characters and tell each owner someone used theirs (not committed)."""
    maker = session.get(Account, user_id)
    who = f"@{maker.handle}" if maker else "Someone"
    verb = {"remix": "remixed a video with", "extend": "extended a video with", "edit": "edited a video with"}
    for character in cast.characters:
        session.add(VideoCharacter(video_id=video.id, character_id=character.id, created_at=time.time()))
        if character.owner_id != user_id:
            _notify(session, character.owner_id, "used", character, actor_id=user_id, video_id=video.id,
                    text=f"{who} {verb.get(video.kind, 'made a video with')} @{character.name}.")


def characters_of_video(session: Session, video_id: str) -> list[Character]:
    """Every character linked to a video, deleted ones included (a job must fail on those)."""
    return list(session.scalars(select(Character).join(VideoCharacter, VideoCharacter.character_id == Character.id)
                                .where(VideoCharacter.video_id == video_id)
                                .order_by(VideoCharacter.created_at, Character.id)))


def check_at_start(session: Session, video: Video) -> list[Character]:
    """The checks again as the job starts: the characters still exist, the maker may still use them, and
    the prompt keeps their (possibly newer) rules. Returns the characters."""
    cast = characters_of_video(session, video.id)
    for character in cast:
        if character.deleted_at is not None:
            raise NotPermitted(f"{character.display_name} was deleted by its owner; this video cannot be made.",
                               param="prompt")
        _refuse_unusable(session, character, video.user_id, stage="start")
        check_rules(session, character, video.prompt)
    return cast


def to_cast(characters: Iterable[Character]) -> list[prompts.Cast]:
    return [prompts.Cast(name=c.name or "", kind=c.kind, display_name=c.display_name, toy=c.toy)
            for c in characters]


@dataclass
class Appearance:
    """A video that shows a character, with its maker and its post (None while it is a draft)."""

    video: Video
    maker: Account | None
    post: Post | None


def appearances(session: Session, character_id: str, limit: int = 200) -> list[Appearance]:
    """Every draft and post, whoever made it, that shows the character; newest first."""
    rows = session.execute(
        select(Video, Account, Post)
        .join(VideoCharacter, VideoCharacter.video_id == Video.id)
        .outerjoin(Account, Account.user_id == Video.user_id)
        .outerjoin(Post, Post.video_id == Video.id)
        .where(VideoCharacter.character_id == character_id, Video.deleted_at.is_(None))
        .order_by(Video.seq.desc()).limit(limit)
    ).all()
    return [Appearance(video=v, maker=a, post=p) for v, a, p in rows]


def appearance(session: Session, character: Character, video_id: str) -> Video:
    video = session.scalar(select(Video).join(VideoCharacter, VideoCharacter.video_id == Video.id)
                           .where(VideoCharacter.character_id == character.id, Video.id == video_id,
                                  Video.deleted_at.is_(None)))
    if video is None:
        raise NotFound("No video with this character has that id.", param="video_id")
    return video


def delete_appearance(session: Session, storage: Storage, character: Character, video_id: str) -> None:
    """The owner deletes a draft or post that shows their character, whoever made it; its maker is told."""
    from duetto.app.social import posts as posts_service  # posts imports the videos service

    video = appearance(session, character, video_id)
    maker = session.get(User, video.user_id)
    posts_service.delete_draft(session=session, storage=storage, user=maker, video_id=video.id)
    if video.user_id != character.owner_id:
        _notify(session, video.user_id, "removed", character, actor_id=character.owner_id, video_id=video.id,
                text=f"@{character.name}'s owner deleted a video of yours that showed @{character.name}.")
        session.commit()


def delete_character(session: Session, storage: Storage, character: Character, *,
                     take_down_posts: bool = True) -> None:
    """Delete a character: its still, voice and (for a person) enrollment recordings are purged from storage,
    everyone else's drafts with it are deleted, and with `take_down_posts` their posts too. The name is
    freed; the consent ledger keeps its entries."""
    _delete_drafts(session, storage, character, maker_ids=None)
    if take_down_posts:
        for item in appearances(session, character.id):
            if item.video.user_id != character.owner_id:
                delete_appearance(session, storage, character, item.video.id)
    storage.delete_prefix(character_prefix(character.id))
    if character.kind == "person":
        storage.delete_prefix(enrollment_prefix(character.owner_id))
    character.deleted_at = time.time()
    character.name = None
    character.still_key = character.voice_key = None
    session.execute(delete(CharacterApproval).where(CharacterApproval.character_id == character.id))
    session.execute(delete(CharacterRule).where(CharacterRule.character_id == character.id))
    session.commit()


def purge_user(session: Session, storage: Storage, user_id: str) -> None:
    """Remove a departing user's character files and recordings (their rows go with the user row)."""
    for character_id in session.scalars(select(Character.id).where(Character.owner_id == user_id)):
        storage.delete_prefix(character_prefix(character_id))
    storage.delete_prefix(enrollment_prefix(user_id))


# --- notifications -------------------------------------------------------------------------------------


def _notify(session: Session, user_id: str, kind: str, character: Character, *, actor_id: str | None = None,
            video_id: str | None = None, text: str) -> None:
    session.add(CharacterNotification(user_id=user_id, kind=kind, character_id=character.id, actor_id=actor_id,
                                      video_id=video_id, text=text, created_at=time.time()))


def unread_count(session: Session, user_id: str) -> int:
    return session.scalar(select(func.count()).select_from(CharacterNotification).where(
        CharacterNotification.user_id == user_id, CharacterNotification.read_at.is_(None))) or 0


def notifications(session: Session, user_id: str, limit: int = 50) -> list[CharacterNotification]:
    return list(session.scalars(select(CharacterNotification).where(CharacterNotification.user_id == user_id)
                                .order_by(CharacterNotification.id.desc()).limit(limit)))


def mark_read(session: Session, user_id: str) -> None:
    session.execute(update(CharacterNotification).where(CharacterNotification.user_id == user_id,
                                                        CharacterNotification.read_at.is_(None))
                    .values(read_at=time.time()))
    session.commit()
