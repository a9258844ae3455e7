"""Marks each generated clip with its video's id and fingerprints it, and keeps the instance watermark key."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.db import session_scope
from duetto.app.db.models import ClipPrint

log = logging.getLogger(__name__)

KEY_FILE = "watermark.key"
#: The marks carry a 32-bit payload; videos.seq beyond it would wrap, so the low 32 bits are used.
PAYLOAD_MASK = 0xFFFFFFFF


def watermark_key(settings: Settings) -> bytes:
    """The instance's watermark secret: a random key made on first start and kept in data_dir, never the DB.

    Anyone holding it can forge or strip marks, so it lives beside the signing key, not with the rows.
    """
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Exclusive creation: a server and its worker process starting together agree on one key.
            with open(path, "x") as handle:
                handle.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip().encode()


def mark_clip(clip: Any, seq: int, key: bytes) -> tuple[Any, bytes | None]:
    """The clip as it is stored: enlarged when smaller than the files the instance hands out (see
    `duetto.provenance.sharing`), both invisible marks carrying `seq`; and the fingerprint of that clip.

    Anything that is not a `duetto.clip.Clip` (a test double from a swapped-in generator) passes through
    unmarked with no fingerprint. Marks are skipped for tracks too small or quiet to carry them.
    """
    from duetto.clip import Clip
    from duetto.provenance import embed_marks, enlarge_for_sharing, fingerprint

    if not isinstance(clip, Clip):
        return clip, None
    payload = seq & PAYLOAD_MASK
    started = time.perf_counter()
    clip = embed_marks(enlarge_for_sharing(clip), payload, key)
    data = fingerprint(clip).to_bytes()
    log.info("marked and fingerprinted clip %d in %.2f s", payload, time.perf_counter() - started)
    return clip, data


def store_print(sessions: sessionmaker[Session], *, video_id: str, seq: int, user_id: str, data: bytes) -> None:
    """Record (or replace, on a retried job) the fingerprint of a finished video."""
    with session_scope(sessions) as session:
        session.merge(ClipPrint(video_id=video_id, video_seq=seq, user_id=user_id, data=data, created_at=time.time()))


def forget_prints(*, session: Session, video_ids: list[str]) -> None:
    """Drop the fingerprints of removed clips (not committed): reverse search must not find them again."""
    session.execute(delete(ClipPrint).where(ClipPrint.video_id.in_(video_ids)))
