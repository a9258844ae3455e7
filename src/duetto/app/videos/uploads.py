"""Checks on uploaded media: what kind of file it really is (by its bytes), and data URLs."""

from __future__ import annotations

import base64
import binascii

from duetto.app.core.errors import InvalidRequest, UnsupportedMediaType

IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def sniff_image(data: bytes) -> str | None:
    """The image's media type from its magic bytes, or None when it is none we accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_mp4(data: bytes) -> bool:
    # ISO base media files start with a box whose type is `ftyp`.
    return data[4:8] == b"ftyp"


def require_image(data: bytes, *, param: str) -> str:
    media_type = sniff_image(data)
    if media_type is None:
        raise UnsupportedMediaType(
            f"{param} must be an image ({', '.join(IMAGE_TYPES)}); the uploaded file is not one.", param=param
        )
    return media_type


def require_mp4(data: bytes, *, param: str) -> None:
    if not is_mp4(data):
        raise UnsupportedMediaType(f"{param} must be an MP4 video (video/mp4); the uploaded file is not one.", param=param)


def decode_data_url(url: str, *, param: str) -> bytes:
    """The bytes of a base64 `data:` URL; remote URLs are refused, as the server fetches nothing."""
    if not url.startswith("data:"):
        raise InvalidRequest(
            f"{param} must be a base64 data URL (data:image/png;base64,...) or a file upload; "
            "this server does not fetch remote URLs.",
            param=param,
        )
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise InvalidRequest(f"{param} must be base64-encoded (data:<type>;base64,...).", param=param)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{param} is not valid base64.", param=param) from None
