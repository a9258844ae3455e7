"""Which models the server offers under which `model` names, and the sizes and lengths each allows."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from duetto.app.core.errors import InvalidRequest
from duetto.app.videos import tokens
from duetto.clip import parse_size

# What the engine assumes when a model_index.json names no limit (GenerationConfig.text_max_length).
DEFAULT_MAX_PROMPT_TOKENS = 512
# A story's limits when a model folder states none: shots, and seconds in all.
DEFAULT_STORY_SHOTS = 6
DEFAULT_STORY_SECONDS = 24.0
# The engine's defaults when a model folder states no frame rate or video codec stride (GenerationConfig.fps,
# the Wan VAE's `scale_factor_temporal`).
DEFAULT_FPS = 24.0
DEFAULT_FRAME_STRIDE = 4


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    sizes: tuple[str, ...]
    seconds_range: tuple[float, float]
    default_size: str
    default_seconds_value: float
    max_prompt_tokens: int = DEFAULT_MAX_PROMPT_TOKENS  # the text encoder's limit, `</s>` included
    story_max_shots: int = DEFAULT_STORY_SHOTS
    story_max_seconds: float = DEFAULT_STORY_SECONDS
    fps: float = DEFAULT_FPS
    frame_stride: int = DEFAULT_FRAME_STRIDE  # frames per latent of the video codec

    # The frame arithmetic below mirrors `duetto.engine.pipeline.Pipeline` (num_frames, exceeds_max_seconds,
    # extension_prefix_frames), so that the server refuses what the engine would refuse, without loading it;
    # tests/app/api/test_upload_modes.py checks the two agree on the shipped model.
    def num_frames(self, seconds: float) -> int:
        """The frames the engine makes for `seconds`: 1 + a multiple of the codec's stride."""
        return self.frame_stride * max(1, round(seconds * self.fps / self.frame_stride)) + 1

    def fits(self, seconds: float) -> bool:
        """Whether the engine makes a clip this long (compared in frames, as the engine does)."""
        return self.seconds_range[0] <= seconds and self.num_frames(seconds) <= self.num_frames(self.seconds_range[1])

    @property
    def extend_prefix_seconds(self) -> float:
        """How much of a clip's tail an extension holds clean at the start of its window (about 1 s): the
        window is this plus the new seconds, so an extension adds at most max_seconds minus this."""
        return self.frame_stride * max(1, round(self.fps / self.frame_stride)) / self.fps

    @property
    def extend_seconds_choices(self) -> tuple[str, ...]:
        """Whole-second lengths an extension can add: those whose window (prefix + new part) the model makes."""
        return tuple(s for s in self.seconds_choices if self.fits(float(s) + self.extend_prefix_seconds))

    def count_tokens(self, text: str) -> int | None:
        """The prompt's length as the text encoder reads it; None when the folder has no tokenizer.json."""
        return tokens.count_tokens(self.path, text)

    @property
    def max_prompt_chars(self) -> int | None:
        """The most characters a prompt can have and still fit: every token spells at most the longest
        piece of the vocabulary. A form's `maxlength`; the token count is what decides."""
        longest = tokens.longest_piece(self.path)
        return None if longest is None else (self.max_prompt_tokens - 1) * longest

    @property
    def seconds_choices(self) -> tuple[str, ...]:
        """Whole-second lengths the model can make, as the API's string `seconds` values."""
        low, high = self.seconds_range
        return tuple(str(s) for s in range(max(1, math.ceil(low)), math.floor(high) + 1))

    @property
    def default_seconds(self) -> str:
        choices = self.seconds_choices
        wanted = str(max(1, round(self.default_seconds_value)))
        return wanted if wanted in choices else choices[-1]


def describe_model(path: Path) -> ModelInfo:
    """A model's sizes and lengths, read from its `model_index.json` without loading any weights.

    The API process validates requests with this and never imports torch; only workers load models.
    """
    try:
        index = json.loads((path / "model_index.json").read_text())
        generation = index.get("generation", {})
        sizes = tuple(generation["sizes"])
        low, high = float(generation["min_seconds"]), float(generation["max_seconds"])
        max_tokens = int(generation.get("text_max_length", DEFAULT_MAX_PROMPT_TOKENS))
        story_shots = int(generation.get("story_max_shots", DEFAULT_STORY_SHOTS))
        story_seconds = float(generation.get("story_max_seconds", DEFAULT_STORY_SECONDS))
        fps = float(generation.get("fps", DEFAULT_FPS))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidRequest(f"Model folder {path.name} is unreadable ({error}); ask the operator to fix it.") from None
    return ModelInfo(
        name=path.name,
        path=path,
        sizes=sizes,
        seconds_range=(low, high),
        default_size=str(generation.get("default_size", sizes[0])),
        default_seconds_value=float(generation.get("default_seconds", low)),
        max_prompt_tokens=max_tokens,
        story_max_shots=story_shots,
        story_max_seconds=story_seconds,
        fps=fps,
        frame_stride=_frame_stride(path),
    )


def _frame_stride(path: Path) -> int:
    """The video codec's frames per latent, from `vae/config.json` (the engine's default when unstated)."""
    try:
        return int(json.loads((path / "vae" / "config.json").read_text()).get("scale_factor_temporal",
                                                                               DEFAULT_FRAME_STRIDE))
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_FRAME_STRIDE


class ModelCatalog:
    """Maps `model` names to the folders under a models directory; each subfolder is one model."""

    def __init__(self, models_dir: Path, *, default: str) -> None:
        self.models_dir = models_dir
        self.default = default
        self._cache: dict[str, ModelInfo] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if not self.models_dir.is_dir():
            return []
        return sorted(p.name for p in self.models_dir.iterdir() if (p / "model_index.json").is_file())

    def get(self, name: str | None) -> ModelInfo:
        """The model called `name` (the default when None), or a 400 naming the ones there are."""
        name = name or self.default
        with self._lock:
            if name in self._cache:
                return self._cache[name]
            names = self.names()
            if name not in names:
                available = ", ".join(names) or f"none (put model folders in {self.models_dir})"
                raise InvalidRequest(f"Unknown model {name!r}; available models: {available}.", param="model")
            info = describe_model(self.models_dir / name)
            self._cache[name] = info
            return info

    def check_size(self, info: ModelInfo, size: str | None) -> str:
        if size is None:
            return info.default_size
        if size not in info.sizes:
            raise InvalidRequest(
                f"Invalid size {size!r} for model {info.name}; allowed sizes: {', '.join(info.sizes)}.", param="size"
            )
        return size

    def fit_size(self, info: ModelInfo, size: str) -> str:
        """The model's size for a source video of `size` ("WxH"): the same size when the model makes it,
        else the one nearest in shape (the larger of equals). The engine resizes the source's frames, so a
        download of this instance's own clip (enlarged for sharing) or a phone video can be worked from."""
        if size in info.sizes:
            return size
        width, height = parse_size(size)

        def distance(allowed: str) -> tuple[float, int]:
            w, h = parse_size(allowed)
            return abs(math.log((width / height) / (w / h))), -w * h

        return min(info.sizes, key=distance)

    def check_prompt_tokens(self, info: ModelInfo, prompt: str) -> None:
        """A 400 naming the model's limit when the prompt (the sound after `Audio:` included) has more tokens
        than its text encoder reads; a job would only fail later in the worker."""
        count = info.count_tokens(prompt)
        if count is not None and count > info.max_prompt_tokens:
            raise InvalidRequest(
                f"prompt is {count} tokens long; model {info.name} reads at most {info.max_prompt_tokens} tokens "
                "(the sound description included). Shorten it.",
                param="prompt", code="prompt_too_long",
            )

    def extend_choices(self, name: str) -> tuple[str, ...]:
        """The seconds an extension of a clip made by model `name` can add; none when it is no longer offered."""
        try:
            return self.get(name).extend_seconds_choices
        except InvalidRequest:
            return ()

    def check_extend_seconds(self, info: ModelInfo, seconds: str | None) -> str:
        """The seconds an extension adds: a whole number the model can make after the held ~1 s of tail."""
        choices = info.extend_seconds_choices
        if seconds not in choices:
            allowed = ", ".join(choices) or "none (its clips are too short to extend)"
            raise InvalidRequest(
                f"Invalid seconds {seconds!r} to add with model {info.name}: an extension keeps "
                f"{info.extend_prefix_seconds:g} s of the clip's end in its {info.seconds_range[1]:g} s window, "
                f"so it can add {allowed}.",
                param="seconds",
            )
        return seconds  # type: ignore[return-value]

    def check_upload_seconds(self, info: ModelInfo, seconds: float, *, param: str) -> None:
        """An uploaded video or sound sets the clip's length: it must be one the model makes."""
        low, high = info.seconds_range
        if seconds < low:
            raise InvalidRequest(f"{param} is {seconds:.2f} s long; model {info.name} needs at least {low:g} s. "
                                 "Upload a longer one.", param=param)
        if not info.fits(seconds):
            raise InvalidRequest(f"{param} is {seconds:.2f} s long; model {info.name} makes at most {high:g} s. "
                                 f"Trim it to {high:g} s or less and upload it again.", param=param)

    def check_seconds(self, info: ModelInfo, seconds: str | None) -> str:
        if seconds is None:
            return info.default_seconds
        if seconds not in info.seconds_choices:
            raise InvalidRequest(
                f"Invalid seconds {seconds!r} for model {info.name}; allowed values: "
                f"{', '.join(info.seconds_choices)}.",
                param="seconds",
            )
        return seconds
