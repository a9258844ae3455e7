"""The permission matrix: every level × (owner, approved, mutual, stranger, blocked) × (create, remix, job
start), through the real videos service and the real job function."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from duetto.app.characters import cast, permissions
from duetto.app.characters import service as characters
from duetto.app.characters.permissions import NotPermitted
from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import CHARACTER_LEVELS, Account, CharacterApproval, Video
from tests.app.sites import Site

RELATIONS = ("owner", "approved", "mutual", "stranger", "blocked")
# Levels are cumulative: approved people may use it at 'approved' and wider, mutuals at 'mutuals' and wider.
ALLOWED = {
    "owner": {"only_me", "approved", "mutuals", "everyone"},
    "approved": {"approved", "mutuals", "everyone"},
    "mutual": {"mutuals", "everyone"},
    "stranger": {"everyone"},
    "blocked": set(),
}
PROMPT = "On a stage, @{name} says <S>ba lo<E>."


def _approve(site: Site, character_id: str, actor: Account) -> None:
    with site.session() as session:
        session.add(CharacterApproval(character_id=character_id, user_id=actor.user_id, status="approved",
                                      created_at=time.time()))


def _relate(site: Site, owner: Account, actor: Account, relation: str, character_id: str) -> None:
    """Make `actor` stand to `owner` as `relation` says (a block is added separately, when the test wants it)."""
    if relation == "approved":
        _approve(site, character_id, actor)
    elif relation == "mutual":
        site.mutual(owner, actor)
    elif relation == "blocked":
        # Blocked beats everything else: this person was approved and was a mutual before the block.
        _approve(site, character_id, actor)
        site.mutual(owner, actor)


def _set_level(site: Site, character_id: str, level: str) -> None:
    with site.session() as session:
        permissions.set_permission(session=session, character=characters.get_character(session=session, character_id=character_id), level=level)


def _people(site: Site, relation: str, level: str) -> tuple[Account, Account, str]:
    owner = site.person("own")
    actor = owner if relation == "owner" else site.person(relation[:3])
    toy = site.toy(owner, permission=level)
    return owner, actor, toy.id


@pytest.mark.parametrize("level", CHARACTER_LEVELS)
@pytest.mark.parametrize("relation", RELATIONS)
def test_create(shared_site: Site, relation: str, level: str) -> None:
    site = shared_site
    owner, actor, character_id = _people(site, relation, level)
    _relate(site, owner, actor, relation, character_id)
    if relation == "blocked":
        site.block(owner, actor)
    name = site.character(character_id).name
    if level in ALLOWED[relation]:
        video = site.request(actor, PROMPT.format(name=name))
        assert video.status == "queued"
        with site.session() as session:
            assert [c.id for c in cast.characters_of_video(session=session, video_id=video.id)] == [character_id]
    else:
        # Refused exactly as a name that does not exist, so the refusal tells nobody that it does.
        with pytest.raises(InvalidRequest, match=f"There is no character @{name} that you may use") as refused:
            site.request(actor, PROMPT.format(name=name))
        assert refused.value.code == "unknown_character"


@pytest.mark.parametrize("level", CHARACTER_LEVELS)
@pytest.mark.parametrize("relation", RELATIONS)
def test_remix(shared_site: Site, relation: str, level: str) -> None:
    """Remixing a video that shows the character needs permission too, though the new prompt never names it."""
    site = shared_site
    owner, actor, character_id = _people(site, relation, level)
    name = site.character(character_id).name
    source = site.request(owner, PROMPT.format(name=name))
    with site.session() as session:
        session.execute(update(Video).where(Video.id == source.id).values(status="completed"))
    source.status = "completed"
    _relate(site, owner, actor, relation, character_id)
    if relation == "blocked":
        site.block(owner, actor)
    if level in ALLOWED[relation]:
        remix = site.request(actor, "The same, in the rain.", kind="remix", source=source)
        with site.session() as session:
            assert [c.id for c in cast.characters_of_video(session=session, video_id=remix.id)] == [character_id]
    else:
        with pytest.raises(NotPermitted, match=f"not allowed you to remix a video with @{name}"):
            site.request(actor, "The same, in the rain.", kind="remix", source=source)


@pytest.mark.parametrize("level", CHARACTER_LEVELS)
@pytest.mark.parametrize("relation", RELATIONS)
def test_job_start(shared_site: Site, relation: str, level: str) -> None:
    """Requested while open to everyone, then narrowed to `level` (and blocked) before the job starts."""
    site = shared_site
    owner, actor, character_id = _people(site, relation, "everyone")
    _relate(site, owner, actor, relation, character_id)
    name = site.character(character_id).name
    video = site.request(actor, PROMPT.format(name=name))
    _set_level(site, character_id, level)
    if relation == "blocked":
        site.block(owner, actor)
    made = len(site.made)
    done = site.run(video.id)
    if level in ALLOWED[relation]:
        assert done.status == "completed", done.error_message
        assert len(site.made) == made + 1
    else:
        assert done.status == "failed"
        assert done.error_code == "character_not_permitted"
        assert done.error_message == f"@{name}'s owner has not allowed you to make this video with @{name}."
        assert len(site.made) == made  # the engine was never asked


def test_revoking_one_person_keeps_them_out_even_when_open_to_everyone(shared_site: Site) -> None:
    site = shared_site
    owner, fan = site.person("own"), site.person("fan")
    toy = site.toy(owner, permission="everyone")
    video = site.request(fan, PROMPT.format(name=toy.name))
    with site.session() as session:
        permissions.revoke(session=session, storage=site.services.storage, character=characters.get_character(session=session, character_id=toy.id), handle=fan.handle)
    with pytest.raises(InvalidRequest, match="that you may use"):
        site.request(fan, PROMPT.format(name=toy.name))
    # The revoked person's draft went with the revocation, so its job never runs.
    with site.session() as session:
        assert session.get(Video, video.seq).deleted_at is not None
    stranger = site.person("str")
    assert site.request(stranger, PROMPT.format(name=toy.name)).status == "queued"


def test_a_character_deleted_before_the_job_starts_fails_the_job(shared_site: Site) -> None:
    site = shared_site
    owner = site.person("own")
    toy = site.toy(owner, permission="everyone")
    video = site.request(owner, PROMPT.format(name=toy.name))
    with site.session() as session:
        characters.delete_character(session=session, storage=site.services.storage, character=characters.get_character(session=session, character_id=toy.id))
    done = site.run(video.id)
    assert done.status == "failed" and done.error_code == "character_not_permitted"
    assert "was deleted by its owner" in done.error_message


def test_the_list_of_characters_one_may_use_follows_the_same_rule(shared_site: Site) -> None:
    site = shared_site
    viewer, friend, other, blocker = site.person("viw"), site.person("fri"), site.person("oth"), site.person("blo")
    site.mutual(viewer, friend)
    for_mutuals = site.toy(friend, permission="mutuals")
    approved_only = site.toy(other, permission="approved")
    _approve(site, approved_only.id, viewer)
    closed = site.toy(other, permission="only_me")
    _approve(site, closed.id, viewer)  # approved, but the owner keeps it to themself
    strangers_mutuals = site.toy(other, permission="mutuals")
    open_but_blocked = site.toy(blocker, permission="everyone")
    site.block(blocker, viewer)
    open_to_all = site.toy(other, permission="everyone")
    open_but_revoked = site.toy(other, permission="everyone")
    with site.session() as session:
        permissions.revoke(session=session, storage=site.services.storage, character=characters.get_character(session=session, character_id=open_but_revoked.id),
                          handle=viewer.handle)
    with site.session() as session:
        listed = {c.id for c in permissions.usable_by(session=session, viewer_id=viewer.user_id)}
        assert {for_mutuals.id, approved_only.id, open_to_all.id} <= listed
        assert not listed & {closed.id, strangers_mutuals.id, open_but_blocked.id, open_but_revoked.id}
        for character_id in {c.id for c in permissions.usable_by(session=session, viewer_id=viewer.user_id, limit=1000)}:
            assert permissions.may_use(session=session, character=characters.get_character(session=session, character_id=character_id), user_id=viewer.user_id)
