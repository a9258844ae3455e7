"""What the enrollment page calls: challenges, the append-only consent ledger and person characters; and the
person's reference still entering a new video as its first frame."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from sqlalchemy import text, update
from sqlalchemy.exc import DatabaseError

from duetto.app.characters import enrollment, files, permissions
from duetto.app.characters import service as characters
from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest
from duetto.app.db.models import ConsentRecord, EnrollmentChallenge, LedgerIsAppendOnly
from tests.app.sites import Site


def png(colour: tuple[int, int, int], size: tuple[int, int] = (96, 128)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def wav() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(16000, dtype=np.float32), 16000, format="WAV")
    return buffer.getvalue()


def enroll(site: Site, account, *, colour=(200, 30, 30)) -> str:  # noqa: ANN001
    """A person character made the way the enrollment page makes one; returns its id."""
    with site.session() as session:
        challenge = enrollment.issue_challenge(session=session, user_id=account.user_id)
        enrollment.consume_challenge(session=session, user_id=account.user_id, challenge_id=challenge.id)
        enrollment.record_consent(session=session, user_id=account.user_id, challenge_hash=enrollment.challenge_hash(challenge),
                                  result="verified", detail="digits and turn matched")
        character = enrollment.create_person_character(session=session, user_id=account.user_id, name=account.handle,
                                                       still_png=png(colour), voice_wav=wav(),
                                                       storage=site.services.storage)
        return character.id


def test_a_challenge_has_4_to_6_digits_a_turn_and_two_minutes(site: Site) -> None:
    person = site.person()
    with site.session() as session:
        seen = [enrollment.issue_challenge(session=session, user_id=person.user_id) for _ in range(30)]
    for challenge in seen:
        assert challenge.digits.isdigit() and 4 <= len(challenge.digits) <= 6
        assert challenge.turn in ("left", "right")
        assert challenge.expires_at - challenge.issued_at == pytest.approx(120)
    assert len({c.digits for c in seen}) > 20
    assert {c.turn for c in seen} == {"left", "right"}


def test_a_challenge_is_used_once_and_refused_when_unknown_expired_or_used(site: Site) -> None:
    person, other = site.person(), site.person()
    with site.session() as session:
        challenge = enrollment.issue_challenge(session=session, user_id=person.user_id)
        with pytest.raises(InvalidRequest, match="unknown"):
            enrollment.consume_challenge(session=session, user_id=other.user_id, challenge_id=challenge.id)  # someone else's
        with pytest.raises(InvalidRequest, match="unknown"):
            enrollment.consume_challenge(session=session, user_id=person.user_id, challenge_id="chal_nope")
        used = enrollment.consume_challenge(session=session, user_id=person.user_id, challenge_id=challenge.id)
        assert used.used_at is not None
        with pytest.raises(InvalidRequest, match="already used"):
            enrollment.consume_challenge(session=session, user_id=person.user_id, challenge_id=challenge.id)
        late = enrollment.issue_challenge(session=session, user_id=person.user_id)
        session.execute(update(EnrollmentChallenge).where(EnrollmentChallenge.id == late.id)
                        .values(expires_at=time.time() - 1))
        session.commit()
        with pytest.raises(InvalidRequest, match="expired"):
            enrollment.consume_challenge(session=session, user_id=person.user_id, challenge_id=late.id)


def test_the_consent_ledger_is_append_only_and_outlives_the_character(site: Site) -> None:
    person = site.person()
    character_id = enroll(site, person)
    with site.session() as session:
        enrollment.record_consent(session=session, user_id=person.user_id, challenge_hash="f" * 64, result="failed",
                                  detail="wrong digits")
        records = enrollment.consent_history(session=session, user_id=person.user_id)
        assert [r.result for r in records] == ["verified", "failed"]
        record = records[0]
        record.detail = "rewritten"
        with pytest.raises(LedgerIsAppendOnly):
            session.flush()
        session.rollback()
        with pytest.raises(LedgerIsAppendOnly):
            session.delete(session.get(ConsentRecord, record.id))
            session.flush()
        session.rollback()
        # Below the ORM, the database refuses too.
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text("DELETE FROM consent_ledger"))
        session.rollback()
        characters.delete_character(session=session, storage=site.services.storage, character=characters.get_character(session=session, character_id=character_id))
        assert len(enrollment.consent_history(session=session, user_id=person.user_id)) == 2


def test_a_person_character_needs_a_fresh_enrollment_and_is_one_per_person(site: Site) -> None:
    person = site.person()
    with site.session() as session, pytest.raises(Forbidden, match="needs a verified enrollment"):
        enrollment.create_person_character(session=session, user_id=person.user_id, name=person.handle, still_png=png((1, 2, 3)),
                                           voice_wav=wav(), storage=site.services.storage)
    character_id = enroll(site, person)
    character = site.character(character_id)
    assert (character.kind, character.permission, character.name) == ("person", "only_me", person.handle)
    assert site.services.storage.get_bytes(character.still_key).startswith(b"\x89PNG")
    with pytest.raises(Conflict, match="already have a person character"):
        enroll(site, person)


def test_bad_files_are_refused_and_nothing_is_stored(site: Site) -> None:
    person = site.person()
    with site.session() as session:
        challenge = enrollment.issue_challenge(session=session, user_id=person.user_id)
        enrollment.consume_challenge(session=session, user_id=person.user_id, challenge_id=challenge.id)
        with pytest.raises(InvalidRequest, match="must be a PNG"):
            enrollment.create_person_character(session=session, user_id=person.user_id, name=person.handle,
                                               still_png=b"GIF89a....", voice_wav=wav(), storage=site.services.storage)
        with pytest.raises(InvalidRequest, match="must be a WAV"):
            enrollment.create_person_character(session=session, user_id=person.user_id, name=person.handle,
                                               still_png=png((1, 2, 3)), voice_wav=b"ID3...", storage=site.services.storage)
        assert characters.characters_of(session=session, owner_id=person.user_id) == []


def test_deleting_a_person_character_purges_still_voice_and_recordings(site: Site) -> None:
    person = site.person()
    storage = site.services.storage
    recording = files.enrollment_prefix(person.user_id) + "chal_1/recording.webm"
    storage.put_bytes(recording, b"\x1a\x45\xdf\xa3 video", "video/webm")
    character = site.character(enroll(site, person))
    keys = [character.still_key, character.voice_key, recording]
    assert all(storage.exists(key) for key in keys)
    with site.session() as session:
        characters.delete_character(session=session, storage=storage, character=characters.get_character(session=session, character_id=character.id))
    assert not any(storage.exists(key) for key in keys)
    assert not (site.services.settings.data_dir / "media" / "characters" / character.id).exists()
    # The name is free again and the character answers as unknown.
    with site.session() as session:
        assert characters.by_name(session=session, name=person.handle) is None
    with pytest.raises(InvalidRequest, match=f"There is no character @{person.handle}"):
        site.request(person, f"@{person.handle} waves.")


def test_a_persons_still_is_the_first_frame_of_a_new_video(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    ann_id, bob_id = enroll(site, ann, colour=(250, 0, 0)), enroll(site, bob, colour=(0, 0, 250))
    with site.session() as session:
        for character_id in (ann_id, bob_id):
            permissions.set_permission(session=session, character=characters.get_character(session=session, character_id=character_id), level="everyone")
    video = site.request(ann, f"@{ann.handle} waves at a red ball. Audio: birds.")
    assert site.run(video.id).status == "completed"
    request = site.made[-1]
    assert request.image == png((250, 0, 0))
    assert request.prompt == f"{ann.display_name} waves at a red ball. Audio: birds."
    # Two people: both stills side by side, in the order the prompt names them.
    both = site.request(ann, f"@{bob.handle} and @{ann.handle} wave.")
    assert site.run(both.id).status == "completed"
    frame = np.asarray(Image.open(io.BytesIO(site.made[-1].image)).convert("RGB"))
    assert frame.shape == (128, 192, 3)
    assert tuple(frame[64, 10]) == (0, 0, 250) and tuple(frame[64, 180]) == (250, 0, 0)
    # A person's video cannot also start from another image.
    with pytest.raises(InvalidRequest, match="starts from their reference still"):
        site.request(ann, f"@{ann.handle} waves.", image=(png((0, 250, 0)), "image/png"))


def test_remix_and_extension_keep_their_source_and_get_no_first_frame(site: Site) -> None:
    ann = site.person("ann")
    enroll(site, ann)
    source = site.request(ann, f"@{ann.handle} waves.")
    assert site.run(source.id).status == "completed"
    remix = site.request(ann, "The same, at night.", kind="remix", source=source)
    assert site.run(remix.id).status == "completed"
    assert site.made[-1].image is None and site.made[-1].source_mp4 is not None
