"""Answers "was this clip made here, and by whom?" from the stored fingerprints and the instance's marks."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest
from duetto.app.db.models import Account, ClipPrint, User, Video

log = logging.getLogger(__name__)

UNREADABLE = ("That file could not be read as a video. Upload a video file, such as an MP4, MOV or WebM clip "
              "saved from this site or a phone.")


@dataclass(frozen=True)
class Attribution:
    """Who made a clip here and when, as shown to the person who asked."""

    video_id: str
    handle: str  # "@ann", or the API user's name when they have no web account
    created_at: float
    score: float | None  # the fingerprint score; None when only a mark pointed here

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.created_at))

    @property
    def sentence(self) -> str:
        return f"made here by {self.handle} on {self.date}"


def build_index(*, session: Session) -> Any:
    """An in-memory fingerprint index of every stored clip whose video still exists."""
    from duetto.provenance import Fingerprint, FingerprintIndex

    index = FingerprintIndex()
    rows = session.execute(
        select(ClipPrint.video_id, ClipPrint.data).join(Video, Video.id == ClipPrint.video_id)
        .where(Video.deleted_at.is_(None))
    )
    for video_id, data in rows:
        index.add(video_id, Fingerprint.from_bytes(data))
    return index


def _attribute(*, session: Session, video_id: str | None = None, seq: int | None = None,
               score: float | None = None) -> Attribution | None:
    query = select(Video, User.name, Account.handle).join(User, User.id == Video.user_id) \
        .outerjoin(Account, Account.user_id == Video.user_id)
    query = query.where(Video.id == video_id) if video_id is not None else query.where(Video.seq == seq)
    row = session.execute(query).one_or_none()
    if row is None:
        return None
    video, name, handle = row
    return Attribution(video_id=video.id, handle=f"@{handle}" if handle else name, created_at=video.created_at,
                       score=score)


@dataclass(frozen=True)
class Report:
    """The verifier's answer: the three signals in words, the attribution, and the raw result."""

    credentials: str
    watermark: str
    fingerprint: str
    attribution: Attribution | None
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        made_by = None
        if self.attribution is not None:
            a = self.attribution
            made_by = {"video_id": a.video_id, "handle": a.handle, "created_at": int(a.created_at),
                       "score": a.score}
        return {"object": "verification", "summary": self.fingerprint, "credentials": self.credentials,
                "watermark": self.watermark, "made_by": made_by, "details": self.raw}


def _credentials_text(credentials: dict[str, Any] | None) -> str:
    if credentials is None:
        return "No content credentials (C2PA) in the file."
    state = credentials.get("validation_state", "unknown")
    generator = (credentials.get("manifest") or {}).get("generator") or "an unknown generator"
    return f"Content credentials: {state}, made with {generator}."


def verify_upload(*, session: Session, data: bytes, key: bytes) -> Report:
    """Check an uploaded clip for credentials, both marks and a fingerprint match against this instance."""
    from duetto.provenance import verify_clip

    if not data:
        raise InvalidRequest("Upload a video file to verify.", param="file")
    try:
        result = verify_clip(bytes(data), key=key, index=build_index(session=session))
    except Exception:  # any decoder failure means the upload was not a readable clip
        # The person is told what to do; the decoder's own exception means nothing to them (it is logged).
        log.info("verify: the upload could not be decoded as a video", exc_info=True)
        raise InvalidRequest(UNREADABLE, param="file") from None
    marks = [d for d in (result.video, result.audio) if d is not None and d.found]
    mark_owner = _attribute(session=session, seq=marks[0].payload) if marks else None
    if marks:
        tracks = [name for name, d in (("video", result.video), ("audio", result.audio)) if d is not None and d.found]
        watermark = f"Invisible watermark of this instance found in the {' and '.join(tracks)}."
    else:
        watermark = "No invisible watermark from this instance found."
    match_owner = None
    if result.match is not None:
        match_owner = _attribute(session=session, video_id=result.match[0], score=round(result.match[1], 3))
    owner = match_owner or mark_owner
    fingerprint_text = owner.sentence if owner is not None else "no match"
    return Report(credentials=_credentials_text(result.credentials), watermark=watermark,
                  fingerprint=fingerprint_text, attribution=owner, raw=result.to_dict())
