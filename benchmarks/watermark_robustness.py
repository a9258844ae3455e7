"""How well the invisible marks survive everyday transformations, and how often they appear where there are none.

For N random Toybox clips it follows what the server does: the clip is enlarged if smaller than the files
the instance hands out, a random 32-bit id goes into the frames and the sound, and the clip is stored
(H.264 CRF 18 + AAC: the file the player streams); a download of it gets the moving badge with the video
mark written again over it. Each transformation is applied to both files, and the script prints the median
bit accuracy over clips and the share of clips where the mark is *found* (CRC and false-alarm bound both
pass). It then runs both detectors on unmarked clips and counts false detections, and times embedding.
`--no-enlarge` marks and measures clips at the size they were made, as the server did before it enlarged
small clips. Run: python benchmarks/watermark_robustness.py [--clips 20] [--unmarked 100]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from duetto.clip import Clip
from duetto.media import mp4_bytes, read_mp4
from duetto.provenance import (
    detect_audio_mark,
    detect_video_mark,
    download_rendition,
    embed_audio_mark,
    embed_video_mark,
    enlarge_for_sharing,
)
from duetto.provenance.attacks import (
    audio_codec_available,
    h264_crf,
    h264_fraction,
    reencode_audio,
    scale_frames,
    trim_clip,
)
from duetto.world import random_scene, render

KEY = b"benchmark instance secret"


def toybox(seed: int, *, size: int, seconds: float, noise: float) -> Clip:
    scene = random_scene(np.random.default_rng(seed))
    return render(scene, width=size, height=size, seconds=seconds, seed=seed, noise=noise).clip


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def snr(clean: np.ndarray, marked: np.ndarray) -> float | None:
    """Signal-to-mark ratio in dB; None for a silent clip (nothing to mark, nothing changed)."""
    clean = clean.astype(np.float64)
    mark = np.sum((marked - clean) ** 2)
    return None if mark == 0 else float(10 * np.log10(np.sum(clean**2) / mark))


def video_rows(export: Clip, rng: np.random.Generator, facts: dict[str, list[float]],
               name: str) -> dict[str, np.ndarray]:
    quarter, info = h264_fraction(export.frames, export.fps, 0.25)
    facts[f"crf {name}"].append(info["crf"])
    facts[f"reached {name}"].append(info["reached"])
    start = rng.uniform(0, max(0.0, export.video_seconds - 2.0))
    return {
        "as handed out (CRF 18)": export.frames,
        "H.264 at 1/4 bitrate": quarter,
        "H.264 CRF 30": h264_crf(export.frames, export.fps, 30),
        "H.264 CRF 35": h264_crf(export.frames, export.fps, 35),
        "scaled to 1/2": scale_frames(export.frames, 0.5),
        "trimmed to 2 s": trim_clip(export, start, 2.0).frames,
        "1/2 size, then CRF 30": h264_crf(scale_frames(export.frames, 0.5), export.fps, 30),
    }


def audio_rows(export: Clip, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, int]]:
    wave, rate = export.mono, export.sample_rate
    start = rng.uniform(0, max(0.0, export.audio_seconds - 2.0))
    rows = {"download (AAC 96k)": (wave, rate), "trimmed to 2 s": (trim_clip(export, start, 2.0).mono, rate)}
    for codec in ("mp3", "aac"):
        if not audio_codec_available(codec):
            continue
        for bitrate in (64000, 32000):
            rows[f"{codec.upper()} {bitrate // 1000}k"] = (reencode_audio(wave, rate, codec, bitrate), rate)
    # What a platform does: resample to 48 kHz and encode AAC at 128 kb/s.
    common = gcd(48000, rate)
    upsampled = resample_poly(wave, 48000 // common, rate // common).astype(np.float32)
    rows["48 kHz AAC 128k"] = (reencode_audio(upsampled, 48000, "aac", 128000), 48000)
    return rows


def table(title: str, rows: dict[str, list[tuple[float, bool]]]) -> None:
    width = max(24, len(title), *(len(name) for name in rows))
    print(f"| {title:<{width}} | bit accuracy (median) | min   | found |")
    print(f"|{'-' * (width + 2)}|{'-' * 23}|{'-' * 7}|{'-' * 7}|")
    for name, results in rows.items():
        accuracy = np.array([a for a, _ in results])
        print(f"| {name:<{width}} | {np.median(accuracy):21.3f} | {accuracy.min():.3f} | "
              f"{np.mean([f for _, f in results]):5.0%} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--unmarked", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="frame sides to test the video mark at")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--noise", type=float, default=1.0, help="sensor noise of the clips, 8-bit levels (0..3)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--no-enlarge", action="store_true", help="mark and measure clips at the size they were made")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    files = [f"{size}x{size} clip, {kind}" for size in args.sizes for kind in ("stored", "download")]
    video: dict[str, dict[str, list[tuple[float, bool]]]] = {name: defaultdict(list) for name in files}
    audio: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    sustained: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    facts: dict[str, list[float]] = defaultdict(list)
    for index in range(args.clips):
        payload = int(rng.integers(0, 2**32))
        for size in args.sizes:
            made = toybox(args.seed + index, size=size, seconds=args.seconds, noise=args.noise)
            clip = made if args.no_enlarge else enlarge_for_sharing(made)
            facts[f"side {size}"].append(clip.height)
            frames = embed_video_mark(clip.frames, payload, KEY)
            facts[f"psnr {size}"].append(psnr(frames, clip.frames))
            wave = embed_audio_mark(clip.audio, clip.sample_rate, payload, KEY) if size == args.sizes[0] else clip.audio
            stored = read_mp4(mp4_bytes(Clip(frames=frames, audio=wave, fps=clip.fps, sample_rate=clip.sample_rate)))
            shared = (stored if args.no_enlarge else
                      download_rendition(stored, instance="duetto.example", handle="a_creator", payload=payload, key=KEY))
            download = read_mp4(mp4_bytes(shared))
            for kind, export in (("stored", stored), ("download", download)):
                name = f"{size}x{size} clip, {kind}"
                for row, attacked in video_rows(export, rng, facts, name).items():
                    found = detect_video_mark(attacked, KEY)
                    video[name][row].append((found.bit_accuracy_vs(payload), found.found))
            if size != args.sizes[0]:
                continue
            ratio = snr(clip.audio, wave)
            if ratio is not None:
                facts["snr"].append(ratio)
            steady = random_scene(np.random.default_rng(args.seed + index)).ambience != "quiet"
            for name, (attacked, rate) in audio_rows(download, rng).items():
                found = detect_audio_mark(attacked, rate, KEY)
                audio[name].append((found.bit_accuracy_vs(payload), found.found))
                if steady:
                    sustained[name].append((found.bit_accuracy_vs(payload), found.found))
        print(f"clip {index + 1}/{args.clips} done", flush=True)

    print(f"\n{args.clips} random Toybox clips, {args.seconds:g} s, sensor noise {args.noise:g}; median bit accuracy "
          f"of the 32-bit id and the share of clips where the mark is found (CRC + false-alarm bound)\n")
    for size in args.sizes:
        side = int(np.median(facts[f"side {size}"]))
        print(f"{size}x{size} clip, marked at {side}x{side}: PSNR median {np.median(facts[f'psnr {size}']):.2f} dB "
              f"(min {np.min(facts[f'psnr {size}']):.2f})")
        for kind in ("stored", "download"):
            name = f"{size}x{size} clip, {kind}"
            print(f"{name}: 1/4 bitrate = x264 CRF {np.median(facts[f'crf {name}']):g} (median), target reached "
                  f"for {np.mean(facts[f'reached {name}']):.0%} of clips (else CRF 51)")
            table(f"video mark, {name}", video[name])
    print(f"audio SNR median {np.median(facts['snr']):.1f} dB (min {np.min(facts['snr']):.1f}) over clips with sound")
    table("audio mark, all clips", audio)
    table(f"audio, steady sound ({len(next(iter(sustained.values()), []))})", sustained)

    false_video = false_audio = 0
    for index in range(args.unmarked):
        clip = toybox(args.seed + 10_000 + index, size=args.sizes[0], seconds=args.seconds, noise=args.noise)
        false_video += detect_video_mark(clip.frames, KEY).found
        false_audio += detect_audio_mark(clip.audio, clip.sample_rate, KEY).found
    print(f"false detections on {args.unmarked} unmarked clips: video {false_video}, audio {false_audio}\n")

    for size, seconds in ((128, 4.0), (720, 5.0)):
        clip = toybox(args.seed, size=size, seconds=seconds, noise=args.noise)
        started = time.perf_counter()
        embed_video_mark(clip.frames, 1, KEY)
        video_s = time.perf_counter() - started
        started = time.perf_counter()
        embed_audio_mark(clip.audio, clip.sample_rate, 1, KEY)
        audio_s = time.perf_counter() - started
        started = time.perf_counter()
        detect_video_mark(clip.frames, KEY)
        detect_audio_mark(clip.audio, clip.sample_rate, KEY)
        detect_s = time.perf_counter() - started
        print(f"{size}x{size}, {seconds:g} s, {clip.sample_rate} Hz: embed video {video_s:.2f} s, "
              f"audio {audio_s:.2f} s; detect both {detect_s:.2f} s")


if __name__ == "__main__":
    main()
