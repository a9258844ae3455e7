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
            if request.kind == "extend":
                kwargs["extend"] = source
            else:
                kwargs["remix_of"] = source
                kwargs["strength"] = float(params.get("strength", 0.6))
        _current.stage = getattr(progress, "stage", None)
        try:
            return pipe(request.prompt, **kwargs)
        finally:
            _current.stage = None


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
