"""Clips to files and back: MP4 (H.264 + AAC), WAV, thumbnails, spritesheets."""

from duetto.media.images import image_bytes, load_image, spritesheet, spritesheet_indices, thumbnail
from duetto.media.mp4 import (
    AAC_SAMPLE_RATES,
    DEFAULT_SAMPLE_RATE,
    MP4_TAGS,
    exact_rate,
    mp4_boxes,
    mp4_bytes,
    probe_mp4,
    read_mp4,
    write_mp4,
)
from duetto.media.wav import WAV_SUBTYPES, read_wav, write_wav

__all__ = [
    "AAC_SAMPLE_RATES",
    "DEFAULT_SAMPLE_RATE",
    "MP4_TAGS",
    "WAV_SUBTYPES",
    "exact_rate",
    "image_bytes",
    "load_image",
    "mp4_boxes",
    "mp4_bytes",
    "probe_mp4",
    "read_mp4",
    "read_wav",
    "spritesheet",
    "spritesheet_indices",
    "thumbnail",
    "write_mp4",
    "write_wav",
]
