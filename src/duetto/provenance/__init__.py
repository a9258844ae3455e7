"""Provenance for generated clips: visible and invisible watermarks, fingerprints, C2PA credentials, verification."""

from typing import Any

from duetto.provenance.audio_mark import detect_audio_mark, embed_audio_mark
from duetto.provenance.codes import CODE_BITS, FALSE_ALARM, PAYLOAD_BITS, Detection
from duetto.provenance.fingerprint import MATCH_THRESHOLD, Fingerprint, FingerprintIndex, fingerprint, match
from duetto.provenance.sharing import MIN_SHARED_SIDE, download_rendition, embed_marks, enlarge_for_sharing
from duetto.provenance.video_mark import detect_video_mark, embed_video_mark
from duetto.provenance.visible import stamp_visible, visible_mark_region

# C2PA loads a native library; import it (and the verifier that uses it) only when asked for.
_LAZY = {
    "SigningIdentity": "duetto.provenance.credentials",
    "ensure_signing_identity": "duetto.provenance.credentials",
    "read_c2pa": "duetto.provenance.credentials",
    "sign_mp4": "duetto.provenance.credentials",
    "VerifyResult": "duetto.provenance.verify",
    "verify_clip": "duetto.provenance.verify",
}

__all__ = [
    "CODE_BITS",
    "FALSE_ALARM",
    "MATCH_THRESHOLD",
    "MIN_SHARED_SIDE",
    "PAYLOAD_BITS",
    "Detection",
    "Fingerprint",
    "FingerprintIndex",
    "SigningIdentity",
    "VerifyResult",
    "detect_audio_mark",
    "detect_video_mark",
    "download_rendition",
    "embed_audio_mark",
    "embed_marks",
    "embed_video_mark",
    "enlarge_for_sharing",
    "ensure_signing_identity",
    "fingerprint",
    "match",
    "read_c2pa",
    "sign_mp4",
    "stamp_visible",
    "verify_clip",
    "visible_mark_region",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'duetto.provenance' has no attribute {name!r}")
