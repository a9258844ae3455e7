"""Synthetic enrollment takes for the tests: a face (scikit-image's astronaut photograph) that reads digits
aloud (espeak-ng) with its mouth opening to the speech, then turns its head. A take is written either as
Chromium's fake-capture files (.y4m video, .wav audio) or as a WebM like the browser's MediaRecorder makes.

The frames are what a camera sees, unmirrored: a head turning to the person's own left moves towards the
image's right (see `duetto.characters.liveness`). The turn is imitated by sliding the head towards the side
it turns to and squeezing it horizontally, which is roughly how a rotating head projects.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from duetto.media import resample, write_wav

WIDTH, HEIGHT, FPS = 400, 300, 15
RATE = 48000
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# In the 512x512 astronaut photograph: the head (hair to chin) and the middle of the mouth.
_HEAD_BOX = (130, 0, 320, 250)  # x0, y0, x1, y1
_MOUTH = (224.0, 146.0)
_HEAD_SCALE = 0.9  # photograph pixels to frame pixels
# The turn: ramp out, hold, ramp back (seconds), how far the head slides (in head widths) and how narrow
# it gets at the widest point of the turn.
_TURN_RAMP, _TURN_HOLD = 0.8, 1.0
_TURN_SHIFT, _TURN_SQUEEZE = 0.45, 0.7


def espeak() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def speak(digits: str) -> np.ndarray:
    """`digits` read one by one in a US-English synthetic voice: float32 mono at RATE.

    espeak-ng's US voice with its third Klatt variant: of the voices and paces tried, the one the speech
    recogniser (trained on people) heard exactly in every one of 196 random readings sent through Opus as
    a browser sends them. With the default voice it mistakes "seven" for "two" in about one take in six.
    """
    program = espeak()
    if program is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    text = ", ".join(NAMES[int(d)] for d in digits)
    # 150 words a minute with a short gap: clearly separated digits at a natural pace.
    wav = subprocess.run([program, "-v", "en-us+klatt3", "-s", "150", "-g", "8", "--stdout", text],
                         capture_output=True, check=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(audio[None, :], rate, RATE)[0]


@dataclass(frozen=True)
class Take:
    """What the synthetic person does in front of the camera."""

    digits: str  # what the voice says
    turn: str | None  # "left" / "right", the person's own side; None keeps the head still
    face: bool = True  # False: an empty room with the voice in it
    hidden: tuple[float, float] | None = None  # the face leaves the picture between these times (s)
    mouth_delay_s: float = 0.0  # the mouth moves this much later than the voice (a dubbed recording)
    speech_at_s: float = 0.6
    min_seconds: float = 11.5  # longer than the page records, so Chromium's looping files never wrap into it


@dataclass
class Rendered:
    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray  # float32 mono at `rate`
    fps: int
    rate: int
    speech: tuple[float, float]  # when the voice speaks, seconds
    turn: tuple[float, float]  # when the head is away from the middle, seconds


def _envelope(audio: np.ndarray, times: np.ndarray) -> np.ndarray:
    """How loud the voice is around each time (RMS over a frame's length), scaled to 0..1."""
    half = RATE // (2 * FPS)
    values = []
    for t in times:
        centre = int(round(t * RATE))
        piece = audio[max(0, centre - half): max(0, centre + half)]
        values.append(float(np.sqrt(np.mean(piece**2))) if piece.size else 0.0)
    env = np.asarray(values)
    return np.clip(env / max(env.max(), 1e-6), 0.0, 1.0)


def _background() -> np.ndarray:
    """A softly lit wall with a little texture (so the encoder has something to do), the same every frame."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    light = 0.75 + 0.25 * np.exp(-(((x - WIDTH * 0.35) / WIDTH) ** 2 + ((y - HEIGHT * 0.2) / HEIGHT) ** 2) * 2)
    texture = np.random.default_rng(3).normal(0, 3, (HEIGHT, WIDTH)).astype(np.float32)
    wall = np.stack([150 * light, 160 * light, 170 * light], axis=-1) + texture[..., None]
    return np.clip(wall, 0, 255)


def _head() -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The head cut out of the photograph (RGB float), a soft oval mask for it, and the mouth in it."""
    from skimage import data

    x0, y0, x1, y1 = _HEAD_BOX
    photo = data.astronaut()[y0:y1, x0:x1].astype(np.float32)
    h, w = photo.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    # An oval a little inside the cut, faded over a few pixels so no hard edge gives the composite away.
    r = np.sqrt(((x - w / 2) / (w * 0.48)) ** 2 + ((y - h * 0.5) / (h * 0.5)) ** 2)
    mask = np.clip((1.0 - r) * 12.0, 0.0, 1.0)
    return photo, mask, (_MOUTH[0] - x0, _MOUTH[1] - y0)


def _open_mouth(head: np.ndarray, grid: np.ndarray, mouth: tuple[float, float], openness: float) -> np.ndarray:
    """The head with a dark open mouth whose height follows `openness` (0 closed .. 1 wide open)."""
    if openness <= 0.02:
        return head
    y, x = grid
    half_w, half_h = 17.0, 1.0 + 10.0 * openness
    r = np.sqrt(((x - mouth[0]) / half_w) ** 2 + ((y - mouth[1] - half_h * 0.4) / half_h) ** 2)
    inside = np.clip((1.0 - r) * 4.0, 0.0, 1.0)[..., None]
    return head * (1 - inside) + np.array([70.0, 25.0, 30.0]) * inside


def _turn_amount(t: float, start: float) -> float:
    """0 facing the camera .. 1 fully turned: ramp out, hold, ramp back, smoothly."""
    def ease(u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        return u * u * (3 - 2 * u)

    if t < start:
        return 0.0
    if t < start + _TURN_RAMP:
        return ease((t - start) / _TURN_RAMP)
    if t < start + _TURN_RAMP + _TURN_HOLD:
        return 1.0
    return 1.0 - ease((t - start - _TURN_RAMP - _TURN_HOLD) / _TURN_RAMP)


def render(take: Take) -> Rendered:
    """The take's frames and sound."""
    import cv2

    if any(d not in "0123456789" for d in take.digits) or take.turn not in ("left", "right", None):
        raise ValueError(f"a take needs digits and a turn of left, right or None, got {take!r}")
    voice = speak(take.digits)
    start = int(take.speech_at_s * RATE)
    speech_end = take.speech_at_s + voice.size / RATE
    turn_start = speech_end + 0.6
    turn_end = turn_start + 2 * _TURN_RAMP + _TURN_HOLD
    seconds = max(turn_end + 0.9, take.min_seconds)
    audio = np.zeros(int(seconds * RATE), np.float32)
    audio[start:start + voice.size] = voice
    # A faint room hiss: real microphones are never digitally silent.
    audio += np.random.default_rng(5).normal(0, 0.002, audio.size).astype(np.float32)

    count = int(seconds * FPS)
    times = np.arange(count) / FPS
    openness = _envelope(audio, times - take.mouth_delay_s)
    background = _background()
    head, mask, mouth = _head()
    grid = np.mgrid[0:head.shape[0], 0:head.shape[1]].astype(np.float32)
    base_w, base_h = head.shape[1] * _HEAD_SCALE, head.shape[0] * _HEAD_SCALE
    side = {"left": 1.0, "right": -1.0, None: 0.0}[take.turn]  # image direction of the person's turn
    frames = np.empty((count, HEIGHT, WIDTH, 3), np.uint8)
    for i, t in enumerate(times):
        frame = background.copy()
        if take.face and not (take.hidden and take.hidden[0] <= t < take.hidden[1]):
            amount = _turn_amount(t, turn_start) if take.turn else 0.0
            width = max(2, int(round(base_w * (1 - (1 - _TURN_SQUEEZE) * amount))))
            height = int(round(base_h))
            face = cv2.resize(_open_mouth(head, grid, mouth, float(openness[i])), (width, height),
                              interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)[..., None]
            centre_x = WIDTH / 2 + side * _TURN_SHIFT * base_w * amount
            left, top = int(round(centre_x - width / 2)), int(round(HEIGHT * 0.47 - height / 2))
            region = frame[top:top + height, left:left + width]
            frame[top:top + height, left:left + width] = region * (1 - alpha) + face * alpha
        frames[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return Rendered(frames=frames, audio=audio, fps=FPS, rate=RATE, speech=(take.speech_at_s, speech_end),
                    turn=(turn_start, turn_end))


def write_y4m(frames: np.ndarray, fps: int, path: Path) -> Path:
    """Frames as a YUV4MPEG2 file (4:2:0), the format Chromium's file-backed fake camera plays."""
    import cv2

    count, height, width = frames.shape[:3]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def fake_capture_files(take: Take, folder: Path, name: str) -> tuple[Path, Path, Rendered]:
    """The take as `<name>.y4m` and `<name>.wav` (16-bit PCM) in `folder`, for Chromium's fake devices."""
    rendered = render(take)
    folder.mkdir(parents=True, exist_ok=True)
    video = write_y4m(rendered.frames, rendered.fps, folder / f"{name}.y4m")
    audio = write_wav(rendered.audio, folder / f"{name}.wav", sample_rate=rendered.rate)
    return video, audio, rendered


def webm_bytes(rendered: Rendered) -> bytes:
    """The take encoded as the browser records it: WebM with VP8 video and Opus audio at 48 kHz."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        # Real-time settings, as a browser's recorder uses, on one thread: the default (best quality) is very
        # slow, and extra encoder threads only spin on a busy machine.
        video = container.add_stream("libvpx", rate=rendered.fps, options={"deadline": "realtime", "cpu-used": "8", "threads": "1"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = 1_000_000
        sound = container.add_stream("libopus", rate=rendered.rate)
        sound.layout = "mono"
        for i, frame in enumerate(rendered.frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = i, Fraction(1, rendered.fps)
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        step = 960  # Opus's 20 ms frame
        samples = rendered.audio
        for offset in range(0, samples.size, step):
            chunk = np.zeros((1, step), np.float32)
            piece = samples[offset:offset + step]
            chunk[0, :piece.size] = piece
            block = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            block.sample_rate, block.pts, block.time_base = rendered.rate, offset, Fraction(1, rendered.rate)
            container.mux(sound.encode(block))
        container.mux(sound.encode(None))
    return buffer.getvalue()
