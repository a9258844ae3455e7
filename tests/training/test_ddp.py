"""Data parallel: `torchrun --nproc_per_node 2` on the CPU (gloo) trains every stage, and both ranks end with
the same weights and the same (rank-averaged) losses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import TINY


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(worker),
        str(TINY),
        str(tmp_path),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["digests"] == ranks[1]["digests"]
    assert set(ranks[0]["digests"]) == {"vae", "audio_vae", "vocoder", "transformer", "text_encoder"}
    assert ranks[0]["losses"] == ranks[1]["losses"]
    assert all(len(v) == 2 for v in ranks[0]["losses"].values())
    assert (tmp_path / "video_vae" / "final").is_dir() and (
        tmp_path / "twin" / "final" / "transformer"
    ).is_dir()
