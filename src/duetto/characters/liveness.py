"""Liveness of an enrollment recording: did a live person, on camera throughout, read the challenge's digits
aloud and then turn their head the asked way, with their lips moving to their voice? Everything runs
offline: speech recognition with pocketsphinx's bundled US-English model, faces with OpenCV's bundled
Haar cascades, the recording decoded with PyAV.

**Which way is left.** A turn is named from the person's own side: "turn your head to your left" means
their left. Cameras deliver frames unmirrored (as someone facing the person sees them; only a page's
preview is mirrored, like a mirror), so a head turning to the person's left moves towards the *right* of
the recorded image, and that is what `verify` looks for.

The checks, each with its own outcome and message (`Result.checks`, in this order):

- **face**: a face (frontal, or a profile during the turn) in at least 80 % of the frames, never missing
  for more than 1.5 s in a row.
- **digits**: the speech, recognised with a grammar that only allows exactly as many digit words as the
  challenge has, equals the challenge. Constraining the recogniser this way is what makes it reliable: it
  only has to tell ten words apart, never to guess how many were said.
- **turn**: after the digits, the face moves sideways from where it was while the digits were read by at
  least a fifth of its width, clearly more one way than the other, and that way is the asked one.
- **sync**: how dark the mouth is (an open mouth is a dark hole) rises and falls with the loudness of the
  voice: their correlation is at least 0.35, and best at a lag of at most a quarter of a second among
  lags up to 1.5 s. A voice dubbed over someone else's face, or played beside a photograph, does not
  do that.

When everything passes, the result also holds the reference still (a PNG of the face, mouth closed, from
while the digits were read) and the voice sample (a WAV of the spoken digits at the recording's rate).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path

import av
import numpy as np

from duetto.media import image_bytes, resample, wav_bytes

TURNS = ("left", "right")
DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
               "six": "6", "seven": "7", "eight": "8", "nine": "9"}

MAX_SECONDS = 30.0  # the page records about 10 s; anything far longer is not an enrollment
ANALYSIS_FPS = 15.0  # faces are looked for at most this often: enough for lips, cheap enough for a CPU
DETECT_WIDTH = 320  # frames are shrunk to this width to look for faces
ASR_RATE = 16000  # what the acoustic model was trained on
FACE_MIN_FRACTION = 0.8
FACE_MAX_GAP_S = 1.5
TURN_MIN_SHIFT = 0.2  # face widths
TURN_DOMINANCE = 2.0  # the asked way must be at least this many times the other way
SYNC_MIN_R = 0.35
SYNC_MAX_LAG_S = 0.25
SYNC_SEARCH_S = 1.5
SPEECH_MIN_S = 0.5


class RecordingError(ValueError):
    """The upload cannot be read as an audio-video recording; the message says what to do."""


@dataclass(frozen=True)
class Challenge:
    """What the person was asked: digits to read aloud, then a head turn to their own left or right."""

    digits: str
    turn: str

    def __post_init__(self) -> None:
        if not (self.digits.isascii() and self.digits.isdigit() and 1 <= len(self.digits) <= 10):
            raise ValueError(f"challenge digits must be 1 to 10 digits 0-9, got {self.digits!r}")
        if self.turn not in TURNS:
            raise ValueError(f"challenge turn must be 'left' or 'right', got {self.turn!r}")


@dataclass(frozen=True)
class Check:
    """One check's outcome: passed or not, what to tell the person, and what was measured."""

    name: str
    passed: bool
    message: str
    measured: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    checks: tuple[Check, ...]
    heard: str  # the digits recognised, "" when no speech was found
    still_png: bytes | None = None  # only when every check passed
    voice_wav: bytes | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failure(self) -> Check | None:
        """The first failed check in `checks` order (a missing face explains a missing turn, not the reverse)."""
        return next((check for check in self.checks if not check.passed), None)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def summary(self) -> str:
        """One line for a log or ledger: each check's outcome and its measurements."""
        parts = []
        for check in self.checks:
            values = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in check.measured.items())
            parts.append(f"{check.name}: {'pass' if check.passed else 'fail'}" + (f" ({values})" if values else ""))
        return "; ".join(parts)


# --- decoding ------------------------------------------------------------------------------------------


@dataclass
class _Recording:
    gray: list[np.ndarray]  # analysis frames, DETECT_WIDTH wide
    times: np.ndarray  # seconds from the first video frame
    indices: list[int]  # each analysis frame's index among all decoded video frames
    scale: float  # full-size pixels per analysis pixel
    audio: np.ndarray  # float32 mono on the video's timeline (sample 0 = the first video frame)
    rate: int


def _open(source: bytes | str | PathLike[str]) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source), "r")
    except (av.FFmpegError, OSError, ValueError):
        raise RecordingError("The recording could not be read as a video; record again.") from None


def _decode(source: bytes | str | PathLike[str]) -> _Recording:
    gray: list[np.ndarray] = []
    times: list[float] = []
    indices: list[int] = []
    scale = 1.0
    pieces: list[np.ndarray] = []
    rate = 0
    video_start: float | None = None
    audio_start: float | None = None
    with _open(source) as container:
        streams = list(container.streams.video[:1]) + list(container.streams.audio[:1])
        if not streams:
            raise RecordingError("The recording holds neither video nor sound; record again.")
        for stream in streams:
            stream.thread_count = 1  # for the same reason as cv2.setNumThreads(1) below
        resampler: av.AudioResampler | None = None
        index, due, samples = -1, -1.0, 0
        try:
            for packet in container.demux(streams):
                for frame in packet.decode():
                    is_video = isinstance(frame, av.VideoFrame)
                    index += is_video  # counted like _full_frame counts, timestamp or not
                    if frame.time is None:
                        continue
                    t = float(frame.time)
                    if is_video:
                        if video_start is None:
                            video_start = t
                        t -= video_start
                        if t > MAX_SECONDS:
                            raise RecordingError(f"The recording is longer than {MAX_SECONDS:.0f} s; "
                                                 "record only the challenge (about 10 s).")
                        if t < due:
                            continue
                        due = t + 0.9 / ANALYSIS_FPS
                        width = min(DETECT_WIDTH, frame.width)
                        height = max(2, round(frame.height * width / frame.width))
                        scale = frame.width / width
                        gray.append(frame.to_ndarray(format="gray", width=width, height=height))
                        times.append(t)
                        indices.append(index)
                    else:
                        if resampler is None:
                            rate = min(frame.sample_rate, 48000)
                            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
                            audio_start = t
                        for piece in resampler.resample(frame):
                            pieces.append(piece.to_ndarray()[0])
                            samples += pieces[-1].size
                        if samples > (MAX_SECONDS + 5) * rate:
                            raise RecordingError(f"The recording is longer than {MAX_SECONDS:.0f} s; "
                                                 "record only the challenge (about 10 s).")
            if resampler is not None:
                pieces.extend(f.to_ndarray()[0] for f in resampler.resample(None))
        except av.FFmpegError:
            raise RecordingError("The recording is damaged and could not be decoded; record again.") from None
    audio = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
    if audio.size and video_start is not None and audio_start is not None:
        # Put the sound on the video's clock: MediaRecorder may start one track a little before the other.
        offset = round((audio_start - video_start) * rate)
        audio = np.pad(audio, (offset, 0)) if offset > 0 else audio[-offset:]
    return _Recording(gray=gray, times=np.asarray(times), indices=indices, scale=scale, audio=audio,
                      rate=rate or ASR_RATE)


def _full_frame(source: bytes | str | PathLike[str], wanted: int) -> np.ndarray:
    """Video frame number `wanted`, full size RGB (a second pass: cheaper than keeping every frame)."""
    with _open(source) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == wanted:
                return frame.to_ndarray(format="rgb24")
    raise RecordingError("The recording changed while it was read; record again.")


# --- faces ---------------------------------------------------------------------------------------------

_local = threading.local()  # OpenCV cascades and the recogniser keep state: one of each per thread


def _cascades() -> tuple[object, object]:
    if not hasattr(_local, "cascades"):
        import cv2

        root = Path(cv2.data.haarcascades)
        frontal = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
        profile = cv2.CascadeClassifier(str(root / "haarcascade_profileface.xml"))
        if frontal.empty() or profile.empty():
            raise RuntimeError(f"OpenCV's face cascades are missing from {root}; reinstall opencv-python-headless")
        # One thread: each recording is small, a server verifies several at once in its own threads, and
        # OpenCV's worker threads only spin (many times the CPU, for nothing) on a busy machine.
        cv2.setNumThreads(1)
        _local.cascades = (frontal, profile)
    return _local.cascades


@dataclass
class _Faces:
    x: np.ndarray  # centre x, analysis pixels (nan where no face)
    y: np.ndarray  # top
    w: np.ndarray  # width (the cascades' boxes are square)
    frontal: np.ndarray  # bool: found by the frontal cascade

    @property
    def found(self) -> np.ndarray:
        return ~np.isnan(self.x)


def _largest(boxes: object) -> tuple[float, float, float] | None:
    if boxes is None or len(boxes) == 0:
        return None
    x, y, w, _h = max(boxes, key=lambda b: b[2] * b[3])
    return float(x), float(y), float(w)


def _detect(cascade: object, image: np.ndarray, smallest: int, largest: int, neighbours: int,
            mirrored: bool = False) -> tuple[float, float, float] | None:
    """The largest face `cascade` finds in `image` as (left, top, width), optionally looking in its mirror."""
    if mirrored:
        box = _detect(cascade, np.ascontiguousarray(image[:, ::-1]), smallest, largest, neighbours)
        return None if box is None else (image.shape[1] - box[0] - box[2], box[1], box[2])
    if min(image.shape[:2]) < smallest:
        return None
    return _largest(cascade.detectMultiScale(image, scaleFactor=1.1, minNeighbors=neighbours,
                                             minSize=(smallest, smallest), maxSize=(largest, largest)))


def _find_faces(gray: list[np.ndarray]) -> _Faces:
    import cv2

    frontal, profile = _cascades()
    count = len(gray)
    out = _Faces(x=np.full(count, np.nan), y=np.full(count, np.nan), w=np.full(count, np.nan),
                 frontal=np.zeros(count, bool))
    last: tuple[float, float, float] | None = None
    for i, image in enumerate(gray):
        image = cv2.equalizeHist(image)
        height, width = image.shape
        # Near the last face first, at about its size: a small search instead of the whole frame at
        # every scale. The whole frame is searched only when that finds nothing.
        areas = []
        if last is not None:
            x, y, w = last
            x0, y0 = int(max(0, x - w)), int(max(0, y - w))
            x1, y1 = int(min(width, x + 2 * w)), int(min(height, y + 2 * w))
            areas.append((x0, y0, image[y0:y1, x0:x1], max(20, int(0.6 * w)), int(1.6 * w) + 1))
        areas.append((0, 0, image, max(24, height // 5), max(height, width)))
        box, is_frontal = None, False
        for x0, y0, area, smallest, largest in areas:
            found = _detect(frontal, area, smallest, largest, 5)
            is_frontal = found is not None
            # A profile: the cascade knows one side, so the mirrored image finds the other.
            found = (found or _detect(profile, area, smallest, largest, 4)
                     or _detect(profile, area, smallest, largest, 4, mirrored=True))
            if found is not None:
                box = (found[0] + x0, found[1] + y0, found[2])
                break
        last = box
        if box is not None:
            out.x[i], out.y[i], out.w[i], out.frontal[i] = box[0] + box[2] / 2, box[1], box[2], is_frontal
    return out


def _longest_gap(found: np.ndarray, times: np.ndarray, end: float) -> float:
    """The longest stretch of time without a face, counting from the start and up to the end."""
    seen = times[found]
    if seen.size == 0:
        return end
    edges = np.concatenate([[0.0], seen, [end]])
    return float(np.max(np.diff(edges)))


def _face_check(faces: _Faces, times: np.ndarray, duration: float) -> Check:
    if times.size == 0:
        return Check("face", False, "We received no video. Allow the camera and record again.")
    fraction = float(faces.found.mean())
    gap = _longest_gap(faces.found, times, duration)
    measured = {"fraction": fraction, "longest_gap_s": gap}
    if fraction == 0:
        return Check("face", False, "We could not see a face. Face the camera in good light, with your whole "
                                    "face in view, and record again.", measured)
    if fraction < FACE_MIN_FRACTION or gap > FACE_MAX_GAP_S:
        return Check("face", False, f"Your face was out of view for {gap:.1f} s. Keep your whole face in the "
                                    "picture the whole time and record again.", measured)
    return Check("face", True, "Your face was in view throughout.", measured)


# --- speech --------------------------------------------------------------------------------------------


def _rms(audio: np.ndarray, rate: int, hop_s: float) -> np.ndarray:
    hop = max(1, int(rate * hop_s))
    count = audio.size // hop
    if count == 0:
        return np.zeros(0)
    return np.sqrt(np.mean(audio[:count * hop].reshape(count, hop).astype(np.float64) ** 2, axis=1))


def _speech_span(audio: np.ndarray, rate: int) -> tuple[float, float] | None:
    """Start and end (s) of the longest stretch of speech, pauses under 0.8 s bridged; None if none."""
    hop_s = 0.02
    level = _rms(audio, rate, hop_s)
    if level.size == 0:
        return None
    floor = float(np.percentile(level, 20))
    # Well above the room's own noise, and never fooled by a near-silent recording's hiss.
    voiced = level > max(4.0 * floor, 0.004)
    runs: list[list[int]] = []
    for i in np.flatnonzero(voiced):
        if runs and i - runs[-1][1] <= int(0.8 / hop_s):
            runs[-1][1] = i
        else:
            runs.append([i, i])
    if not runs:
        return None
    start, end = max(runs, key=lambda r: r[1] - r[0])
    if (end - start + 1) * hop_s < SPEECH_MIN_S:
        return None
    return start * hop_s, (end + 1) * hop_s


def _grammar(count: int) -> str:
    word = "( " + " | ".join(DIGIT_WORDS) + " )"
    return "#JSGF V1.0;\ngrammar digits;\npublic <digits> = " + " ".join([word] * count) + " ;\n"


def _recogniser(count: int) -> object:
    if not hasattr(_local, "decoder"):
        from pocketsphinx import Decoder

        # Batch CMN: each recording is normalised by its own mean alone. The default ("live") carries its
        # estimate from one utterance to the next, so one person's result would depend on who came before.
        _local.decoder, _local.grammars = Decoder(lm=None, cmn="batch", loglevel="FATAL"), set()
    decoder = _local.decoder
    name = f"digits{count}"
    if name not in _local.grammars:
        decoder.add_jsgf_string(name, _grammar(count))
        _local.grammars.add(name)
    decoder.activate_search(name)
    return decoder


def recognise_digits(audio: np.ndarray, rate: int, count: int) -> str:
    """The `count` digits most likely said in `audio` (float mono at `rate`), as a string like "4172"."""
    if not 1 <= count <= 10:
        raise ValueError(f"count must be 1 to 10 digits, got {count}")
    samples = resample(np.asarray(audio, np.float32)[None, :], rate, ASR_RATE)[0]
    # The acoustic model was trained on people in rooms: it stumbles on digital silence (which a browser's
    # noise suppression produces) and on very quiet takes. So the speech is brought to a common level and
    # set in a faint, fixed hiss (-60 dBFS) with a little of it before and after.
    peak = float(np.percentile(np.abs(samples), 99.9)) if samples.size else 0.0
    if peak > 0:
        samples = samples * min(0.5 / peak, 20.0)
    margin = np.zeros(int(0.3 * ASR_RATE), np.float32)
    samples = np.concatenate([margin, samples, margin])
    samples = samples + 1e-3 * np.random.default_rng(0).standard_normal(samples.size).astype(np.float32)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    decoder = _recogniser(count)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    words = hypothesis.hypstr.split() if hypothesis is not None else []
    # Alternative pronunciations come back as "zero(2)".
    return "".join(DIGIT_WORDS.get(word.split("(")[0], "") for word in words)


def _spaced(digits: str) -> str:
    return " ".join(digits)


def _digits_check(recording: _Recording, span: tuple[float, float] | None, challenge: Challenge) -> tuple[Check, str]:
    if recording.audio.size == 0:
        return Check("digits", False, "We received no sound. Allow the microphone and record again."), ""
    if span is None:
        return Check("digits", False, "We heard no speech. Check that your microphone is on, then read the "
                                      "digits aloud.", {}), ""
    rate = recording.rate
    start, end = max(0.0, span[0] - 0.3), span[1] + 0.3
    heard = recognise_digits(recording.audio[int(start * rate):int(end * rate)], rate, len(challenge.digits))
    measured = {"heard": heard, "speech_s": span[1] - span[0]}
    if heard != challenge.digits:
        return Check("digits", False, f"We heard {_spaced(heard) or 'nothing we could read'}, not "
                                      f"{_spaced(challenge.digits)}. Try again and read each digit clearly.",
                     measured), heard
    return Check("digits", True, f"We heard {_spaced(heard)}.", measured), heard


# --- the turn ------------------------------------------------------------------------------------------


def _baseline(times: np.ndarray, span: tuple[float, float] | None) -> np.ndarray:
    """Frames in which the person faces the camera: while reading the digits (else the first third)."""
    if span is not None:
        chosen = (times >= span[0]) & (times <= span[1])
        if chosen.sum() >= 3:
            return chosen
    return times <= times[0] + (times[-1] - times[0]) / 3 if times.size else np.zeros(0, bool)


def _turn_check(faces: _Faces, times: np.ndarray, span: tuple[float, float] | None, face_ok: bool,
                challenge: Challenge) -> Check:
    asked = challenge.turn
    if not face_ok:
        return Check("turn", False, "We could not follow your face, so we could not see your head turn.")
    base = _baseline(times, span) & faces.found
    after = (times > span[1]) if span is not None else ~_baseline(times, span)
    after &= faces.found
    if base.sum() < 3 or after.sum() < 3:
        return Check("turn", False, f"We did not see your head turn. After the digits, turn your head to your "
                                    f"{asked} and back.", {})
    centre, width = float(np.median(faces.x[base])), float(np.median(faces.w[base]))
    shift = (faces.x[after] - centre) / width
    towards_right, towards_left = max(0.0, float(np.percentile(shift, 90))), max(0.0, -float(np.percentile(shift, 10)))
    # The image's right is the person's left (frames are unmirrored; see the module's docstring).
    moved = {"left": towards_right, "right": towards_left}
    measured = {"to_their_left": moved["left"], "to_their_right": moved["right"]}
    other = "right" if asked == "left" else "left"
    if moved[asked] >= TURN_MIN_SHIFT and moved[asked] >= TURN_DOMINANCE * moved[other]:
        return Check("turn", True, f"You turned your head to your {asked}.", measured)
    if moved[other] >= TURN_MIN_SHIFT and moved[other] >= TURN_DOMINANCE * moved[asked]:
        return Check("turn", False, f"You turned your head to your {other}, not your {asked}. Try again and turn "
                                    f"to your {asked}.", measured)
    return Check("turn", False, f"We did not see your head turn. After the digits, turn your head to your {asked} "
                                "and back.", measured)


# --- lips and voice ------------------------------------------------------------------------------------


def _fill(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """`values` with the entries not kept interpolated from their neighbours, then lightly smoothed."""
    index = np.arange(values.size)
    filled = np.interp(index, index[keep], values[keep])
    if filled.size >= 5:
        # A running median over 5 frames: the cascades' boxes jitter by a few pixels from frame to frame.
        padded = np.pad(filled, 2, mode="edge")
        filled = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    return filled


def _patch_mean(image: np.ndarray, box: tuple[float, float, float], x0: float, x1: float, y0: float,
                y1: float) -> float:
    """Mean brightness of a part of a face box (left, top, width), given in fractions of its width."""
    left, top, width = box
    patch = image[max(0, int(top + y0 * width)):max(1, int(top + y1 * width)),
                  max(0, int(left + x0 * width)):max(1, int(left + x1 * width))]
    return float(patch.mean()) if patch.size else 0.0


def _mouth_openness(gray: list[np.ndarray], faces: _Faces, keep: np.ndarray) -> np.ndarray:
    """How much darker the mouth is than the middle of the face, per frame (larger = more open)."""
    x, y, w = (_fill(values, keep) for values in (faces.x, faces.y, faces.w))
    out = np.zeros(len(gray))
    for i, image in enumerate(gray):
        box = (x[i] - w[i] / 2, y[i], w[i])
        # Relative to the cheeks and nose, so a change of light on the whole face does not count.
        out[i] = _patch_mean(image, box, 0.2, 0.8, 0.3, 0.6) - _patch_mean(image, box, 0.28, 0.72, 0.70, 0.95)
    return out


def _loudness_at(audio: np.ndarray, rate: int, times: np.ndarray, half: float) -> np.ndarray:
    out = np.zeros(times.size)
    for i, t in enumerate(times):
        piece = audio[max(0, int((t - half) * rate)):max(0, int((t + half) * rate))]
        out[i] = float(np.sqrt(np.mean(piece.astype(np.float64) ** 2))) if piece.size else 0.0
    return out


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / scale) if scale > 0 else 0.0


def _sync_check(recording: _Recording, faces: _Faces, span: tuple[float, float] | None, face_ok: bool) -> Check:
    failed = "Your lips and your voice did not move together. Record again facing the camera while you read the digits."
    if not face_ok or span is None:
        return Check("sync", False, "We need to see your face while we hear you read the digits to check they "
                                    "match.")
    times = recording.times
    window = np.flatnonzero((times >= span[0] - 0.4) & (times <= span[1] + 0.4))
    seen = faces.frontal[window].sum() if window.size else 0
    if window.size < 5 or seen < 0.6 * window.size:
        return Check("sync", False, failed, {"frontal_frames": float(seen)})
    mouth = _mouth_openness(recording.gray, faces, faces.frontal)
    step = float(np.median(np.diff(times)))
    voice = _loudness_at(recording.audio, recording.rate, times, step / 2)
    # Search well beyond the allowed lag: digits read at a steady pace make the correlation ripple, so a
    # voice dubbed a whole digit late can still correlate at a small lag, but never as well as at its own.
    best_r, best_lag = -1.0, 0.0
    reach = round(SYNC_SEARCH_S / step)
    for lag in range(-reach, reach + 1):
        shifted = window + lag  # lag > 0: the mouth moves `lag` frames after the voice
        valid = (shifted >= 0) & (shifted < times.size)
        if valid.sum() < 0.6 * window.size:
            continue
        r = _correlation(voice[window[valid]], mouth[shifted[valid]])
        if r > best_r:
            best_r, best_lag = r, lag * step
    measured = {"r": best_r, "lag_s": best_lag}
    if best_r < SYNC_MIN_R or abs(best_lag) > SYNC_MAX_LAG_S:
        return Check("sync", False, failed, measured)
    return Check("sync", True, "Your lips moved with your voice.", measured)


def shows_face(frames: np.ndarray, *, samples: int = 8) -> bool:
    """Whether RGB frames (T, H, W, 3) show a person's face in at least a quarter of `samples` frames spread
    over them: what makes an uploaded video a video of a real person, which needs that person's live
    consent (an enrollment challenge answered in it) before it can become a character."""
    import cv2

    if len(frames) == 0:
        return False
    picks = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round().astype(int))
    gray = []
    for frame in frames[picks]:
        width = min(DETECT_WIDTH, frame.shape[1])
        height = max(2, round(frame.shape[0] * width / frame.shape[1]))
        gray.append(cv2.resize(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY), (width, height),
                               interpolation=cv2.INTER_AREA))
    faces = _find_faces(gray)
    real = [i for i in np.flatnonzero(faces.found) if not _drawn(gray[i], faces.x[i], faces.y[i], faces.w[i])]
    return len(real) >= max(1, len(picks) // 4)


def _drawn(image: np.ndarray, cx: float, top: float, width: float) -> bool:
    """Whether a face the cascades found is drawn rather than filmed: a Toybox toy's flat-shaded head, which
    the frontal cascade takes for a face. A drawn face is mostly flat (about 40 % of its pixels without any
    gradient, in about 50 grey levels); a filmed one, even smooth skin, has a few percent and hundreds of
    levels. Both must hold, so that a doubtful face counts as a person's."""
    import cv2

    x0, y0 = int(max(0, cx - width / 2)), int(max(0, top))
    box = image[y0:int(top + width), x0:int(cx + width / 2)].astype(np.float32)
    if box.size == 0:
        return False
    gradient = np.hypot(cv2.Sobel(box, cv2.CV_32F, 1, 0), cv2.Sobel(box, cv2.CV_32F, 0, 1))
    return float((gradient < 4).mean()) >= 0.3 and len(np.unique(box)) < 100


# --- the still and the voice sample ---------------------------------------------------------------------


def _still(source: bytes | str | PathLike[str], recording: _Recording, faces: _Faces,
           span: tuple[float, float] | None) -> bytes:
    """A square PNG around the face, from a frontal frame of the reading with the mouth most closed."""
    candidates = np.flatnonzero(_baseline(recording.times, span) & faces.frontal)
    if candidates.size == 0:
        candidates = np.flatnonzero(faces.frontal)
    mouth = _mouth_openness([recording.gray[i] for i in candidates],
                            _Faces(faces.x[candidates], faces.y[candidates], faces.w[candidates],
                                   faces.frontal[candidates]), np.ones(candidates.size, bool))
    pick = int(candidates[int(np.argmin(mouth))])
    frame = _full_frame(source, recording.indices[pick])
    scale = recording.scale
    cx, w = faces.x[pick] * scale, faces.w[pick] * scale
    cy = (faces.y[pick] + faces.w[pick] / 2) * scale
    side = int(min(2.6 * w, frame.shape[0], frame.shape[1]))
    left = int(np.clip(cx - side / 2, 0, frame.shape[1] - side))
    top = int(np.clip(cy - side / 2, 0, frame.shape[0] - side))
    return image_bytes(frame[top:top + side, left:left + side], "png")


def _voice(recording: _Recording, span: tuple[float, float]) -> bytes:
    rate = recording.rate
    piece = recording.audio[int(max(0.0, span[0] - 0.25) * rate):int((span[1] + 0.25) * rate)]
    return wav_bytes(piece, rate)  # clipped to [-1, 1], 16-bit


# --- all together --------------------------------------------------------------------------------------


def verify(recording: bytes | str | PathLike[str], challenge: Challenge) -> Result:
    """Check an enrollment recording (WebM or MP4 bytes, or a path) against its challenge.

    Raises RecordingError when the file cannot be decoded; every other problem is a failed check.
    """
    decoded = _decode(recording)
    times = decoded.times
    duration = max(float(times[-1]) if times.size else 0.0, decoded.audio.size / decoded.rate)
    faces = _find_faces(decoded.gray)
    span = _speech_span(decoded.audio, decoded.rate) if decoded.audio.size else None
    face = _face_check(faces, times, duration)
    digits, heard = _digits_check(decoded, span, challenge)
    turn = _turn_check(faces, times, span, face.passed, challenge)
    sync = _sync_check(decoded, faces, span, face.passed)
    result = Result(checks=(face, digits, turn, sync), heard=heard)
    if not result.passed:
        return result
    assert span is not None  # the digits passed, so speech was found
    return replace(result, still_png=_still(recording, decoded, faces, span), voice_wav=_voice(decoded, span))
