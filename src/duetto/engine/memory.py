"""Memory profiles: where weights live and in which precision, so big models fit small GPUs.

| profile   | weights stored                    | compute | components between uses |
| --------- | --------------------------------- | ------- | ----------------------- |
| `full`    | as loaded (float32 on CPU)        | same    | all on the device       |
| `bf16`    | bfloat16                          | bf16    | all on the device       |
| `offload` | bfloat16                          | bf16    | on the CPU, moved in when used |
| `fp8`     | float8 e4m3 (transformer linears), bf16 elsewhere | bf16 | on the CPU, moved in when used |

For Ovi (11.66 B parameters): `bf16` needs about 23 GB for the transformer alone plus activations; `offload`
keeps the umT5 encoder (≈ 11 GB in bf16) and the VAEs off the GPU while the transformer runs; `fp8` halves
the transformer to ≈ 12 GB, which is what lets 24 GB cards run it. The text encoder stays bf16 under `fp8`:
umT5 casts activations to its output weights' dtype, which would turn them into fp8, and it is offloaded
while the transformer runs anyway. The audio codec always stays in float32 (it is small and its mel
statistics are sensitive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from duetto.engine.model_folder import ModelFolder

PROFILES = ("full", "bf16", "offload", "fp8")

# Layers kept in bf16 under fp8 storage: normalisation weights, embeddings and the output head are small and
# precision-sensitive (the same choice the community fp8 Ovi checkpoint made).
_FP8_SKIP = ("norm", "patch_embedding", "text_embedding", "time_embedding", "time_projection", "head", "modulation")


def apply_memory_profile(folder: ModelFolder, profile: str) -> bool:
    """Casts the folder's components for `profile` and returns whether they are offloaded: kept on the CPU
    and moved to the device only while they run. Where the components go is the pipeline's to do."""
    if profile not in PROFILES:
        raise ValueError(f"unknown memory profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    if profile in ("bf16", "offload", "fp8"):
        for name in ("transformer", "text_encoder", "vae"):
            # nn.Module.to, not ModelMixin.to: the latter warns about an empty fp32-module list on every cast.
            torch.nn.Module.to(getattr(folder, name), torch.bfloat16)
    if profile == "fp8":
        from diffusers.hooks import apply_layerwise_casting

        apply_layerwise_casting(folder.transformer, storage_dtype=torch.float8_e4m3fn,
                                compute_dtype=torch.bfloat16, skip_modules_pattern=_FP8_SKIP)
    return profile in ("offload", "fp8")


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes the module's parameters and buffers occupy as stored."""
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))
