"""Thumbnails, spritesheets and image bytes: sizes, which frames land where, and load errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from duetto.clip import Clip
from duetto.media import image_bytes, load_image, spritesheet, spritesheet_indices, thumbnail


def _numbered_clip(num_frames: int, height: int = 36, width: int = 64) -> Clip:
    """Each frame a flat colour that encodes its index, so a tile tells which frame it shows."""
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    for index in range(num_frames):
        frames[index] = (index * 5 % 256, 255 - index * 3 % 256, 100)
    return Clip(frames=frames, audio=np.zeros(100, np.float32), fps=24.0, sample_rate=16000)


def test_thumbnail_is_the_middle_frame_scaled_to_width() -> None:
    clip = _numbered_clip(11)
    image = thumbnail(clip)
    assert image.mode == "RGB" and image.size == (64, 36)
    np.testing.assert_array_equal(np.asarray(image), clip.frames[5])
    small = thumbnail(clip, width=32)
    assert small.size == (32, 18)
    assert np.abs(np.asarray(small).astype(int) - clip.frames[5, :18, :32]).max() <= 1


def test_spritesheet_grid_size_and_evenly_spaced_frames() -> None:
    clip = _numbered_clip(50)
    sheet = spritesheet(clip, columns=5, rows=5, tile_width=160)
    assert sheet.size == (5 * 160, 5 * 90)
    indices = spritesheet_indices(50, 25)
    assert indices == list(range(1, 50, 2))  # one frame from the middle of every 2-frame span
    pixels = np.asarray(sheet)
    for slot, index in enumerate(indices):
        row, column = divmod(slot, 5)
        centre = pixels[row * 90 + 45, column * 160 + 80]
        assert np.abs(centre.astype(int) - clip.frames[index, 0, 0]).max() <= 1, (slot, index)


def test_spritesheet_of_a_short_clip_repeats_frames_and_rejects_bad_grids() -> None:
    clip = _numbered_clip(3)
    assert spritesheet_indices(3, 6) == [0, 0, 1, 1, 2, 2]
    assert spritesheet(clip, columns=3, rows=2, tile_width=40).size == (120, 2 * 22)
    with pytest.raises(ValueError, match="positive"):
        spritesheet(clip, columns=0)


@pytest.mark.parametrize(("fmt", "magic"), [("jpeg", b"\xff\xd8\xff"), ("png", b"\x89PNG"), ("webp", b"RIFF")])
def test_image_bytes_formats_load_back(fmt: str, magic: bytes) -> None:
    frame = _numbered_clip(4).frames[2]
    data = image_bytes(Image.fromarray(frame), fmt)
    assert data.startswith(magic)
    loaded = np.asarray(load_image(data)).astype(int)
    assert loaded.shape == frame.shape
    tolerance = 0 if fmt == "png" else 8
    assert np.abs(loaded - frame).max() <= tolerance


def test_load_image_flattens_alpha_and_reads_paths(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    rgba.putpixel((0, 0), (200, 0, 0, 255))
    path = tmp_path / "a.png"
    rgba.save(path)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (200, 0, 0) and image.getpixel((3, 3)) == (255, 255, 255)


def test_load_image_applies_exif_rotation() -> None:
    wide = Image.new("RGB", (8, 4), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    wide.save(buffer, format="JPEG", exif=exif)
    assert load_image(buffer.getvalue()).size == (4, 8)


def test_unreadable_images_and_formats_raise_value_errors(tmp_path: Path) -> None:
    for source in (b"not an image", tmp_path / "missing.png"):
        with pytest.raises(ValueError, match="cannot read") as error:
            load_image(source)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="not supported"):
        image_bytes(Image.new("RGB", (2, 2)), "gif")
