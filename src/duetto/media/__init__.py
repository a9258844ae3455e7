"""Clips to files and back: MP4 (H.264 + AAC), WAV, thumbnails, spritesheets."""

from duetto.media._audio import fit_length, resample
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
from duetto.media.wav import WAV_SUBTYPES, read_wav, wav_bytes, write_wav

__all__ = [
    "AAC_SAMPLE_RATES",
    "DEFAULT_SAMPLE_RATE",
    "MP4_TAGS",
    "WAV_SUBTYPES",
    "exact_rate",
    "fit_length",
    "image_bytes",
    "load_image",
    "mp4_boxes",
    "mp4_bytes",
    "probe_mp4",
    "read_mp4",
    "read_wav",
    "resample",
    "spritesheet",
    "spritesheet_indices",
    "thumbnail",
    "wav_bytes",
    "write_mp4",
    "write_wav",
]
