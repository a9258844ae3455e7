"""Bringing a library archive from another instance into one user's account: the whole archive is checked
first (zip safety, the manifest's schema, every media file's hash, size and type, C2PA signatures where
present), then everything is written at once, so a bad archive leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from duetto.app.characters import names, rules
from duetto.app.characters.files import character_prefix
from duetto.app.core.errors import DomainError, InvalidRequest
from duetto.app.core.security import new_id
from duetto.app.db.models import (
    Account,
    BirthYear,
    Character,
    CharacterRule,
    ConsentRecord,
    FeedPrefs,
    Post,
    Video,
    VideoCharacter,
)
from duetto.app.flows.library.manifest import FORMAT, MANIFEST, VERSION, schema_errors
from duetto.app.infra.storage import Storage
from duetto.app.moderation import check_text
from duetto.app.social.hot import hot_score
from duetto.app.social.terms import terms_of
from duetto.app.users import ages
from duetto.app.users.accounts import avatar_prefix
from duetto.app.videos import prompt_format
from duetto.app.videos.files import asset_key

MAX_ENTRIES = 100_000
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 512 * 1024 * 1024
# Deflated media barely shrinks; a member that inflates more than this many times is a bomb, not a clip.
MAX_RATIO = 100
KNOWN_PARAMS = ("negative_prompt", "audio_negative_prompt", "seed", "steps")


class InvalidArchive(InvalidRequest):
    """An archive refused before anything was written; the message says what is wrong and what to do."""


@dataclass
class CheckedArchive:
    """An archive that passed every check: its manifest, and the open zip its media is read from."""

    manifest: dict[str, Any]
    zip: zipfile.ZipFile
    files: list[dict[str, Any]] = field(default_factory=list)

    def read(self, entry: dict[str, Any]) -> bytes:
        return self.zip.read(entry["path"])

    def close(self) -> None:
        self.zip.close()


def _refuse(message: str, code: str) -> InvalidArchive:
    return InvalidArchive(message, param="archive", code=code)


def _check_names(archive: zipfile.ZipFile, *, max_unpacked: int) -> dict[str, zipfile.ZipInfo]:
    """Every member is a plain file under media/ (or the manifest), named safely, of sane size."""
    members = archive.infolist()
    if len(members) > MAX_ENTRIES:
        raise _refuse(f"The archive has {len(members)} files; a library archive has at most {MAX_ENTRIES}.",
                      "archive_too_many_files")
    seen: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in members:
        name = info.filename
        parts = PurePosixPath(name).parts
        if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in name or not parts
                or (name != MANIFEST and parts[0] != "media")):
            raise _refuse(f"The archive holds an entry with an unsafe path ({name[:80]!r}); only media/… and "
                          "manifest.json may appear. Export the library again.", "archive_unsafe_path")
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(f"The archive holds a link ({name[:80]!r}); archives hold plain files only.",
                          "archive_unsafe_path")
        if name in seen:
            raise _refuse(f"The archive holds {name[:80]!r} twice; export the library again.", "archive_duplicate")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_MEMBER_BYTES or total > max_unpacked or (info.file_size > 1 << 20 and ratio > MAX_RATIO):
            raise _refuse(f"The archive unpacks to far more than it holds ({name[:80]!r}: {info.file_size} bytes from "
                          f"{info.compress_size}); it looks like a zip bomb and was not opened.", "archive_bomb")
        seen[name] = info
    if MANIFEST not in seen:
        raise _refuse("The archive has no manifest.json; is it a Duetto library export?", "archive_no_manifest")
    return seen


def _read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    if info.file_size > MAX_MANIFEST_BYTES:
        raise _refuse("manifest.json is too large.", "archive_bomb")
    try:
        manifest = json.loads(archive.read(info))
    except (ValueError, zipfile.BadZipFile, UnicodeDecodeError):
        raise _refuse("manifest.json is not valid JSON; export the library again.", "manifest_invalid") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse("manifest.json is not a Duetto library manifest.", "manifest_invalid")
    if manifest.get("version") != VERSION:
        raise _refuse(f"This archive is version {manifest.get('version')!r}; this server reads version {VERSION}. "
                      "Upgrade the server, or export with a matching version.", "manifest_version")
    errors = schema_errors(manifest)
    if errors:
        raise _refuse(f"manifest.json does not match the library schema: {errors[0]}", "manifest_invalid")
    return manifest


def _file_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [manifest["account"]["avatar"]]
    for video in manifest["videos"]:
        entries += list(video["files"].values())
    for character in manifest["characters"]:
        entries += [character["still"], character["voice"]]
    return [e for e in entries if e is not None]


def _check_consistency(manifest: dict[str, Any]) -> None:
    """Ids are unique and every link between the archive's own items points at one of them."""
    video_ids = [v["id"] for v in manifest["videos"]]
    if len(set(video_ids)) != len(video_ids):
        raise _refuse("manifest.json lists a video twice.", "manifest_invalid")
    character_ids = {c["id"] for c in manifest["characters"]}
    if len(character_ids) != len(manifest["characters"]):
        raise _refuse("manifest.json lists a character twice.", "manifest_invalid")
    known = set(video_ids)
    for video in manifest["videos"]:
        for link in ("source_video_id", "remixed_from_video_id"):
            target = video[link]
            if target and target not in known and not (video["parent"] and video["parent"]["video_id"] == target):
                raise _refuse(f"Video {video['id']}'s {link} names neither a video of the archive nor its parent "
                              "reference.", "manifest_invalid")
        if video["visibility"] == "posted" and video["post"] is None:
            raise _refuse(f"Video {video['id']} is marked posted but has no post.", "manifest_invalid")


def _probe(entry: dict[str, Any], data: bytes) -> None:
    """The bytes are what the manifest says they are: a readable MP4, image or WAV."""
    kind = entry["type"]
    try:
        if kind == "video/mp4":
            from duetto.media import probe_mp4

            with tempfile.TemporaryDirectory(prefix="duetto-import-") as folder:
                path = Path(folder) / "clip.mp4"
                path.write_bytes(data)
                if not probe_mp4(path).get("video"):
                    raise ValueError("no video stream")
        elif kind == "audio/wav":
            if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
                raise ValueError("not RIFF/WAVE")
        else:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > 64_000_000:
                    raise ValueError("too many pixels")
                image.verify()
    except Exception:  # PyAV and Pillow raise many kinds for a damaged file
        raise _refuse(f"{entry['path']} is not a readable {kind} file; export the library again.",
                      "media_unreadable") from None


def _check_credentials(entry: dict[str, Any], data: bytes) -> None:
    """A signed download whose content credentials no longer verify was changed after signing."""
    try:
        from duetto.provenance import read_c2pa
    except ImportError:  # the C2PA library is optional; without it signatures are not checked
        return
    credentials = read_c2pa(data)
    if credentials is not None and not credentials["valid"]:
        raise _refuse(f"{entry['path']}: its content credentials do not verify ({', '.join(credentials['failures'][:2])}); "
                      "the file was changed after it was signed.", "media_tampered")


def check_archive(path: Path, *, max_unpacked: int,
                  progress: Callable[[int, int], None] = lambda done, total: None) -> CheckedArchive:
    """Open and check an archive without writing anything; InvalidArchive says what is wrong."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise _refuse("The file is not a zip archive; upload the .zip a Duetto export made.", "archive_not_zip") from None
    try:
        members = _check_names(archive, max_unpacked=max_unpacked)
        manifest = _read_manifest(archive, members[MANIFEST])
        _check_consistency(manifest)
        files = _file_entries(manifest)
        listed = {e["path"] for e in files}
        if len(listed) != len(files):
            raise _refuse("manifest.json lists one media file for two items.", "manifest_invalid")
        extra = sorted(set(members) - listed - {MANIFEST})
        if extra:
            raise _refuse(f"The archive holds a file the manifest does not list ({extra[0][:80]!r}).", "archive_unlisted_file")
        for done, entry in enumerate(files):
            progress(done, len(files))
            info = members.get(entry["path"])
            if info is None:
                raise _refuse(f"{entry['path']} is listed in the manifest but missing from the archive.", "media_missing")
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError):
                raise _refuse(f"{entry['path']} is damaged in the archive.", "media_tampered") from None
            if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise _refuse(f"{entry['path']} was changed: its hash does not match the manifest's.", "media_tampered")
            _probe(entry, data)
            if entry["path"].endswith("/download.mp4"):
                _check_credentials(entry, data)
        return CheckedArchive(manifest=manifest, zip=archive, files=files)
    except BaseException:
        archive.close()
        raise


@dataclass
class Plan:
    """Everything an import will write: new rows, files by key, and what was kept as reference only."""

    rows: list[Any] = field(default_factory=list)
    files: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (storage key, manifest file entry)
    prefixes: list[str] = field(default_factory=list)  # to remove when the import fails
    video_ids: dict[str, str] = field(default_factory=dict)  # archive id → new id
    report: dict[str, Any] = field(default_factory=dict)


def _refuse_text(*, session: Session, user_id: str, text: str, surface: str, where: str) -> None:
    if not text.strip():
        return
    decision = check_text(session=session, text=text, surface=surface, user_id=user_id)
    if not decision.allowed:
        raise InvalidArchive(f"{where} is refused by this instance's moderation lists ({decision.category}); "
                             "remove that item from the archive or ask the operator.", param="archive",
                             code="archive_refused_content")


def _plan_videos(manifest: dict[str, Any], plan: Plan, *, session: Session, user_id: str, posted: bool,
                 character_ids: dict[str, str]) -> None:
    done = [v for v in manifest["videos"] if v["status"] == "completed" and v["files"]["video"] is not None]
    plan.report["videos_not_finished"] = len(manifest["videos"]) - len(done)
    for video in done:
        plan.video_ids[video["id"]] = new_id("video")
    post_ids: dict[str, str] = {}
    for video in done:
        new = plan.video_ids[video["id"]]
        plan.prefixes += [f"videos/{new}", f"inputs/{new}"]
        _refuse_text(session=session, user_id=user_id, text=prompt_format.compose(video["prompt"], video["audio_prompt"]),
                     surface="api_prompt", where=f"The prompt of video {video['id']}")
        params = {**{k: video[k] for k in KNOWN_PARAMS if video[k] is not None}, **video["params"],
                  "imported_from": {"instance": manifest["instance"], "video_id": video["id"]}}
        if video["parent"]:
            params["parent_reference"] = video["parent"]  # someone else's item: a reference, never a copy
        if video["post"] is not None and not posted:
            # Back as a draft: its caption waits on the draft's page for the person to post it again.
            params["imported_post"] = {"id": video["post"]["id"], "caption": video["post"]["caption"],
                                       "posted_at": video["post"]["posted_at"]}
        source = plan.video_ids.get(video["source_video_id"] or "")
        plan.rows.append(Video(
            id=new, user_id=user_id, kind=video["kind"], model=video["model"], status="completed", progress=100,
            prompt=prompt_format.compose(video["prompt"], video["audio_prompt"]), size=video["size"],
            seconds=video["seconds"], generate_seconds=_seconds(video["seconds"]), params=params,
            source_video_id=source, remixed_from_video_id=plan.video_ids.get(video["remixed_from_video_id"] or ""),
            cost=0.0, attempts=0, created_at=video["created_at"], completed_at=video["completed_at"] or video["created_at"],
        ))
        plan.files.append((asset_key(new, "video"), video["files"]["video"]))
        if video["files"]["thumbnail"]:
            plan.files.append((asset_key(new, "thumbnail"), video["files"]["thumbnail"]))
        for character in video["characters"]:
            if character in character_ids:
                plan.rows.append(VideoCharacter(video_id=new, character_id=character_ids[character], created_at=time.time()))
        if posted and video["post"] is not None:
            post_ids[video["post"]["id"]] = new_id("post")
    # Posts after every id is known, so a remix points at its parent's new post when both came along.
    for video in done:
        if video["post"] is None or video["post"]["id"] not in post_ids:
            continue
        post = video["post"]
        _refuse_text(session=session, user_id=user_id, text=post["caption"], surface="caption",
                     where=f"The caption of post {post['id']}")
        picture, sound = video["prompt"], video["audio_prompt"]
        plan.rows.append(Post(
            id=post_ids[post["id"]], user_id=user_id, video_id=plan.video_ids[video["id"]], caption=post["caption"],
            parent_post_id=post_ids.get(post["parent_post_id"] or ""), root_post_id=post_ids.get(post["root_post_id"] or ""),
            like_count=0, comment_count=0, remix_count=0, view_count=0, completion_count=0,
            hot=hot_score(likes=0, completions=0, remixes=0, comments=0, created_at=post["posted_at"]),
            terms=" ".join(terms_of(picture, sound, post["caption"])), created_at=post["posted_at"]))
    plan.report["videos"] = len(done)
    plan.report["posts"] = len(post_ids)
    plan.report["drafts"] = len(done) - len(post_ids)


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _free_name(*, session: Session, name: str, owner_id: str, taken: set[str]) -> str:
    """The character's name, or name_2, name_3 … when it is taken here."""
    for n in range(1, 100):
        candidate = name if n == 1 else f"{name[:27]}_{n}"
        if candidate in taken:
            continue
        try:
            return names.check_name(session=session, name=candidate, owner_id=owner_id)
        except DomainError as error:
            if error.code != "name_taken":
                raise InvalidArchive(f"Character @{name}: {error.message}", param="archive",
                                     code="archive_refused_content") from None
    raise InvalidArchive(f"Character @{name}: no free name like it on this instance.", param="archive",
                         code="archive_refused_content")


def _plan_characters(manifest: dict[str, Any], plan: Plan, *, session: Session, user_id: str,
                     birth_year: int | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    renamed, narrowed, taken = {}, [], set()
    for character in manifest["characters"]:
        new = new_id("char")
        ids[character["id"]] = new
        plan.prefixes.append(character_prefix(new))
        name = _free_name(session=session, name=character["name"], owner_id=user_id, taken=taken)
        taken.add(name)
        if name != character["name"]:
            renamed[character["name"]] = name
        permission = character["permission"]
        person = character["kind"] == "person"
        if person:
            permission = "only_me"  # liveness cannot travel: the owner enrolls here before sharing again
        elif permission == "everyone" and (birth_year is None or ages.is_minor(birth_year)):
            permission = "only_me"  # 'everyone' needs an adult owner by the birth year declared here
        if permission != character["permission"]:
            narrowed.append(name)
        still_key = voice_key = None
        if character["still"]:
            still_key = character_prefix(new) + "still.png"
            plan.files.append((still_key, character["still"]))
        if character["voice"]:
            voice_key = character_prefix(new) + "voice.wav"
            plan.files.append((voice_key, character["voice"]))
        plan.rows.append(Character(
            id=new, owner_id=user_id, kind=character["kind"], name=name,
            display_name=character["display_name"] or name, permission=permission, toy=character["toy"],
            still_key=still_key, voice_key=voice_key, created_at=character["created_at"], needs_enrollment=person))
        for rule in character["rules"]:
            try:
                parsed = rules.parse_rule(rule["text"])
            except DomainError:
                continue  # a rule form this instance does not know is left out, and said so below
            plan.rows.append(CharacterRule(character_id=new, text=rules.normalize_rule_text(rule["text"]),
                                           form=parsed.form, terms=parsed.terms, created_at=rule["at"]))
    plan.report["characters"] = len(ids)
    plan.report["characters_renamed"] = renamed
    plan.report["characters_only_me"] = narrowed
    plan.report["approvals_kept_as_reference"] = sum(len(c["approvals"]) for c in manifest["characters"])
    return ids


def _plan_account(manifest: dict[str, Any], plan: Plan, *, session: Session, user_id: str) -> None:
    account = manifest["account"]
    mine = session.get(Account, user_id)
    if mine is not None:
        if account["bio"] and not mine.bio:
            _refuse_text(session=session, user_id=user_id, text=account["bio"], surface="bio", where="The bio")
            mine.bio = account["bio"]
        if account["avatar"] and not mine.avatar_key:
            mine.avatar_key = f"{avatar_prefix(user_id)}imported-{new_id('a')[-8:]}.webp"
            plan.files.append((mine.avatar_key, account["avatar"]))
            plan.prefixes.append(mine.avatar_key)
    feed = manifest["feed"]
    prefs = session.get(FeedPrefs, user_id) or FeedPrefs(user_id=user_id)
    prefs.steering = feed["steering"]
    prefs.less_terms = feed["less_terms"]
    prefs.less_creators = {}  # people of another instance: kept in the archive only
    prefs.daily_limit_minutes = feed["daily_limit_minutes"]
    prefs.personalized = feed["personalized"]
    plan.rows.append(prefs)
    for entry in manifest["consent_ledger"]:
        # Kept as history: marked as imported, so it never counts as consent given on this instance.
        plan.rows.append(ConsentRecord(
            user_id=user_id, challenge_hash=entry["challenge_hash"], result=f"imported:{entry['result']}"[:40],
            detail=f"from {manifest['instance']} at {entry['at']:.0f}: {entry['detail']}", created_at=time.time()))
    plan.report["consent_records_kept"] = len(manifest["consent_ledger"])
    plan.report["kept_as_reference"] = {
        "follows": len(manifest["people"]["follows"]), "followers": len(manifest["people"]["followers"]),
        "blocks": len(manifest["people"]["blocks"]), "likes": len(manifest["likes"]),
        "comments": len(manifest["comments"]), "messages": len(manifest["messages"]),
    }


def import_archive(*, session: Session, storage: Storage, user_id: str, checked: CheckedArchive, posted: bool,
                   ) -> dict[str, Any]:
    """Write a checked archive into the user's account in one commit; returns the report of what came in."""
    manifest = checked.manifest
    plan = Plan(report={"from_instance": manifest["instance"], "posts_as": "posted" if posted else "drafts"})
    try:
        # 1. Plan every row and file (the moderation lists see every prompt and caption first). The birth year
        #    is set once: the archive's counts only where none was declared here.
        birth_year = ages.birth_year(session=session, user_id=user_id)
        if birth_year is None and manifest["account"]["birth_year"]:
            birth_year = manifest["account"]["birth_year"]
            plan.rows.append(BirthYear(user_id=user_id, year=birth_year, declared_at=time.time()))
        character_ids = _plan_characters(manifest, plan, session=session, user_id=user_id, birth_year=birth_year)
        _plan_videos(manifest, plan, session=session, user_id=user_id, posted=posted, character_ids=character_ids)
        _plan_account(manifest, plan, session=session, user_id=user_id)
        # 2. Files, then rows in one commit; on any failure both are undone.
        for key, entry in plan.files:
            storage.put_bytes(key, checked.read(entry), entry["type"])
        session.add_all([r for r in plan.rows if not isinstance(r, Post)])
        session.flush()  # no ORM relationship orders the inserts: videos go before the posts naming them
        session.add_all([r for r in plan.rows if isinstance(r, Post)])
        session.commit()
    except BaseException:
        session.rollback()
        for prefix in plan.prefixes:
            storage.delete_prefix(prefix)
        raise
    return plan.report
