"""One call that answers "was this made here?": content credentials, both invisible marks and reverse search."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duetto.clip import Clip
from duetto.media import read_mp4
from duetto.provenance.audio_mark import MIN_SAMPLE_RATE, detect_audio_mark
from duetto.provenance.codes import Detection, Key
from duetto.provenance.credentials import GENERATOR, read_c2pa
from duetto.provenance.fingerprint import MATCH_THRESHOLD, FingerprintIndex, fingerprint
from duetto.provenance.video_mark import MIN_SIDE, detect_video_mark

#: Query fingerprints use several phases so an excerpt cut anywhere lines up with the stored one.
QUERY_PHASES = 4


@dataclass(frozen=True)
class VerifyResult:
    """Everything the verifier found about one file or clip.

    Attributes:
        credentials: `read_c2pa`'s report, or None when the input had no manifest (or was a Clip).
        video, audio: the invisible-mark detections (None when the input had no such track or it was
            too small or short to read).
        matches: the best reverse-search hits as (key, score), best first; empty without an index.
    """

    credentials: dict[str, Any] | None
    video: Detection | None
    audio: Detection | None
    matches: list[tuple[str, float]] = field(default_factory=list)

    @property
    def signed_here(self) -> bool:
        """Credentials that validate against this instance's root and name Duetto as the generator."""
        c = self.credentials
        return bool(c and c["trusted"] and (c.get("manifest") or {}).get("generator") == GENERATOR)

    @property
    def match(self) -> tuple[str, float] | None:
        """The best reverse-search hit at or above the match threshold, if any."""
        return self.matches[0] if self.matches and self.matches[0][1] >= MATCH_THRESHOLD else None

    @property
    def made_here(self) -> bool:
        """Any strong signal: our signed credentials, either mark found, or a fingerprint match."""
        return (self.signed_here or bool(self.video and self.video.found) or bool(self.audio and self.audio.found)
                or self.match is not None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for an API response."""
        return {
            "made_here": self.made_here,
            "signed_here": self.signed_here,
            "credentials": self.credentials,
            "video_mark": self.video.to_dict() if self.video else None,
            "audio_mark": self.audio.to_dict() if self.audio else None,
            "match": {"key": self.match[0], "score": self.match[1]} if self.match else None,
            "candidates": [{"key": k, "score": s} for k, s in self.matches],
        }


def _is_bmff(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp"


def verify_clip(
    source: str | os.PathLike[str] | bytes | Clip,
    *,
    key: Key,
    index: FingerprintIndex | None = None,
    trust: bytes | str | None = None,
    top: int = 3,
) -> VerifyResult:
    """Check a video file (path or bytes) or a decoded Clip for every provenance signal.

    `key` is the instance's watermark secret, `index` its fingerprint index (skipped when None), and
    `trust` its C2PA root certificate (PEM), without which its own credentials read as Valid, not
    Trusted, and do not count towards `signed_here`.
    """
    credentials = None
    if isinstance(source, Clip):
        clip = source
    else:
        data = source if isinstance(source, bytes | bytearray) else Path(source).read_bytes() \
            if Path(source).is_file() else None
        if data is None:
            raise ValueError(f"cannot verify {source}: no such file")
        if _is_bmff(bytes(data[:12])):
            credentials = read_c2pa(bytes(data), trust=trust)
        clip = read_mp4(bytes(data))
    video = detect_video_mark(clip.frames, key) if min(clip.height, clip.width) >= MIN_SIDE else None
    audio = None
    if clip.sample_rate >= MIN_SAMPLE_RATE and clip.audio.any():
        audio = detect_audio_mark(clip.audio, clip.sample_rate, key)
    matches = index.search(fingerprint(clip, phases=QUERY_PHASES), top=top) if index is not None and len(index) else []
    return VerifyResult(credentials=credentials, video=video, audio=audio, matches=matches)
