"""`/v1/videos/characters` and `characters` on `POST /v1/videos`: shapes, permissions and errors, and one video
made end to end by the tiny model."""

from __future__ import annotations

import io
import time

from PIL import Image
from sqlalchemy import select

from duetto.app.characters import permissions
from duetto.app.characters import service as characters
from duetto.app.db.models import Account, User
from duetto.app.users.service import create_api_key
from tests.app.sites import TOY, Site


def auth(site: Site, account: Account) -> dict[str, str]:
    with site.session() as session:
        user = session.scalar(select(User).where(User.id == account.user_id))
        return {"Authorization": f"Bearer {create_api_key(session=session, user=user).secret}"}


def create(site: Site, headers: dict[str, str], **fields: object):  # noqa: ANN201 - an httpx response
    return site.client.post("/v1/videos/characters", headers=headers, json={"name": "pip", **TOY, **fields})


def test_create_and_retrieve_a_toy_character(site: Site) -> None:
    ann = site.person("ann")
    headers = auth(site, ann)
    made = create(site, headers, name="@Pip", display_name="Pip the toy")
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["object"] == "character" and body["id"].startswith("char_")
    assert (body["name"], body["display_name"], body["kind"], body["permission"], body["owned"]) == (
        "pip", "Pip the toy", "toy", "only_me", True)
    assert body["toy"] == TOY
    again = site.client.get(f"/v1/videos/characters/{body['id']}", headers=headers)
    assert again.status_code == 200 and again.json() == body
    still = site.client.get(f"/v1/videos/characters/{body['id']}/content", headers=headers)
    assert still.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(still.content)).size == (256, 256)
    voice = site.client.get(f"/v1/videos/characters/{body['id']}/content?variant=voice", headers=headers)
    assert voice.headers["content-type"] == "audio/wav" and voice.content[:4] == b"RIFF"
    listed = site.client.get("/v1/videos/characters", headers=headers).json()
    assert [c["id"] for c in listed["data"]] == [body["id"]]


def test_a_character_is_shown_only_to_people_who_may_use_it(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    made = create(site, auth(site, ann)).json()
    bobs = auth(site, bob)
    hidden = site.client.get(f"/v1/videos/characters/{made['id']}", headers=bobs)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    assert site.client.get(f"/v1/videos/characters/{made['id']}/content", headers=bobs).status_code == 404
    with site.session() as session:
        character = characters.get_character(session=session, character_id=made["id"])
        permissions.approve(session=session, character=character, handle=bob.handle)
        assert site.client.get(f"/v1/videos/characters/{made['id']}", headers=bobs).status_code == 404  # only me
        permissions.set_permission(session=session, character=character, level="approved")
    shown = site.client.get(f"/v1/videos/characters/{made['id']}", headers=bobs)
    assert shown.status_code == 200 and shown.json()["owned"] is False
    assert site.client.get(f"/v1/videos/characters/{made['id']}", headers={}).status_code == 401


def test_bad_input_gets_one_line_errors_in_openai_shape(site: Site) -> None:
    ann = site.person("ann", birth_year=None)
    headers = auth(site, ann)
    bad = create(site, headers, head_colour="pink")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "head_colour"
    assert error["message"].startswith("Unknown head colour 'pink'; use one of: red, green")
    assert create(site, headers, name="admin").json()["error"]["message"] == "@admin is reserved; pick another name."
    missing = site.client.post("/v1/videos/characters", headers=headers, json={"name": "pip"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "head_colour"
    person = site.client.post("/v1/videos/characters", headers=headers, json={"kind": "person", "name": "me"})
    assert "made by enrolling" in person.json()["error"]["message"]
    everyone = create(site, headers, permission="everyone")
    assert everyone.json()["error"]["code"] == "birth_year_required"
    assert create(site, headers).status_code == 200
    taken = create(site, headers)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "name_taken"


def test_a_minor_declaring_their_birth_year_cannot_pick_everyone(site: Site) -> None:
    kid = site.person("kid", birth_year=None)
    headers = auth(site, kid)
    refused = create(site, headers, permission="everyone", birth_year=time.gmtime().tm_year - 14)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "minor_everyone"
    assert create(site, headers, permission="mutuals").json()["permission"] == "mutuals"


def test_videos_name_characters_by_id_and_a_private_name_answers_as_an_unknown_one(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = create(site, auth(site, ann)).json()
    bobs = auth(site, bob)
    body = {"prompt": f"On a stage, @{toy['name']} says <S>ba<E>.", "seconds": "1", "size": "64x64",
            "characters": [{"id": toy["id"]}]}
    refused = site.client.post("/v1/videos", headers=bobs, json=body)
    assert refused.status_code == 400  # at 'only me' Bob may not even name it by id
    assert refused.json()["error"]["param"] == "characters"
    del body["characters"]
    by_name = site.client.post("/v1/videos", headers=bobs, json=body)
    # Naming a private character answers exactly as naming one that does not exist: nothing tells Bob
    # that @pip is there.
    unknown = site.client.post("/v1/videos", headers=bobs, json={**body, "prompt": "On a stage, @pib says hi."})
    assert by_name.status_code == unknown.status_code == 400
    assert by_name.json()["error"] == {
        "message": "There is no character @pip that you may use; check the name, or remove the @.",
        "type": "invalid_request_error", "param": "prompt", "code": "unknown_character"}
    assert unknown.json()["error"] == {**by_name.json()["error"], "message": by_name.json()["error"]["message"]
                                       .replace("@pip", "@pib")}
    too_many = site.client.post("/v1/videos", headers=bobs, json={**body, "characters": [{"id": "a"}] * 3})
    assert "at most 2 characters" in too_many.json()["error"]["message"]


def test_a_video_with_a_toy_character_is_made_by_the_engine(engine_site: Site) -> None:
    site = engine_site
    ann = site.person("ann")
    headers = auth(site, ann)
    toy = create(site, headers).json()
    response = site.client.post("/v1/videos", headers=headers, json={
        "prompt": "On a stage, @pip says <S>ba lo<E>.", "seconds": "1", "size": "64x64", "steps": 2, "seed": 3,
        "characters": [{"id": toy["id"]}]})
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    assert response.json()["prompt"] == "On a stage, @pip says <S>ba lo<E>."  # kept as the user wrote it
    deadline = time.time() + 120
    while time.time() < deadline:
        video = site.client.get(f"/v1/videos/{video_id}", headers=headers).json()
        if video["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert video["status"] == "completed", video["error"]
    content = site.client.get(f"/v1/videos/{video_id}/content", headers=headers)
    assert content.status_code == 200 and content.content[4:8] == b"ftyp"


def test_deleting_a_character_through_the_api_purges_its_files(site: Site) -> None:
    ann = site.person("ann")
    headers = auth(site, ann)
    toy = create(site, headers).json()
    stored = site.character(toy["id"])
    assert site.services.storage.exists(stored.still_key)
    gone = site.client.delete(f"/v1/videos/characters/{toy['id']}", headers=headers)
    assert gone.json() == {"id": toy["id"], "object": "character.deleted", "deleted": True}
    assert not site.services.storage.exists(stored.still_key)
    assert not site.services.storage.exists(stored.voice_key)
    assert site.client.get(f"/v1/videos/characters/{toy['id']}", headers=headers).status_code == 404
    assert create(site, headers).status_code == 200  # the name is free again
