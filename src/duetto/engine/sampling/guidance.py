"""Classifier-free guidance with a separate scale per modality and a skip-block negative pass (Ovi's recipe)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


def guided(cond: Tensor, uncond: Tensor, scale: float) -> Tensor:
    """Push the prediction away from the negative one: uncond + scale·(cond − uncond).

    Scale 1 returns `cond` itself (the same value up to rounding, without the rounding).
    """
    if scale == 1.0:
        return cond
    return uncond + scale * (cond - uncond)


@dataclass(frozen=True)
class GuidanceConfig:
    """How strongly each modality is guided, and which fused blocks the negative pass skips.

    Ovi's defaults: video 4.0, audio 3.0, and the negative pass (negative prompts) also skips fused block
    11 in both towers, which makes it a weaker model as well as a differently prompted one. A scale of
    1.0 turns guidance off for that modality; when both are off the negative pass is not run at all.
    """

    video_scale: float = 4.0
    audio_scale: float = 3.0
    skip_blocks: tuple[int, ...] = (11,)

    def __post_init__(self) -> None:
        if self.video_scale < 0 or self.audio_scale < 0:
            raise ValueError("guidance scales must be >= 0 (1.0 means no guidance)")
        if any(b < 0 for b in self.skip_blocks):
            raise ValueError(f"skip_blocks must be block indices >= 0, got {self.skip_blocks}")
        object.__setattr__(self, "skip_blocks", tuple(int(b) for b in self.skip_blocks))

    @property
    def enabled(self) -> bool:
        """Whether any modality is guided, i.e. whether a negative pass is worth running."""
        return self.video_scale != 1.0 or self.audio_scale != 1.0
