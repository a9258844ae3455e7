"""Strict state-dict loading shared by the models that import third-party checkpoints."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def load_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """load_state_dict(strict=True), with a one-line ValueError naming the first mismatches."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape)
    if missing or unexpected or wrong_shape:
        raise ValueError(
            f"checkpoint does not fit {type(model).__name__}: missing {missing[:3]}, unexpected {unexpected[:3]}, "
            f"wrong shape {wrong_shape[:3]}; pass the config the checkpoint was trained with"
        )
    model.load_state_dict(state_dict, strict=True)
