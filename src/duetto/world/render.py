"""Rendering a Toybox scene to a Clip with its ground truth, at any size, frame rate, duration and sample rate.

Frame i shows the scene at time i / fps; audio sample n plays at time n / sample_rate. The same seed
and parameters give the same clip bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from duetto.clip import Clip
from duetto.world import draw, physics, sounds, speech, vocab
from duetto.world.captions import caption as write_caption
from duetto.world.facts import SceneFacts
from duetto.world.scene import Scene, ToyPlan, realize


@dataclass
class RenderResult:
    """A rendered clip and what is true about it.

    Attributes:
        clip: uint8 frames (T, H, W, 3) and float32 mono audio.
        truth: the spec §6 ground truth, JSON-ready (see `render`).
        tracks: per-frame truth as arrays: "object_xy" (objects, T, 2) normalised centres,
            "mouth" (toys, T) mouth opening 0–1, "mouth_audio" (toys, samples) the opening at
            the audio rate.
        scene: the fully specified scene that was rendered.
    """

    clip: Clip
    truth: dict[str, Any]
    tracks: dict[str, np.ndarray] = field(default_factory=dict)
    scene: Scene | None = None


def check_params(
    width: int, height: int, fps: float, seconds: float, sample_rate: int, noise: float = 0.0
) -> None:
    """Raise ValueError when render parameters are out of range."""
    if width < 8 or height < 8:
        raise ValueError(f"frame size must be at least 8×8 pixels, got {width}×{height}")
    if not fps > 0 or not seconds > 0:
        raise ValueError(f"fps and seconds must be positive, got fps={fps}, seconds={seconds}")
    if sample_rate < 2000:
        raise ValueError(f"sample_rate must be at least 2000 Hz, got {sample_rate}")
    if not 0 <= noise <= vocab.MAX_SENSOR_NOISE * 255:
        raise ValueError(f"sensor noise must be between 0 and 3 (levels of 255), got {noise}")


def render(
    scene_or_facts: Scene | SceneFacts,
    *,
    width: int = 128,
    height: int = 128,
    fps: float = 24.0,
    seconds: float = 4.0,
    sample_rate: int = 16000,
    seed: int = 0,
    noise: float = 0.0,
    caption: str | None = None,
) -> RenderResult:
    """Render a scene (or facts, realized with `seed`) to frames, audio and ground truth.

    Args:
        noise: standard deviation of optional sensor noise, in 8-bit levels (at most 3).
        caption: the caption to record; by default one is written from the facts with `seed`.

    The truth holds setting, ambience, duration_s, the render parameters, objects[] (facts plus
    start_x/start_y, radius), toys[] (identity, position, syllables with start/end seconds, per-frame
    mouth), events[] sorted by time (kind "impact" with object index, speed and surface, or
    "speech_onset" with toy index and syllable; "object" is the index in the matching list, and
    "sample" the audio sample of the event), caption, facts and seed.
    """
    check_params(width, height, fps, seconds, sample_rate, noise)
    # 1. The scene and its caption. Each of the four random streams (scene, caption, audio, sensor noise)
    #    has a seed of its own, so a given Scene or caption leaves the other streams' draws as they were.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    scene = scene_or_facts if isinstance(scene_or_facts, Scene) else realize(scene_or_facts, streams[0])
    facts = scene.facts
    text = caption if caption is not None else write_caption(facts, streams[1])
    audio_rng = streams[2]

    # 2. The clock: frame i shows time i / fps, audio sample n plays at n / sample_rate.
    num_frames = max(1, int(round(seconds * fps)))
    num_samples = max(1, int(round(seconds * sample_rate)))
    frame_t = np.arange(num_frames) / fps
    sample_t = np.arange(num_samples) / sample_rate
    aspect = width / height

    # 3. Motion and the sounds it makes.
    tracks = [physics.track(p, aspect) for p in scene.objects]
    audio, events = _motion_sounds(tracks, seconds, sample_t, sample_rate, audio_rng)

    # 4. Speech and mouths, mixed into the same audio. Speech draws from the audio stream after motion
    #    does; swapping the two would change every clip.
    mouth_audio, mouth = _speech(scene.toys, audio, events, seconds, num_frames, fps, sample_rate, audio_rng)

    # 5. Ambience, then keep the mix in range.
    audio += sounds.ambience(facts.ambience, num_samples, sample_rate, audio_rng)
    np.clip(audio, -1.0, 1.0, out=audio)

    # 6. Frames, and optional sensor noise from a stream of its own.
    frames, object_xy = _frames(scene, tracks, mouth, frame_t, width, height)
    if noise > 0:
        jitter = streams[3].normal(0.0, noise, size=frames.shape).astype(np.float32)
        frames = np.clip(np.rint(frames + jitter), 0, 255).astype(np.uint8)

    # 7. The ground truth, events in time order.
    events.sort(key=lambda e: (e["time"], e["kind"], e["object"]))
    truth = {
        "setting": facts.setting,
        "ambience": facts.ambience,
        "duration_s": float(seconds),
        "width": width,
        "height": height,
        "fps": float(fps),
        "sample_rate": sample_rate,
        "num_frames": num_frames,
        "num_samples": num_samples,
        "objects": [_object_truth(tr) for tr in tracks],
        "toys": [_toy_truth(toy, mouth[j]) for j, toy in enumerate(scene.toys)],
        "events": events,
        "caption": text,
        "facts": facts.to_dict(),
        "seed": seed,
    }
    clip = Clip(frames, audio, float(fps), sample_rate, {"prompt": text, "seed": seed, "generator": "toybox"})
    return RenderResult(
        clip, truth, {"object_xy": object_xy, "mouth": mouth, "mouth_audio": mouth_audio}, scene
    )


def _motion_sounds(
    tracks: list[physics.Track],
    seconds: float,
    sample_t: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The objects' sound: each impact before the clip ends (and its "impact" event), and the noise of
    each rolling or sliding object."""
    audio = np.zeros(len(sample_t), dtype=np.float32)
    events: list[dict[str, Any]] = []
    for i, tr in enumerate(tracks):
        f = tr.plan.facts
        for imp in tr.impacts:
            if imp.time >= seconds:
                continue
            n = sounds.add_impact(
                audio, imp.time, sounds.impact_peak(imp.speed), f.material, f.size, sample_rate
            )
            events.append(
                {
                    "kind": "impact",
                    "time": imp.time,
                    "sample": n,
                    "object": i,
                    "speed": imp.speed,
                    "surface": imp.surface,
                }
            )
        if tr.sound is not None:
            audio += sounds.moving_noise(tr.sound, tr.sideways_speed(sample_t), sample_rate, rng)
    return audio, events


def _speech(
    toys: tuple[ToyPlan, ...],
    audio: np.ndarray,
    events: list[dict[str, Any]],
    seconds: float,
    num_frames: int,
    fps: float,
    sample_rate: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Add each toy's voice to `audio` and a "speech_onset" event per syllable before the clip ends to
    `events`; return the mouth openings at the audio rate (toys, samples) and per frame (toys, frames)."""
    mouth_audio = np.zeros((len(toys), len(audio)), dtype=np.float32)
    for j, toy in enumerate(toys):
        voice, mouth_audio[j] = speech.synthesize(toy, len(audio), sample_rate, rng)
        audio += voice
        for k, syl in enumerate(toy.syllables):
            if syl.start < seconds:
                events.append(
                    {
                        "kind": "speech_onset",
                        "time": syl.start,
                        "sample": int(round(syl.start * sample_rate)),
                        "object": j,
                        "toy": j,
                        "syllable": k,
                    }
                )
    mouth = (
        np.stack([speech.mouth_per_frame(m, sample_rate, fps, num_frames) for m in mouth_audio])
        if toys
        else np.zeros((0, num_frames), np.float32)
    )
    return mouth_audio, mouth


def _frames(
    scene: Scene,
    tracks: list[physics.Track],
    mouth: np.ndarray,
    frame_t: np.ndarray,
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) and object centres (objects, T, 2): backdrop and toys are drawn once and
    copied to every frame, then mouths and objects per frame."""
    num_frames = len(frame_t)
    canvas = draw.backdrop(scene.facts.setting, height, width)
    for toy in scene.toys:
        draw.draw_toy(canvas, toy)
    frames = np.broadcast_to(canvas, (num_frames, height, width, 3)).copy()
    for j, toy in enumerate(scene.toys):
        draw.draw_mouths(frames, toy, mouth[j])
    object_xy = np.zeros((len(tracks), num_frames, 2), dtype=np.float32)
    for i, tr in enumerate(tracks):
        x, y = tr.position(frame_t)
        object_xy[i, :, 0], object_xy[i, :, 1] = x, y
        draw.draw_object(frames, tr.plan.facts.shape, tr.plan.facts.colour, x, y, tr.plan.radius)
    return frames, object_xy


def _object_truth(tr: physics.Track) -> dict[str, Any]:
    p = tr.plan
    direction = {-1: "left", 1: "right"}.get(p.direction)
    return {
        **p.facts.to_dict(),
        "direction": direction,
        "start_x": p.x0,
        "start_y": p.y0,
        "radius": p.radius,
        "restitution": vocab.RESTITUTION[p.facts.material] if p.facts.motion == "bounces" else 0.0,
        "speed": p.speed,
        "stop_time": None if not np.isfinite(tr.stop_time) else float(tr.stop_time),
    }


def _toy_truth(toy, mouth: np.ndarray) -> dict[str, Any]:
    hx, hy = draw.toy_head_centre(toy)
    return {
        "identity": toy.facts.identity,
        "position": toy.facts.position,
        "x": hx,
        "y": hy,
        "head_radius": vocab.TOY_HEAD_RADIUS,
        "f0": toy.f0,
        "words": list(toy.facts.words),
        "syllables": [
            {"text": s.text, "start": s.start, "vowel_start": s.vowel_start, "end": s.end}
            for s in toy.syllables
        ],
        "mouth": [round(float(m), 4) for m in mouth],
    }
