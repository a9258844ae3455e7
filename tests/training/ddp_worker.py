"""Started by test_ddp under torchrun: every tiny stage for two steps, then a digest of this rank's weights."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from duetto.training.audio_codec import train_audio
from duetto.training.config import _read_yaml, apply_overrides, parse_config
from duetto.training.ddp import init_distributed, shutdown
from duetto.training.twin import train_twin
from duetto.training.video_vae import train_video_vae


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    tiny, run = Path(sys.argv[1]), Path(sys.argv[2])
    steps = ["video_vae.steps=2", "audio.steps=2", "twin.steps=2", "data.num_clips=2"]
    cfg = parse_config(apply_overrides(_read_yaml(tiny), steps))
    dist = init_distributed(cfg.device)
    out = {"world_size": dist.world_size, "losses": {}, "digests": {}}
    for name, stage in (("video_vae", train_video_vae), ("audio", train_audio), ("twin", train_twin)):
        result = stage(cfg, run)
        out["losses"][name] = result.losses
        out["digests"].update({key: digest(m) for key, m in result.modules.items()})
    (run / f"rank{os.environ['RANK']}.json").write_text(json.dumps(out))
    shutdown(dist)


if __name__ == "__main__":
    main()
