"""Toybox clips as training batches (rendered on the fly or read from shards), and the latent cache.

Batches are a pure function of (seed, step, rank): the clip indices of step s come from a seeded permutation
of the dataset, so a resumed run reads exactly what the uninterrupted one would have, with no loader state.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, Subset

from duetto.training.config import MEL_HOP, DataConfig
from duetto.training.ddp import Dist, barrier
from duetto.world import vocab
from duetto.world.dataset import FORMAT_VERSION, decode_frames, read_manifest, render_item, shard_paths

logger = logging.getLogger("duetto.training")


# The ground-truth events whose sound starts on a known sample: what the audio loss weights up (`onset_tokens`).
ONSET_KINDS = ("impact", "speech_onset")


class ToyboxClips(Dataset):
    """Clip i of the configured Toybox data: dict(index, frames uint8 (T, H, W, 3), audio float32 (S,), caption,
    onsets int64 (E,): the audio samples where an impact or a syllable starts, from the renderer's truth).

    Frames are the first `data.frames`; audio is the matching `audio_latents × 512` samples, the length the
    pipeline encodes for that many frames.
    """

    def __init__(self, cfg: DataConfig) -> None:
        self.cfg = cfg
        self.audio_samples = cfg.audio_latents() * 2 * MEL_HOP
        self._render_params = {
            "seed": cfg.seed, "width": cfg.width, "height": cfg.height, "fps": float(cfg.fps),
            "seconds": cfg.seconds, "sample_rate": cfg.sample_rate, "max_objects": cfg.max_objects,
            "allow_toys": cfg.allow_toys,
        }  # fmt: skip
        self._entries: list[tuple[Path, int, str, list[dict]]] = []
        self._zips: dict[Path, zipfile.ZipFile] = {}
        if cfg.source == "shards":
            self._index_shards(Path(str(cfg.path)))
        available = len(self._entries) - cfg.first_clip
        self.n = cfg.num_clips if cfg.source == "render" else max(0, min(cfg.num_clips, available))

    def _index_shards(self, folder: Path) -> None:
        params = read_manifest(folder)["params"]
        cfg = self.cfg
        wanted = {
            "width": cfg.width,
            "height": cfg.height,
            "fps": float(cfg.fps),
            "sample_rate": cfg.sample_rate,
        }
        differ = [k for k, v in wanted.items() if params.get(k) != v]
        if differ:
            raise ValueError(
                f"dataset {folder} was rendered with other {', '.join(differ)} than data.*; match them"
            )
        if round(params["seconds"] * params["fps"]) < cfg.frames:
            raise ValueError(
                f"dataset {folder} clips have fewer than {cfg.frames} frames; render it with --seconds {cfg.seconds:.4f}"
            )
        for path in shard_paths(folder):
            with zipfile.ZipFile(path) as zf:
                index = json.loads(zf.read("index.json"))
            if index.get("version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path} has shard format {index.get('version')}, this trainer reads {FORMAT_VERSION}"
                )
            self._entries += [
                (path, clip["index"], clip["caption"], clip["truth"]["events"])
                for clip in index["clips"]
            ]
        if not self._entries:
            raise ValueError(f"dataset {folder} has no complete shard yet")

    def __len__(self) -> int:
        return self.n

    def _read_shard_clip(self, i: int) -> tuple[np.ndarray, np.ndarray, str, list[dict]]:
        path, index, caption, events = self._entries[i]
        zf = self._zips.get(path)
        if zf is None:  # one open handle per shard and worker process
            zf = self._zips[path] = zipfile.ZipFile(path)

        def part(name: str) -> np.ndarray:
            return np.lib.format.read_array(
                io.BytesIO(zf.read(f"{index:08d}/{name}.npy")), allow_pickle=False
            )

        frames = decode_frames(part("key"), part("delta_counts"), part("delta_index"), part("delta_rgb"))
        return frames, part("audio").astype(np.float32), caption, events

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        if self.cfg.source == "render":
            result = render_item(self.cfg.first_clip + i, self._render_params)
            frames, audio = result.clip.frames, result.clip.audio
            caption, events = result.truth["caption"], result.truth["events"]
        else:
            frames, audio, caption, events = self._read_shard_clip(self.cfg.first_clip + i)
        wav = np.zeros(self.audio_samples, np.float32)
        wav[: min(len(audio), self.audio_samples)] = audio[: self.audio_samples]
        return {
            "index": i,
            "frames": torch.from_numpy(np.ascontiguousarray(frames[: self.cfg.frames])),
            "audio": torch.from_numpy(wav),
            "caption": caption,
            "onsets": torch.tensor([int(e["sample"]) for e in events if e["kind"] in ONSET_KINDS], dtype=torch.int64),
        }


def onset_tokens(onsets: list[torch.Tensor], tokens: int, samples_per_token: int) -> torch.Tensor:
    """Each clip's onset samples → (B, tokens) uint8: 1 on the audio latent an onset falls in and the next
    one (a mel frame spreads a transient over its window, so the sound's start reaches into both)."""
    marks = torch.zeros(len(onsets), tokens, dtype=torch.uint8)
    for row, samples in enumerate(onsets):
        first = torch.div(samples, samples_per_token, rounding_mode="floor")
        for shift in (0, 1):
            k = first + shift
            marks[row, k[k < tokens]] = 1
    return marks


def object_mask(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: the pixels of Toybox frames that are not the backdrop (objects, toys, mouths), grown by
    one pixel on every side so their edges count too.

    The backdrop is the setting whose wall colour the top-left pixel shows (nothing is ever drawn there);
    frames of no known setting take their first frame's two commonest colours as the backdrop.
    """
    corner = tuple(int(v) for v in frames[0, 0, 0])
    colours = next(((b.wall, b.floor) for b in vocab.SETTINGS.values() if b.wall == corner), None)
    if colours is None:
        values, counts = np.unique(frames[0].reshape(-1, 3), axis=0, return_counts=True)
        colours = tuple(tuple(v) for v in values[np.argsort(counts)[-2:]])
    mask = np.ones(frames.shape[:3], bool)
    for colour in colours:
        mask &= np.any(frames != np.asarray(colour, np.uint8), axis=-1)
    grown = torch.nn.functional.max_pool2d(torch.from_numpy(mask).float()[:, None], 3, stride=1, padding=1)
    return grown[:, 0].numpy() > 0


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "index": torch.tensor([it["index"] for it in items]),
        "frames": torch.stack([it["frames"] for it in items]),  # (B, T, H, W, 3) uint8
        "audio": torch.stack([it["audio"] for it in items]),  # (B, S) float32
        "captions": [it["caption"] for it in items],
        "onsets": [it["onsets"] for it in items],  # (E_i,) int64 each
    }


def step_indices(step: int, batch_size: int, n: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Clip indices of one rank's batch at `step`: consecutive slices of one seeded permutation per epoch."""
    first = (step * world + rank) * batch_size
    out, cache = [], {}
    for position in range(first, first + batch_size):
        epoch, offset = divmod(position, n)
        if epoch not in cache:
            cache[epoch] = np.random.default_rng([seed, epoch]).permutation(n)
        out.append(int(cache[epoch][offset]))
    return out


class StepBatches(torch.utils.data.Sampler[list[int]]):
    """The batches of steps [start, end) for one rank, as a DataLoader batch_sampler."""

    def __init__(self, n: int, batch_size: int, seed: int, dist: Dist, start: int, end: int) -> None:
        self.n, self.batch_size, self.seed, self.dist = n, batch_size, seed, dist
        self.start, self.end = start, end

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.end):
            yield step_indices(step, self.batch_size, self.n, self.seed, self.dist.rank, self.dist.world_size)


def step_loader(
    dataset: ToyboxClips, batch_size: int, seed: int, dist: Dist, start: int, end: int
) -> DataLoader:
    """Batches for steps [start, end); workers render or decode clips in parallel, order unchanged."""
    sampler = StepBatches(len(dataset), batch_size, seed, dist, start, end)
    workers = dataset.cfg.workers
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=False,
        prefetch_factor=4 if workers else None,
    )


# --- the latent cache -------------------------------------------------------------------------------------


@dataclass
class LatentCache:
    """Every clip's latents, encoded once per (video VAE, audio VAE, data) and kept in memory in fp16.

    video (N, C, F, h, w) normalised as the pipeline normalises them; audio (N, L, C); captions[N]; objects
    (N, F, h, w) uint8, 1 where a latent cell shows anything but the backdrop; onsets (N, L) uint8, 1 on the
    audio latents where an impact or a syllable starts (see `onset_tokens`). Either is None if not encoded.
    """

    video: torch.Tensor
    audio: torch.Tensor
    captions: list[str]
    objects: torch.Tensor | None = None
    onsets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.captions)


Encoder = Callable[[dict[str, Any]], tuple[torch.Tensor, ...]]


def build_latent_cache(
    folder: Path, dataset: ToyboxClips, encode: Encoder, dist: Dist, batch_size: int
) -> LatentCache:
    """Load the cache in `folder`, or write it first: each rank encodes every world_size-th clip.

    `folder` must be named by what the latents depend on (the VAEs' weights and the data config), so a new
    VAE gets a new cache and an old one is never read by mistake. `encode(batch)` returns (video, audio),
    optionally followed by objects and onsets (see `LatentCache`).
    """
    done = folder / "complete.json"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        mine = list(range(dist.rank, len(dataset), dist.world_size))
        videos, audios, captions = [], [], []
        extras: dict[str, list[torch.Tensor]] = {"objects": [], "onsets": []}
        # Workers render or decode the clips while this process encodes the previous batch.
        batches = DataLoader(
            Subset(dataset, mine),
            batch_size=batch_size,
            collate_fn=collate,
            num_workers=dataset.cfg.workers,
            prefetch_factor=4 if dataset.cfg.workers else None,
        )
        for number, batch in enumerate(batches):
            with torch.no_grad():
                video, audio, *marks = encode(batch)
            videos.append(video.to("cpu", torch.float16))
            audios.append(audio.to("cpu", torch.float16))
            for name, mark in zip(extras, marks, strict=False):
                extras[name].append(mark.to("cpu", torch.uint8))
            captions += batch["captions"]
            if dist.is_main and number % 50 == 0:
                logger.info("latent cache: %d / %d clips on rank 0", len(captions), len(mine))
        if mine:
            tensors = {"video": torch.cat(videos).contiguous(), "audio": torch.cat(audios).contiguous(),
                       "index": torch.tensor(mine)}  # fmt: skip
            tensors |= {name: torch.cat(parts).contiguous() for name, parts in extras.items() if parts}
            save_file(tensors, str(folder / f"part-{dist.rank:03d}.safetensors"))
            (folder / f"part-{dist.rank:03d}.json").write_text(json.dumps(captions))
        barrier(dist)
        if dist.is_main:
            done.write_text(json.dumps({"clips": len(dataset), "parts": dist.world_size}))
        barrier(dist)
    return _load_cache(folder, len(dataset))


def _load_cache(folder: Path, n: int) -> LatentCache:
    parts = sorted(folder.glob("part-*.safetensors"))
    tensors = [load_file(str(p)) for p in parts]
    captions_by_part = [json.loads(p.with_suffix(".json").read_text()) for p in parts]
    index = torch.cat([t["index"] for t in tensors])
    if sorted(index.tolist()) != list(range(n)):
        raise ValueError(f"latent cache {folder} is incomplete or from another dataset; delete it and rerun")
    order = torch.argsort(index)
    captions = [c for part in captions_by_part for c in part]

    def joined(name: str) -> torch.Tensor | None:
        return torch.cat([t[name] for t in tensors])[order] if all(name in t for t in tensors) else None

    return LatentCache(
        video=joined("video"),
        audio=joined("audio"),
        captions=[captions[i] for i in order.tolist()],
        objects=joined("objects"),
        onsets=joined("onsets"),
    )
