"""The worker's bridge to the engine: load pipelines once per process, generate clips, encode their files.

Nothing here imports torch at module level: a Celery parent or the API process that imports this module
stays free of it until a job actually runs.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from duetto.app.jobs.runner import Progress
from duetto.app.videos.generation import GenerationError, GenerationRequest

log = logging.getLogger(__name__)

# The stage reporter of the job this thread is running (see `_watch_stages`).
_current = threading.local()


def _watch_stages(pipe: Any) -> None:
    """Have a loaded pipeline say when it starts decoding the picture and making the sound.

    The engine reports only denoising steps; decoding and the vocoder then take a good part of a CPU job
    (tens of seconds for a 4-second clip). Its two decode methods are the only places those stages start,
    so each is wrapped once, on the instance, to tell the job running on this thread before it runs.
    """
    for method, stage in (("decode_frames", "decoding"), ("decode_audio", "sound")):
        original = getattr(pipe, method)

        def watched(*args: Any, _original: Any = original, _stage: str = stage, **kwargs: Any) -> Any:
            report = getattr(_current, "stage", None)
            if report is not None:
                report(_stage)
            return _original(*args, **kwargs)

        setattr(pipe, method, watched)


class EngineGenerator:
    """Runs `duetto.engine.pipeline.Pipeline`, keeping each loaded model for the next job."""

    def __init__(self, *, device: str = "cpu", torch_threads: int | None = None) -> None:
        self.device = device
        self.torch_threads = torch_threads
        self._pipelines: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def pipeline(self, model_path: Path) -> Any:
        with self._lock:
            if model_path not in self._pipelines:
                import torch

                from duetto.engine.pipeline import Pipeline

                if self.torch_threads:
                    torch.set_num_threads(self.torch_threads)
                try:
                    pipe = Pipeline.from_pretrained(model_path, device=self.device)
                except ValueError as error:
                    raise GenerationError("model_unavailable", str(error)) from None
                # Its one-line errors name the model as clients do: by its folder.
                pipe.name = model_path.name
                _watch_stages(pipe)
                self._pipelines[model_path] = pipe
                log.info("loaded model %s on %s", model_path.name, self.device)
            return self._pipelines[model_path]

    def __call__(self, request: GenerationRequest, progress: Progress) -> Any:
        from duetto.media import load_image, read_mp4

        pipe = self.pipeline(request.model_path)
        params = request.params
        kwargs: dict[str, Any] = dict(
            seconds=request.seconds,
            size=request.size,
            steps=params.get("steps"),
            seed=params.get("seed"),
            negative_prompt=params.get("negative_prompt"),
            audio_negative_prompt=params.get("audio_negative_prompt"),
            callback=_passes(progress, 2 if getattr(pipe.config, "audio_second_pass", False) else 1),
        )
        if request.image is not None:
            kwargs["image"] = load_image(request.image)
        if request.source_mp4 is not None:
            source = read_mp4(request.source_mp4)
            if request.kind in ("extend", "shot"):
                kwargs["extend"] = source
            elif request.kind == "sound":
                # The upload's picture is kept and sets the length; the engine counts its frames at its own rate.
                kwargs.update(video=_at_fps(source, pipe.config.fps), seconds=None)
            else:
                kwargs["remix_of"] = source
                kwargs["strength"] = float(params.get("strength", 0.6))
        if request.source_audio is not None:
            # The uploaded sound is kept and sets the length.
            kwargs.update(audio=_sound_clip(request.source_audio), seconds=None)
        _current.stage = getattr(progress, "stage", None)
        try:
            clip = pipe(request.prompt, **kwargs)
        finally:
            _current.stage = None
        if request.kind == "shot":
            clip = _shot_window(pipe, clip, kwargs.get("extend"))
        return clip


def _shot_window(pipe: Any, clip: Any, previous: Any) -> Any:
    """A story's shot is the window the model made: when it continues the shot before, the tail it held clean
    (its overlap, recorded for stitching) and then its own seconds, without the whole shot before it."""
    from duetto.clip import Clip

    if previous is None:
        return Clip(frames=clip.frames, audio=clip.audio, fps=clip.fps, sample_rate=clip.sample_rate,
                    metadata=dict(clip.metadata, overlap_frames=0))
    overlap = pipe.extension_prefix_frames(previous)
    start = previous.num_frames - overlap
    audio = clip.audio[..., pipe.num_samples(start):]
    return Clip(frames=clip.frames[start:], audio=audio, fps=clip.fps, sample_rate=clip.sample_rate,
                metadata=dict(clip.metadata, mode="shot", overlap_frames=overlap))


def _at_fps(clip: Any, fps: float) -> Any:
    """An uploaded video shown at the model's frame rate, so that its picture keeps its timing."""
    from duetto.media.decode import retime

    return retime(clip, fps)


def _sound_clip(data: bytes) -> Any:
    """An uploaded sound file (any format PyAV reads) as the sound-only clip the engine's `audio=` takes."""
    import numpy as np

    from duetto.clip import Clip
    from duetto.media.decode import read_audio

    try:
        audio, rate = read_audio(data)
    except ValueError as error:
        raise GenerationError("invalid_request", f"The uploaded sound could not be read: {error}.") from None
    # The engine reads only the waveform of an `audio=` clip; one blank frame satisfies the Clip's shape.
    return Clip(frames=np.zeros((1, 2, 2, 3), np.uint8), audio=audio, fps=1.0, sample_rate=rate)


def _passes(progress: Progress, passes: int) -> Progress:
    """One count of steps over the denoising passes: a model that makes the sound again for the finished
    picture (`audio_second_pass`) runs the steps twice, and its progress must not fall back halfway."""
    state = {"pass": 0, "last": 0}

    def report(step: int, total: int) -> None:
        if step < state["last"]:
            state["pass"] += 1
        state["last"] = step
        progress(min(state["pass"] * total + step, passes * total), passes * total)

    return report


def render_clip(clip: Any) -> dict[str, bytes]:
    """The three downloadable variants of a clip: the MP4, a thumbnail and a spritesheet."""
    from duetto.media import image_bytes, mp4_bytes, spritesheet, thumbnail

    metadata = clip.metadata or {}
    tags = {"comment": f"Made with Duetto ({metadata.get('model', 'unknown model')})"}
    return {
        "video": mp4_bytes(clip, metadata=tags),
        "thumbnail": image_bytes(thumbnail(clip), "webp"),
        "spritesheet": image_bytes(spritesheet(clip, tile_width=min(160, clip.width)), "jpeg"),
    }
