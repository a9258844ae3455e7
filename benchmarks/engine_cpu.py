"""Seconds per denoising step and peak memory of the twin-tower transformer on this machine's CPU.

Two configurations: the tiny test model (at its own 64×64, 1 s geometry) and a ≈10 M-parameter twin
tower at the Toybox geometry (128×128, 4 s at 24 fps, 16 kHz audio). A step is what the sampler runs
per timestep: the positive pass and the skip-block negative pass. Each configuration runs in its own
process so that its peak resident memory (ru_maxrss) is its own.

    python benchmarks/engine_cpu.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = {
    # name: (tower dim, ffn, heads, layers, latent channels, latent frames, latent h, latent w, audio latents)
    "tiny test model": dict(dim=32, ffn=64, heads=2, layers=2, z=4, frames=3, h=8, w=8, audio=35, text_dim=32),
    "10M toybox": dict(dim=192, ffn=512, heads=4, layers=6, z=16, frames=25, h=16, w=16, audio=126, text_dim=128),
}


def _measure(name: str, repeats: int) -> dict:
    import torch

    from duetto.engine.models.transformer_twin import ModalityInput, TwinDiT
    from duetto.engine.testing import tiny_audio_config, tiny_video_config

    c = CONFIGS[name]
    torch.manual_seed(0)
    video_cfg = tiny_video_config(in_dim=c["z"], text_dim=c["text_dim"], dim=c["dim"], num_layers=c["layers"])
    audio_cfg = tiny_audio_config(in_dim=20, text_dim=c["text_dim"], dim=c["dim"], num_layers=c["layers"])
    for cfg in (video_cfg, audio_cfg):
        cfg.update(ffn_dim=c["ffn"], num_heads=c["heads"])
    model = TwinDiT(video_config=video_cfg, audio_config=audio_cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    video = torch.randn(1, c["z"], c["frames"], c["h"], c["w"])
    audio = torch.randn(1, c["audio"], 20)
    ctx = torch.randn(1, 20, c["text_dim"])
    t = torch.tensor([500.0])

    def step() -> None:
        with torch.no_grad():
            model(ModalityInput(video, ctx, t), ModalityInput(audio, ctx, t))
            model(ModalityInput(video, ctx, t), ModalityInput(audio, ctx, t), skip_blocks=(1,))

    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    tokens = c["frames"] * (c["h"] // 2) * (c["w"] // 2)
    return {"name": name, "params": params, "video_tokens": tokens, "audio_tokens": c["audio"],
            "step_s": statistics.median(times), "threads": torch.get_num_threads(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(args.one, args.repeats)))
        return
    rows = []
    for name in CONFIGS:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"| config | parameters | video + audio tokens | s / step (pos + neg pass), median of {args.repeats}"
          " | peak RSS (MB) | threads |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['name']} | {r['params']:,} | {r['video_tokens']} + {r['audio_tokens']} | {r['step_s']:.4f} |"
              f" {r['peak_rss_mb']:.0f} | {r['threads']} |")


if __name__ == "__main__":
    main()
