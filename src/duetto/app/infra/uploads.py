"""Checks on uploaded media: what kind of file it really is (by its bytes), and data URLs."""

from __future__ import annotations

import base64
import binascii
import io

from duetto.app.core.errors import DomainError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType

IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
# Sound files a picture can be made for, by media type, with the name each is stored under.
AUDIO_TYPES = {"audio/wav": ".wav", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/ogg": ".ogg",
               "audio/flac": ".flac"}
# Pictures larger than this are refused before decoding: 40 MP is more than any camera photo or first frame.
MAX_IMAGE_PIXELS = 40_000_000


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


def sniff_audio(data: bytes) -> str | None:
    """The sound file's media type from its first bytes, or None when it is none we accept. An ISO media file
    (MP4 or M4A) counts as audio/mp4 only when its brand says M4A; otherwise what it holds decides."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    # MP3: an ID3 tag, or an MPEG audio frame's sync word (11 set bits, layer bits not 00).
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06):
        return "audio/mpeg"
    if is_mp4(data) and data[8:12] in (b"M4A ", b"M4B "):
        return "audio/mp4"
    return None


def require_image(data: bytes, *, param: str) -> str:
    """The media type of an image upload that really decodes, checked now rather than when a job opens it:
    415 for anything that is not a whole PNG, JPEG or WebP (whatever its first bytes say), 413 for more than
    MAX_IMAGE_PIXELS pixels (a small file can declare a huge picture that would fill the memory)."""
    media_type = sniff_image(data)
    if media_type is None:
        raise UnsupportedMediaType(
            f"{param} must be a PNG, JPEG or WebP image; the uploaded file is none of these.", param=param
        )
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise PayloadTooLarge(_too_many_pixels(param, f"{width}×{height}"), param=param)
            image.load()
    except Image.DecompressionBombError:
        raise PayloadTooLarge(_too_many_pixels(param, "far more"), param=param) from None
    except DomainError:
        raise
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, ValueError, EOFError) for a damaged file
        raise UnsupportedMediaType(
            f"{param} starts like {media_type} but could not be decoded; upload an undamaged PNG, JPEG or WebP.",
            param=param,
        ) from None
    return media_type


def _too_many_pixels(param: str, size: str) -> str:
    return f"{param} has {size} pixels; use an image of at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels."


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
