"""Clips to files and back: MP4 (H.264 + AAC), WAV, thumbnails, spritesheets."""

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

__all__ = [
    "AAC_SAMPLE_RATES",
    "DEFAULT_SAMPLE_RATE",
    "MP4_TAGS",
    "exact_rate",
    "mp4_boxes",
    "mp4_bytes",
    "probe_mp4",
    "read_mp4",
    "write_mp4",
]
