"""The Toybox evaluator: every spec §7 measure of one clip, from its frames, its sound and its prompt's facts.

Nothing here looks at how a clip was made: the video side is colour segmentation of the decoded
frames, the audio side signal processing of the decoded waveform, and the facts say only what the
prompt asked for. Video and audio are analysed separately (`analyse_video`, `analyse_audio`) and
then scored together (`score`), so a clip's sound can be scored against another clip's picture.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from duetto.bench import motion as mo
from duetto.bench.faces import Face, read_face
from duetto.bench.onsets import FAINT_FLUX_FLOOR, SAMPLE_RATE, Onset, detect_onsets, prepare_audio
from duetto.bench.sound import (
    ENVELOPE_HOP_S,
    AmbienceFeatures,
    ambience_features,
    classify_ambience,
    pitch_track,
    syllable_nuclei,
    voice_band_envelope,
)
from duetto.bench.sync import MATCH_WINDOW_S, false_onsets, lip_sync, sync_errors_ms
from duetto.bench.vision import Track, blob_shape, label_pixels, scene_palette, track_colour
from duetto.clip import Clip
from duetto.world import vocab
from duetto.world.facts import SceneFacts

#: A wall stop counts as a wall hit when the leading edge ends this close (W) to the wall ...
WALL_GAP = 0.05
#: ... and was still moving at least this fast (W/s) when it stopped.
WALL_SPEED = 0.05
#: An onset farther than this from any visible cause is a false sound (spec §7).
FALSE_SOUND_S = 0.100
#: Impacts closer than this sound as one onset (the detector merges onsets under 30 ms apart, and visual
#: times carry ~10 ms of error), so they count once.
SIMULTANEOUS_S = 0.040
SYLLABLE_HOP_S = 0.005
#: Voice pitch must come within this share of the character's f0 (spec §7).
F0_TOLERANCE = 0.15
# Decay time constants of the impact sounds (spec §3): speech measures skip 3 of them after an impact.
_IMPACT_TAU_S = {"rubber": 0.060, "wood": 0.025, "metal": 0.250, "glass": 0.060}


@dataclass
class ObjectScore:
    """One prompted object: what was asked, what the frames show, and the verdicts."""

    colour: str
    shape: str
    size: str
    motion: str
    found: bool = False
    seen_shape: str | None = None
    seen_size: str | None = None
    seen_motion: str = "unseen"
    impacts: list[float] = field(default_factory=list)  # visual impact times, s
    arc_residual: float | None = None  # H, bounces only
    heights_decrease: bool | None = None  # bounces only

    @property
    def attributes_ok(self) -> bool:
        return self.found and self.seen_shape == self.shape and self.seen_size == self.size

    @property
    def motion_ok(self) -> bool:
        return self.seen_motion == self.motion


@dataclass
class ToyScore:
    """One prompted toy: its identity as asked and as seen and heard."""

    head_colour: str
    hat: str
    eyes: str
    pitch_hz: float
    found: bool = False
    seen_hat: str | None = None
    seen_eyes: str | None = None
    heard_pitch_hz: float | None = None

    @property
    def hat_ok(self) -> bool:
        return self.found and self.seen_hat == self.hat

    @property
    def eyes_ok(self) -> bool:
        return self.found and self.seen_eyes == self.eyes

    @property
    def voice_ok(self) -> bool:
        return self.heard_pitch_hz is not None and abs(self.heard_pitch_hz / self.pitch_hz - 1) <= F0_TOLERANCE

    @property
    def identity_ok(self) -> bool:
        """Head and hat colour seen, voice pitch heard (spec §7's identity match)."""
        return self.found and self.hat_ok and self.voice_ok


@dataclass
class ClipScores:
    """Every §7 measure for one clip; None where a measure does not apply to the prompt.

    Sync errors hold one entry per visual impact: |Δt| in ms to the onset matched to it one-to-one,
    or `sync.MISS_MS` when no onset lies within `sync.MATCH_WINDOW_S` (so a silent or shuffled
    soundtrack scores badly instead of dropping out of the median).
    """

    fps: float
    objects: list[ObjectScore]
    toys: list[ToyScore]
    visual_impacts: list[float]
    audio_onsets: list[float]
    sync_errors_ms: list[float]
    false_sounds: int
    ambience: str
    ambience_heard: str
    lip_sync_r: float | None = None
    lip_sync_lag_ms: float | None = None
    syllables_prompted: int | None = None
    syllables_heard: int | None = None

    @property
    def sync_median_ms(self) -> float | None:
        return float(np.median(self.sync_errors_ms)) if self.sync_errors_ms else None

    @property
    def sync_p90_ms(self) -> float | None:
        return float(np.percentile(self.sync_errors_ms, 90)) if self.sync_errors_ms else None

    @property
    def sync_within_frame(self) -> float | None:
        """Share of visual impacts with an onset within ±1 frame."""
        if not self.sync_errors_ms:
            return None
        return float(np.mean(np.asarray(self.sync_errors_ms) <= 1000.0 / self.fps))

    @property
    def attribute_accuracy(self) -> float | None:
        return float(np.mean([o.attributes_ok for o in self.objects])) if self.objects else None

    @property
    def motion_accuracy(self) -> float | None:
        return float(np.mean([o.motion_ok for o in self.objects])) if self.objects else None

    @property
    def physics_residual(self) -> float | None:
        values = [o.arc_residual for o in self.objects if o.arc_residual is not None]
        return float(np.mean(values)) if values else None

    @property
    def bounce_heights_decrease(self) -> bool | None:
        values = [o.heights_decrease for o in self.objects if o.heights_decrease is not None]
        return all(values) if values else None

    @property
    def ambience_ok(self) -> bool:
        return self.ambience_heard == self.ambience

    @property
    def syllable_count_ok(self) -> bool | None:
        if self.syllables_prompted is None or self.syllables_heard is None:
            return None
        return self.syllables_heard == self.syllables_prompted

    @property
    def identity_match(self) -> float | None:
        return float(np.mean([t.identity_ok for t in self.toys])) if self.toys else None

    def summary(self) -> dict[str, Any]:
        """The per-clip measures as plain numbers (what reports aggregate)."""
        names = ("sync_median_ms", "sync_p90_ms", "sync_within_frame", "false_sounds", "attribute_accuracy",
                 "motion_accuracy", "physics_residual", "bounce_heights_decrease", "ambience_ok",
                 "lip_sync_r", "lip_sync_lag_ms", "syllables_prompted", "syllables_heard",
                 "syllable_count_ok", "identity_match")
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        return data


@dataclass
class VideoAnalysis:
    """What the frames show, given what the prompt asked for."""

    fps: float
    num_frames: int
    objects: list[ObjectScore]
    faces: list[Face]
    impacts: np.ndarray  # visual impact times (s), sorted, near-simultaneous ones merged
    noisy: list[tuple[float, float]]  # intervals (s) where a visible cause makes a sound other than speech
    motion_starts: list[float]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


@dataclass
class AudioAnalysis:
    """What the soundtrack holds, on its own."""

    duration: float
    onsets: list[Onset]
    faint_onsets: list[Onset]  # found with a lower flux floor; only used next to a visual impact
    envelope: np.ndarray  # voice-band RMS, 20 ms frames
    envelope_times: np.ndarray
    syllable_envelope: np.ndarray  # voice-band RMS, 5 ms frames
    pitch: np.ndarray  # Hz per 10 ms frame, NaN where unvoiced
    pitch_times: np.ndarray
    ambience: AmbienceFeatures

    @property
    def events(self) -> np.ndarray:
        return np.array([o.time for o in self.onsets if o.is_event], dtype=float)

    def events_near(self, impacts: np.ndarray, window_s: float) -> np.ndarray:
        """Events plus the faint events within `window_s` of a visual impact, sorted.

        A knock 20 dB under rain still is a knock: where the picture says something hit, a weaker
        flux peak is enough, provided it passes the same in-band energy and SNR tests. Elsewhere only
        the regular events count (false sounds use those alone).
        """
        events = list(self.events)
        for onset in self.faint_onsets:
            if not onset.is_event or not len(impacts) or np.min(np.abs(impacts - onset.time)) > window_s:
                continue
            if not events or np.min(np.abs(np.asarray(events) - onset.time)) > 0.015:
                events.append(onset.time)
        return np.sort(np.asarray(events, dtype=float))


def _sideways_start(t: np.ndarray, x: np.ndarray) -> float | None:
    seen = np.isfinite(x)
    if seen.sum() < 2:
        return None
    moved = np.flatnonzero(seen & (np.abs(x - x[seen][0]) > 0.01))
    return float(t[max(0, moved[0] - 1)]) if len(moved) else None


def _steady_blob(track: Track, frames: int) -> bool:
    """An object, not a passing smear of its colour: seen in an eighth of the frames (a ball rolling
    out of the picture may leave after half a second), with an area that stays within about a third
    of its median wherever it is seen whole."""
    if track.frames_seen < max(3, frames // 8):
        return False
    whole = track.present & ~track.clipped
    sizes = track.area[whole] if whole.sum() >= 3 else track.area[track.present]
    return float(np.mean(np.abs(sizes / np.median(sizes) - 1) < 0.35)) >= 0.8


def _moving_interval(t: np.ndarray, x: np.ndarray) -> list[tuple[float, float]]:
    """The stretch (s) in which a sideways track moves faster than 0.02 W/s, padded by 50 ms."""
    speed = np.abs(np.gradient(x)) * (1.0 / float(t[1] - t[0]))
    moving = np.flatnonzero(np.isfinite(speed) & (speed > 0.02))
    return [(float(t[moving[0]]) - 0.05, float(t[moving[-1]]) + 0.05)] if len(moving) else []


def _wall_hit(t: np.ndarray, x: np.ndarray, half_width: float) -> float | None:
    """When a sliding box's leading edge stops at a wall while still moving briskly, else None."""
    seen = np.isfinite(x)
    heading = np.sign(x[seen][-1] - x[seen][0])
    edge = x + heading * half_width
    stop = mo.wall_stop(t, edge)
    if stop is None:
        return None
    gap = (1.0 - edge[seen][-1]) if heading > 0 else edge[seen][-1]
    return stop[0] if gap < WALL_GAP and stop[1] >= WALL_SPEED else None


def analyse_video(frames: np.ndarray, fps: float, facts: SceneFacts) -> VideoAnalysis:
    """Segment the frames by the scene's palette and read every prompted object and toy."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 3:
        raise ValueError(f"frames must be (T ≥ 3, H, W, 3) RGB, got shape {tuple(frames.shape)}")
    n, height, width = frames.shape[:3]
    aspect = width / height
    palette = scene_palette(facts.setting)
    labels = label_pixels(frames, palette)
    t = np.arange(n) / fps
    objects, noisy, starts = [], [], []
    for obj in facts.objects:
        score = ObjectScore(obj.colour, obj.shape, obj.size, obj.motion)
        objects.append(score)
        track = track_colour(labels, palette.index(obj.colour), near_x=vocab.POSITIONS[obj.position])
        look = blob_shape(track, height)
        if look is None or not _steady_blob(track, n):
            continue
        score.found, score.seen_shape, score.seen_size = True, look.shape, look.size
        height_above = vocab.FLOOR_Y - (track.cy + look.radius)
        floor = mo.floor_motion(t, height_above)
        score.seen_motion = mo.classify_motion(t, track.cx, height_above, floor)
        tau = 3 * _IMPACT_TAU_S[obj.material]
        if score.seen_motion in ("bounces", "falls"):
            score.impacts = [c.time for c in floor.contacts]
        if score.seen_motion == "bounces":
            score.arc_residual = floor.arc_residual
            heights = floor.apex_heights
            score.heights_decrease = bool(np.all(np.diff(heights) < 0.003)) if len(heights) >= 2 else None
        if score.seen_motion in ("slides", "rolls"):
            start = _sideways_start(t, track.cx)
            if start is not None:
                starts.append(start)
        if score.seen_motion == "slides":
            noisy.extend(_moving_interval(t, track.cx))
            hit = _wall_hit(t, track.cx, look.radius / aspect)
            if hit is not None:
                score.impacts = [hit]
        noisy.extend((time - 0.02, time + tau) for time in score.impacts)
    faces = [read_face(labels, palette, toy) for toy in facts.toys]
    impacts = merge_close(sorted(time for o in objects for time in o.impacts), SIMULTANEOUS_S)
    return VideoAnalysis(float(fps), n, objects, faces, np.array(impacts), noisy, starts)


def merge_close(times: list[float], gap: float) -> list[float]:
    """Sorted times with each run of times closer than `gap` to the previous one kept as its first."""
    merged: list[float] = []
    for time in times:
        if not merged or time - merged[-1] >= gap:
            merged.append(time)
    return merged


def analyse_audio(audio: np.ndarray, sample_rate: int) -> AudioAnalysis:
    """Onsets, envelopes, pitch track and background statistics of a waveform."""
    x = prepare_audio(audio, sample_rate)
    if len(x) < SAMPLE_RATE // 10:
        raise ValueError("the audio is shorter than 0.1 s; the benchmark needs the clip's full soundtrack")
    envelope, env_times = voice_band_envelope(x, ENVELOPE_HOP_S)
    syllable_env, _ = voice_band_envelope(x, SYLLABLE_HOP_S)
    pitch, pitch_times = pitch_track(x)
    return AudioAnalysis(len(x) / SAMPLE_RATE, detect_onsets(x), detect_onsets(x, floor=FAINT_FLUX_FLOOR),
                         envelope, env_times, syllable_env, pitch, pitch_times, ambience_features(x))


def _quiet_mask(times: np.ndarray, noisy: list[tuple[float, float]]) -> np.ndarray:
    """True where no visible cause other than speech makes a sound (knocks ringing, boxes scraping)."""
    keep = np.ones(len(times), bool)
    for start, end in noisy:
        keep &= ~((times >= start) & (times <= end))
    return keep


def _speech_window(faces: list[Face], fps: float, times: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """True from just before the first open mouth to just after the last: lip sync is judged there,
    on syllables, not on the trivial agreement of a silent clip end with a closed mouth."""
    open_frames = [np.flatnonzero(f.speaking()) for f in faces if f.found]
    open_frames = [f for f in open_frames if len(f)]
    if not open_frames:
        return np.zeros(len(times), bool)
    first = min(f[0] for f in open_frames) / fps - margin
    last = max(f[-1] for f in open_frames) / fps + margin
    return (times >= first) & (times <= last)


def _mouth_on_grid(faces: list[Face], fps: float, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The toys' summed mouth area sampled at `times`, and where it was seen."""
    tracks = [f.mouth for f in faces if f.found and f.mouth is not None]
    if not tracks:
        return np.zeros(len(times)), np.zeros(len(times), bool)
    total = np.sum([np.nan_to_num(m) for m in tracks], axis=0)
    seen = np.all([np.isfinite(m) for m in tracks], axis=0)
    frame_t = np.arange(len(total)) / fps
    inside = times <= frame_t[-1]
    return np.interp(times, frame_t, total), inside & (np.interp(times, frame_t, seen.astype(float)) > 0.5)


def _toy_scores(video: VideoAnalysis, audio: AudioAnalysis, facts: SceneFacts, quiet_pitch: np.ndarray) -> list[ToyScore]:
    scores = []
    frame_t = np.arange(video.num_frames) / video.fps
    for toy, face in zip(facts.toys, video.faces, strict=True):
        score = ToyScore(toy.head_colour, toy.hat, toy.eyes, vocab.PITCHES[toy.pitch], found=face.found,
                         seen_hat=face.hat, seen_eyes=face.eyes)
        if face.found:
            speaking = face.speaking()
            # The voice of this toy: pitch frames while its own mouth is open.
            talking = np.interp(audio.pitch_times, frame_t, speaking.astype(float)) > 0.5
            f0 = audio.pitch[talking & quiet_pitch & np.isfinite(audio.pitch)]
            if len(f0) >= 3:
                score.heard_pitch_hz = float(np.median(f0))
        scores.append(score)
    return scores


def score(video: VideoAnalysis, audio: AudioAnalysis, facts: SceneFacts) -> ClipScores:
    """Put a video analysis and an audio analysis of the same (or, for controls, another) clip together."""
    impacts = video.impacts
    events = audio.events
    events = events[events <= video.duration + 0.05]
    near = audio.events_near(impacts, MATCH_WINDOW_S)
    causes = [*impacts, *video.motion_starts]
    for face in video.faces:
        if face.found:
            causes.extend(np.flatnonzero(face.speaking()) / video.fps)
    result = ClipScores(
        fps=video.fps,
        objects=video.objects,
        toys=[],
        visual_impacts=[float(t) for t in impacts],
        audio_onsets=[float(t) for t in events],
        sync_errors_ms=[float(e) for e in sync_errors_ms(impacts, near)],
        false_sounds=false_onsets(events, np.array(causes), FALSE_SOUND_S),
        ambience=facts.ambience,
        ambience_heard=classify_ambience(audio.ambience),
    )
    if facts.toys:
        quiet_env = _quiet_mask(audio.envelope_times, video.noisy)
        quiet_env &= _speech_window(video.faces, video.fps, audio.envelope_times)
        mouth, seen = _mouth_on_grid(video.faces, video.fps, audio.envelope_times)
        sync = lip_sync(mouth, audio.envelope, quiet_env & seen, ENVELOPE_HOP_S)
        if sync is not None:
            result.lip_sync_r, result.lip_sync_lag_ms = sync
        quiet_pitch = _quiet_mask(audio.pitch_times, video.noisy)
        result.toys = _toy_scores(video, audio, facts, quiet_pitch)
        result.syllables_prompted = sum(len(t.syllables) for t in facts.toys)
        syl_times = (np.arange(len(audio.syllable_envelope)) + 0.5) * SYLLABLE_HOP_S
        voiced = np.interp(syl_times, audio.pitch_times, np.isfinite(audio.pitch).astype(float)) > 0.5
        usable = _quiet_mask(syl_times, video.noisy) & (syl_times <= video.duration)
        result.syllables_heard = int(len(syllable_nuclei(audio.syllable_envelope, syl_times, voiced, usable)))
    return result


def load_clip(clip_or_path: Clip | str | os.PathLike[str]) -> Clip:
    """A Clip as given, or decoded from an MP4 path with its audio at the benchmark's 16 kHz."""
    if isinstance(clip_or_path, Clip):
        return clip_or_path
    path = Path(clip_or_path)
    if not path.is_file():
        raise ValueError(f"no video file at {path}; pass a Clip or the path of an MP4")
    from duetto.media import read_mp4

    return read_mp4(path, sample_rate=SAMPLE_RATE)


def evaluate(clip_or_path: Clip | str | os.PathLike[str], facts: SceneFacts) -> ClipScores:
    """Score one clip (or MP4 file) against the facts of the prompt it was generated from."""
    if not isinstance(facts, SceneFacts):
        raise ValueError("facts must be a SceneFacts; parse the prompt with duetto.world.parse_caption")
    clip = load_clip(clip_or_path)
    return score(analyse_video(clip.frames, clip.fps, facts), analyse_audio(clip.audio, clip.sample_rate), facts)
