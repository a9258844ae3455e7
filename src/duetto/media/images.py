"""Still images from clips (thumbnails, spritesheets) and image files to and from bytes, with Pillow."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from duetto.clip import Clip

_FORMATS = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


def _scaled(image: Image.Image, width: int) -> Image.Image:
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    height = max(1, round(image.height * width / image.width))
    if (width, height) == image.size:
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)


def thumbnail(clip: Clip, *, width: int | None = None) -> Image.Image:
    """The clip's middle frame as an RGB image, scaled to `width` (keeping the aspect) when given."""
    if clip.num_frames == 0:
        raise ValueError("cannot make a thumbnail of a clip with no frames")
    # The middle frame: the first is often a fade-in or still settling, the last a fade-out.
    image = Image.fromarray(clip.frames[clip.num_frames // 2])
    return image if width is None else _scaled(image, width)


def spritesheet_indices(num_frames: int, count: int) -> list[int]:
    """`count` frame indices spread evenly over `num_frames`: the centre of each of `count` equal spans."""
    return [min(num_frames - 1, int((k + 0.5) * num_frames / count)) for k in range(count)]


def spritesheet(clip: Clip, *, columns: int = 5, rows: int = 5, tile_width: int = 160) -> Image.Image:
    """Evenly spaced frames in a `rows` x `columns` grid, left to right then top to bottom.

    Each tile is `tile_width` wide with the clip's aspect ratio; a clip shorter than the grid repeats
    frames rather than leaving holes.
    """
    if columns <= 0 or rows <= 0 or tile_width <= 0:
        raise ValueError(f"columns, rows and tile_width must be positive, got {columns}, {rows}, {tile_width}")
    if clip.num_frames == 0:
        raise ValueError("cannot make a spritesheet of a clip with no frames")
    tile_height = max(1, round(clip.height * tile_width / clip.width))
    sheet = Image.new("RGB", (columns * tile_width, rows * tile_height))
    for slot, index in enumerate(spritesheet_indices(clip.num_frames, columns * rows)):
        tile = Image.fromarray(clip.frames[index]).resize(
            (tile_width, tile_height), Image.Resampling.LANCZOS)
        row, column = divmod(slot, columns)
        sheet.paste(tile, (column * tile_width, row * tile_height))
    return sheet


def image_bytes(img: Image.Image | np.ndarray, fmt: str = "jpeg", *, quality: int = 90) -> bytes:
    """Encode an image (PIL or uint8 HxWx3 array) as JPEG, PNG or WebP bytes."""
    kind = _FORMATS.get(fmt.lower())
    if kind is None:
        raise ValueError(f"image format {fmt!r} is not supported; use one of {sorted(_FORMATS)}")
    image = Image.fromarray(img) if isinstance(img, np.ndarray) else img
    if kind == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": quality} if kind in ("JPEG", "WEBP") else {"optimize": True}
    image.save(buffer, format=kind, **options)
    return buffer.getvalue()


def load_image(path_or_bytes: str | os.PathLike[str] | bytes) -> Image.Image:
    """Open an image file or its bytes as RGB, upright per its EXIF orientation."""
    name = "<bytes>" if isinstance(path_or_bytes, bytes | bytearray) else str(path_or_bytes)
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes | bytearray) else path_or_bytes
    try:
        with Image.open(source) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        reason = "not a known image format" if isinstance(error, UnidentifiedImageError) else str(error)
        raise ValueError(f"cannot read {name} as an image: {reason}") from None
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Transparent pixels become white rather than whatever colour hides under alpha 0.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
