"""A character's card from an uploaded video (what OpenAI's `videos.create_character(name, video)` sends): a
square still from the middle of the video and its loudest two seconds of sound, and whether the video shows a
person's face, which only their live consent may turn into a character (see `flows.video_characters`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duetto.app.core.errors import InvalidRequest

CARD_PIXELS = 256
VOICE_SECONDS = 2.0
SILENCE_RMS = 1e-3  # quieter than this all through: the video has no sound worth keeping


@dataclass(frozen=True)
class VideoCard:
    still_png: bytes
    voice_wav: bytes | None  # None when the video is silent
    shows_face: bool


def read_card(video: bytes) -> VideoCard:
    """The card's files from the video's bytes (MP4, MOV or WebM); a one-line 400 when it is not a video."""
    from PIL import Image

    from duetto.characters.liveness import shows_face
    from duetto.media import image_bytes, read_mp4, wav_bytes

    try:
        clip = read_mp4(video)
    except Exception:  # PyAV raises many kinds for a file that is not a video
        raise InvalidRequest("video could not be read as a video; upload an MP4, MOV or WebM clip.",
                             param="video") from None
    if clip.num_frames == 0:
        raise InvalidRequest("video has no frames; upload a clip that shows the character.", param="video")
    frame = clip.frames[clip.num_frames // 2]
    side = min(frame.shape[:2])
    top, left = (frame.shape[0] - side) // 2, (frame.shape[1] - side) // 2
    square = Image.fromarray(frame[top:top + side, left:left + side]).resize((CARD_PIXELS, CARD_PIXELS),
                                                                             Image.Resampling.LANCZOS)
    voice = None
    sound = np.asarray(clip.mono, np.float32)
    rate = int(clip.sample_rate)
    if sound.size and float(np.sqrt(np.mean(sound**2))) > SILENCE_RMS:
        length = min(sound.size, int(VOICE_SECONDS * rate))
        # The loudest stretch: where the character speaks or makes its sound.
        total = np.concatenate([[0.0], np.cumsum(sound.astype(np.float64) ** 2)])
        energy = total[length:] - total[:-length]
        start = int(np.argmax(energy))
        voice = wav_bytes(sound[start:start + length], rate)
    return VideoCard(still_png=image_bytes(square, "png"), voice_wav=voice, shows_face=shows_face(clip.frames))
