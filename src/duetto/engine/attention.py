"""One attention entry point for the engine: PyTorch SDPA everywhere, FlashAttention 3 where it can run."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor

BACKENDS = ("auto", "sdpa", "flash3")
BACKEND_ENV_VAR = "DUETTO_ATTENTION_BACKEND"


@cache
def _flash3_func() -> Callable[..., object] | None:
    try:
        import flash_attn_interface
    except ImportError:
        return None
    return flash_attn_interface.flash_attn_func


def flash3_usable(q: Tensor) -> bool:
    """Whether FlashAttention 3 is installed and can take this query (CUDA, bf16/fp16)."""
    return q.is_cuda and q.dtype in (torch.bfloat16, torch.float16) and _flash3_func() is not None


def resolve_backend(q: Tensor, backend: str | None = None) -> str:
    """The backend that `attention` would use for this query: 'sdpa' or 'flash3'."""
    name = backend or os.environ.get(BACKEND_ENV_VAR) or "auto"
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; use one of {', '.join(BACKENDS)}")
    if name == "auto":
        return "flash3" if flash3_usable(q) else "sdpa"
    if name == "flash3" and not flash3_usable(q):
        raise ValueError(
            "attention backend 'flash3' needs flash_attn_interface installed and CUDA bf16/fp16 "
            "tensors; use backend 'sdpa' or 'auto'"
        )
    return name


def attention(q: Tensor, k: Tensor, v: Tensor, *, backend: str | None = None) -> Tensor:
    """Full (unmasked) softmax attention, scale 1/sqrt(head_dim).

    Args:
        q: (B, S_q, H, D) queries.
        k, v: (B, S_k, H, D) keys and values.
        backend: 'auto' (FlashAttention 3 when usable, else SDPA), 'sdpa' or 'flash3'; None reads
            $DUETTO_ATTENTION_BACKEND and falls back to 'auto'.

    Returns:
        (B, S_q, H, D), in the dtype of q.
    """
    if resolve_backend(q, backend) == "flash3":
        out = _flash3_func()(q, k, v)
        # Some FA3 releases return (out, softmax_lse).
        return out[0] if isinstance(out, tuple) else out
    # SDPA wants heads before the sequence: (B, H, S, D).
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)
