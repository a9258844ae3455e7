"""Perceptual fingerprints of clips for reverse search: tiny colour thumbnails over time plus audio hash bits.

- Video: every 0.25 s, the mean of the frames in the next 0.5 s, as a 16x16 luma and two 8x8 chroma
  thumbnails (384 bytes). Thumbnails of block means survive re-encoding, rescaling and any container or
  metadata change almost untouched; colour keeps apart scenes that only differ in what is where.
- Audio: every 8 ms, 16 bits that say whether the level difference between neighbouring bands (17
  ERB bands, 150 Hz to 3.5 kHz, 64 ms frames at 8 kHz) grew or shrank since the previous frame, in the
  manner of Haitsma and Kalker's robust audio hashing. Frames near silence are marked and ignored.
- `match` slides one fingerprint along the other (any trim), takes the best video and audio
  alignments and maps them to a score in [0, 1]; `MATCH_THRESHOLD` separates the same clip from a
  different one. `FingerprintIndex` finds the best matches among many stored fingerprints.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from math import gcd

import numpy as np
from PIL import Image
from scipy import signal

from duetto.clip import Clip

SEGMENT_HOP = 0.25
SEGMENT_SECONDS = 0.5
LUMA_THUMB = 16  # luma thumbnail side: small objects still move a cell
CHROMA_THUMB = 8
THUMB_BYTES = LUMA_THUMB**2 + 2 * CHROMA_THUMB**2
AUDIO_RATE = 8000
AUDIO_FRAME = 512
AUDIO_HOP = 64
AUDIO_BANDS = 17
#: Frames quieter than this (dB of mean power), or this far below the clip's loudest, carry no bits.
AUDIO_FLOOR_DB = -75.0
AUDIO_RANGE_DB = 50.0
#: Video: thumbnail distance (8-bit levels, fourth-power mean) for the same clip / clearly another one.
VIDEO_NEAR, VIDEO_FAR = 3.5, 7.0
#: Audio: fraction of agreeing hash bits for the same clip / for an unrelated one.
AUDIO_NEAR, AUDIO_FAR = 0.85, 0.62
#: Scores at or above this mean "the same clip".
MATCH_THRESHOLD = 0.5
MIN_VIDEO_OVERLAP = 4  # segments (1 s)
MIN_AUDIO_OVERLAP = 120  # loud frames in common (about 1 s)
OVERLAP_SHARE = 0.9
_MAGIC = b"DFP1"
_YCC = np.array([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]], np.float32)


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """A clip's fingerprint.

    Attributes:
        video: (phases, segments, 384) uint8 thumbnails (16x16 Y then 8x8 Cb, Cr), one per 0.25 s;
            phase k starts k/phases of a hop late (stored fingerprints have one phase, queries several,
            so that an excerpt cut between two hops still lines up).
        audio: (frames,) uint16 hash words, one per 8 ms.
        loud: (frames,) bool, frames with enough sound for their bits to mean something.
    """

    video: np.ndarray
    audio: np.ndarray
    loud: np.ndarray

    @property
    def seconds(self) -> float:
        return (self.video.shape[1] - 1) * SEGMENT_HOP + SEGMENT_SECONDS

    def to_bytes(self) -> bytes:
        """Compact binary form: magic, counts, thumbnails, hash words, packed loudness bits."""
        header = _MAGIC + struct.pack("<HII", self.video.shape[0], self.video.shape[1], len(self.audio))
        return (header + np.ascontiguousarray(self.video, np.uint8).tobytes()
                + np.ascontiguousarray(self.audio, "<u2").tobytes() + np.packbits(self.loud).tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        if data[:4] != _MAGIC or len(data) < 14:
            raise ValueError("not a Duetto fingerprint (bad header); it may be from another version")
        phases, segments, frames = struct.unpack("<HII", data[4:14])
        video_end = 14 + phases * segments * THUMB_BYTES
        audio_end = video_end + 2 * frames
        if len(data) != audio_end + (frames + 7) // 8:
            raise ValueError("fingerprint bytes are truncated or padded; store and load them unchanged")
        video = np.frombuffer(data[14:video_end], np.uint8).reshape(phases, segments, THUMB_BYTES)
        audio = np.frombuffer(data[video_end:audio_end], "<u2").astype(np.uint16)
        loud = np.unpackbits(np.frombuffer(data[audio_end:], np.uint8), count=frames).astype(bool)
        return cls(video=video.copy(), audio=audio, loud=loud)

    def to_json(self) -> str:
        return json.dumps({"fingerprint": base64.b64encode(self.to_bytes()).decode("ascii"), "version": 1})

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        try:
            return cls.from_bytes(base64.b64decode(json.loads(text)["fingerprint"]))
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise ValueError(f"not a fingerprint JSON document: {error}") from None


def _video_part(frames: np.ndarray, fps: float, phases: int) -> np.ndarray:
    total = frames.shape[0] / fps
    lag = SEGMENT_HOP * (phases - 1) / phases
    count = max(1, int(np.floor((total - SEGMENT_SECONDS - lag) / SEGMENT_HOP + 1e-9)) + 1)
    return np.stack([_thumbnails(frames, fps, SEGMENT_HOP * k / phases, count) for k in range(phases)])


def _thumbnails(frames: np.ndarray, fps: float, start: float, count: int) -> np.ndarray:
    thumbs = np.empty((count, THUMB_BYTES), np.uint8)
    for k in range(count):
        first = min(frames.shape[0] - 1, round((start + k * SEGMENT_HOP) * fps))
        last = max(first + 1, round((start + k * SEGMENT_HOP + SEGMENT_SECONDS) * fps))
        mean = frames[first:last].mean(axis=0, dtype=np.float32) @ _YCC.T + np.array([0, 128, 128], np.float32)
        # Box resampling is an area average: the same thumbnail from any resolution of the same picture.
        planes = [np.asarray(Image.fromarray(mean[..., c]).resize((side, side), Image.Resampling.BOX)).ravel()
                  for c, side in enumerate((LUMA_THUMB, CHROMA_THUMB, CHROMA_THUMB))]
        thumbs[k] = np.clip(np.rint(np.concatenate(planes)), 0, 255).astype(np.uint8)
    return thumbs


def _erb_edges(low: float, high: float, count: int) -> np.ndarray:
    rate = np.linspace(21.4 * np.log10(1 + 0.00437 * low), 21.4 * np.log10(1 + 0.00437 * high), count + 1)
    return (10 ** (rate / 21.4) - 1) / 0.00437


def _audio_part(wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    mono = np.asarray(wave, np.float32)
    mono = mono if mono.ndim == 1 else mono.mean(axis=0)
    common = gcd(AUDIO_RATE, int(sample_rate))
    x = signal.resample_poly(mono, AUDIO_RATE // common, int(sample_rate) // common) if sample_rate != AUDIO_RATE else mono
    if x.size < AUDIO_FRAME + AUDIO_HOP:
        return np.zeros(0, np.uint16), np.zeros(0, bool)
    freqs, _, spectrum = signal.stft(x, AUDIO_RATE, nperseg=AUDIO_FRAME, noverlap=AUDIO_FRAME - AUDIO_HOP,
                                     boundary=None, padded=False)
    power = np.abs(spectrum) ** 2
    edges = _erb_edges(150.0, 3500.0, AUDIO_BANDS)
    band = np.searchsorted(edges, freqs, side="right") - 1
    energy = np.stack([power[band == b].sum(axis=0) for b in range(AUDIO_BANDS)], axis=1)
    levels = 10 * np.log10(energy + 1e-12)
    slope = levels[:, :-1] - levels[:, 1:]
    bits = (slope[1:] - slope[:-1]) > 0
    words = (bits.astype(np.uint16) << np.arange(AUDIO_BANDS - 1, dtype=np.uint16)).sum(axis=1).astype(np.uint16)
    loudness = 10 * np.log10(energy.sum(axis=1) / AUDIO_FRAME + 1e-12)
    loud = (loudness > AUDIO_FLOOR_DB) & (loudness > loudness.max() - AUDIO_RANGE_DB)
    return words, loud[1:] & loud[:-1]


def fingerprint(clip: Clip, *, phases: int = 1) -> Fingerprint:
    """The fingerprint of a clip (any size, rate, length).

    Store fingerprints with one phase; give a query (a clip found elsewhere, possibly cut anywhere)
    `phases=4`, which costs four times the thumbnails and aligns it within 1/16 s.
    """
    if clip.num_frames == 0:
        raise ValueError("cannot fingerprint a clip with no frames")
    if not 1 <= phases <= 16:
        raise ValueError(f"phases must be between 1 and 16, got {phases}")
    words, loud = _audio_part(clip.audio, clip.sample_rate)
    return Fingerprint(video=_video_part(clip.frames, clip.fps, phases), audio=words, loud=loud)


def _needed(a: int, b: int, least: int) -> int:
    """Overlap an alignment needs: nearly all of the shorter side, so that an excerpt is compared whole
    and two different clips cannot match on a stretch of shared empty backdrop alone."""
    return min(a, b, max(least, int(OVERLAP_SHARE * min(a, b))))


def _sequence_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Smallest thumbnail distance between two sequences over the alignments that overlap enough, and
    its shift (segment j of b lies on segment j + shift of a). The distance is the fourth-power mean of
    the differences: an object that moved weighs more than compression noise spread over the picture."""
    need = _needed(len(a), len(b), MIN_VIDEO_OVERLAP)
    best, best_shift = np.inf, 0
    for shift in range(-len(b) + need, len(a) - need + 1):
        lo, hi = max(0, shift), min(len(a), shift + len(b))
        distance = float(np.mean((a[lo:hi] - b[lo - shift:hi - shift]) ** 4) ** 0.25)
        if distance < best:
            best, best_shift = distance, shift
    return best, best_shift


def _video_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Smallest distance over both fingerprints' phases, and the time (s) of b's start on a's clock."""
    best, offset = np.inf, 0.0
    for pa in range(a.shape[0]):
        for pb in range(b.shape[0]):
            distance, shift = _sequence_distance(a[pa].astype(np.float32), b[pb].astype(np.float32))
            if distance < best:
                best = distance
                offset = shift * SEGMENT_HOP + SEGMENT_HOP * (pa / a.shape[0] - pb / b.shape[0])
    return best, offset


def _loud_frames(a: Fingerprint, b: Fingerprint, offset: float) -> tuple[int, int]:
    """Loud audio frames of each side within the stretch the video alignment puts in common (b starting
    `offset` seconds into a)."""
    lag = offset * AUDIO_RATE / AUDIO_HOP
    start, stop = max(0.0, lag), max(0.0, min(a.loud.size, lag + b.loud.size))
    in_a = a.loud[int(start):int(max(start, stop))]
    in_b = b.loud[int(start - lag):int(max(start, stop) - lag)]
    return int(in_a.sum()), int(in_b.sum())


def _audio_agreement(a: Fingerprint, b: Fingerprint) -> float | None:
    """Largest fraction of agreeing hash bits over alignments with enough loud frames in common, or None."""
    if a.audio.size == 0 or b.audio.size == 0:
        return None
    n = a.audio.size + b.audio.size - 1
    size = 1 << (n - 1).bit_length()

    def planes(fp: Fingerprint) -> np.ndarray:
        bits = ((fp.audio[:, None] >> np.arange(AUDIO_BANDS - 1, dtype=np.uint16)) & 1).astype(np.float32)
        return (2 * bits - 1) * fp.loud[:, None]

    spectrum_a = np.fft.rfft(planes(a), size, axis=0)
    spectrum_b = np.fft.rfft(planes(b)[::-1], size, axis=0)
    # Sum over bit planes of the cross-correlation of +-1 bits: agreements minus disagreements per shift.
    score = np.fft.irfft((spectrum_a * spectrum_b).sum(axis=1), size)[:n]
    common = np.fft.irfft(np.fft.rfft(a.loud.astype(np.float32), size) * np.fft.rfft(b.loud[::-1].astype(np.float32), size), size)[:n]
    common = np.rint(common)
    shifts = np.arange(n) - (b.audio.size - 1)
    overlap = np.minimum(a.audio.size, shifts + b.audio.size) - np.maximum(0, shifts)
    enough = (common >= MIN_AUDIO_OVERLAP) & (overlap >= _needed(a.audio.size, b.audio.size, MIN_AUDIO_OVERLAP))
    if not enough.any():
        return None
    agree = 0.5 + score[enough] / (2 * (AUDIO_BANDS - 1) * common[enough])
    return float(agree.max())


def match_details(a: Fingerprint, b: Fingerprint) -> dict[str, float | None]:
    """The score and what it came from: video distance and score, audio agreement and score."""
    distance, offset = _video_distance(a.video, b.video)
    video = float(np.clip((VIDEO_FAR - distance) / (VIDEO_FAR - VIDEO_NEAR), 0.0, 1.0))
    agreement = _audio_agreement(a, b)
    audio = None if agreement is None else float(np.clip((agreement - AUDIO_FAR) / (AUDIO_NEAR - AUDIO_FAR), 0, 1))
    if agreement is None:
        loud_a, loud_b = _loud_frames(a, b, offset)
        if max(loud_a, loud_b) >= MIN_AUDIO_OVERLAP and min(loud_a, loud_b) < MIN_AUDIO_OVERLAP // 4:
            audio = 0.0  # sound where the other is silent, over the same stretch: a difference
    score = video if audio is None else (video + audio) / 2
    return {"score": score, "video_distance": distance, "video": video, "audio_agreement": agreement,
            "audio": audio}


def match(a: Fingerprint, b: Fingerprint) -> float:
    """How alike two fingerprints are, 0..1 (at least `MATCH_THRESHOLD`: the same clip, however trimmed,
    re-encoded or rescaled). The video and audio scores are averaged; a silent side counts video only."""
    return float(match_details(a, b)["score"])


class FingerprintIndex:
    """Fingerprints by key (e.g. a video id), with a fast search for the best matches of a query.

    Search first ranks every stored clip by its closest thumbnail to any of the query's thumbnails (one
    matrix product over all stored thumbnails), then scores the best few candidates with `match`.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Fingerprint] = {}
        self._matrix: np.ndarray | None = None
        self._owners: np.ndarray | None = None
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def add(self, key: str, fp: Fingerprint) -> None:
        """Store (or replace) the fingerprint of `key`."""
        if not isinstance(key, str) or not key:
            raise ValueError("index keys must be non-empty strings (e.g. the video id)")
        self._entries[key] = fp
        self._matrix = None

    def remove(self, key: str) -> None:
        """Forget `key` (e.g. after a takedown of the original); unknown keys are ignored."""
        if self._entries.pop(key, None) is not None:
            self._matrix = None

    def _build(self) -> None:
        self._keys = list(self._entries)
        blocks = [self._entries[k].video[0].astype(np.float32) for k in self._keys]
        self._matrix = np.concatenate(blocks) if blocks else np.zeros((0, THUMB_BYTES), np.float32)
        self._owners = np.repeat(np.arange(len(self._keys)), [len(b) for b in blocks]).astype(np.int64)

    def search(self, fp: Fingerprint, *, top: int = 5, candidates: int = 32) -> list[tuple[str, float]]:
        """The `top` best (key, score) pairs, best first, among the `candidates` nearest by thumbnail."""
        if not self._entries:
            return []
        if self._matrix is None:
            self._build()
        assert self._matrix is not None and self._owners is not None
        query = fp.video.reshape(-1, THUMB_BYTES).astype(np.float32)
        distances = ((query**2).sum(axis=1)[:, None] + (self._matrix**2).sum(axis=1)[None, :]
                     - 2 * query @ self._matrix.T).min(axis=0)
        nearest = np.full(len(self._keys), np.inf, np.float32)
        np.minimum.at(nearest, self._owners, distances)
        shortlist = np.argsort(nearest)[:candidates]
        scored = [(self._keys[i], match(fp, self._entries[self._keys[i]])) for i in shortlist]
        return sorted(scored, key=lambda item: -item[1])[:top]

    def best(self, fp: Fingerprint) -> tuple[str, float] | None:
        """The best match at or above `MATCH_THRESHOLD`, or None."""
        found = self.search(fp, top=1)
        return found[0] if found and found[0][1] >= MATCH_THRESHOLD else None

    def items(self) -> Iterable[tuple[str, Fingerprint]]:
        return self._entries.items()

    def to_bytes(self) -> bytes:
        parts = [_MAGIC + b"IX" + struct.pack("<I", len(self._entries))]
        for key, fp in self._entries.items():
            name, body = key.encode("utf-8"), fp.to_bytes()
            parts.append(struct.pack("<HI", len(name), len(body)) + name + body)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> FingerprintIndex:
        if data[:6] != _MAGIC + b"IX":
            raise ValueError("not a Duetto fingerprint index (bad header)")
        index, offset = cls(), 10
        (count,) = struct.unpack("<I", data[6:10])
        for _ in range(count):
            name_len, body_len = struct.unpack("<HI", data[offset:offset + 6])
            offset += 6
            key = data[offset:offset + name_len].decode("utf-8")
            offset += name_len
            index.add(key, Fingerprint.from_bytes(data[offset:offset + body_len]))
            offset += body_len
        if offset != len(data):
            raise ValueError("fingerprint index bytes are truncated or padded")
        return index
