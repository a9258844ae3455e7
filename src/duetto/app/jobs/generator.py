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
                    self._pipelines[model_path] = Pipeline.from_pretrained(model_path, device=self.device)
                except ValueError as error:
                    raise GenerationError("model_unavailable", str(error)) from None
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
            callback=progress,
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
        return pipe(request.prompt, **kwargs)


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
