"""The library archive in-process: what an export holds (checked against the JSON Schema in the repo and the
field list in docs/export.md), a round trip into a second instance, and tampered archives refused whole."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from duetto.app.characters import permissions
from duetto.app.core.errors import Forbidden
from duetto.app.db.models import Character, CharacterRule, ConsentRecord, FeedPrefs, Post, Video
from duetto.app.flows.library.export import write_archive
from duetto.app.flows.library.importer import InvalidArchive, check_archive, import_archive
from tests.app.library.library import Library, seed_library
from tests.app.sites import Site

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "src" / "duetto" / "app" / "flows" / "library" / "manifest.schema.json"
DOCS = ROOT / "docs" / "export.md"


def export(site: Site, lib: Library, path: Path) -> dict[str, Any]:
    with site.session() as session:
        write_archive(session=session, storage=site.services.storage, settings=site.services.settings,
                      user_id=lib.owner.user_id, instance="a.example", target=path)
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def bring_in(site: Site, user_id: str, path: Path, *, posted: bool = False) -> dict[str, Any]:
    checked = check_archive(path, max_unpacked=1 << 30)
    try:
        with site.session() as session:
            return import_archive(session=session, storage=site.services.storage, user_id=user_id, checked=checked,
                                  posted=posted)
    finally:
        checked.close()


@pytest.fixture
def exported(site: Site, clip_assets: dict[str, bytes], tmp_path: Path) -> tuple[Library, Path, dict[str, Any]]:
    lib = seed_library(site, clip_assets)
    path = tmp_path / "library.zip"
    return lib, path, export(site, lib, path)


def test_manifest_holds_the_library_and_matches_the_schema(exported) -> None:  # noqa: ANN001
    lib, path, manifest = exported
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(manifest)
    videos = {v["id"]: v for v in manifest["videos"]}
    assert set(videos) == set(lib.prompts)
    assert {v["id"] for v in videos.values() if v["visibility"] == "posted"} == set(lib.posts.values())
    assert videos[lib.drafts[0]]["audio_prompt"] == "a rubber thud on each bounce"
    assert videos[lib.chain[2]]["remixed_from_video_id"] == lib.chain[1] and videos[lib.chain[2]]["parent"] is None
    friend = f"{lib.friend.handle}@a.example"
    assert videos[lib.remix_of_friend]["parent"]["creator"] == friend
    for video in videos.values():  # the clip as generated and as downloaded, and its thumbnail
        assert {name for name, f in video["files"].items() if f} == {"video", "thumbnail", "download"}
    assert [m["sent"] for m in manifest["messages"]] == [True, False]
    assert manifest["comments"][0]["post_creator"] == friend
    toy = next(c for c in manifest["characters"] if c["kind"] == "toy")
    assert toy["permission"] == "mutuals" and toy["approvals"][0]["person"] == friend
    assert toy["rules"][0]["text"] == "no politics"
    assert [e["result"] for e in manifest["consent_ledger"]] == ["passed", "failed"]
    assert manifest["feed"]["daily_limit_minutes"] == 45 and manifest["people"]["follows"] == [friend]
    report = manifest["moderation"]["reports"][0]
    assert report["reason"] == "spam" and "details" not in report  # never the reporter's words or name
    with zipfile.ZipFile(path) as archive:
        listed = {f["path"] for v in videos.values() for f in v["files"].values()}
        assert listed <= set(archive.namelist())


def _fields(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for name, value in (node.get("properties") or {}).items():
            found.add(name)
            _fields(value, found)
        for key in ("$defs", "items", "oneOf", "additionalProperties"):
            value = node.get(key)
            if value is None:
                continue
            for child in (value.values() if key == "$defs" else value if isinstance(value, list) else [value]):
                _fields(child, found)
    return found


def test_docs_describe_every_manifest_field() -> None:
    documented = DOCS.read_text()
    missing = sorted(name for name in _fields(json.loads(SCHEMA.read_text()), set()) if f"`{name}`" not in documented)
    assert not missing, f"docs/export.md does not describe: {missing}"


def test_round_trip_into_another_instance(exported, other_site: Site) -> None:  # noqa: ANN001
    lib, path, _ = exported
    newcomer = other_site.person("new", birth_year=None)
    report = bring_in(other_site, newcomer.user_id, path, posted=True)
    assert report["videos"] == len(lib.prompts) and report["posts"] == 2
    with other_site.session() as session:
        videos = session.scalars(select(Video).where(Video.user_id == newcomer.user_id)).all()
        by_origin = {v.params["imported_from"]["video_id"]: v for v in videos}
        assert {k: v.prompt for k, v in by_origin.items()} == lib.prompts
        # Lineage between the user's own items, rebuilt on the new ids.
        assert by_origin[lib.chain[1]].remixed_from_video_id == by_origin[lib.chain[0]].id
        assert by_origin[lib.chain[2]].remixed_from_video_id == by_origin[lib.chain[1]].id
        # Someone else's parent stays a reference: no video of theirs is invented.
        outside = by_origin[lib.remix_of_friend]
        assert outside.remixed_from_video_id is None
        assert outside.params["parent_reference"]["creator"] == f"{lib.friend.handle}@a.example"
        posts = {p.video_id: p for p in session.scalars(select(Post).where(Post.user_id == newcomer.user_id))}
        assert posts[by_origin[lib.chain[1]].id].parent_post_id == posts[by_origin[lib.chain[0]].id].id
        for video in videos:
            assert other_site.services.storage.exists(f"videos/{video.id}/video.mp4")
        characters = {c.kind: c for c in session.scalars(select(Character).where(Character.owner_id == newcomer.user_id))}
        assert characters["toy"].permission == "mutuals" and characters["toy"].toy == lib.toy.toy
        assert session.scalar(select(CharacterRule.text).where(CharacterRule.character_id == characters["toy"].id)) == "no politics"
        person = characters["person"]
        assert person.permission == "only_me" and person.needs_enrollment  # liveness cannot be imported
        with pytest.raises(Forbidden, match="enroll on this one"):
            permissions.set_permission(session=session, character=person, level="mutuals")
        ledger = session.scalars(select(ConsentRecord.result).where(ConsentRecord.user_id == newcomer.user_id)).all()
        assert ledger == ["imported:passed", "imported:failed"]
        prefs = session.get(FeedPrefs, newcomer.user_id)
        assert prefs.daily_limit_minutes == 45 and prefs.personalized is False


def test_posts_arrive_as_drafts_by_default(exported, other_site: Site) -> None:  # noqa: ANN001
    lib, path, _ = exported
    newcomer = other_site.person("new")
    report = bring_in(other_site, newcomer.user_id, path)
    assert report["posts"] == 0 and report["drafts"] == len(lib.prompts)
    with other_site.session() as session:
        assert session.scalar(select(func.count()).select_from(Post).where(Post.user_id == newcomer.user_id)) == 0
        draft = session.scalar(select(Video.id).where(Video.user_id == newcomer.user_id,
                                                      Video.params["imported_from"]["video_id"].as_string() == lib.chain[1]))
    # The caption waits on the draft's page, to be posted again.
    page = other_site.browser_for(newcomer).get(f"/drafts/{draft}")
    assert page.status_code == 200 and ">again!</textarea>" in page.text


def _rewrite(source: Path, target: Path, *, change: dict[str, bytes] | None = None,
             manifest: dict[str, Any] | None = None, extra: list[tuple[str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            data = (change or {}).get(info.filename, data)
            new.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in extra:
            new.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return target


def _counts(site: Site, user_id: str) -> tuple[int, int, int, list[str]]:
    root = site.services.settings.data_dir / "media"
    with site.session() as session:
        return (session.scalar(select(func.count()).select_from(Video).where(Video.user_id == user_id)),
                session.scalar(select(func.count()).select_from(Character).where(Character.owner_id == user_id)),
                session.scalar(select(func.count()).select_from(ConsentRecord).where(ConsentRecord.user_id == user_id)),
                sorted(str(p) for p in root.rglob("*") if p.is_file()))


def test_tampered_archives_are_refused_whole(exported, other_site: Site, tmp_path: Path) -> None:  # noqa: ANN001
    lib, path, manifest = exported
    newcomer = other_site.person("new")
    before = _counts(other_site, newcomer.user_id)
    clip = manifest["videos"][0]["files"]["video"]["path"]
    original = zipfile.ZipFile(path).read(clip)
    flipped = original[:-40] + bytes([original[-40] ^ 0xFF]) + original[-39:]
    bad_field = json.loads(json.dumps(manifest))
    bad_field["videos"][1]["kind"] = "teleport"
    cases = {
        "media_tampered": _rewrite(path, tmp_path / "media.zip", change={clip: flipped}),
        "manifest_invalid": _rewrite(path, tmp_path / "field.zip", manifest=bad_field),
        "archive_bomb": _rewrite(path, tmp_path / "bomb.zip", extra=[("media/videos/x/huge.mp4", bytes(64 << 20))]),
        "archive_unsafe_path": _rewrite(path, tmp_path / "escape.zip", extra=[("media/../../escape.txt", b"x")]),
    }
    messages = {}
    for code, archive in cases.items():
        with pytest.raises(InvalidArchive) as refused:
            bring_in(other_site, newcomer.user_id, archive)
        assert refused.value.code == code, refused.value.message
        messages[code] = refused.value.message
        assert _counts(other_site, newcomer.user_id) == before, f"{code}: something was written"
    assert len(set(messages.values())) == len(cases)  # each its own message
    assert "videos/1/kind" in messages["manifest_invalid"] and clip in messages["media_tampered"]


def test_a_changed_download_fails_its_signature(exported, other_site: Site, tmp_path: Path) -> None:  # noqa: ANN001
    """Re-hashing a changed signed download in the manifest does not help: its C2PA signature no longer holds."""
    pytest.importorskip("c2pa")
    import hashlib

    lib, path, manifest = exported
    entry = manifest["videos"][0]["files"]["download"]
    data = zipfile.ZipFile(path).read(entry["path"])
    at = data.rfind(b"mdat") + 200  # a byte of picture, inside the signed hash range
    changed = data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1:]
    edited = json.loads(json.dumps(manifest))
    edited["videos"][0]["files"]["download"]["sha256"] = hashlib.sha256(changed).hexdigest()
    archive = _rewrite(path, tmp_path / "resigned.zip", change={entry["path"]: changed}, manifest=edited)
    with pytest.raises(InvalidArchive) as refused:
        bring_in(other_site, other_site.person("new").user_id, archive)
    assert refused.value.code == "media_tampered" and "content credentials" in refused.value.message
